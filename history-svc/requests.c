/* requests.c: history-svc's request/response API; see requests.h and
 * docs/PROTOCOL.md ("Requests"). Each request names an op and a req_id; the
 * reply echoes both and carries "ok": true with data, or "ok": false with
 * {"code", "message"}. */
#include "requests.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "history_op.h"
#include "account_ops.h"
#include "json_util.h"
#include "log.h"
#include "names.h"
#include "outbox.h"
#include "proto.h"
#include "receipts.h"
#include "replies.h"
#include "request_db.h"
#include "request_envelope.h"
#include "room_admin.h"
#include "room_moderation.h"
#include "search.h"
#include "timefmt.h"

static int rooms_row(void *ud, int ncols, char **cols, unsigned long *lens)
{
	cJSON *rooms = ud;
	cJSON *item;
	unsigned long long last_seq, read_seq;

	(void)lens;
	if(ncols != 8 || !cols[0] || !cols[1] || !cols[2] || !cols[3] || !cols[4]) return 0;
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
	if(cols[6]) cJSON_AddStringToObject(item, "topic", cols[6]);
	else cJSON_AddNullToObject(item, "topic");
	cJSON_AddNumberToObject(item, "mentions", cols[7] ? (double)strtoull(cols[7], NULL, 10) : 0);
	cJSON_AddItemToArray(rooms, item);
	return 0;
}

static int do_rooms(struct history_svc *svc, const char *user, const char *req_id, const cJSON *req)
{
	struct db_param params[1] = { DB_STR(user) };

	(void)req;
	return reply_list(svc, user, PROTO_OP_ROOMS, req_id, "rooms",
			"SELECT r.name, r.visibility, r.last_seq, COALESCE(rm.seq, 0), m.role,"
			" IF(r.visibility = 'direct', (SELECT u2.username FROM room_members m2 JOIN users u2 ON u2.id = m2.user_id"
			"   WHERE m2.room_id = r.id AND m2.user_id <> u.id LIMIT 1), NULL),"
			/* Unread mentions: above the marker, of messages not deleted. */
			" r.topic, (SELECT COUNT(*) FROM mentions mn JOIN messages mm ON mm.room_id = mn.room_id AND mm.seq = mn.seq"
			"   WHERE mn.user_id = u.id AND mn.room_id = r.id AND mn.seq > COALESCE(rm.seq, 0) AND mm.deleted_at IS NULL)"
			" FROM rooms r JOIN room_members m ON m.room_id = r.id JOIN users u ON u.id = m.user_id"
			" LEFT JOIN read_markers rm ON rm.room_id = r.id AND rm.user_id = u.id"
			" WHERE u.username = ? ORDER BY r.name",
			params, 1, rooms_row);
}

static const struct request_op ops[] = {
	{ PROTO_OP_HISTORY, history_op },
	{ PROTO_OP_ROOMS, do_rooms },
	{ PROTO_OP_CREATE, room_admin_create },
	{ PROTO_OP_JOIN, room_admin_join },
	{ PROTO_OP_LEAVE, room_admin_leave },
	{ PROTO_OP_INVITE, room_admin_invite },
	{ PROTO_OP_KICK, room_admin_kick },
	{ PROTO_OP_PUBLIC_ROOMS, room_admin_public_rooms },
	{ PROTO_OP_READ, room_admin_read },
	{ PROTO_OP_DM, room_admin_dm },
	{ PROTO_OP_TOKEN, account_token },
	{ PROTO_OP_TOKENS, account_tokens },
	{ PROTO_OP_REVOKE_TOKEN, account_revoke_token },
	{ PROTO_OP_PASSWORD, account_password },
	{ PROTO_OP_TOPIC, room_moderation_topic },
	{ PROTO_OP_ROLE, room_moderation_role },
	{ PROTO_OP_BAN, room_moderation_ban },
	{ PROTO_OP_UNBAN, room_moderation_unban },
	{ PROTO_OP_BANS, room_moderation_bans },
	{ PROTO_OP_RECEIPTS, receipts_list },
	{ PROTO_OP_PREFS, receipts_prefs },
	{ PROTO_OP_SEARCH, search_run },
};

void requests_handle(struct history_svc *svc, const char *user, const void *payload, size_t len)
{
	struct request_envelope env;
	const struct request_op *handler;
	int done = -1;

	svc->counters.requests++;
	if(request_envelope_read(&env, payload, len, REQUEST_OPS(ops))){
		reply_error(svc, user, env.op, env.req_id, env.code, env.message);
		goto out;
	}
	handler = &ops[env.op_index];
	for(int attempt = 1; attempt <= 5 && done != 0; attempt++){
		if(request_db_wait(svc, 2000)) break;
		done = handler->run(svc, user, env.req_id, env.json);
		if(done != 0){
			db_rollback(svc->db);
			log_warn("request %s from %s failed (%s); attempt %d", handler->name, user, db_error(svc->db), attempt);
			db_close(svc->db);
			svc->db = NULL;
		}
	}
	if(done != 0) reply_error(svc, user, handler->name, env.req_id, PROTO_ERR_UNAVAILABLE, "the archive is not available; try again");
out:
	request_envelope_free(&env);
}
