/* room_access.c: the requester's place in a room; see room_access.h. */
#include "room_access.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "json_util.h"
#include "names.h"
#include "proto.h"
#include "replies.h"

static int access_row(void *ud, int ncols, char **cols, unsigned long *lens)
{
	struct room_access *out = ud;

	(void)lens;
	if(ncols == 4 && cols[0] && cols[1] && cols[2]){
		out->room_id = strtoull(cols[0], NULL, 10);
		out->last_seq = strtoull(cols[1], NULL, 10);
		out->user_id = strtoull(cols[2], NULL, 10);
		snprintf(out->role, sizeof(out->role), "%s", cols[3] ? cols[3] : "");
		out->found = 1;
	}
	return 1;
}

int room_access_lookup(struct history_svc *svc, const char *room, const char *user, struct room_access *out)
{
	struct db_param params[2] = { DB_STR(user), DB_STR(room) };

	memset(out, 0, sizeof(*out));
	return db_exec(svc->db, "SELECT r.id, r.last_seq, u.id, m.role FROM rooms r JOIN users u ON u.username = ?"
			" LEFT JOIN room_members m ON m.room_id = r.id AND m.user_id = u.id WHERE r.name = ?",
			params, 2, access_row, out, NULL, NULL);
}

/* want_admin: also refuse members who are not admins. */
static int check(struct history_svc *svc, const char *user, const char *op, const char *req_id,
		const cJSON *req, const char **room, struct room_access *out, int want_admin)
{
	*room = json_get_str(req, "room", NAME_ROOM_MAX);
	if(!*room || !name_room_valid(*room)){
		reply_error(svc, user, op, req_id, PROTO_ERR_BAD_REQUEST, "\"room\" must be 1-64 of a-z, 0-9, '_', '-'");
		return 1;
	}
	if(room_access_lookup(svc, *room, user, out) != DB_OK) return -1;
	/* Same answer for "no such room" and "not a member": the existence of
	 * a private room is not revealed. */
	if(!out->found || !out->role[0]){
		reply_error(svc, user, op, req_id, PROTO_ERR_NOT_MEMBER, "no such room, or you are not a member of it");
		return 1;
	}
	if(want_admin && strcmp(out->role, "admin")){
		reply_error(svc, user, op, req_id, PROTO_ERR_FORBIDDEN, "only an admin of the room may do that");
		return 1;
	}
	return 0;
}

int room_access_admin(struct history_svc *svc, const char *user, const char *op, const char *req_id,
		const cJSON *req, const char **room, struct room_access *out)
{
	return check(svc, user, op, req_id, req, room, out, 1);
}

int room_access_member(struct history_svc *svc, const char *user, const char *op, const char *req_id,
		const cJSON *req, const char **room, struct room_access *out)
{
	return check(svc, user, op, req_id, req, room, out, 0);
}
