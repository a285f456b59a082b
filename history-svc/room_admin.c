/* room_admin.c: create, join, leave, invite, kick, public_rooms; see
 * room_admin.h. Rules: anyone may create a room (and becomes its admin);
 * anyone may join a public room; only a room admin may invite (into any
 * room) or kick; anyone may leave. */
#include "room_admin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "json_util.h"
#include "log.h"
#include "names.h"
#include "reply_queue.h"
#include "outbox.h"
#include "proto.h"
#include "receipts.h"
#include "replies.h"
#include "room_moderation.h"

struct room_row {
	unsigned long long id;
	char visibility[16];
	int found;
};

static int room_row_fn(void *ud, int ncols, char **cols, unsigned long *lens)
{
	struct room_row *row = ud;

	(void)lens;
	if(ncols == 2 && cols[0] && cols[1]){
		row->id = strtoull(cols[0], NULL, 10);
		snprintf(row->visibility, sizeof(row->visibility), "%s", cols[1]);
		row->found = 1;
	}
	return 1;
}

static int one_string(void *ud, int ncols, char **cols, unsigned long *lens)
{
	(void)lens;
	if(ncols >= 1 && cols[0]) snprintf(ud, 16, "%s", cols[0]);
	return 1;
}

/* Reads "room" (and "user" when user_out is not NULL) from req; replies
 * bad_request and returns 1 when missing or invalid. */
static int read_names(struct history_svc *svc, const char *user, const char *op, const char *req_id,
		const cJSON *req, const char **room, const char **user_out)
{
	*room = json_get_str(req, "room", NAME_ROOM_MAX);
	if(!*room || !name_room_valid(*room)){
		reply_error(svc, user, op, req_id, PROTO_ERR_BAD_REQUEST, "\"room\" must be 1-64 of a-z, 0-9, '_', '-'");
		return 1;
	}
	if(user_out){
		*user_out = json_get_str(req, "user", NAME_USER_MAX);
		if(!*user_out || !name_user_valid(*user_out)){
			reply_error(svc, user, op, req_id, PROTO_ERR_BAD_REQUEST, "\"user\" must be a valid user name");
			return 1;
		}
	}
	return 0;
}

static void reply_ok_later(struct history_svc *svc, const char *user, const char *op,
		const char *req_id, const char *room, const char *other)
{
	cJSON *reply = reply_new(op, req_id, 1);

	if(!reply) return;
	cJSON_AddStringToObject(reply, "room", room);
	if(other) cJSON_AddStringToObject(reply, "user", other);
	reply_queue_push(svc, user, reply, svc->cfg.settle_ms);
	cJSON_Delete(reply);
}

/* The requester's role in room: "admin", "member" or "" (not a member). */
static int member_role(struct history_svc *svc, unsigned long long room_id, const char *user, char role[16])
{
	struct db_param params[2] = { DB_I64(room_id), DB_STR(user) };

	role[0] = '\0';
	return db_exec(svc->db, "SELECT m.role FROM room_members m JOIN users u ON u.id = m.user_id"
			" WHERE m.room_id = ? AND u.username = ?", params, 2, one_string, role, NULL, NULL);
}

static int find_room(struct history_svc *svc, const char *room, struct room_row *row)
{
	struct db_param params[1] = { DB_STR(room) };

	memset(row, 0, sizeof(*row));
	return db_exec(svc->db, "SELECT id, visibility FROM rooms WHERE name = ?", params, 1, room_row_fn, row, NULL, NULL);
}

int room_admin_create(struct history_svc *svc, const char *user, const char *req_id, const cJSON *req)
{
	const char *room, *visibility;
	struct db_param params[3];
	unsigned long long room_id = 0;
	int rc;

	if(read_names(svc, user, PROTO_OP_CREATE, req_id, req, &room, NULL)) return 0;
	visibility = json_get_str(req, "visibility", 16);
	if(!visibility) visibility = "public";
	if(strcmp(visibility, "public") && strcmp(visibility, "private")){
		reply_error(svc, user, PROTO_OP_CREATE, req_id, PROTO_ERR_BAD_REQUEST, "\"visibility\" must be \"public\" or \"private\"");
		return 0;
	}
	if(db_begin(svc->db) != DB_OK) return -1;
	params[0] = DB_STR(room);
	params[1] = DB_STR(visibility);
	rc = db_exec(svc->db, "INSERT INTO rooms (name, visibility) VALUES (?, ?)", params, 2, NULL, NULL, NULL, &room_id);
	if(rc == DB_DUPLICATE){
		db_rollback(svc->db);
		reply_error(svc, user, PROTO_OP_CREATE, req_id, PROTO_ERR_ROOM_EXISTS, "a room of that name exists already");
		return 0;
	}
	if(rc != DB_OK) return -1;
	params[0] = DB_I64(room_id);
	params[1] = DB_STR(user);
	if(db_exec(svc->db, "INSERT INTO room_members (room_id, user_id, role) SELECT ?, id, 'admin' FROM users WHERE username = ?",
				params, 2, NULL, NULL, NULL, NULL) != DB_OK) return -1;
	if(db_commit(svc->db) != DB_OK) return -1;
	log_info("%s created %s room %s", user, visibility, room);
	reply_ok_later(svc, user, PROTO_OP_CREATE, req_id, room, NULL);
	return 0;
}

int room_admin_join(struct history_svc *svc, const char *user, const char *req_id, const cJSON *req)
{
	struct room_row row;
	struct db_param params[2];
	const char *room;
	int banned = 0;

	if(read_names(svc, user, PROTO_OP_JOIN, req_id, req, &room, NULL)) return 0;
	if(find_room(svc, room, &row) != DB_OK) return -1;
	/* A private room answers like a missing one: it is not advertised. */
	if(!row.found || strcmp(row.visibility, "public")){
		reply_error(svc, user, PROTO_OP_JOIN, req_id, PROTO_ERR_NOT_FOUND, "no such public room; private rooms need an invitation");
		return 0;
	}
	if(room_moderation_is_banned(svc, row.id, user, &banned) != DB_OK) return -1;
	if(banned){
		reply_error(svc, user, PROTO_OP_JOIN, req_id, PROTO_ERR_BANNED, "you are banned from this room");
		return 0;
	}
	params[0] = DB_I64(row.id);
	params[1] = DB_STR(user);
	if(db_exec(svc->db, "INSERT IGNORE INTO room_members (room_id, user_id) SELECT ?, id FROM users WHERE username = ?",
				params, 2, NULL, NULL, NULL, NULL) != DB_OK) return -1;
	reply_ok_later(svc, user, PROTO_OP_JOIN, req_id, room, NULL);
	return 0;
}

int room_admin_leave(struct history_svc *svc, const char *user, const char *req_id, const cJSON *req)
{
	struct db_param params[2];
	unsigned long long affected = 0;
	const char *room;

	if(read_names(svc, user, PROTO_OP_LEAVE, req_id, req, &room, NULL)) return 0;
	params[0] = DB_STR(room);
	params[1] = DB_STR(user);
	if(db_exec(svc->db, "DELETE m FROM room_members m JOIN rooms r ON r.id = m.room_id JOIN users u ON u.id = m.user_id"
				" WHERE r.name = ? AND u.username = ?", params, 2, NULL, NULL, &affected, NULL) != DB_OK) return -1;
	if(affected == 0){
		reply_error(svc, user, PROTO_OP_LEAVE, req_id, PROTO_ERR_NOT_MEMBER, "no such room, or you are not a member of it");
		return 0;
	}
	reply_ok_later(svc, user, PROTO_OP_LEAVE, req_id, room, NULL);
	return 0;
}

/* invite and kick: the requester must be an admin of the room. */
static int change_member(struct history_svc *svc, const char *user, const char *op, const char *req_id,
		const cJSON *req, int add)
{
	struct room_row row;
	struct db_param params[2];
	unsigned long long affected = 0;
	const char *room, *target;
	char role[16];

	if(read_names(svc, user, op, req_id, req, &room, &target)) return 0;
	if(find_room(svc, room, &row) != DB_OK) return -1;
	if(row.found && member_role(svc, row.id, user, role) != DB_OK) return -1;
	if(!row.found || role[0] == '\0'){
		reply_error(svc, user, op, req_id, PROTO_ERR_NOT_MEMBER, "no such room, or you are not a member of it");
		return 0;
	}
	if(strcmp(role, "admin")){
		reply_error(svc, user, op, req_id, PROTO_ERR_FORBIDDEN, "only an admin of the room may do that");
		return 0;
	}
	params[0] = DB_I64(row.id);
	params[1] = DB_STR(target);
	if(add){
		int banned = 0;

		if(room_moderation_is_banned(svc, row.id, target, &banned) != DB_OK) return -1;
		if(banned){
			reply_error(svc, user, op, req_id, PROTO_ERR_BANNED, "that user is banned from the room; unban them first");
			return 0;
		}
		if(db_exec(svc->db, "INSERT IGNORE INTO room_members (room_id, user_id) SELECT ?, id FROM users WHERE username = ?",
					params, 2, NULL, NULL, &affected, NULL) != DB_OK) return -1;
		if(affected == 0){
			char exists[16] = "";
			struct db_param who[1] = { DB_STR(target) };
			if(db_exec(svc->db, "SELECT 'yes' FROM users WHERE username = ?", who, 1, one_string, exists, NULL, NULL) != DB_OK) return -1;
			if(!exists[0]){
				reply_error(svc, user, op, req_id, PROTO_ERR_UNKNOWN_USER, "no such user");
				return 0;
			}
		}
	}else{
		if(db_exec(svc->db, "DELETE m FROM room_members m JOIN users u ON u.id = m.user_id WHERE m.room_id = ? AND u.username = ?",
					params, 2, NULL, NULL, &affected, NULL) != DB_OK) return -1;
		if(affected == 0){
			reply_error(svc, user, op, req_id, PROTO_ERR_NOT_MEMBER, "that user is not a member of the room");
			return 0;
		}
	}
	log_info("%s %s %s %s %s", user, add ? "invited" : "kicked", target, add ? "to" : "from", room);
	reply_ok_later(svc, user, op, req_id, room, target);
	return 0;
}

int room_admin_invite(struct history_svc *svc, const char *user, const char *req_id, const cJSON *req)
{
	return change_member(svc, user, PROTO_OP_INVITE, req_id, req, 1);
}

int room_admin_kick(struct history_svc *svc, const char *user, const char *req_id, const cJSON *req)
{
	return change_member(svc, user, PROTO_OP_KICK, req_id, req, 0);
}

static int public_row(void *ud, int ncols, char **cols, unsigned long *lens)
{
	cJSON *item;

	(void)lens;
	if(ncols != 4 || !cols[0] || !cols[1] || !cols[2]) return 0;
	item = cJSON_CreateObject();
	if(!item) return 1;
	cJSON_AddStringToObject(item, "name", cols[0]);
	cJSON_AddNumberToObject(item, "members", (double)strtoull(cols[1], NULL, 10));
	cJSON_AddNumberToObject(item, "last_seq", (double)strtoull(cols[2], NULL, 10));
	if(cols[3]) cJSON_AddStringToObject(item, "topic", cols[3]);
	else cJSON_AddNullToObject(item, "topic");
	cJSON_AddItemToArray(ud, item);
	return 0;
}

int room_admin_public_rooms(struct history_svc *svc, const char *user, const char *req_id, const cJSON *req)
{
	(void)req;
	return reply_list(svc, user, PROTO_OP_PUBLIC_ROOMS, req_id, "rooms",
			"SELECT r.name, (SELECT COUNT(*) FROM room_members m WHERE m.room_id = r.id), r.last_seq, r.topic"
			" FROM rooms r WHERE r.visibility = 'public' ORDER BY r.name LIMIT 1000",
			NULL, 0, public_row);
}

struct member_row {
	unsigned long long room_id, last_seq, user_id;
	int found;
};

static int member_row_fn(void *ud, int ncols, char **cols, unsigned long *lens)
{
	struct member_row *row = ud;

	(void)lens;
	if(ncols == 3 && cols[0] && cols[1] && cols[2]){
		row->room_id = strtoull(cols[0], NULL, 10);
		row->last_seq = strtoull(cols[1], NULL, 10);
		row->user_id = strtoull(cols[2], NULL, 10);
		row->found = 1;
	}
	return 1;
}

int room_admin_read(struct history_svc *svc, const char *user, const char *req_id, const cJSON *req)
{
	struct member_row row;
	struct db_param params[3];
	unsigned long long moved = 0;
	cJSON *reply = NULL;
	const char *room;
	long seq;
	int rc = -1;

	if(read_names(svc, user, PROTO_OP_READ, req_id, req, &room, NULL)) return 0;
	if(json_get_long(req, "seq", -1, 0, 0x7fffffffffffffffL, &seq) || seq < 0){
		reply_error(svc, user, PROTO_OP_READ, req_id, PROTO_ERR_BAD_REQUEST, "\"seq\" must be a sequence number of 0 or more");
		return 0;
	}
	memset(&row, 0, sizeof(row));
	params[0] = DB_STR(room);
	params[1] = DB_STR(user);
	if(db_exec(svc->db, "SELECT r.id, r.last_seq, u.id FROM rooms r JOIN room_members m ON m.room_id = r.id"
				" JOIN users u ON u.id = m.user_id WHERE r.name = ? AND u.username = ?",
				params, 2, member_row_fn, &row, NULL, NULL) != DB_OK) goto out;
	if(!row.found){
		reply_error(svc, user, PROTO_OP_READ, req_id, PROTO_ERR_NOT_MEMBER, "no such room, or you are not a member of it");
		rc = 0;
		goto out;
	}
	if((unsigned long long)seq > row.last_seq){
		reply_error(svc, user, PROTO_OP_READ, req_id, PROTO_ERR_BAD_REQUEST, "\"seq\" is beyond the room's last message");
		rc = 0;
		goto out;
	}
	/* A marker only moves forward: an old device cannot un-read. */
	params[0] = DB_I64(row.room_id);
	params[1] = DB_I64(row.user_id);
	params[2] = DB_I64(seq);
	if(db_exec(svc->db, "INSERT INTO read_markers (room_id, user_id, seq) VALUES (?, ?, ?)"
				" ON DUPLICATE KEY UPDATE seq = GREATEST(seq, VALUES(seq))",
				params, 3, NULL, NULL, &moved, NULL) != DB_OK) goto out;
	/* The marker is stored (autocommit); a failed announcement only costs
	 * the room one live update, which a receipts request makes up for. */
	if(moved) receipts_marker_moved(svc, room, user, row.user_id, (unsigned long long)seq);
	reply = reply_new(PROTO_OP_READ, req_id, 1);
	if(!reply) goto out;
	cJSON_AddStringToObject(reply, "room", room);
	cJSON_AddNumberToObject(reply, "seq", (double)seq);
	outbox_send(svc, user, reply);
	rc = 0;
out:
	cJSON_Delete(reply);
	return rc;
}

/* The direct room of a pair: "dm-" and 24 hex digits of SHA-256 over the two
 * names in order, so both ends find the same room and nobody can guess it
 * to be anything else. */
static int dm_room_name(const char *a, const char *b, char out[NAME_ROOM_MAX + 1])
{
	static const char hex[] = "0123456789abcdef";
	const char *first = strcmp(a, b) < 0 ? a : b;
	const char *second = first == a ? b : a;
	unsigned char digest[32];
	unsigned int len = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int rc = -1;

	if(!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)
			|| !EVP_DigestUpdate(ctx, first, strlen(first) + 1)
			|| !EVP_DigestUpdate(ctx, second, strlen(second))
			|| !EVP_DigestFinal_ex(ctx, digest, &len)){
		goto out;
	}
	memcpy(out, "dm-", 3);
	for(int i = 0; i < 12; i++){
		out[3 + 2 * i] = hex[digest[i] >> 4];
		out[4 + 2 * i] = hex[digest[i] & 0x0F];
	}
	out[27] = '\0';
	rc = 0;
out:
	EVP_MD_CTX_free(ctx);
	return rc;
}

int room_admin_dm(struct history_svc *svc, const char *user, const char *req_id, const cJSON *req)
{
	char room[NAME_ROOM_MAX + 1];
	char exists[16] = "";
	struct room_row row;
	struct db_param params[3];
	const char *other = json_get_str(req, "user", NAME_USER_MAX);
	unsigned long long room_id = 0;
	cJSON *reply = NULL;
	int rc = -1;

	if(!other || !name_user_valid(other) || !strcmp(other, user)){
		reply_error(svc, user, PROTO_OP_DM, req_id, PROTO_ERR_BAD_REQUEST, "\"user\" must be another user's name");
		return 0;
	}
	params[0] = DB_STR(other);
	if(db_exec(svc->db, "SELECT 'yes' FROM users WHERE username = ? AND disabled = 0", params, 1, one_string, exists, NULL, NULL) != DB_OK) return -1;
	if(!exists[0]){
		reply_error(svc, user, PROTO_OP_DM, req_id, PROTO_ERR_UNKNOWN_USER, "no such user");
		return 0;
	}
	if(dm_room_name(user, other, room)) return -1;
	if(db_begin(svc->db) != DB_OK) return -1;
	if(find_room(svc, room, &row) != DB_OK) goto out;
	if(row.found){
		room_id = row.id;
	}else{
		params[0] = DB_STR(room);
		rc = db_exec(svc->db, "INSERT INTO rooms (name, visibility) VALUES (?, 'direct')", params, 1, NULL, NULL, NULL, &room_id);
		if(rc != DB_OK) goto out; /* a racing twin: the retry finds the room */
		rc = -1;
	}
	params[0] = DB_I64(room_id);
	params[1] = DB_STR(user);
	params[2] = DB_STR(other);
	if(db_exec(svc->db, "INSERT IGNORE INTO room_members (room_id, user_id) SELECT ?, id FROM users WHERE username IN (?, ?)",
				params, 3, NULL, NULL, NULL, NULL) != DB_OK) goto out;
	if(db_commit(svc->db) != DB_OK) goto out;
	reply = reply_new(PROTO_OP_DM, req_id, 1);
	if(!reply) goto out;
	cJSON_AddStringToObject(reply, "room", room);
	cJSON_AddStringToObject(reply, "user", other);
	reply_queue_push(svc, user, reply, svc->cfg.settle_ms);
	rc = 0;
out:
	cJSON_Delete(reply);
	return rc;
}
