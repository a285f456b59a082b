/* store_event.c: storing an event (edit, delete, react, unreact) or a
 * message with a reply, thread or mentions; see store.h. Each runs inside
 * the batch's (or store_one's) transaction, with the room row locked, so
 * the event's row and its change to the target commit together and seq
 * stays gapless: a refused event takes no seq. Plain messages never come
 * here (store_batch.c inserts them many at a time).
 *
 * Erasure: a delete sets the message's body and the text of each of its
 * edit events to '' (the text is gone from the table, not hidden), and
 * drops its reactions. */
#include "store.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "store_meta.h"

#define DB_NULL ((struct db_param){ .type = DB_PARAM_NULL })

/* A message row looked up by seq. */
struct target {
	bool found;
	bool is_message;      /* kind 'message' (not an event row) */
	unsigned long long sender_id;
	bool deleted;
	bool is_reply;        /* a thread reply (thread_root set) */
};

static int target_row(void *ud, int ncols, char **cols, unsigned long *lens)
{
	struct target *t = ud;

	(void)lens;
	if(ncols != 4 || !cols[0] || !cols[1] || !cols[2] || !cols[3]) return 1;
	t->found = true;
	t->is_message = !strcmp(cols[0], "message");
	t->sender_id = strtoull(cols[1], NULL, 10);
	t->deleted = cols[2][0] == '1';
	t->is_reply = cols[3][0] == '1';
	return 1;
}

static int get_target(struct db *db, unsigned long long room_id, unsigned long long seq, struct target *t)
{
	struct db_param params[2] = { DB_I64(room_id), DB_I64(seq) };

	memset(t, 0, sizeof(*t));
	return db_exec(db, "SELECT kind, sender_id, deleted_at IS NOT NULL, thread_root IS NOT NULL"
			" FROM messages WHERE room_id = ? AND seq = ?", params, 2, target_row, t, NULL, NULL);
}

static int refuse(struct store_result *result, const char *code, const char *message)
{
	result->status = STORE_REFUSED;
	result->code = code;
	snprintf(result->message, sizeof(result->message), "%s", message);
	return DB_OK;
}

static int first_u64(void *ud, int ncols, char **cols, unsigned long *lens)
{
	unsigned long long *out = ud;

	(void)lens;
	if(ncols >= 1 && cols[0]){
		out[0] = strtoull(cols[0], NULL, 10);
		out[1] = 1;
	}
	return 1;
}

static int seq_ts_row(void *ud, int ncols, char **cols, unsigned long *lens)
{
	struct store_result *result = ud;

	(void)lens;
	if(ncols == 2 && cols[0] && cols[1]){
		result->seq = strtoull(cols[0], NULL, 10);
		snprintf(result->ts, sizeof(result->ts), "%s", cols[1]);
	}
	return 1;
}

/* Inserts the event's (or message's) own row with the next seq. */
static int insert_row(struct db *db, unsigned long long room_id, unsigned long long sender_id,
		const struct intake_msg *msg, const struct store_meta *meta, const char *body, size_t body_len,
		const char *ts_sql, unsigned long long seq)
{
	struct db_param params[10];

	params[0] = DB_I64(room_id);
	params[1] = DB_I64(seq);
	params[2] = DB_STR(msg->msg_id);
	params[3] = DB_I64(sender_id);
	params[4] = DB_STRN(body, body_len);
	params[5] = DB_STR(ts_sql);
	params[6] = DB_STR(room_msg_kind_name(meta->kind));
	params[7] = meta->ref ? DB_I64(meta->ref) : DB_NULL;
	params[8] = meta->reply_to ? DB_I64(meta->reply_to) : DB_NULL;
	params[9] = meta->thread ? DB_I64(meta->thread) : DB_NULL;
	return db_exec(db, "INSERT INTO messages (room_id, seq, msg_id, sender_id, body, created_at,"
			" kind, ref_seq, reply_to, thread_root) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
			params, 10, NULL, NULL, NULL, NULL);
}

/* Stores mention rows for the named members and lists them in result. */
static int store_mentions(struct db *db, unsigned long long room_id, unsigned long long seq,
		const struct store_meta *meta, struct store_result *result)
{
	size_t at = 0;
	int rc = DB_OK;

	result->mentioned = calloc(1, (size_t)meta->mention_count * (NAME_USER_MAX + 1) + 1);
	if(!result->mentioned) return DB_ERROR;
	for(int i = 0; i < meta->mention_count; i++){
		unsigned long long member[2] = { 0, 0 }; /* user id, found */
		struct db_param params[3] = { DB_I64(room_id), DB_STR(meta->mentions[i]) };

		/* Only members of the room when it is stored: no row, no notice else. */
		rc = db_exec(db, "SELECT u.id FROM users u JOIN room_members m ON m.user_id = u.id"
				" WHERE m.room_id = ? AND u.username = ?", params, 2, first_u64, member, NULL, NULL);
		if(rc != DB_OK) goto out;
		if(!member[1]) continue;
		params[0] = DB_I64(member[0]);
		params[1] = DB_I64(room_id);
		params[2] = DB_I64(seq);
		rc = db_exec(db, "INSERT INTO mentions (user_id, room_id, seq) VALUES (?, ?, ?)",
				params, 3, NULL, NULL, NULL, NULL);
		if(rc != DB_OK) goto out;
		at += (size_t)snprintf(result->mentioned + at, NAME_USER_MAX + 1, "%s", meta->mentions[i]) + 1;
	}
out:
	return rc;
}

/* A message with a reply, a thread or mentions. */
static int store_message(struct db *db, unsigned long long room_id, unsigned long long sender_id,
		const struct intake_msg *msg, const struct store_meta *meta, const char *ts_sql,
		unsigned long long seq, struct store_result *result)
{
	struct target t;
	int rc;

	if(meta->reply_to){
		if((rc = get_target(db, room_id, meta->reply_to, &t)) != DB_OK) return rc;
		if(!t.found || !t.is_message) return refuse(result, PROTO_ERR_UNKNOWN_REF, "\"reply_to\" names no message of this room");
	}
	if(meta->thread){
		if((rc = get_target(db, room_id, meta->thread, &t)) != DB_OK) return rc;
		if(!t.found || !t.is_message) return refuse(result, PROTO_ERR_UNKNOWN_REF, "\"thread\" names no message of this room");
		if(t.is_reply) return refuse(result, PROTO_ERR_BAD_REF, "\"thread\" names a thread reply, not a root");
	}
	rc = insert_row(db, room_id, sender_id, msg, meta, msg->body, msg->body_len, ts_sql, seq);
	if(rc != DB_OK) return rc;
	if(meta->thread){
		struct db_param params[3] = { DB_STR(ts_sql), DB_I64(room_id), DB_I64(meta->thread) };

		rc = db_exec(db, "UPDATE messages SET reply_count = reply_count + 1, last_reply_at = ?"
				" WHERE room_id = ? AND seq = ?", params, 3, NULL, NULL, NULL, NULL);
		if(rc != DB_OK) return rc;
	}
	if(meta->mention_count) rc = store_mentions(db, room_id, seq, meta, result);
	if(rc == DB_OK) result->status = STORE_STORED;
	return rc;
}

/* Why an event's target refuses it (PROTOCOL 3.3: unknown_ref, then
 * forbidden, then deleted). Returns DB_OK with result->status
 * STORE_REFUSED, or left alone when the target takes it. */
static int diagnose(struct db *db, unsigned long long room_id, unsigned long long sender_id,
		const struct store_meta *meta, struct store_result *result)
{
	struct target t;
	int rc;

	if((rc = get_target(db, room_id, meta->ref, &t)) != DB_OK) return rc;
	if(!t.found || !t.is_message) return refuse(result, PROTO_ERR_UNKNOWN_REF, "\"ref\" names no message of this room");
	if(meta->kind == ROOM_MSG_EDIT && t.sender_id != sender_id){
		return refuse(result, PROTO_ERR_FORBIDDEN, "only its sender may edit a message");
	}
	if(t.deleted) return refuse(result, PROTO_ERR_DELETED, "the message is deleted");
	return DB_OK;
}

/* An edit: one UPDATE that only an editable target takes; when it takes
 * none, diagnose says why (or that the text was already this). */
static int change_edit(struct db *db, unsigned long long room_id, unsigned long long sender_id,
		const struct intake_msg *msg, const struct store_meta *meta, const char *ts_sql, struct store_result *result)
{
	struct db_param params[5] = { DB_STRN(msg->body, msg->body_len), DB_STR(ts_sql), DB_I64(room_id),
		DB_I64(meta->ref), DB_I64(sender_id) };
	unsigned long long affected = 0;
	int rc;

	rc = db_exec(db, "UPDATE messages SET body = ?, edited_at = ? WHERE room_id = ? AND seq = ?"
			" AND kind = 'message' AND sender_id = ? AND deleted_at IS NULL", params, 5, NULL, NULL, &affected, NULL);
	if(rc != DB_OK || affected) return rc;
	return diagnose(db, room_id, sender_id, meta, result);
}

/* A delete: its sender or an admin; a second delete is a no-op. */
static int change_delete(struct db *db, unsigned long long room_id, unsigned long long sender_id,
		const struct store_meta *meta, const char *ts_sql, struct store_result *result)
{
	struct db_param params[4] = { DB_I64(room_id), DB_I64(meta->ref) };
	struct target t;
	int rc;

	if((rc = get_target(db, room_id, meta->ref, &t)) != DB_OK) return rc;
	if(!t.found || !t.is_message) return refuse(result, PROTO_ERR_UNKNOWN_REF, "\"ref\" names no message of this room");
	if(t.sender_id != sender_id){
		unsigned long long role[2] = { 0, 0 }; /* 1 for admin, found */

		params[1] = DB_I64(sender_id);
		rc = db_exec(db, "SELECT role = 'admin' FROM room_members WHERE room_id = ? AND user_id = ?",
				params, 2, first_u64, role, NULL, NULL);
		if(rc != DB_OK) return rc;
		if(role[0] != 1) return refuse(result, PROTO_ERR_FORBIDDEN, "only its sender or a room admin may delete a message");
		params[1] = DB_I64(meta->ref);
	}
	if(t.deleted){
		/* Deleting twice changes nothing; the receipt names the first delete. */
		rc = db_exec(db, "SELECT seq, " TIMEFMT_SQL("created_at") " FROM messages"
				" WHERE room_id = ? AND ref_seq = ? AND kind = 'delete' ORDER BY seq LIMIT 1",
				params, 2, seq_ts_row, result, NULL, NULL);
		if(rc == DB_OK) result->status = STORE_DUPLICATE;
		return rc;
	}
	/* The text is erased, not hidden: the body and every edit's text. */
	rc = db_exec(db, "UPDATE messages SET body = '' WHERE room_id = ? AND ref_seq = ? AND kind = 'edit'",
			params, 2, NULL, NULL, NULL, NULL);
	if(rc != DB_OK) return rc;
	rc = db_exec(db, "DELETE FROM reactions WHERE room_id = ? AND seq = ?", params, 2, NULL, NULL, NULL, NULL);
	if(rc != DB_OK) return rc;
	params[0] = DB_STR(ts_sql);
	params[1] = DB_I64(sender_id);
	params[2] = DB_I64(room_id);
	params[3] = DB_I64(meta->ref);
	return db_exec(db, "UPDATE messages SET body = '', deleted_at = ?, deleted_by = ? WHERE room_id = ? AND seq = ?",
			params, 4, NULL, NULL, NULL, NULL);
}

/* A react or unreact: one statement; when it changes nothing, diagnose
 * tells a refused target from a reaction already there (or gone). A
 * target waiting in the batch is a message nobody deleted yet. */
static int change_reaction(struct db *db, unsigned long long room_id, unsigned long long sender_id,
		const struct store_meta *meta, const struct store_pending_target *pending, struct store_result *result)
{
	struct db_param params[4] = { DB_I64(room_id), DB_I64(meta->ref), DB_STR(meta->reaction), DB_I64(sender_id) };
	unsigned long long affected = 0;
	int rc;

	if(pending && !pending->is_message) return refuse(result, PROTO_ERR_UNKNOWN_REF, "\"ref\" names no message of this room");
	if(meta->kind == ROOM_MSG_UNREACT){
		rc = db_exec(db, "DELETE FROM reactions WHERE room_id = ? AND seq = ? AND reaction = ? AND user_id = ?",
				params, 4, NULL, NULL, &affected, NULL);
	}else if(pending){
		rc = db_exec(db, "INSERT IGNORE INTO reactions (room_id, seq, reaction, user_id) VALUES (?, ?, ?, ?)",
				params, 4, NULL, NULL, &affected, NULL);
	}else{
		params[0] = DB_STR(meta->reaction);
		params[1] = DB_I64(sender_id);
		params[2] = DB_I64(room_id);
		params[3] = DB_I64(meta->ref);
		rc = db_exec(db, "INSERT IGNORE INTO reactions (room_id, seq, reaction, user_id)"
				" SELECT room_id, seq, ?, ? FROM messages WHERE room_id = ? AND seq = ?"
				" AND kind = 'message' AND deleted_at IS NULL", params, 4, NULL, NULL, &affected, NULL);
	}
	if(rc != DB_OK || affected || pending) return rc;
	return diagnose(db, room_id, sender_id, meta, result);
}

/* The change of one event; see store.h. */
int store_event_change(struct db *db, unsigned long long room_id, unsigned long long sender_id,
		const struct intake_msg *msg, const struct store_meta *meta, const char *ts_sql,
		const struct store_pending_target *pending, struct store_result *result)
{
	result->kind = meta->kind;
	result->ref = meta->ref;
	switch(meta->kind){
	case ROOM_MSG_EDIT:
		return change_edit(db, room_id, sender_id, msg, meta, ts_sql, result);
	case ROOM_MSG_DELETE:
		return change_delete(db, room_id, sender_id, meta, ts_sql, result);
	case ROOM_MSG_REACT:
	case ROOM_MSG_UNREACT:
		return change_reaction(db, room_id, sender_id, meta, pending, result);
	case ROOM_MSG_MESSAGE:
		break;
	}
	return refuse(result, PROTO_ERR_BAD_MESSAGE, "not an event");
}

/* An event row's body; see store.h. */
const char *store_event_row_body(const struct intake_msg *msg, const struct store_meta *meta, size_t *len)
{
	/* The row holds an edit's text and a reaction's reaction, so that
	 * catch-up shows them; a delete's is "". */
	if(meta->kind == ROOM_MSG_EDIT){
		*len = msg->body_len;
		return msg->body;
	}
	if(meta->kind == ROOM_MSG_REACT || meta->kind == ROOM_MSG_UNREACT){
		*len = strlen(meta->reaction);
		return meta->reaction;
	}
	*len = 0;
	return "";
}

int store_event(struct db *db, unsigned long long room_id, unsigned long long sender_id,
		const struct intake_msg *msg, const char *ts_iso, const char *ts_sql,
		unsigned long long *last_seq, struct store_result *result)
{
	struct store_meta meta;
	const char *body;
	size_t body_len;
	int rc;

	store_result_reset(result);
	if(store_meta_decode(msg->meta, msg->meta_len, &meta)){
		return refuse(result, PROTO_ERR_BAD_MESSAGE, "the message could not be read back from the intake log");
	}
	result->kind = meta.kind;
	snprintf(result->ts, sizeof(result->ts), "%s", ts_iso);
	if(meta.kind == ROOM_MSG_MESSAGE){
		rc = store_message(db, room_id, sender_id, msg, &meta, ts_sql, *last_seq + 1, result);
		goto out;
	}
	rc = store_event_change(db, room_id, sender_id, msg, &meta, ts_sql, NULL, result);
	if(rc != DB_OK || result->status != STORE_STORED) goto out;
	body = store_event_row_body(msg, &meta, &body_len);
	rc = insert_row(db, room_id, sender_id, msg, &meta, body, body_len, ts_sql, *last_seq + 1);
out:
	if(rc == DB_OK && result->status == STORE_STORED) result->seq = ++*last_seq;
	return rc;
}

void store_result_reset(struct store_result *result)
{
	free(result->mentioned);
	memset(result, 0, sizeof(*result));
}
