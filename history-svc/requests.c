/* requests.c: history-svc's request/response API; see requests.h and
 * docs/PROTOCOL.md ("Requests"). Each request names an op and a req_id; the
 * reply echoes both and carries "ok": true with data, or "ok": false with
 * {"code", "message"}. */
#include "requests.h"

#include "room_admin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "json_util.h"
#include "log.h"
#include "names.h"
#include "timefmt.h"

#define HISTORY_DEFAULT_LIMIT 50
#define HISTORY_MAX_LIMIT 250
#define REQUEST_MAX_BYTES 4096

struct request {
	const char *user;
	const char *op;
	const char *req_id;
	cJSON *reply;
};

cJSON *reply_new(const char *op, const char *req_id, int ok)
{
	return json_reply_new(op, req_id, ok != 0);
}

void reply_error(struct history_svc *svc, const char *user, const char *op,
		const char *req_id, const char *code, const char *message)
{
	cJSON *reply = json_reply_new(op, req_id, false);

	svc->counters.request_errors++;
	log_info("request %s from %s refused: %s (%s)", op ? op : "?", user, code, message);
	if(!reply) return;
	json_reply_set_error(reply, code, message);
	history_send_inbox(svc, user, reply);
	cJSON_Delete(reply);
}

static int room_of_member(void *ud, int ncols, char **cols, unsigned long *lens)
{
	unsigned long long *out = ud;

	(void)lens;
	if(ncols >= 2 && cols[0] && cols[1]){
		out[0] = strtoull(cols[0], NULL, 10);
		out[1] = strtoull(cols[1], NULL, 10);
		out[2] = 1;
	}
	return 1;
}

static cJSON *message_item(int ncols, char **cols)
{
	cJSON *item;

	if(ncols != 5 || !cols[0] || !cols[1] || !cols[2] || !cols[3] || !cols[4]) return NULL;
	item = cJSON_CreateObject();
	if(!item) return NULL;
	cJSON_AddNumberToObject(item, "seq", (double)strtoull(cols[0], NULL, 10));
	cJSON_AddStringToObject(item, "id", cols[1]);
	cJSON_AddStringToObject(item, "sender", cols[2]);
	cJSON_AddStringToObject(item, "ts", cols[3]);
	cJSON_AddStringToObject(item, "body", cols[4]);
	return item;
}

static int history_row(void *ud, int ncols, char **cols, unsigned long *lens)
{
	cJSON *item = message_item(ncols, cols);

	(void)lens;
	/* Rows come newest first; the reply lists oldest first. */
	if(item) cJSON_InsertItemInArray(ud, 0, item);
	return 0;
}

static int history_row_append(void *ud, int ncols, char **cols, unsigned long *lens)
{
	cJSON *item = message_item(ncols, cols);

	(void)lens;
	if(item) cJSON_AddItemToArray(ud, item);
	return 0;
}

/* Returns 0 after replying, -1 on a database failure (nothing sent). */
static int do_history(struct history_svc *svc, const char *user, const char *req_id, const cJSON *req)
{
	unsigned long long room_row[3] = { 0, 0, 0 };
	struct db_param params[3];
	cJSON *reply = NULL;
	cJSON *messages;
	const char *room;
	long limit, before, after;
	int rc = -1;

	room = json_get_str(req, "room", NAME_ROOM_MAX);
	if(!room || !name_room_valid(room)){
		reply_error(svc, user, "history", req_id, "bad_request", "\"room\" must be a valid room name");
		rc = 0;
		goto out;
	}
	if(json_get_long(req, "limit", HISTORY_DEFAULT_LIMIT, 1, HISTORY_MAX_LIMIT, &limit)){
		reply_error(svc, user, "history", req_id, "bad_request", "\"limit\" must be a whole number from 1 to 250");
		rc = 0;
		goto out;
	}
	if(json_get_long(req, "before", 0, 1, 0x7fffffffffffffffL, &before)){
		reply_error(svc, user, "history", req_id, "bad_request", "\"before\" must be a sequence number of 1 or more");
		rc = 0;
		goto out;
	}
	if(json_get_long(req, "after", -1, 0, 0x7fffffffffffffffL, &after)){
		reply_error(svc, user, "history", req_id, "bad_request", "\"after\" must be a sequence number of 0 or more");
		rc = 0;
		goto out;
	}
	if(after >= 0 && before > 0){
		reply_error(svc, user, "history", req_id, "bad_request", "give \"before\" or \"after\", not both");
		rc = 0;
		goto out;
	}
	params[0] = DB_STR(room);
	params[1] = DB_STR(user);
	if(db_exec(svc->db, "SELECT r.id, r.last_seq FROM rooms r"
				" JOIN room_members m ON m.room_id = r.id JOIN users u ON u.id = m.user_id"
				" WHERE r.name = ? AND u.username = ?",
				params, 2, room_of_member, room_row, NULL, NULL) != DB_OK) goto out;
	if(!room_row[2]){
		/* Same answer for "no such room" and "not a member": the existence of
		 * a private room is not revealed. */
		reply_error(svc, user, "history", req_id, "not_member", "no such room, or you are not a member of it");
		rc = 0;
		goto out;
	}
	if(before == 0) before = (long)(room_row[1] + 1);
	reply = reply_new("history", req_id, 1);
	if(!reply) goto out;
	cJSON_AddStringToObject(reply, "room", room);
	cJSON_AddNumberToObject(reply, "last_seq", (double)room_row[1]);
	messages = cJSON_AddArrayToObject(reply, "messages");
	if(!messages) goto out;
	params[0] = DB_I64(room_row[0]);
	params[1] = DB_I64(after >= 0 ? after : before);
	params[2] = DB_I64(limit);
	if(after >= 0){
		/* Catch-up: the oldest `limit` after `after`, appended in order. The
		 * join order and index are fixed: left alone, the optimizer starts from
		 * users and sorts the whole room (hundreds of ms on 300k rows). */
		if(db_exec(svc->db, "SELECT STRAIGHT_JOIN m.seq, m.msg_id, u.username, " TIMEFMT_SQL("m.created_at") ", m.body"
					" FROM messages m FORCE INDEX (PRIMARY) JOIN users u ON u.id = m.sender_id"
					" WHERE m.room_id = ? AND m.seq > ? ORDER BY m.seq ASC LIMIT ?",
					params, 3, history_row_append, messages, NULL, NULL) != DB_OK) goto out;
	}else if(db_exec(svc->db, "SELECT STRAIGHT_JOIN m.seq, m.msg_id, u.username, " TIMEFMT_SQL("m.created_at") ", m.body"
				" FROM messages m FORCE INDEX (PRIMARY) JOIN users u ON u.id = m.sender_id"
				" WHERE m.room_id = ? AND m.seq < ? ORDER BY m.seq DESC LIMIT ?",
				params, 3, history_row, messages, NULL, NULL) != DB_OK){
		goto out;
	}
	history_send_inbox(svc, user, reply);
	rc = 0;
out:
	cJSON_Delete(reply);
	return rc;
}

static int rooms_row(void *ud, int ncols, char **cols, unsigned long *lens)
{
	cJSON *rooms = ud;
	cJSON *item;
	unsigned long long last_seq, read_seq;

	(void)lens;
	if(ncols != 6 || !cols[0] || !cols[1] || !cols[2] || !cols[3] || !cols[4]) return 0;
	item = cJSON_CreateObject();
	if(!item) return 1;
	last_seq = strtoull(cols[2], NULL, 10);
	read_seq = strtoull(cols[3], NULL, 10);
	cJSON_AddStringToObject(item, "name", cols[0]);
	cJSON_AddStringToObject(item, "visibility", cols[1]);
	cJSON_AddNumberToObject(item, "last_seq", (double)last_seq);
	cJSON_AddNumberToObject(item, "read_seq", (double)read_seq);
	cJSON_AddNumberToObject(item, "unread", (double)(last_seq > read_seq ? last_seq - read_seq : 0));
	cJSON_AddStringToObject(item, "role", cols[4]);
	if(cols[5]) cJSON_AddStringToObject(item, "with", cols[5]);
	cJSON_AddItemToArray(rooms, item);
	return 0;
}

int reply_list(struct history_svc *svc, const char *user, const char *op, const char *req_id,
		const char *key, const char *sql, const struct db_param *params, int nparams, db_row_fn row_fn)
{
	cJSON *reply = reply_new(op, req_id, 1);
	cJSON *items;
	int rc = -1;

	if(!reply) goto out;
	items = cJSON_AddArrayToObject(reply, key);
	if(!items) goto out;
	if(db_exec(svc->db, sql, params, nparams, row_fn, items, NULL, NULL) != DB_OK) goto out;
	history_send_inbox(svc, user, reply);
	rc = 0;
out:
	cJSON_Delete(reply);
	return rc;
}

static int do_rooms(struct history_svc *svc, const char *user, const char *req_id, const cJSON *req)
{
	struct db_param params[1] = { DB_STR(user) };

	(void)req;
	return reply_list(svc, user, "rooms", req_id, "rooms",
			"SELECT r.name, r.visibility, r.last_seq, COALESCE(rm.seq, 0), m.role,"
			" IF(r.visibility = 'direct', (SELECT u2.username FROM room_members m2 JOIN users u2 ON u2.id = m2.user_id"
			"   WHERE m2.room_id = r.id AND m2.user_id <> u.id LIMIT 1), NULL)"
			" FROM rooms r JOIN room_members m ON m.room_id = r.id JOIN users u ON u.id = m.user_id"
			" LEFT JOIN read_markers rm ON rm.room_id = r.id AND rm.user_id = u.id"
			" WHERE u.username = ? ORDER BY r.name",
			params, 1, rooms_row);
}

static const struct request_op ops[] = {
	{ "history", do_history },
	{ "rooms", do_rooms },
	{ "create", room_admin_create },
	{ "join", room_admin_join },
	{ "leave", room_admin_leave },
	{ "invite", room_admin_invite },
	{ "kick", room_admin_kick },
	{ "public_rooms", room_admin_public_rooms },
	{ "read", room_admin_read },
	{ "dm", room_admin_dm },
};

void requests_handle(struct history_svc *svc, const char *user, const void *payload, size_t len)
{
	const struct request_op *handler = NULL;
	cJSON *req = NULL;
	const char *op = NULL, *req_id = NULL;
	int done = -1;

	svc->counters.requests++;
	if(len > REQUEST_MAX_BYTES){
		reply_error(svc, user, NULL, NULL, "too_large", "requests are limited to 4096 bytes");
		goto out;
	}
	req = json_parse_object(payload, len);
	if(!req){
		reply_error(svc, user, NULL, NULL, "bad_json", "request is not a JSON object");
		goto out;
	}
	req_id = json_get_str(req, "req_id", NAME_MSGID_MAX);
	if(!req_id || !name_msgid_valid(req_id)){
		reply_error(svc, user, NULL, NULL, "bad_request",
				"\"req_id\" must be 1-64 characters of A-Z, a-z, 0-9, '_', '-'");
		goto out;
	}
	op = json_get_str(req, "op", 32);
	for(size_t i = 0; op && i < sizeof(ops) / sizeof(ops[0]); i++){
		if(!strcmp(op, ops[i].name)) handler = &ops[i];
	}
	if(!handler){
		reply_error(svc, user, op && name_msgid_valid(op) ? op : NULL, req_id, "unknown_op",
				"\"op\" must be one of history, rooms, public_rooms, create, join, leave, invite, kick, read, dm");
		goto out;
	}
	for(int attempt = 1; attempt <= 5 && done != 0; attempt++){
		if(history_db_wait(svc, 2000)) break;
		done = handler->run(svc, user, req_id, req);
		if(done != 0){
			db_rollback(svc->db);
			log_warn("request %s from %s failed (%s); attempt %d", op, user, db_error(svc->db), attempt);
			db_close(svc->db);
			svc->db = NULL;
		}
	}
	if(done != 0) reply_error(svc, user, op, req_id, "unavailable", "the archive is not available; try again");
out:
	cJSON_Delete(req);
}
