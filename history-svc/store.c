/* store.c: storing one message exactly once; see store.h. The one-message
 * path locks the room row, looks for the same (room, sender, client id),
 * else inserts with last_seq + 1 (an event through store_event) and moves
 * last_seq. The row lock makes seq gapless even with
 * several history-svc instances; the unique key makes a duplicate harmless
 * even if two instances race on the same message. The fast path for many
 * messages at once is store_batch.c. */
#include "store.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "timefmt.h"

static int first_two_u64(void *ud, int ncols, char **cols, unsigned long *lens)
{
	unsigned long long *out = ud;

	(void)lens;
	if(ncols >= 2 && cols[0] && cols[1]){
		out[0] = strtoull(cols[0], NULL, 10);
		out[1] = strtoull(cols[1], NULL, 10);
		out[2] = 1; /* found */
	}
	return 1;
}

static int seq_and_ts(void *ud, int ncols, char **cols, unsigned long *lens)
{
	struct store_result *result = ud;

	(void)lens;
	if(ncols >= 2 && cols[0] && cols[1]){
		result->seq = strtoull(cols[0], NULL, 10);
		snprintf(result->ts, sizeof(result->ts), "%s", cols[1]);
		result->status = STORE_DUPLICATE;
	}
	return 1;
}

void store_one(struct db *db, const struct intake_msg *msg, struct store_result *result)
{
	unsigned long long room_row[3] = { 0, 0, 0 };   /* id, last_seq, found */
	unsigned long long sender_row[3] = { 0, 0, 0 }; /* id, unused, found */
	struct db_param params[6];
	char ts_iso[TIMEFMT_LEN], ts_sql[TIMEFMT_LEN];
	bool committed = false;

	store_result_reset(result);
	result->status = STORE_RETRY;
	if(db_begin(db) != DB_OK) goto out;
	params[0] = DB_STR(msg->room);
	if(db_exec(db, "SELECT id, last_seq FROM rooms WHERE name = ? FOR UPDATE",
				params, 1, first_two_u64, room_row, NULL, NULL) != DB_OK) goto out;
	if(!room_row[2]){
		result->status = STORE_UNKNOWN_ROOM;
		goto out;
	}
	params[0] = DB_STR(msg->sender);
	if(db_exec(db, "SELECT id, 0 FROM users WHERE username = ?",
				params, 1, first_two_u64, sender_row, NULL, NULL) != DB_OK) goto out;
	if(!sender_row[2]){
		result->status = STORE_UNKNOWN_SENDER;
		goto out;
	}
	params[0] = DB_I64(room_row[0]);
	params[1] = DB_I64(sender_row[0]);
	params[2] = DB_STR(msg->msg_id);
	if(db_exec(db, "SELECT seq, " TIMEFMT_SQL("created_at") " FROM messages"
				" WHERE room_id = ? AND sender_id = ? AND msg_id = ?",
				params, 3, seq_and_ts, result, NULL, NULL) != DB_OK){
		result->status = STORE_RETRY;
		goto out;
	}
	if(result->status == STORE_DUPLICATE) goto out;
	timefmt_now(ts_iso, ts_sql);
	snprintf(result->ts, sizeof(result->ts), "%s", ts_iso);
	if(msg->meta_len){
		/* An event, or a message with a reply, thread or mentions. */
		if(store_event(db, room_row[0], sender_row[0], msg, ts_iso, ts_sql, &room_row[1], result) != DB_OK){
			result->status = STORE_RETRY;
			goto out;
		}
		if(result->status != STORE_STORED) goto out;
	}else{
		result->seq = room_row[1] + 1;
		params[0] = DB_I64(room_row[0]);
		params[1] = DB_I64(result->seq);
		params[2] = DB_STR(msg->msg_id);
		params[3] = DB_I64(sender_row[0]);
		params[4] = DB_STRN(msg->body, msg->body_len);
		params[5] = DB_STR(ts_sql);
		if(db_exec(db, "INSERT INTO messages (room_id, seq, msg_id, sender_id, body, created_at)"
					" VALUES (?, ?, ?, ?, ?, ?)", params, 6, NULL, NULL, NULL, NULL) != DB_OK) goto out;
	}
	params[0] = DB_I64(result->seq);
	params[1] = DB_I64(room_row[0]);
	if(db_exec(db, "UPDATE rooms SET last_seq = ? WHERE id = ?",
				params, 2, NULL, NULL, NULL, NULL) != DB_OK) goto out;
	if(db_commit(db) != DB_OK) goto out;
	committed = true;
	result->status = STORE_STORED;
out:
	if(!committed){
		db_rollback(db);
		if(result->status == STORE_STORED) result->status = STORE_RETRY;
	}
}
