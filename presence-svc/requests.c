/* requests.c: presence-svc's status, roster and devices requests; see
 * requests.h and docs/PROTOCOL.md. Replies have the shape of every other
 * service's: {"type":"reply","req_id","op","ok", data... or "error"}. */
#include "requests.h"

#include <stdio.h>
#include <string.h>

#include <cJSON.h>

#include "db.h"
#include "json_util.h"
#include "log.h"
#include "names.h"
#include "presence.h"
#include "proto.h"
#include "request_envelope.h"
#include "timefmt.h"

static void send_reply(const struct presence_requests_env *env, const char *user, const cJSON *reply)
{
	char *text = reply ? json_print(reply) : NULL;

	if(text) env->reply(env->ud, user, text);
	cJSON_free(text);
}

static void refuse(const struct presence_requests_env *env, const char *user, const char *op,
		const char *req_id, const char *code, const char *message)
{
	cJSON *reply = json_reply_new(op, req_id, false);

	log_info("presence request %s from %s refused: %s (%s)", op ? op : "?", user, code, message);
	json_reply_set_error(reply, code, message);
	send_reply(env, user, reply);
	cJSON_Delete(reply);
}

/* A status text: valid UTF-8 without control characters. */
static bool text_clean(const char *text)
{
	if(!utf8_valid(text, strlen(text))) return false;
	for(const unsigned char *c = (const unsigned char *)text; *c; c++){
		if(*c < 0x20 || *c == 0x7f) return false;
	}
	return true;
}

static void do_status(const struct presence_requests_env *env, const char *user, const cJSON *req,
		const char *op, const char *req_id)
{
	const char *state = json_get_str(req, "state", 16);
	const cJSON *text_item = cJSON_GetObjectItemCaseSensitive(req, "text");
	const char *text = "";
	cJSON *reply = NULL;

	if(!state || (strcmp(state, "online") && strcmp(state, "away") && strcmp(state, "dnd"))){
		refuse(env, user, op, req_id, PROTO_ERR_BAD_REQUEST, "\"state\" must be \"online\", \"away\" or \"dnd\"");
		goto out;
	}
	if(text_item && !cJSON_IsNull(text_item)){
		if(!cJSON_IsString(text_item) || !text_item->valuestring){
			refuse(env, user, op, req_id, PROTO_ERR_BAD_REQUEST, "\"text\" must be a string or null");
			goto out;
		}
		text = text_item->valuestring;
		if(strlen(text) > PRESENCE_TEXT_MAX){
			refuse(env, user, op, req_id, PROTO_ERR_TOO_LARGE, "\"text\" is over 100 bytes");
			goto out;
		}
		if(!text_clean(text)){
			refuse(env, user, op, req_id, PROTO_ERR_BAD_REQUEST, "\"text\" is not valid UTF-8 without control characters");
			goto out;
		}
	}
	if(presence_set_status(env->presence, user, state, text)){
		refuse(env, user, op, req_id, PROTO_ERR_NOT_ONLINE, "a status needs at least one open connection of yours");
		goto out;
	}
	reply = json_reply_new(op, req_id, true);
	if(!reply) goto out;
	cJSON_AddStringToObject(reply, "state", state);
	if(*text) cJSON_AddStringToObject(reply, "text", text);
	else cJSON_AddNullToObject(reply, "text");
	send_reply(env, user, reply);
out:
	cJSON_Delete(reply);
}

/* Adds the presence of user to obj: state, devices, text, last_seen (by
 * presence_reported_last_seen: null while connected, else ours, else
 * db_last_seen, in protocol form, from MariaDB). */
static void add_presence(const struct presence *presence, cJSON *obj, const char *user, const char *db_last_seen)
{
	struct presence_view view;
	char iso[TIMEFMT_LEN];
	long long last_seen;

	presence_get(presence, user, &view);
	cJSON_AddStringToObject(obj, "state", view.state);
	cJSON_AddNumberToObject(obj, "devices", view.devices);
	if(view.text[0]) cJSON_AddStringToObject(obj, "text", view.text);
	else cJSON_AddNullToObject(obj, "text");
	last_seen = presence_reported_last_seen(&view, timefmt_parse_iso(db_last_seen));
	if(last_seen){
		timefmt_iso(last_seen, iso);
		cJSON_AddStringToObject(obj, "last_seen", iso);
	}else{
		cJSON_AddNullToObject(obj, "last_seen");
	}
}

struct roster {
	const struct presence *presence;
	cJSON *members;
	int rows;
};

static int roster_row(void *ud, int ncols, char **cols, unsigned long *lens)
{
	struct roster *roster = ud;
	cJSON *item;

	(void)lens;
	if(ncols != 2 || !cols[0]) return 0;
	if(++roster->rows > PRESENCE_ROSTER_MAX) return 1;
	item = cJSON_CreateObject();
	if(!item) return 1;
	cJSON_AddItemToArray(roster->members, item);
	cJSON_AddStringToObject(item, "user", cols[0]);
	add_presence(roster->presence, item, cols[0], cols[1]);
	return 0;
}

static void do_roster(const struct presence_requests_env *env, const char *user, const cJSON *req,
		const char *op, const char *req_id)
{
	const char *room = json_get_str(req, "room", NAME_ROOM_MAX);
	struct roster roster = { .presence = env->presence };
	struct db_param params[2];
	struct db *db;
	cJSON *reply = NULL;

	if(!room || !name_room_valid(room)){
		refuse(env, user, op, req_id, PROTO_ERR_BAD_REQUEST, "\"room\" must be a room name");
		goto out;
	}
	reply = json_reply_new(op, req_id, true);
	if(!reply) goto out;
	cJSON_AddStringToObject(reply, "room", room);
	roster.members = cJSON_AddArrayToObject(reply, "members");
	db = env->db_get(env->ud);
	if(!roster.members || !db){
		refuse(env, user, op, req_id, PROTO_ERR_UNAVAILABLE, "the member list cannot be read now; retry later");
		goto out;
	}
	params[0] = DB_STR(room);
	params[1] = DB_STR(user);
	/* The EXISTS keeps the member list of a room from anyone outside it. */
	if(db_exec(db, "SELECT u.username, " TIMEFMT_SQL("s.seen_at")
				" FROM rooms r JOIN room_members m ON m.room_id = r.id JOIN users u ON u.id = m.user_id"
				" LEFT JOIN last_seen s ON s.user_id = u.id"
				" WHERE r.name = ? AND EXISTS (SELECT 1 FROM room_members m2 JOIN users u2 ON u2.id = m2.user_id"
				"   WHERE m2.room_id = r.id AND u2.username = ?)"
				" ORDER BY u.username LIMIT 501",
				params, 2, roster_row, &roster, NULL, NULL) != DB_OK){
		log_warn("roster of %s: %s", room, db_error(db));
		env->db_failed(env->ud);
		refuse(env, user, op, req_id, PROTO_ERR_UNAVAILABLE, "the member list cannot be read now; retry later");
		goto out;
	}
	if(roster.rows == 0){
		refuse(env, user, op, req_id, PROTO_ERR_NOT_MEMBER, "no such room, or you are not a member of it");
		goto out;
	}
	cJSON_AddBoolToObject(reply, "truncated", roster.rows > PRESENCE_ROSTER_MAX);
	send_reply(env, user, reply);
out:
	cJSON_Delete(reply);
}

static int device_item(void *ud, const char *client, const char *node, long long since_ms)
{
	cJSON *list = ud;
	cJSON *item = cJSON_CreateObject();
	char iso[TIMEFMT_LEN];

	if(!item) return 1;
	cJSON_AddItemToArray(list, item);
	timefmt_iso(since_ms, iso);
	cJSON_AddStringToObject(item, "client", client);
	cJSON_AddStringToObject(item, "node", node);
	cJSON_AddStringToObject(item, "since", iso);
	return 0;
}

static void do_devices(const struct presence_requests_env *env, const char *user, const cJSON *req,
		const char *op, const char *req_id)
{
	cJSON *reply = json_reply_new(op, req_id, true);
	cJSON *list;

	(void)req;
	if(!reply) goto out;
	add_presence(env->presence, reply, user, NULL);
	list = cJSON_AddArrayToObject(reply, "devices_detail");
	if(!list) goto out;
	presence_devices(env->presence, user, PRESENCE_DEVICES_MAX, device_item, list);
	send_reply(env, user, reply);
out:
	cJSON_Delete(reply);
}

/* One op: its name first (request_envelope.h looks it up). */
struct presence_op {
	const char *name;
	void (*run)(const struct presence_requests_env *env, const char *user, const cJSON *req,
			const char *op, const char *req_id);
};

static const struct presence_op ops[] = {
	{ PROTO_OP_STATUS, do_status },
	{ PROTO_OP_ROSTER, do_roster },
	{ PROTO_OP_DEVICES, do_devices },
};

void presence_request(const struct presence_requests_env *env, const char *user, const void *payload, size_t len)
{
	struct request_envelope req;
	const struct presence_op *op;
	const char *claimed;

	if(request_envelope_read(&req, payload, len, REQUEST_OPS(ops))){
		refuse(env, user, req.op, req.req_id, req.code, req.message);
		goto out;
	}
	op = &ops[req.op_index];
	/* The sender is the user in the topic; a payload claiming to be someone
	 * else is refused rather than silently corrected. */
	claimed = json_get_str(req.json, "user", NAME_USER_MAX);
	if(cJSON_GetObjectItemCaseSensitive(req.json, "user") && (!claimed || strcmp(claimed, user))){
		refuse(env, user, op->name, req.req_id, PROTO_ERR_FORBIDDEN, "you can only act as yourself");
		goto out;
	}
	op->run(env, user, req.json, op->name, req.req_id);
out:
	request_envelope_free(&req);
}
