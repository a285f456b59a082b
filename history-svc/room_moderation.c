/* room_moderation.c: topic, role, ban, unban, bans; see
 * room_moderation.h. Only an admin of the room may run them; the answer
 * to a room the requester is not in is not_member, whether it exists or not. */
#include "room_moderation.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_util.h"
#include "log.h"
#include "names.h"
#include "outbox.h"
#include "proto.h"
#include "random_id.h"
#include "replies.h"
#include "reply_queue.h"
#include "room_access.h"
#include "room_meta.h"
#include "room_msg.h"
#include "timefmt.h"

static int one_u64(void *ud, int ncols, char **cols, unsigned long *lens)
{
	unsigned long long *out = ud;

	(void)lens;
	if(ncols >= 1 && cols[0]){
		out[0] = strtoull(cols[0], NULL, 10);
		out[1] = 1; /* found */
	}
	return 1;
}

/* Reads "topic": a string of 0-PROTO_TOPIC_MAX bytes under the body rules,
 * "" or null (both clear it). Sets *text (NULL: clear). Returns 0, or 1
 * after replying the error. */
static int read_topic(struct history_svc *svc, const char *user, const char *req_id, const cJSON *req,
		const char **text)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(req, "topic");
	struct room_msg_refusal why;
	size_t len;

	*text = NULL;
	if(cJSON_IsNull(item)) return 0;
	if(!cJSON_IsString(item) || !item->valuestring){
		reply_error(svc, user, PROTO_OP_TOPIC, req_id, PROTO_ERR_BAD_REQUEST, "\"topic\" must be a string or null");
		return 1;
	}
	len = strlen(item->valuestring);
	if(len > PROTO_TOPIC_MAX){
		reply_error(svc, user, PROTO_OP_TOPIC, req_id, PROTO_ERR_TOO_LARGE, "\"topic\" is longer than 300 bytes");
		return 1;
	}
	if(len == 0) return 0;
	if(room_msg_body_check(PROTO_TOPIC_MAX, item->valuestring, len, &why)){
		reply_error(svc, user, PROTO_OP_TOPIC, req_id, PROTO_ERR_BAD_REQUEST, why.message);
		return 1;
	}
	*text = item->valuestring;
	return 0;
}

int room_moderation_topic(struct history_svc *svc, const char *user, const char *req_id, const cJSON *req)
{
	struct room_access access;
	struct db_param params[6];
	unsigned long long locked[2] = { 0, 0 }; /* last_seq, found */
	char msg_id[40] = "topic-";
	char ts_iso[TIMEFMT_LEN], ts_sql[TIMEFMT_LEN];
	unsigned long long seq;
	const char *room, *text;
	cJSON *reply = NULL, *meta = NULL;
	int began = 0;
	int rc;

	rc = room_access_admin(svc, user, PROTO_OP_TOPIC, req_id, req, &room, &access);
	if(rc) return rc > 0 ? 0 : -1;
	rc = -1;
	if(read_topic(svc, user, req_id, req, &text)){
		rc = 0;
		goto out;
	}
	if(random_hex(msg_id + 6, sizeof(msg_id) - 6, 12)) goto out;
	/* The room row's lock makes the seq gapless, as in the store path. */
	if(db_begin(svc->db) != DB_OK) goto out;
	began = 1;
	params[0] = DB_I64(access.room_id);
	if(db_exec(svc->db, "SELECT last_seq FROM rooms WHERE id = ? FOR UPDATE", params, 1, one_u64, locked, NULL, NULL) != DB_OK) goto out;
	if(!locked[1]){
		/* Deleted since the lookup: answer like any missing room. */
		db_rollback(svc->db);
		began = 0;
		reply_error(svc, user, PROTO_OP_TOPIC, req_id, PROTO_ERR_NOT_MEMBER, "no such room, or you are not a member of it");
		rc = 0;
		goto out;
	}
	seq = locked[0] + 1;
	timefmt_now(ts_iso, ts_sql);
	params[0] = DB_I64(access.room_id);
	params[1] = DB_I64(seq);
	params[2] = DB_STR(msg_id);
	params[3] = DB_I64(access.user_id);
	params[4] = DB_STR(text ? text : "");
	params[5] = DB_STR(ts_sql);
	if(db_exec(svc->db, "INSERT INTO messages (room_id, seq, msg_id, sender_id, body, created_at, kind)"
				" VALUES (?, ?, ?, ?, ?, ?, 'topic')", params, 6, NULL, NULL, NULL, NULL) != DB_OK) goto out;
	params[0] = DB_I64(seq);
	params[1] = text ? DB_STR(text) : (struct db_param){ .type = DB_PARAM_NULL };
	params[2] = DB_I64(access.room_id);
	if(db_exec(svc->db, "UPDATE rooms SET last_seq = ?, topic = ? WHERE id = ?", params, 3, NULL, NULL, NULL, NULL) != DB_OK) goto out;
	if(db_commit(svc->db) != DB_OK) goto out;
	began = 0;
	log_info("%s set the topic of %s (seq %llu)", user, room, seq);
	reply = reply_new(PROTO_OP_TOPIC, req_id, 1);
	meta = cJSON_CreateObject();
	if(!reply || !meta) goto out;
	cJSON_AddStringToObject(reply, "room", room);
	if(text) cJSON_AddStringToObject(reply, "topic", text);
	else cJSON_AddNullToObject(reply, "topic");
	cJSON_AddNumberToObject(reply, "seq", (double)seq);
	cJSON_AddStringToObject(meta, "type", "topic");
	cJSON_AddStringToObject(meta, "room", room);
	cJSON_AddNumberToObject(meta, "seq", (double)seq);
	cJSON_AddStringToObject(meta, "by", user);
	cJSON_AddStringToObject(meta, "ts", ts_iso);
	if(text) cJSON_AddStringToObject(meta, "topic", text);
	else cJSON_AddNullToObject(meta, "topic");
	room_meta_publish(svc, room, meta);
	outbox_send(svc, user, reply);
	rc = 0;
out:
	if(began) db_rollback(svc->db);
	cJSON_Delete(reply);
	cJSON_Delete(meta);
	return rc;
}

/* Reads "user" from req; replies bad_request and returns 1 when unusable. */
static int read_target(struct history_svc *svc, const char *user, const char *op, const char *req_id,
		const cJSON *req, const char **target)
{
	*target = json_get_str(req, "user", NAME_USER_MAX);
	if(!*target || !name_user_valid(*target)){
		reply_error(svc, user, op, req_id, PROTO_ERR_BAD_REQUEST, "\"user\" must be a valid user name");
		return 1;
	}
	return 0;
}

static void reply_room_user(struct history_svc *svc, const char *user, const char *op, const char *req_id,
		const char *room, const char *target, const char *role, long delay_ms)
{
	cJSON *reply = reply_new(op, req_id, 1);

	if(!reply) return;
	cJSON_AddStringToObject(reply, "room", room);
	cJSON_AddStringToObject(reply, "user", target);
	if(role) cJSON_AddStringToObject(reply, "role", role);
	if(delay_ms > 0) reply_queue_push(svc, user, reply, delay_ms);
	else outbox_send(svc, user, reply);
	cJSON_Delete(reply);
}

int room_moderation_role(struct history_svc *svc, const char *user, const char *req_id, const cJSON *req)
{
	struct room_access access, target_access;
	struct db_param params[3];
	unsigned long long admins[2] = { 0, 0 };
	const char *room, *target, *role;
	int rc;

	rc = room_access_admin(svc, user, PROTO_OP_ROLE, req_id, req, &room, &access);
	if(rc) return rc > 0 ? 0 : -1;
	if(read_target(svc, user, PROTO_OP_ROLE, req_id, req, &target)) return 0;
	role = json_get_str(req, "role", 16);
	if(!role || (strcmp(role, "admin") && strcmp(role, "member"))){
		reply_error(svc, user, PROTO_OP_ROLE, req_id, PROTO_ERR_BAD_REQUEST, "\"role\" must be \"admin\" or \"member\"");
		return 0;
	}
	if(room_access_lookup(svc, room, target, &target_access) != DB_OK) return -1;
	if(!target_access.found || !target_access.role[0]){
		reply_error(svc, user, PROTO_OP_ROLE, req_id, PROTO_ERR_NOT_MEMBER, "that user is not a member of the room");
		return 0;
	}
	if(!strcmp(role, "member") && !strcmp(target_access.role, "admin")){
		params[0] = DB_I64(access.room_id);
		if(db_exec(svc->db, "SELECT COUNT(*) FROM room_members WHERE room_id = ? AND role = 'admin'",
					params, 1, one_u64, admins, NULL, NULL) != DB_OK) return -1;
		if(admins[0] <= 1){
			reply_error(svc, user, PROTO_OP_ROLE, req_id, PROTO_ERR_BAD_REQUEST,
					"the room's last admin cannot step down; make another member admin first");
			return 0;
		}
	}
	params[0] = DB_STR(role);
	params[1] = DB_I64(access.room_id);
	params[2] = DB_I64(target_access.user_id);
	if(db_exec(svc->db, "UPDATE room_members SET role = ? WHERE room_id = ? AND user_id = ?",
				params, 3, NULL, NULL, NULL, NULL) != DB_OK) return -1;
	log_info("%s made %s %s of %s", user, target, role, room);
	reply_room_user(svc, user, PROTO_OP_ROLE, req_id, room, target, role, 0);
	return 0;
}

int room_moderation_is_banned(struct history_svc *svc, unsigned long long room_id, const char *user, int *banned)
{
	struct db_param params[2] = { DB_I64(room_id), DB_STR(user) };
	unsigned long long found[2] = { 0, 0 };
	int rc;

	rc = db_exec(svc->db, "SELECT 1 FROM room_bans b JOIN users u ON u.id = b.user_id WHERE b.room_id = ? AND u.username = ?",
			params, 2, one_u64, found, NULL, NULL);
	*banned = found[1] ? 1 : 0;
	return rc;
}

/* ban (add) and unban. */
static int change_ban(struct history_svc *svc, const char *user, const char *op, const char *req_id,
		const cJSON *req, int add)
{
	struct room_access access, target_access;
	struct db_param params[3];
	unsigned long long affected = 0;
	const char *room, *target;
	int rc;

	rc = room_access_admin(svc, user, op, req_id, req, &room, &access);
	if(rc) return rc > 0 ? 0 : -1;
	if(read_target(svc, user, op, req_id, req, &target)) return 0;
	if(add && !strcmp(target, user)){
		reply_error(svc, user, op, req_id, PROTO_ERR_BAD_REQUEST, "you cannot ban yourself; leave the room instead");
		return 0;
	}
	if(room_access_lookup(svc, room, target, &target_access) != DB_OK) return -1;
	if(!target_access.found){
		reply_error(svc, user, op, req_id, PROTO_ERR_UNKNOWN_USER, "no such user");
		return 0;
	}
	params[0] = DB_I64(access.room_id);
	params[1] = DB_I64(target_access.user_id);
	params[2] = DB_I64(access.user_id);
	if(!add){
		if(db_exec(svc->db, "DELETE FROM room_bans WHERE room_id = ? AND user_id = ?",
					params, 2, NULL, NULL, &affected, NULL) != DB_OK) return -1;
		if(affected == 0){
			reply_error(svc, user, op, req_id, PROTO_ERR_NOT_FOUND, "that user is not banned from the room");
			return 0;
		}
		log_info("%s unbanned %s from %s", user, target, room);
		reply_room_user(svc, user, op, req_id, room, target, NULL, 0);
		return 0;
	}
	/* The ban and the removal together: no join can slip in between. */
	if(db_begin(svc->db) != DB_OK) return -1;
	if(db_exec(svc->db, "INSERT INTO room_bans (room_id, user_id, banned_by) VALUES (?, ?, ?)"
				" ON DUPLICATE KEY UPDATE banned_by = banned_by",
				params, 3, NULL, NULL, NULL, NULL) != DB_OK) return -1;
	if(db_exec(svc->db, "DELETE FROM room_members WHERE room_id = ? AND user_id = ?",
				params, 2, NULL, NULL, NULL, NULL) != DB_OK) return -1;
	if(db_commit(svc->db) != DB_OK) return -1;
	log_info("%s banned %s from %s", user, target, room);
	/* As kick's: by the time the reply arrives, every broker has dropped
	 * the membership, so the user's subscriptions receive nothing more. */
	reply_room_user(svc, user, op, req_id, room, target, NULL, svc->cfg.settle_ms);
	return 0;
}

int room_moderation_ban(struct history_svc *svc, const char *user, const char *req_id, const cJSON *req)
{
	return change_ban(svc, user, PROTO_OP_BAN, req_id, req, 1);
}

int room_moderation_unban(struct history_svc *svc, const char *user, const char *req_id, const cJSON *req)
{
	return change_ban(svc, user, PROTO_OP_UNBAN, req_id, req, 0);
}

static int ban_row(void *ud, int ncols, char **cols, unsigned long *lens)
{
	cJSON *item;

	(void)lens;
	if(ncols != 3 || !cols[0] || !cols[2]) return 0;
	item = cJSON_CreateObject();
	if(!item) return 1;
	cJSON_AddStringToObject(item, "user", cols[0]);
	if(cols[1]) cJSON_AddStringToObject(item, "by", cols[1]);
	else cJSON_AddNullToObject(item, "by");
	cJSON_AddStringToObject(item, "ts", cols[2]);
	cJSON_AddItemToArray(ud, item);
	return 0;
}

int room_moderation_bans(struct history_svc *svc, const char *user, const char *req_id, const cJSON *req)
{
	struct room_access access;
	struct db_param params[1];
	cJSON *reply = NULL;
	cJSON *bans;
	const char *room;
	int rc;

	rc = room_access_admin(svc, user, PROTO_OP_BANS, req_id, req, &room, &access);
	if(rc) return rc > 0 ? 0 : -1;
	rc = -1;
	reply = reply_new(PROTO_OP_BANS, req_id, 1);
	if(!reply) goto out;
	cJSON_AddStringToObject(reply, "room", room);
	bans = cJSON_AddArrayToObject(reply, "bans");
	if(!bans) goto out;
	params[0] = DB_I64(access.room_id);
	if(db_exec(svc->db, "SELECT u.username, bu.username, " TIMEFMT_SQL("b.banned_at")
				" FROM room_bans b JOIN users u ON u.id = b.user_id LEFT JOIN users bu ON bu.id = b.banned_by"
				" WHERE b.room_id = ? ORDER BY u.username LIMIT 1000",
				params, 1, ban_row, bans, NULL, NULL) != DB_OK) goto out;
	outbox_send(svc, user, reply);
	rc = 0;
out:
	cJSON_Delete(reply);
	return rc;
}
