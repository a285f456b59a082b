/* receipts.c: receipts, prefs and the live read announcement; see
 * receipts.h. */
#include "receipts.h"

#include <stdlib.h>
#include <string.h>

#include "outbox.h"
#include "proto.h"
#include "replies.h"
#include "room_access.h"
#include "room_meta.h"

static int marker_row(void *ud, int ncols, char **cols, unsigned long *lens)
{
	cJSON *item;

	(void)lens;
	if(ncols != 2 || !cols[0] || !cols[1]) return 0;
	item = cJSON_CreateObject();
	if(!item) return 1;
	cJSON_AddStringToObject(item, "user", cols[0]);
	cJSON_AddNumberToObject(item, "seq", (double)strtoull(cols[1], NULL, 10));
	cJSON_AddItemToArray(ud, item);
	return 0;
}

int receipts_list(struct history_svc *svc, const char *user, const char *req_id, const cJSON *req)
{
	struct room_access access;
	struct db_param params[1];
	cJSON *reply = NULL;
	cJSON *markers;
	const char *room;
	int rc;

	rc = room_access_member(svc, user, PROTO_OP_RECEIPTS, req_id, req, &room, &access);
	if(rc) return rc > 0 ? 0 : -1;
	rc = -1;
	reply = reply_new(PROTO_OP_RECEIPTS, req_id, 1);
	if(!reply) goto out;
	cJSON_AddStringToObject(reply, "room", room);
	markers = cJSON_AddArrayToObject(reply, "markers");
	if(!markers) goto out;
	params[0] = DB_I64(access.room_id);
	if(db_exec(svc->db, "SELECT u.username, COALESCE(rm.seq, 0) FROM room_members m JOIN users u ON u.id = m.user_id"
				" LEFT JOIN read_markers rm ON rm.room_id = m.room_id AND rm.user_id = m.user_id"
				" LEFT JOIN user_prefs p ON p.user_id = m.user_id"
				" WHERE m.room_id = ? AND COALESCE(p.share_read, 1) = 1 ORDER BY u.username LIMIT 10000",
				params, 1, marker_row, markers, NULL, NULL) != DB_OK) goto out;
	outbox_send(svc, user, reply);
	rc = 0;
out:
	cJSON_Delete(reply);
	return rc;
}

static int flag_row(void *ud, int ncols, char **cols, unsigned long *lens)
{
	int *out = ud;

	(void)lens;
	if(ncols >= 1 && cols[0]) *out = atoi(cols[0]);
	return 1;
}

/* *share (1 or 0) of the user named user; 1 when never set. */
static int share_read_of(struct history_svc *svc, const char *user, int *share)
{
	struct db_param params[1] = { DB_STR(user) };

	*share = 1;
	return db_exec(svc->db, "SELECT p.share_read FROM user_prefs p JOIN users u ON u.id = p.user_id WHERE u.username = ?",
			params, 1, flag_row, share, NULL, NULL);
}

int receipts_prefs(struct history_svc *svc, const char *user, const char *req_id, const cJSON *req)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(req, "share_read");
	struct db_param params[2];
	cJSON *reply = NULL;
	int share = 1;
	int rc = -1;

	if(item && !cJSON_IsBool(item)){
		reply_error(svc, user, PROTO_OP_PREFS, req_id, PROTO_ERR_BAD_REQUEST, "\"share_read\" must be true or false");
		rc = 0;
		goto out;
	}
	if(item){
		params[0] = DB_I64(cJSON_IsTrue(item) ? 1 : 0);
		params[1] = DB_STR(user);
		if(db_exec(svc->db, "INSERT INTO user_prefs (user_id, share_read) SELECT id, ? FROM users WHERE username = ?"
					" ON DUPLICATE KEY UPDATE share_read = VALUES(share_read)",
					params, 2, NULL, NULL, NULL, NULL) != DB_OK) goto out;
	}
	if(share_read_of(svc, user, &share) != DB_OK) goto out;
	reply = reply_new(PROTO_OP_PREFS, req_id, 1);
	if(!reply) goto out;
	cJSON_AddBoolToObject(reply, "share_read", share != 0);
	outbox_send(svc, user, reply);
	rc = 0;
out:
	cJSON_Delete(reply);
	return rc;
}

int receipts_marker_moved(struct history_svc *svc, const char *room, const char *user,
		unsigned long long user_id, unsigned long long seq)
{
	struct db_param params[1] = { DB_I64(user_id) };
	cJSON *meta = NULL;
	int share = 1;
	int rc;

	rc = db_exec(svc->db, "SELECT share_read FROM user_prefs WHERE user_id = ?", params, 1, flag_row, &share, NULL, NULL);
	if(rc != DB_OK || !share) goto out;
	meta = cJSON_CreateObject();
	if(!meta) goto out;
	cJSON_AddStringToObject(meta, "type", "read");
	cJSON_AddStringToObject(meta, "room", room);
	cJSON_AddStringToObject(meta, "user", user);
	cJSON_AddNumberToObject(meta, "seq", (double)seq);
	room_meta_publish(svc, room, meta);
out:
	cJSON_Delete(meta);
	return rc;
}
