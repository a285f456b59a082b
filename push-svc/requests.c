/* requests.c: subscribe, subscriptions and unsubscribe; see requests.h. */
#include "requests.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "json_util.h"
#include "log.h"
#include "mqtt_svc.h"
#include "names.h"
#include "proto.h"
#include "request_envelope.h"
#include "timefmt.h"
#include "topics.h"
#include "webpush.h"

#define ENDPOINT_MAX 1024
#define ROOMS_MAX 50

struct request {
	struct push_svc *svc;
	const char *user;
	const cJSON *json;
	const char *op;
	const char *req_id;
};

static void send_reply(struct push_svc *svc, const char *user, const cJSON *reply)
{
	char topic[TOPIC_MAX];
	char *text = reply ? json_print(reply) : NULL;

	if(text && topic_user_inbox(topic, sizeof(topic), user) == 0){
		mqtt_svc_publish(svc->mqtt, topic, text, strlen(text), 1, false);
	}
	cJSON_free(text);
}

static void refuse(const struct request *r, const char *code, const char *message)
{
	cJSON *reply = json_reply_new(r->op, r->req_id, false);

	log_info("push request %s from %s refused: %s (%s)", r->op ? r->op : "?", r->user, code, message);
	json_reply_set_error(reply, code, message);
	send_reply(r->svc, r->user, reply);
	cJSON_Delete(reply);
}

/* An endpoint: an https URL (or http to a loopback host when allow_http),
 * of printable ASCII without spaces, quotes, backslashes or angle
 * brackets, with a host. */
static bool endpoint_ok(const char *url, int allow_http)
{
	char origin[ENDPOINT_MAX + 1];
	const char *host;

	if(strlen(url) > ENDPOINT_MAX) return false;
	for(const unsigned char *c = (const unsigned char *)url; *c; c++){
		if(*c <= 0x20 || *c >= 0x7f || *c == '"' || *c == '\\' || *c == '<' || *c == '>') return false;
	}
	if(webpush_origin(url, origin, sizeof(origin))) return false;
	if(!strncmp(url, "https://", 8)) return true;
	if(!allow_http) return false;
	host = url + 7;
	return !strncmp(host, "127.0.0.1", 9) || !strncmp(host, "localhost", 9) || !strncmp(host, "[::1]", 5);
}

/* A statement failed: the transaction (if began) is rolled back, the
 * connection dropped, and the request refused as unavailable. */
static void refuse_db(const struct request *r, struct db *db, bool began)
{
	if(began) db_rollback(db);
	push_db_failed(r->svc);
	refuse(r, PROTO_ERR_UNAVAILABLE, "the database failed; retry later");
}

static int long_row(void *ud, int ncols, char **cols, unsigned long *lens)
{
	long long *v = ud;

	(void)lens;
	if(ncols >= 1 && cols[0]) *v = strtoll(cols[0], NULL, 10);
	return 0;
}

static void do_subscribe(const struct request *r)
{
	struct push_svc *svc = r->svc;
	const cJSON *keys = cJSON_GetObjectItemCaseSensitive(r->json, "keys");
	const cJSON *rooms = cJSON_GetObjectItemCaseSensitive(r->json, "rooms");
	const cJSON *preview_item = cJSON_GetObjectItemCaseSensitive(r->json, "preview");
	const cJSON *wake_item = cJSON_GetObjectItemCaseSensitive(r->json, "wake");
	const cJSON *endpoint_item = cJSON_GetObjectItemCaseSensitive(r->json, "endpoint");
	const char *endpoint = cJSON_IsString(endpoint_item) ? endpoint_item->valuestring : NULL;
	const char *p256dh = keys ? json_get_str(keys, "p256dh", 200) : NULL;
	const char *auth = keys ? json_get_str(keys, "auth", 64) : NULL;
	const char *wake = "mentions";
	const cJSON *room;
	struct db *db = NULL;
	struct db_param p[6];
	cJSON *reply = NULL, *list;
	char why[160];
	long long count = 0, sub_id = 0;
	bool preview = false, began = false;
	int n_rooms = 0;

	if(!endpoint || !endpoint_ok(endpoint, svc->cfg.allow_http)){
		refuse(r, endpoint && strlen(endpoint) > ENDPOINT_MAX ? PROTO_ERR_TOO_LARGE : PROTO_ERR_BAD_REQUEST,
				svc->cfg.allow_http ? "\"endpoint\" must be an https URL (or http on loopback) of at most 1024 bytes"
				: "\"endpoint\" must be an https URL of at most 1024 bytes");
		goto out;
	}
	if(!p256dh || !auth){
		refuse(r, PROTO_ERR_BAD_REQUEST, "\"keys\" must hold \"p256dh\" and \"auth\" (base64url strings)");
		goto out;
	}
	if(webpush_keys_check(p256dh, auth, why, sizeof(why))){
		refuse(r, PROTO_ERR_BAD_REQUEST, why);
		goto out;
	}
	if(wake_item){
		wake = cJSON_IsString(wake_item) ? wake_item->valuestring : "";
		if(strcmp(wake, "mentions") && strcmp(wake, "all") && strcmp(wake, "none")){
			refuse(r, PROTO_ERR_BAD_REQUEST, "\"wake\" must be \"mentions\", \"all\" or \"none\"");
			goto out;
		}
	}
	if(preview_item){
		if(!cJSON_IsBool(preview_item)){
			refuse(r, PROTO_ERR_BAD_REQUEST, "\"preview\" must be true or false");
			goto out;
		}
		preview = cJSON_IsTrue(preview_item);
	}
	if(!strcmp(wake, "all")){
		if(!cJSON_IsArray(rooms) || cJSON_GetArraySize(rooms) < 1 || cJSON_GetArraySize(rooms) > ROOMS_MAX){
			refuse(r, PROTO_ERR_BAD_REQUEST, "wake \"all\" needs \"rooms\": 1 to 50 room names");
			goto out;
		}
		cJSON_ArrayForEach(room, rooms){
			if(!cJSON_IsString(room) || !name_room_valid(room->valuestring)){
				refuse(r, PROTO_ERR_BAD_REQUEST, "\"rooms\" must hold room names");
				goto out;
			}
		}
	}else if(rooms){
		refuse(r, PROTO_ERR_BAD_REQUEST, "\"rooms\" goes with wake \"all\" only");
		goto out;
	}
	db = push_db_get(svc);
	if(!db){
		refuse(r, PROTO_ERR_UNAVAILABLE, "the database is unreachable; retry later");
		goto out;
	}
	if(db_begin(db) != DB_OK){
		refuse_db(r, db, false);
		goto out;
	}
	began = true;
	p[0] = DB_STR(r->user);
	p[1] = DB_STR(endpoint);
	if(db_exec(db, "SELECT COUNT(*) FROM push_subscriptions s JOIN users u ON u.id = s.user_id"
			" WHERE u.username = ? AND s.endpoint <> ?", p, 2, long_row, &count, NULL, NULL) != DB_OK){
		refuse_db(r, db, began);
		began = false;
		goto out;
	}
	if(count >= svc->cfg.max_subscriptions){
		refuse(r, PROTO_ERR_BAD_REQUEST, "too many subscriptions: unsubscribe one first");
		goto out;
	}
	p[0] = DB_STR(endpoint);
	p[1] = DB_STR(p256dh);
	p[2] = DB_STR(auth);
	p[3] = DB_STR(wake);
	p[4] = DB_I64(preview);
	p[5] = DB_STR(r->user);
	/* The same endpoint again replaces the keys and choices of its row. */
	if(db_exec(db, "INSERT INTO push_subscriptions (user_id, endpoint, p256dh, auth, wake, preview)"
			" SELECT u.id, ?, ?, ?, ?, ? FROM users u WHERE u.username = ?"
			" ON DUPLICATE KEY UPDATE id = LAST_INSERT_ID(push_subscriptions.id), p256dh = VALUES(p256dh), auth = VALUES(auth),"
			" wake = VALUES(wake), preview = VALUES(preview)", p, 6, NULL, NULL, NULL,
			(unsigned long long *)&sub_id) != DB_OK){
		refuse_db(r, db, began);
		began = false;
		goto out;
	}
	if(sub_id <= 0){
		refuse(r, PROTO_ERR_UNKNOWN_USER, "you are not a user of this system");
		goto out;
	}
	p[0] = DB_I64(sub_id);
	if(db_exec(db, "DELETE FROM push_subscription_rooms WHERE sub_id = ?", p, 1, NULL, NULL, NULL, NULL) != DB_OK){
		refuse_db(r, db, began);
		began = false;
		goto out;
	}
	if(!strcmp(wake, "all")){
		cJSON_ArrayForEach(room, rooms){
			long long member = 0;

			p[1] = DB_STR(room->valuestring);
			p[2] = DB_STR(r->user);
			if(db_exec(db, "SELECT COUNT(*) FROM rooms r JOIN room_members rm ON rm.room_id = r.id"
					" JOIN users u ON u.id = rm.user_id WHERE r.name = ? AND u.username = ?",
					p + 1, 2, long_row, &member, NULL, NULL) != DB_OK
					|| db_exec(db, "INSERT IGNORE INTO push_subscription_rooms (sub_id, room_id)"
					" SELECT ?, r.id FROM rooms r JOIN room_members rm ON rm.room_id = r.id"
					" JOIN users u ON u.id = rm.user_id WHERE r.name = ? AND u.username = ?",
					p, 3, NULL, NULL, NULL, NULL) != DB_OK){
				refuse_db(r, db, began);
		began = false;
		goto out;
			}
			if(member == 0){
				/* Not a member: refuse the whole request, change nothing. */
				char msg[128];
				snprintf(msg, sizeof(msg), "%s: no such room, or you are not a member of it", room->valuestring);
				db_rollback(db);
				began = false;
				refuse(r, PROTO_ERR_NOT_MEMBER, msg);
				goto out;
			}
			n_rooms++;
		}
	}
	if(db_commit(db) != DB_OK){
		refuse_db(r, db, began);
		began = false;
		goto out;
	}
	began = false;
	log_info("%s subscribed to pushes (subscription %lld, wake %s, %d rooms)", r->user, sub_id, wake, n_rooms);
	reply = json_reply_new(r->op, r->req_id, true);
	if(!reply) goto out;
	cJSON_AddNumberToObject(reply, "id", (double)sub_id);
	cJSON_AddStringToObject(reply, "wake", wake);
	list = cJSON_AddArrayToObject(reply, "rooms");
	if(!strcmp(wake, "all")){
		cJSON_ArrayForEach(room, rooms) cJSON_AddItemToArray(list, cJSON_CreateString(room->valuestring));
	}
	cJSON_AddBoolToObject(reply, "preview", preview);
	cJSON_AddStringToObject(reply, "vapid_key", webpush_vapid_public(svc->vapid));
	send_reply(svc, r->user, reply);
out:
	if(began) db_rollback(db);
	cJSON_Delete(reply);
}

struct sub_list {
	cJSON *subs;
	cJSON *last;
	long long last_id;
};

/* Rows: id, endpoint, wake, preview, created, room (NULL when none),
 * ordered by id. */
static int sub_row(void *ud, int ncols, char **cols, unsigned long *lens)
{
	struct sub_list *l = ud;
	long long id;

	(void)lens;
	if(ncols != 6 || !cols[0]) return 0;
	id = strtoll(cols[0], NULL, 10);
	if(!l->last || id != l->last_id){
		cJSON *s = cJSON_CreateObject();
		if(!s) return 1;
		cJSON_AddNumberToObject(s, "id", (double)id);
		cJSON_AddStringToObject(s, "endpoint", cols[1]);
		cJSON_AddStringToObject(s, "wake", cols[2]);
		cJSON_AddArrayToObject(s, "rooms");
		cJSON_AddBoolToObject(s, "preview", cols[3][0] == '1');
		cJSON_AddStringToObject(s, "created", cols[4] ? cols[4] : "");
		cJSON_AddItemToArray(l->subs, s);
		l->last = s;
		l->last_id = id;
	}
	if(cols[5]) cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(l->last, "rooms"), cJSON_CreateString(cols[5]));
	return 0;
}

static void do_subscriptions(const struct request *r)
{
	struct push_svc *svc = r->svc;
	struct db *db = push_db_get(svc);
	struct db_param p[1] = { DB_STR(r->user) };
	struct sub_list l = { 0 };
	cJSON *reply = json_reply_new(r->op, r->req_id, true);

	if(!reply) goto out;
	if(!db){
		refuse(r, PROTO_ERR_UNAVAILABLE, "the database is unreachable; retry later");
		goto out;
	}
	l.subs = cJSON_AddArrayToObject(reply, "subscriptions");
	if(db_exec(db, "SELECT s.id, s.endpoint, s.wake, s.preview, " TIMEFMT_SQL("s.created_at") ", r.name"
			" FROM push_subscriptions s JOIN users u ON u.id = s.user_id"
			" LEFT JOIN push_subscription_rooms pr ON pr.sub_id = s.id LEFT JOIN rooms r ON r.id = pr.room_id"
			" WHERE u.username = ? ORDER BY s.id, r.name", p, 1, sub_row, &l, NULL, NULL) != DB_OK){
		refuse_db(r, db, false);
		goto out;
	}
	cJSON_AddStringToObject(reply, "vapid_key", webpush_vapid_public(svc->vapid));
	send_reply(svc, r->user, reply);
out:
	cJSON_Delete(reply);
}

static void do_unsubscribe(const struct request *r)
{
	struct push_svc *svc = r->svc;
	struct db *db;
	struct db_param p[2];
	unsigned long long affected = 0;
	cJSON *reply = NULL;
	long id;

	if(json_get_long(r->json, "id", -1, 1, 0x7fffffffffffffL, &id) || id < 1){
		refuse(r, PROTO_ERR_BAD_REQUEST, "\"id\" must be a subscription id (a positive integer)");
		goto out;
	}
	db = push_db_get(svc);
	if(!db){
		refuse(r, PROTO_ERR_UNAVAILABLE, "the database is unreachable; retry later");
		goto out;
	}
	p[0] = DB_I64(id);
	p[1] = DB_STR(r->user);
	if(db_exec(db, "DELETE s FROM push_subscriptions s JOIN users u ON u.id = s.user_id"
			" WHERE s.id = ? AND u.username = ?", p, 2, NULL, NULL, &affected, NULL) != DB_OK){
		refuse_db(r, db, false);
		goto out;
	}
	if(affected == 0){
		refuse(r, PROTO_ERR_NOT_FOUND, "you have no subscription with this id");
		goto out;
	}
	log_info("%s removed push subscription %ld", r->user, id);
	reply = json_reply_new(r->op, r->req_id, true);
	if(!reply) goto out;
	cJSON_AddNumberToObject(reply, "id", (double)id);
	send_reply(svc, r->user, reply);
out:
	cJSON_Delete(reply);
}

/* One op: its name first (request_envelope.h looks it up). */
struct push_op {
	const char *name;
	void (*run)(const struct request *r);
};

static const struct push_op ops[] = {
	{ PROTO_OP_SUBSCRIBE, do_subscribe },
	{ PROTO_OP_SUBSCRIPTIONS, do_subscriptions },
	{ PROTO_OP_UNSUBSCRIBE, do_unsubscribe },
};

void push_request(struct push_svc *svc, const char *user, const void *payload, size_t len)
{
	struct request_envelope env;
	struct request r = { .svc = svc, .user = user };

	if(request_envelope_read(&env, payload, len, REQUEST_OPS(ops))){
		r.op = env.op;
		r.req_id = env.req_id;
		refuse(&r, env.code, env.message);
		goto out;
	}
	r.json = env.json;
	r.op = ops[env.op_index].name;
	r.req_id = env.req_id;
	ops[env.op_index].run(&r);
out:
	request_envelope_free(&env);
}
