/* store_batch.c: many room messages in one transaction (group commit); see
 * store.h. One commit (one log flush) per batch instead of one per message
 * is what lets history-svc keep up with the broker.
 *
 * Seq stays gapless with several history-svc instances because every room
 * of the batch is locked (SELECT ... FOR UPDATE) before its seq block is
 * taken, in name order so that two instances cannot deadlock on each
 * other's rooms. Messages already stored (a redelivery, a bridge
 * duplicate, the other instance) are found with one query per 64 messages
 * once the rooms are locked, and copies inside the batch in memory; should
 * the INSERT still meet the unique key (room, sender, id), the batch is
 * rolled back and the caller stores it message by message. Events (and
 * messages with a reply, thread or mentions) are stored one by one in the
 * same transaction, in their place in the batch (store_event.c). */
#include "store.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uthash.h>

#include "log.h"
#include "store_meta.h"

#define COLS_PER_ROW 9

/* INSERT statements for these row counts; a batch is cut greedily into
 * them, so each connection prepares at most four statements. */
static const int chunk_rows[] = { 56, 16, 4, 1 };
#define CHUNK_KINDS ((int)(sizeof(chunk_rows) / sizeof(chunk_rows[0])))
#define CHUNK_MAX 56 /* CHUNK_MAX * COLS_PER_ROW <= DB_MAX_PARAMS */

static char *insert_sql[CHUNK_KINDS];
static char *lookup_sql[CHUNK_KINDS];
static char *sender_sql[CHUNK_KINDS];
static pthread_once_t sql_once = PTHREAD_ONCE_INIT;

/* Fills out[k] with head followed by chunk_rows[k] copies of term joined by
 * sep; a slot left NULL (out of memory) is reported by store_batch. */
static void build_repeated(const char *head, const char *term, const char *sep, char **out)
{
	for(int k = 0; k < CHUNK_KINDS; k++){
		size_t len = strlen(head) + 1 + (size_t)chunk_rows[k] * (strlen(term) + strlen(sep));
		char *sql = malloc(len);
		size_t at;

		if(!sql) continue;
		at = (size_t)snprintf(sql, len, "%s", head);
		for(int r = 0; r < chunk_rows[k]; r++){
			at += (size_t)snprintf(sql + at, len - at, "%s%s", r ? sep : "", term);
		}
		out[k] = sql;
	}
}

static void build_sql(void)
{
	build_repeated("INSERT INTO messages (room_id, seq, msg_id, sender_id, body, created_at, kind, ref_seq, edited_at)"
			" VALUES ", "(?, ?, ?, ?, ?, ?, ?, ?, ?)", ",", insert_sql);
	/* Each term is an equality on the unique key, which the range optimiser
	 * turns into one index lookup per message. */
	build_repeated("SELECT room_id, sender_id, msg_id, seq, " TIMEFMT_SQL("created_at")
			" FROM messages FORCE INDEX (messages_client_id) WHERE ",
			"(room_id = ? AND sender_id = ? AND msg_id = ?)", " OR ", lookup_sql);
	build_repeated("SELECT id, username FROM users WHERE ", "username = ?", " OR ", sender_sql);
}

/* A room or a sender met in the batch. */
struct batch_key {
	const char *name;
	unsigned long long id;
	unsigned long long last_seq; /* rooms only */
	unsigned long long inserted_seq; /* rooms: rows up to this seq are in the table */
	bool found;
	UT_hash_handle hh;
};

static struct batch_key *key_get(struct batch_key **table, const char *name)
{
	struct batch_key *key = NULL;

	HASH_FIND_STR(*table, name, key);
	if(key) return key;
	key = calloc(1, sizeof(*key));
	if(!key) return NULL;
	key->name = name;
	HASH_ADD_KEYPTR(hh, *table, key->name, strlen(key->name), key);
	return key;
}

static void keys_free(struct batch_key **table)
{
	struct batch_key *key, *tmp;

	HASH_ITER(hh, *table, key, tmp){
		HASH_DEL(*table, key);
		free(key);
	}
}

static int by_name(struct batch_key *a, struct batch_key *b)
{
	return strcmp(a->name, b->name);
}

static int first_two_u64(void *ud, int ncols, char **cols, unsigned long *lens)
{
	struct batch_key *key = ud;

	(void)lens;
	if(ncols >= 2 && cols[0] && cols[1]){
		key->id = strtoull(cols[0], NULL, 10);
		key->last_seq = strtoull(cols[1], NULL, 10);
		key->found = true;
	}
	return 1;
}

/* A user row of a sender lookup: its id goes to the sender of that name. */
static int sender_row(void *ud, int ncols, char **cols, unsigned long *lens)
{
	struct batch_key **senders = ud;
	struct batch_key *key = NULL;

	(void)lens;
	if(ncols != 2 || !cols[0] || !cols[1]) return 0;
	HASH_FIND_STR(*senders, cols[1], key);
	if(key){
		key->id = strtoull(cols[0], NULL, 10);
		key->found = true;
	}
	return 0;
}

/* Finds the user ids of the batch's senders, up to CHUNK_MAX per statement
 * (one round trip per sender cost the batch up to 200 of them). A sender
 * the rows do not name exactly (a collation that folds case) is looked up
 * alone, as it always was. Returns a db_result. */
static int senders_find(struct db *db, struct batch_key **senders)
{
	int count = (int)HASH_COUNT(*senders);
	struct batch_key **keys = calloc((size_t)count + 1, sizeof(*keys));
	struct db_param params[CHUNK_MAX];
	int done = 0, i = 0;
	int rc = DB_ERROR;

	if(!keys) goto out;
	for(struct batch_key *key = *senders; key; key = key->hh.next) keys[i++] = key;
	while(done < count){
		int k = 0;

		while(chunk_rows[k] > count - done) k++;
		if(!sender_sql[k]) goto out;
		for(int r = 0; r < chunk_rows[k]; r++) params[r] = DB_STR(keys[done + r]->name);
		rc = db_exec(db, sender_sql[k], params, chunk_rows[k], sender_row, senders, NULL, NULL);
		if(rc != DB_OK) goto out;
		done += chunk_rows[k];
	}
	for(i = 0; i < count; i++){
		if(keys[i]->found) continue;
		params[0] = DB_STR(keys[i]->name);
		rc = db_exec(db, "SELECT id, 0 FROM users WHERE username = ?", params, 1, first_two_u64, keys[i], NULL, NULL);
		if(rc != DB_OK) goto out;
	}
	rc = DB_OK;
out:
	free(keys);
	return rc;
}

/* A message's place in the unique key (room id, sender id, client id). */
struct msg_key {
	char key[128];
	int index; /* the first message of the batch with this key */
	UT_hash_handle hh;
};

struct lookup {
	struct msg_key *keys;
	struct store_result *results;
};

static void msg_key_format(char *key, size_t len, const char *room_id, const char *sender_id, const char *msg_id)
{
	snprintf(key, len, "%s/%s/%s", room_id, sender_id, msg_id);
}

/* A row already stored: its message is a duplicate with that seq. */
static int found_row(void *ud, int ncols, char **cols, unsigned long *lens)
{
	struct lookup *lookup = ud;
	struct msg_key *found = NULL;
	char key[128];

	(void)lens;
	if(ncols != 5 || !cols[0] || !cols[1] || !cols[2] || !cols[3] || !cols[4]) return 0;
	msg_key_format(key, sizeof(key), cols[0], cols[1], cols[2]);
	HASH_FIND_STR(lookup->keys, key, found);
	if(found){
		struct store_result *result = &lookup->results[found->index];

		result->status = STORE_DUPLICATE;
		result->seq = strtoull(cols[3], NULL, 10);
		snprintf(result->ts, sizeof(result->ts), "%s", cols[4]);
	}
	return 0;
}

/* Marks as STORE_DUPLICATE those of rows[0..count) already in the table. */
static int lookup_stored(struct db *db, struct intake_msg *const *msgs, const int *rows, int count,
		const unsigned long long *room_ids, const unsigned long long *sender_ids, struct lookup *lookup)
{
	struct db_param params[CHUNK_MAX * 3];
	int done = 0;

	while(done < count){
		int k = 0;
		int rc;

		while(chunk_rows[k] > count - done) k++;
		if(!lookup_sql[k]) return DB_ERROR;
		for(int r = 0; r < chunk_rows[k]; r++){
			int i = rows[done + r];

			params[r * 3] = DB_I64(room_ids[i]);
			params[r * 3 + 1] = DB_I64(sender_ids[i]);
			params[r * 3 + 2] = DB_STR(msgs[i]->msg_id);
		}
		rc = db_exec(db, lookup_sql[k], params, chunk_rows[k] * 3, found_row, lookup, NULL, NULL);
		if(rc != DB_OK) return rc;
		done += chunk_rows[k];
	}
	return DB_OK;
}

static void msg_keys_free(struct msg_key **table)
{
	struct msg_key *key, *tmp;

	HASH_ITER(hh, *table, key, tmp){
		HASH_DEL(*table, key);
		free(key);
	}
}

/* The rows of a batch on their way into the table. */
struct batch_rows {
	struct intake_msg *const *msgs;
	const unsigned long long *room_ids, *sender_ids;
	struct store_result *results;
	struct store_meta **metas;           /* events' and replies' fields; NULL: a plain message */
	const struct intake_msg **edited_by; /* a waiting plain message edited in the batch: the last edit */
	int *rows;                           /* indices into msgs waiting for the INSERT: rows[0..fresh) */
	int fresh;
	const char *ts_iso, *ts_sql;
	struct batch_key *rooms;
};

/* Inserts the rows waiting with as few statements as the chunk sizes
 * allow, and marks every room's rows as in the table. */
static int flush_rows(struct db *db, struct batch_rows *b)
{
	struct db_param params[CHUNK_MAX * COLS_PER_ROW];
	int done = 0;

	while(done < b->fresh){
		int k = 0;
		int rc;

		while(chunk_rows[k] > b->fresh - done) k++;
		if(!insert_sql[k]) return DB_ERROR;
		for(int r = 0; r < chunk_rows[k]; r++){
			int i = b->rows[done + r];
			const struct intake_msg *msg = b->msgs[i];
			struct db_param *p = params + r * COLS_PER_ROW;

			p[0] = DB_I64(b->room_ids[i]);
			p[1] = DB_I64(b->results[i].seq);
			p[2] = DB_STR(msg->msg_id);
			p[3] = DB_I64(b->sender_ids[i]);
			p[4] = DB_STRN(msg->body, msg->body_len);
			p[5] = DB_STR(b->ts_sql);
			p[6] = DB_STR("message");
			p[7] = (struct db_param){ .type = DB_PARAM_NULL };
			p[8] = (struct db_param){ .type = DB_PARAM_NULL };
			if(b->metas[i]){
				/* An event's own row. */
				size_t len;
				const char *body = store_event_row_body(msg, b->metas[i], &len);

				p[4] = DB_STRN(body, len);
				p[6] = DB_STR(room_msg_kind_name(b->metas[i]->kind));
				p[7] = DB_I64(b->metas[i]->ref);
			}else if(b->edited_by[i]){
				/* Edited before it was inserted: stored as edited. */
				p[4] = DB_STRN(b->edited_by[i]->body, b->edited_by[i]->body_len);
				p[8] = DB_STR(b->ts_sql);
			}
		}
		rc = db_exec(db, insert_sql[k], params, chunk_rows[k] * COLS_PER_ROW, NULL, NULL, NULL, NULL);
		if(rc != DB_OK) return rc;
		done += chunk_rows[k];
	}
	b->fresh = 0;
	for(struct batch_key *key = b->rooms; key; key = key->hh.next) key->inserted_seq = key->last_seq;
	return DB_OK;
}

/* The highest seq a message with a reply or thread refers to. */
static unsigned long long reply_target(const struct store_meta *meta)
{
	return meta->reply_to > meta->thread ? meta->reply_to : meta->thread;
}

/* The index in msgs of the row of seq in room_id when it waits for the
 * INSERT, else -1 (it is in the table). */
static int waiting_row(const struct batch_rows *b, unsigned long long room_id, unsigned long long seq)
{
	for(int r = b->fresh - 1; r >= 0; r--){
		int j = b->rows[r];

		if(b->room_ids[j] == room_id && b->results[j].seq == seq) return j;
	}
	return -1;
}

/* An edit of a plain message still waiting for the INSERT: the row goes
 * in with the new text and its edit time. Returns true when it applied
 * (or refused) the edit, false when the target must be in the table. */
static bool edit_waiting(struct batch_rows *b, int i, int j)
{
	struct store_result *result = &b->results[i];

	result->kind = ROOM_MSG_EDIT;
	result->ref = b->metas[i]->ref;
	if(b->metas[j]){
		result->status = STORE_REFUSED;
		result->code = PROTO_ERR_UNKNOWN_REF;
		snprintf(result->message, sizeof(result->message), "\"ref\" names no message of this room");
	}else if(b->sender_ids[j] != b->sender_ids[i]){
		result->status = STORE_REFUSED;
		result->code = PROTO_ERR_FORBIDDEN;
		snprintf(result->message, sizeof(result->message), "only its sender may edit a message");
	}else{
		b->edited_by[j] = b->msgs[i];
	}
	return true;
}

/* Stores the event msgs[i] in its place: its change now, its own row with
 * the rows waiting. Returns DB_OK (result set) or a db_result. */
static int batch_event(struct db *db, struct batch_rows *b, int i, struct batch_key *room)
{
	const struct store_meta *meta = b->metas[i];
	const struct store_pending_target *pending = NULL;
	struct store_pending_target pt;
	int waiting = -1;
	int rc;

	if(meta->ref > room->inserted_seq) waiting = waiting_row(b, b->room_ids[i], meta->ref);
	if(waiting >= 0 && meta->kind == ROOM_MSG_EDIT){
		edit_waiting(b, i, waiting);
	}else{
		if(waiting >= 0 && meta->kind == ROOM_MSG_DELETE){
			/* A delete changes the target's row: it must be in the table. */
			rc = flush_rows(db, b);
			if(rc != DB_OK) return rc;
		}else if(waiting >= 0){
			pt.is_message = b->metas[waiting] == NULL;
			pending = &pt;
		}
		rc = store_event_change(db, b->room_ids[i], b->sender_ids[i], b->msgs[i], meta, b->ts_sql, pending, &b->results[i]);
		if(rc != DB_OK) return rc;
	}
	if(b->results[i].status != STORE_STORED) return DB_OK;
	b->results[i].seq = ++room->last_seq;
	snprintf(b->results[i].ts, sizeof(b->results[i].ts), "%s", b->ts_iso);
	b->rows[b->fresh++] = i;
	return DB_OK;
}

int store_batch(struct db *db, struct intake_msg *const *msgs, int n, struct store_result *results)
{
	char ts_iso[TIMEFMT_LEN], ts_sql[TIMEFMT_LEN];
	struct batch_key *rooms = NULL, *senders = NULL, *key;
	unsigned long long *room_ids = calloc((size_t)n + 1, sizeof(*room_ids));
	unsigned long long *sender_ids = calloc((size_t)n + 1, sizeof(*sender_ids));
	int *rows = calloc((size_t)n + 1, sizeof(*rows));
	int *copy_of = calloc((size_t)n + 1, sizeof(*copy_of));
	struct store_meta **metas = calloc((size_t)n + 1, sizeof(*metas));
	const struct intake_msg **edited_by = calloc((size_t)n + 1, sizeof(*edited_by));
	struct batch_rows b = { .msgs = msgs, .room_ids = room_ids, .sender_ids = sender_ids, .results = results,
		.metas = metas, .edited_by = edited_by, .rows = rows, .ts_iso = ts_iso, .ts_sql = ts_sql };
	struct lookup lookup = { .keys = NULL, .results = results };
	char key_text[128];
	struct db_param params[2];
	int count = 0;
	int rc = DB_ERROR;
	bool began = false;

	pthread_once(&sql_once, build_sql);
	if(!room_ids || !sender_ids || !rows || !copy_of || !metas || !edited_by) goto out;
	for(int i = 0; i < n; i++){
		if(!key_get(&rooms, msgs[i]->room) || !key_get(&senders, msgs[i]->sender)) goto out;
	}
	if((rc = db_begin(db)) != DB_OK) goto out;
	began = true;
	/* Name order: two instances lock shared rooms in the same order. */
	HASH_SORT(rooms, by_name);
	for(key = rooms; key; key = key->hh.next){
		params[0] = DB_STR(key->name);
		rc = db_exec(db, "SELECT id, last_seq FROM rooms WHERE name = ? FOR UPDATE",
				params, 1, first_two_u64, key, NULL, NULL);
		if(rc != DB_OK) goto out;
	}
	rc = senders_find(db, &senders);
	if(rc != DB_OK) goto out;
	timefmt_now(ts_iso, ts_sql);
	for(int i = 0; i < n; i++){
		struct batch_key *room = NULL, *sender = NULL;
		struct msg_key *first = NULL;
		char room_id[24], sender_id[24];

		HASH_FIND_STR(rooms, msgs[i]->room, room);
		HASH_FIND_STR(senders, msgs[i]->sender, sender);
		store_result_reset(&results[i]);
		copy_of[i] = -1;
		if(!room->found){
			results[i].status = STORE_UNKNOWN_ROOM;
			continue;
		}
		if(!sender->found){
			results[i].status = STORE_UNKNOWN_SENDER;
			continue;
		}
		room_ids[i] = room->id;
		sender_ids[i] = sender->id;
		snprintf(room_id, sizeof(room_id), "%llu", room->id);
		snprintf(sender_id, sizeof(sender_id), "%llu", sender->id);
		msg_key_format(key_text, sizeof(key_text), room_id, sender_id, msgs[i]->msg_id);
		HASH_FIND_STR(lookup.keys, key_text, first);
		if(first){
			/* The same message twice in one batch (a bridge duplicate). */
			copy_of[i] = first->index;
			continue;
		}
		first = calloc(1, sizeof(*first));
		if(!first){
			rc = DB_ERROR;
			goto out;
		}
		snprintf(first->key, sizeof(first->key), "%s", key_text);
		first->index = i;
		HASH_ADD_STR(lookup.keys, key, first);
		results[i].status = STORE_STORED;
		rows[count++] = i;
	}
	rc = lookup_stored(db, msgs, rows, count, room_ids, sender_ids, &lookup);
	if(rc != DB_OK) goto out;
	/* Seq in batch order for what is new. Plain messages and events' own
	 * rows wait to be inserted many at a time; an event's change to its
	 * target is made in its place (store_event.c), after inserting the rows
	 * waiting when it must change one of them; a message with a reply,
	 * thread or mentions is stored alone in its place. */
	b.rooms = rooms;
	for(key = rooms; key; key = key->hh.next) key->inserted_seq = key->last_seq;
	for(int r = 0; r < count; r++){
		int i = rows[r];
		struct batch_key *room = NULL;
		bool readable;

		if(results[i].status != STORE_STORED) continue;
		HASH_FIND_STR(rooms, msgs[i]->room, room);
		if(!msgs[i]->meta_len){
			results[i].seq = ++room->last_seq;
			memcpy(results[i].ts, ts_iso, sizeof(ts_iso));
			rows[b.fresh++] = i;
			continue;
		}
		metas[i] = malloc(sizeof(*metas[i]));
		if(!metas[i]){
			rc = DB_ERROR;
			goto out;
		}
		readable = store_meta_decode(msgs[i]->meta, msgs[i]->meta_len, metas[i]) == 0;
		if(readable && metas[i]->kind != ROOM_MSG_MESSAGE){
			rc = batch_event(db, &b, i, room);
		}else{
			/* A reply, thread or mentions (or an unreadable record: refused there). */
			if(!readable || reply_target(metas[i]) > room->inserted_seq){
				rc = flush_rows(db, &b);
				if(rc != DB_OK) goto out;
			}
			free(metas[i]);
			metas[i] = NULL;
			rc = store_event(db, room_ids[i], sender_ids[i], msgs[i], ts_iso, ts_sql, &room->last_seq, &results[i]);
		}
		if(rc != DB_OK) goto out;
	}
	rc = flush_rows(db, &b);
	if(rc != DB_OK) goto out;
	for(int i = 0; i < n; i++){
		struct store_result *first;

		if(copy_of[i] < 0) continue;
		/* The copy gets the first one's receipt (or refusal), not its notices. */
		first = &results[copy_of[i]];
		results[i] = *first;
		results[i].mentioned = NULL;
		if(first->status == STORE_STORED) results[i].status = STORE_DUPLICATE;
	}
	for(key = rooms; key; key = key->hh.next){
		if(!key->found) continue;
		params[0] = DB_I64(key->last_seq);
		params[1] = DB_I64(key->id);
		rc = db_exec(db, "UPDATE rooms SET last_seq = ? WHERE id = ?", params, 2, NULL, NULL, NULL, NULL);
		if(rc != DB_OK) goto out;
	}
	rc = db_commit(db);
out:
	if(rc != DB_OK && began) db_rollback(db);
	keys_free(&rooms);
	keys_free(&senders);
	msg_keys_free(&lookup.keys);
	free(copy_of);
	for(int i = 0; metas && i < n; i++) free(metas[i]);
	free(metas);
	free(edited_by);
	free(room_ids);
	free(sender_ids);
	free(rows);
	return rc;
}
