/* store.c: exactly-once storage of room messages; see store.h.
 * One transaction per message: lock the room row, look for the same
 * (room, sender, client id), else insert with last_seq + 1 and move
 * last_seq. The row lock makes seq gapless even with several history-svc
 * instances; the unique key makes a duplicate harmless even if two
 * instances race on the same message. */
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "json_util.h"
#include "log.h"
#include "names.h"
#include "timefmt.h"

struct stored {
	unsigned long long seq;
	char ts[TIMEFMT_LEN];
	bool duplicate;
};

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
	struct stored *stored = ud;

	(void)lens;
	if(ncols >= 2 && cols[0] && cols[1]){
		stored->seq = strtoull(cols[0], NULL, 10);
		snprintf(stored->ts, sizeof(stored->ts), "%s", cols[1]);
		stored->duplicate = true;
	}
	return 1;
}

enum store_outcome { STORE_OK, STORE_UNKNOWN_ROOM, STORE_UNKNOWN_SENDER, STORE_RETRY };

/* One attempt in one transaction. STORE_RETRY means a database error: the
 * transaction was rolled back and nothing was stored. */
static enum store_outcome store_once(struct db *db, const char *room, const char *sender,
		const char *msg_id, const char *body, size_t body_len, struct stored *stored)
{
	unsigned long long room_row[3] = { 0, 0, 0 };   /* id, last_seq, found */
	unsigned long long sender_row[3] = { 0, 0, 0 }; /* id, unused, found */
	struct db_param params[6];
	char ts_sql[TIMEFMT_LEN];
	enum store_outcome outcome = STORE_RETRY;
	bool committed = false;

	memset(stored, 0, sizeof(*stored));
	if(db_begin(db) != DB_OK) goto out;
	params[0] = DB_STR(room);
	if(db_exec(db, "SELECT id, last_seq FROM rooms WHERE name = ? FOR UPDATE",
				params, 1, first_two_u64, room_row, NULL, NULL) != DB_OK) goto out;
	if(!room_row[2]){
		outcome = STORE_UNKNOWN_ROOM;
		goto out;
	}
	params[0] = DB_STR(sender);
	if(db_exec(db, "SELECT id, 0 FROM users WHERE username = ?",
				params, 1, first_two_u64, sender_row, NULL, NULL) != DB_OK) goto out;
	if(!sender_row[2]){
		outcome = STORE_UNKNOWN_SENDER;
		goto out;
	}
	params[0] = DB_I64(room_row[0]);
	params[1] = DB_I64(sender_row[0]);
	params[2] = DB_STR(msg_id);
	if(db_exec(db, "SELECT seq, " TIMEFMT_SQL("created_at") " FROM messages"
				" WHERE room_id = ? AND sender_id = ? AND msg_id = ?",
				params, 3, seq_and_ts, stored, NULL, NULL) != DB_OK) goto out;
	if(stored->duplicate){
		outcome = STORE_OK;
		goto out;
	}
	timefmt_now(stored->ts, ts_sql);
	stored->seq = room_row[1] + 1;
	params[0] = DB_I64(room_row[0]);
	params[1] = DB_I64(stored->seq);
	params[2] = DB_STR(msg_id);
	params[3] = DB_I64(sender_row[0]);
	params[4] = DB_STRN(body, body_len);
	params[5] = DB_STR(ts_sql);
	if(db_exec(db, "INSERT INTO messages (room_id, seq, msg_id, sender_id, body, created_at)"
				" VALUES (?, ?, ?, ?, ?, ?)", params, 6, NULL, NULL, NULL, NULL) != DB_OK) goto out;
	params[0] = DB_I64(stored->seq);
	params[1] = DB_I64(room_row[0]);
	if(db_exec(db, "UPDATE rooms SET last_seq = ? WHERE id = ?",
				params, 2, NULL, NULL, NULL, NULL) != DB_OK) goto out;
	if(db_commit(db) != DB_OK) goto out;
	committed = true;
	outcome = STORE_OK;
out:
	if(!committed) db_rollback(db);
	return outcome;
}

static void send_error(struct history_svc *svc, const char *sender, const char *room,
		const char *msg_id, const char *code, const char *message)
{
	cJSON *reply = cJSON_CreateObject();

	svc->counters.rejected++;
	log_warn("refused a message from %s in %s: %s (%s)", sender, room, code, message);
	if(!reply) return;
	cJSON_AddStringToObject(reply, "type", "error");
	cJSON_AddStringToObject(reply, "code", code);
	cJSON_AddStringToObject(reply, "message", message);
	cJSON_AddStringToObject(reply, "room", room);
	if(msg_id) cJSON_AddStringToObject(reply, "id", msg_id);
	history_send_inbox(svc, sender, reply);
	cJSON_Delete(reply);
}

static void send_receipt(struct history_svc *svc, const char *sender, const char *room,
		const char *msg_id, const struct stored *stored)
{
	cJSON *receipt = cJSON_CreateObject();

	if(!receipt) return;
	cJSON_AddStringToObject(receipt, "type", "receipt");
	cJSON_AddStringToObject(receipt, "room", room);
	cJSON_AddStringToObject(receipt, "id", msg_id);
	cJSON_AddNumberToObject(receipt, "seq", (double)stored->seq);
	cJSON_AddStringToObject(receipt, "ts", stored->ts);
	history_send_inbox(svc, sender, receipt);
	cJSON_Delete(receipt);
}

int store_handle_message(struct history_svc *svc, const char *room, const char *sender,
		const void *payload, size_t len)
{
	int handled = 1;
	cJSON *msg = NULL;
	const cJSON *body_item;
	const char *msg_id, *body;
	char detail[128];
	struct stored stored;
	enum store_outcome outcome;
	size_t body_len;

	if(len > (size_t)svc->cfg.max_payload_bytes){
		snprintf(detail, sizeof(detail), "payload of %zu bytes is over the limit of %ld",
				len, svc->cfg.max_payload_bytes);
		send_error(svc, sender, room, NULL, "too_large", detail);
		goto out;
	}
	msg = json_parse_object(payload, len);
	if(!msg){
		send_error(svc, sender, room, NULL, "bad_json", "payload is not a JSON object");
		goto out;
	}
	msg_id = json_get_str(msg, "id", NAME_MSGID_MAX);
	if(!msg_id || !name_msgid_valid(msg_id)){
		send_error(svc, sender, room, NULL, "bad_message",
				"\"id\" must be 1-64 characters of A-Z, a-z, 0-9, '_', '-'");
		goto out;
	}
	body_item = cJSON_GetObjectItemCaseSensitive(msg, "body");
	if(!cJSON_IsString(body_item) || !body_item->valuestring){
		send_error(svc, sender, room, msg_id, "bad_message", "\"body\" must be a string");
		goto out;
	}
	body = body_item->valuestring;
	body_len = strlen(body);
	if(body_len == 0 || body_len > (size_t)svc->cfg.max_body_bytes){
		snprintf(detail, sizeof(detail), "\"body\" must be 1 to %ld bytes", svc->cfg.max_body_bytes);
		send_error(svc, sender, room, msg_id, "too_large", detail);
		goto out;
	}
	/* cJSON passes invalid UTF-8 through; the archive only holds valid text. */
	if(!utf8_valid(body, body_len)){
		send_error(svc, sender, room, msg_id, "bad_utf8", "\"body\" is not valid UTF-8");
		goto out;
	}
	/* A database that cannot be reached for a few seconds makes us hand the
	 * message back (it is kept and offered again; nothing is acknowledged);
	 * a query that keeps failing on a live connection is given up after a
	 * bounded number of attempts so that one bad message cannot wedge us. */
	for(int attempt = 1; ; attempt++){
		if(history_db_wait(svc, 5000)){
			handled = 0;
			goto out;
		}
		outcome = store_once(svc->db, room, sender, msg_id, body, body_len, &stored);
		if(outcome != STORE_RETRY) break;
		log_warn("storing %s/%s failed (%s); attempt %d", room, msg_id, db_error(svc->db), attempt);
		db_close(svc->db);
		svc->db = NULL;
		if(attempt == 20){
			send_error(svc, sender, room, msg_id, "unavailable", "the message could not be stored; send it again");
			goto out;
		}
	}
	if(outcome == STORE_UNKNOWN_ROOM){
		send_error(svc, sender, room, msg_id, "unknown_room", "no such room");
		goto out;
	}
	if(outcome == STORE_UNKNOWN_SENDER){
		send_error(svc, sender, room, msg_id, "unknown_user", "sender is not a known user");
		goto out;
	}
	if(stored.duplicate){
		svc->counters.duplicates++;
		log_debug("duplicate %s/%s from %s (seq %llu)", room, msg_id, sender, stored.seq);
	}else{
		svc->counters.stored++;
		log_debug("stored %s seq %llu from %s", room, stored.seq, sender);
	}
	send_receipt(svc, sender, room, msg_id, &stored);
out:
	cJSON_Delete(msg);
	return handled;
}
