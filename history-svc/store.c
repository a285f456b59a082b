/* store.c: checking a room message, storing one message exactly once, and
 * telling the sender; see store.h. The one-message path locks the room
 * row, looks for the same (room, sender, client id), else inserts with
 * last_seq + 1 and moves last_seq. The row lock makes seq gapless even with
 * several history-svc instances; the unique key makes a duplicate harmless
 * even if two instances race on the same message. The fast path for many
 * messages at once is store_batch.c. */
#include "store.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "json_util.h"
#include "log.h"
#include "names.h"
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
	char ts_sql[TIMEFMT_LEN];
	bool committed = false;

	memset(result, 0, sizeof(*result));
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
	timefmt_now(result->ts, ts_sql);
	result->seq = room_row[1] + 1;
	params[0] = DB_I64(room_row[0]);
	params[1] = DB_I64(result->seq);
	params[2] = DB_STR(msg->msg_id);
	params[3] = DB_I64(sender_row[0]);
	params[4] = DB_STRN(msg->body, msg->body_len);
	params[5] = DB_STR(ts_sql);
	if(db_exec(db, "INSERT INTO messages (room_id, seq, msg_id, sender_id, body, created_at)"
				" VALUES (?, ?, ?, ?, ?, ?)", params, 6, NULL, NULL, NULL, NULL) != DB_OK) goto out;
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

void store_send_error(struct history_svc *svc, const char *sender, const char *room,
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

void store_report(struct history_svc *svc, const struct intake_msg *msg, const struct store_result *result)
{
	cJSON *receipt;

	switch(result->status){
	case STORE_UNKNOWN_ROOM:
		store_send_error(svc, msg->sender, msg->room, msg->msg_id, "unknown_room", "no such room");
		return;
	case STORE_UNKNOWN_SENDER:
		store_send_error(svc, msg->sender, msg->room, msg->msg_id, "unknown_user", "sender is not a known user");
		return;
	case STORE_RETRY:
		store_send_error(svc, msg->sender, msg->room, msg->msg_id, "unavailable",
				"the message could not be stored; send it again");
		return;
	case STORE_DUPLICATE:
		svc->counters.duplicates++;
		log_debug("duplicate %s/%s from %s (seq %llu)", msg->room, msg->msg_id, msg->sender, result->seq);
		break;
	case STORE_STORED:
		svc->counters.stored++;
		log_debug("stored %s seq %llu from %s", msg->room, result->seq, msg->sender);
		break;
	}
	receipt = cJSON_CreateObject();
	if(!receipt) return;
	cJSON_AddStringToObject(receipt, "type", "receipt");
	cJSON_AddStringToObject(receipt, "room", msg->room);
	cJSON_AddStringToObject(receipt, "id", msg->msg_id);
	cJSON_AddNumberToObject(receipt, "seq", (double)result->seq);
	cJSON_AddStringToObject(receipt, "ts", result->ts);
	history_send_inbox(svc, msg->sender, receipt);
	cJSON_Delete(receipt);
}

int store_check(struct history_svc *svc, const char *room, const char *sender,
		const void *payload, size_t len, struct checked_msg *out)
{
	cJSON *msg = NULL;
	const cJSON *body_item;
	const char *msg_id;
	char detail[128];
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if(len > (size_t)svc->cfg.max_payload_bytes){
		snprintf(detail, sizeof(detail), "payload of %zu bytes is over the limit of %ld",
				len, svc->cfg.max_payload_bytes);
		store_send_error(svc, sender, room, NULL, "too_large", detail);
		goto out;
	}
	msg = json_parse_object(payload, len);
	if(!msg){
		store_send_error(svc, sender, room, NULL, "bad_json", "payload is not a JSON object");
		goto out;
	}
	msg_id = json_get_str(msg, "id", NAME_MSGID_MAX);
	if(!msg_id || !name_msgid_valid(msg_id)){
		store_send_error(svc, sender, room, NULL, "bad_message",
				"\"id\" must be 1-64 characters of A-Z, a-z, 0-9, '_', '-'");
		goto out;
	}
	body_item = cJSON_GetObjectItemCaseSensitive(msg, "body");
	if(!cJSON_IsString(body_item) || !body_item->valuestring){
		store_send_error(svc, sender, room, msg_id, "bad_message", "\"body\" must be a string");
		goto out;
	}
	out->body = body_item->valuestring;
	out->body_len = strlen(out->body);
	if(out->body_len == 0 || out->body_len > (size_t)svc->cfg.max_body_bytes){
		snprintf(detail, sizeof(detail), "\"body\" must be 1 to %ld bytes", svc->cfg.max_body_bytes);
		store_send_error(svc, sender, room, msg_id, "too_large", detail);
		goto out;
	}
	/* cJSON passes invalid UTF-8 through; the archive only holds valid text. */
	if(!utf8_valid(out->body, out->body_len)){
		store_send_error(svc, sender, room, msg_id, "bad_utf8", "\"body\" is not valid UTF-8");
		goto out;
	}
	out->msg_id = msg_id;
	out->json = msg;
	msg = NULL;
	rc = 0;
out:
	cJSON_Delete(msg);
	if(rc) memset(out, 0, sizeof(*out));
	return rc;
}

void store_checked_free(struct checked_msg *msg)
{
	cJSON_Delete(msg->json);
	memset(msg, 0, sizeof(*msg));
}
