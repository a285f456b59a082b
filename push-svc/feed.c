/* feed.c: stored messages into push_state; see feed.h. */
#include "feed.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>
#include <uthash.h>

#include "clock.h"
#include "json_payload.h"
#include "json_util.h"
#include "log.h"
#include "metrics.h"
#include "names.h"
#include "online.h"
#include "proto.h"

/* Messages of one room, and rooms, scanned per transaction. */
#define SCAN_BATCH 1000
#define ROOMS_PER_TRANSACTION 200

/* What one subscription is owed from one scan. */
struct owed {
	unsigned long long sub_id;
	long long from_seq, to_seq;
	int count;
	int urgent;
	UT_hash_handle hh;
};

struct scan {
	struct push_svc *svc;
	struct owed *owed;
	long long last_seq;  /* highest seq seen by the query */
	int rows;
	int failed;
};

/* One row: sub_id, username, seq, urgent (a DM or a mention). */
static int owed_row(void *ud, int ncols, char **cols, unsigned long *lens)
{
	struct scan *scan = ud;
	struct owed *o = NULL;
	unsigned long long sub_id;
	long long seq;

	(void)lens;
	if(ncols != 4 || !cols[0] || !cols[1] || !cols[2]) return 0;
	scan->rows++;
	if(online_is(scan->svc->online, cols[1])) return 0;
	sub_id = strtoull(cols[0], NULL, 10);
	seq = strtoll(cols[2], NULL, 10);
	HASH_FIND(hh, scan->owed, &sub_id, sizeof(sub_id), o);
	if(!o){
		o = calloc(1, sizeof(*o));
		if(!o){
			scan->failed = 1;
			return 1;
		}
		o->sub_id = sub_id;
		o->from_seq = seq;
		HASH_ADD(hh, scan->owed, sub_id, sizeof(o->sub_id), o);
	}
	o->count++;
	if(seq < o->from_seq) o->from_seq = seq;
	if(seq > o->to_seq) o->to_seq = seq;
	if(cols[3] && cols[3][0] == '1') o->urgent = 1;
	return 0;
}

static int max_seq_row(void *ud, int ncols, char **cols, unsigned long *lens)
{
	long long *seq = ud;

	(void)lens;
	if(ncols == 1 && cols[0]) *seq = strtoll(cols[0], NULL, 10);
	return 0;
}

static void owed_free(struct scan *scan)
{
	struct owed *o, *tmp;

	HASH_ITER(hh, scan->owed, o, tmp){
		HASH_DEL(scan->owed, o);
		free(o);
	}
}

/* Who is owed a push for messages (cursor, upto] of the room: current
 * members other than the sender with a subscription that wants it. */
static const char owed_sql[] =
	"SELECT s.id, u.username, m.seq,"
	" (r.visibility = 'direct' OR mn.user_id IS NOT NULL) AS urgent"
	" FROM messages m"
	" JOIN rooms r ON r.id = m.room_id"
	" JOIN room_members rm ON rm.room_id = m.room_id AND rm.user_id <> m.sender_id"
	" JOIN push_subscriptions s ON s.user_id = rm.user_id AND s.wake <> 'none'"
	" JOIN users u ON u.id = rm.user_id"
	" LEFT JOIN mentions mn ON mn.room_id = m.room_id AND mn.seq = m.seq AND mn.user_id = rm.user_id"
	" WHERE m.room_id = ? AND m.seq > ? AND m.seq <= ? AND m.kind = 'message' AND m.deleted_at IS NULL"
	" AND (r.visibility = 'direct' OR mn.user_id IS NOT NULL"
	"  OR (s.wake = 'all' AND EXISTS (SELECT 1 FROM push_subscription_rooms pr"
	"   WHERE pr.sub_id = s.id AND pr.room_id = m.room_id)))"
	" ORDER BY m.seq";

/* Scans up to SCAN_BATCH messages of room_id beyond its cursor, inside
 * the caller's transaction. Returns 1 when more remain, 0 when the room is
 * done, -1 on a database error. */
static int scan_part(struct push_svc *svc, struct db *db, unsigned long long room_id)
{
	struct scan scan = { .svc = svc };
	struct db_param p[8];
	long long cursor = -1, last = -1, upto;
	long long now = clock_wall_ms();
	int rc = -1;

	p[0] = DB_I64(room_id);
	if(db_exec(db, "SELECT seq FROM push_cursor WHERE room_id = ? FOR UPDATE", p, 1, max_seq_row, &cursor,
			NULL, NULL) != DB_OK
			|| db_exec(db, "SELECT last_seq FROM rooms WHERE id = ?", p, 1, max_seq_row, &last, NULL, NULL) != DB_OK){
		goto out;
	}
	if(last < 0){
		rc = 0; /* the room is gone */
		goto out;
	}
	if(cursor < 0){
		/* A room new since the migration: every message counts. */
		cursor = 0;
		p[1] = DB_I64(0);
		if(db_exec(db, "INSERT IGNORE INTO push_cursor (room_id, seq) VALUES (?, ?)", p, 2, NULL, NULL, NULL, NULL)
				!= DB_OK){
			goto out;
		}
	}
	if(last <= cursor){
		rc = 0;
		goto out;
	}
	upto = last - cursor > SCAN_BATCH ? cursor + SCAN_BATCH : last;
	p[1] = DB_I64(cursor);
	p[2] = DB_I64(upto);
	if(db_exec(db, owed_sql, p, 3, owed_row, &scan, NULL, NULL) != DB_OK || scan.failed) goto out;
	for(struct owed *o = scan.owed; o; o = o->hh.next){
		/* The first push of a quiet pair goes at once; later ones wait
		 * for the window after the last push (the coalescing). */
		p[0] = DB_I64(o->sub_id);
		p[1] = DB_I64(room_id);
		p[2] = DB_I64(o->count);
		p[3] = DB_I64(o->from_seq);
		p[4] = DB_I64(o->to_seq);
		p[5] = DB_I64(o->urgent);
		p[6] = DB_I64(now);
		p[7] = DB_I64(svc->cfg.window_ms);
		if(db_exec(db, "INSERT INTO push_state (sub_id, room_id, pending_count, pending_from_seq, pending_to_seq,"
				" urgent, due_ms) VALUES (?, ?, ?, ?, ?, ?, ?)"
				" ON DUPLICATE KEY UPDATE"
				" due_ms = IF(pending_count > 0, due_ms, GREATEST(last_sent_ms + ?, VALUES(due_ms))),"
				" pending_from_seq = IF(pending_count > 0, pending_from_seq, VALUES(pending_from_seq)),"
				" urgent = IF(pending_count > 0, urgent OR VALUES(urgent), VALUES(urgent)),"
				" pending_count = pending_count + VALUES(pending_count),"
				" pending_to_seq = GREATEST(pending_to_seq, VALUES(pending_to_seq))",
				p, 8, NULL, NULL, NULL, NULL) != DB_OK){
			goto out;
		}
	}
	p[0] = DB_I64(upto);
	p[1] = DB_I64(room_id);
	if(db_exec(db, "UPDATE push_cursor SET seq = ? WHERE room_id = ?", p, 2, NULL, NULL, NULL, NULL) != DB_OK){
		goto out;
	}
	if(scan.owed){
		svc->next_poll_ms = 0; /* something may be due now (after the commit) */
		log_debug("room %llu: seq %lld..%lld owe pushes to %u subscriptions", room_id, cursor + 1, upto,
				HASH_COUNT(scan.owed));
	}
	rc = upto < last;
out:
	owed_free(&scan);
	return rc;
}

static int id_cmp(const void *a, const void *b)
{
	unsigned long long x = *(const unsigned long long *)a, y = *(const unsigned long long *)b;

	return x < y ? -1 : x > y;
}

/* Scans rooms ids[0..n) (sorted, no repeats) to their end: up to
 * ROOMS_PER_TRANSACTION rooms per transaction (one log flush for many
 * rooms), the cursors moved in the same transaction as the pushes owed.
 * Returns 0, or -1 on a database error (rolled back: nothing moved). */
static int scan_rooms(struct push_svc *svc, unsigned long long *ids, size_t n)
{
	size_t done = 0;

	while(done < n){
		struct db *db = push_db_get(svc);
		size_t end = n - done > ROOMS_PER_TRANSACTION ? done + ROOMS_PER_TRANSACTION : n;
		int more = 0, rc = 0;

		if(!db || db_begin(db) != DB_OK) goto fail;
		for(size_t i = done; i < end && rc >= 0; i++){
			rc = scan_part(svc, db, ids[i]);
			if(rc > 0) more = 1;
		}
		if(rc < 0 || db_commit(db) != DB_OK){
			db_rollback(db);
			goto fail;
		}
		/* Rooms with more than SCAN_BATCH new messages go round again. */
		if(!more) done = end;
	}
	return 0;
fail:
	push_db_failed(svc);
	return -1;
}

static int room_id_row(void *ud, int ncols, char **cols, unsigned long *lens)
{
	unsigned long long *id = ud;

	(void)lens;
	if(ncols >= 1 && cols[0]) *id = strtoull(cols[0], NULL, 10);
	return 0;
}

void feed_hint(struct push_svc *svc, const void *payload, size_t len)
{
	cJSON *json = NULL;
	const char *room;
	unsigned long long room_id = 0;
	struct db_param p[1];
	struct db *db;

	if(json_payload_parse(payload, len, PROTO_MAX_DEPTH, &json) != JSON_PAYLOAD_OK) goto out;
	room = json_get_str(json, "room", NAME_ROOM_MAX);
	if(!room || !name_room_valid(room)){
		log_warn("ignoring a malformed stored hint");
		goto out;
	}
	db = push_db_get(svc);
	if(!db) goto out; /* the rescan makes it up */
	p[0] = DB_STR(room);
	if(db_exec(db, "SELECT id FROM rooms WHERE name = ?", p, 1, room_id_row, &room_id, NULL, NULL) != DB_OK){
		push_db_failed(svc);
		goto out;
	}
	if(!room_id) goto out;
	if(svc->hinted_n == svc->hinted_cap){
		size_t cap = svc->hinted_cap ? svc->hinted_cap * 2 : 64;
		unsigned long long *ids = realloc(svc->hinted, cap * sizeof(*ids));
		if(!ids) goto out; /* the rescan makes it up */
		svc->hinted = ids;
		svc->hinted_cap = cap;
	}
	svc->hinted[svc->hinted_n++] = room_id;
out:
	cJSON_Delete(json);
}

void feed_flush(struct push_svc *svc)
{
	size_t n = 0;

	if(svc->hinted_n == 0) return;
	qsort(svc->hinted, svc->hinted_n, sizeof(*svc->hinted), id_cmp);
	for(size_t i = 0; i < svc->hinted_n; i++){
		if(n == 0 || svc->hinted[n - 1] != svc->hinted[i]) svc->hinted[n++] = svc->hinted[i];
	}
	/* On failure the rescan (every second until it succeeds) makes it up. */
	if(scan_rooms(svc, svc->hinted, n)) svc->next_rescan_ms = 0;
	svc->hinted_n = 0;
}

struct room_list {
	unsigned long long *ids;
	size_t n, cap;
};

static int room_list_row(void *ud, int ncols, char **cols, unsigned long *lens)
{
	struct room_list *l = ud;

	(void)lens;
	if(ncols != 1 || !cols[0]) return 0;
	if(l->n == l->cap){
		size_t cap = l->cap ? l->cap * 2 : 64;
		unsigned long long *ids = realloc(l->ids, cap * sizeof(*ids));
		if(!ids) return 1;
		l->ids = ids;
		l->cap = cap;
	}
	l->ids[l->n++] = strtoull(cols[0], NULL, 10);
	return 0;
}

int feed_rescan(struct push_svc *svc)
{
	struct room_list list = { 0 };
	struct db *db = push_db_get(svc);
	int rc = -1;

	if(!db) goto out;
	if(db_exec(db, "SELECT r.id FROM rooms r LEFT JOIN push_cursor c ON c.room_id = r.id"
			" WHERE r.last_seq > COALESCE(c.seq, 0)", NULL, 0, room_list_row, &list, NULL, NULL) != DB_OK){
		push_db_failed(svc);
		goto out;
	}
	if(list.n) log_info("rescan: %zu rooms have messages not yet looked at", list.n);
	if(list.n) qsort(list.ids, list.n, sizeof(*list.ids), id_cmp); /* ids is NULL when n is 0 */
	rc = scan_rooms(svc, list.ids, list.n);
out:
	free(list.ids);
	return rc;
}

void feed_user_online(struct push_svc *svc, const char *user)
{
	struct db *db = push_db_get(svc);
	struct db_param p[1];
	unsigned long long dropped = 0;

	if(!db) return;
	p[0] = DB_STR(user);
	if(db_exec(db, "UPDATE push_state ps JOIN push_subscriptions s ON s.id = ps.sub_id"
			" JOIN users u ON u.id = s.user_id"
			" SET ps.pending_count = 0, ps.attempts = 0"
			" WHERE u.username = ? AND ps.pending_count > 0", p, 1, NULL, NULL, &dropped, NULL) != DB_OK){
		push_db_failed(svc);
		return;
	}
	if(dropped){
		metric_add(svc->m.dropped_online, dropped);
		log_debug("%s is online: %llu pending pushes dropped", user, dropped);
	}
}
