/* room_access.h: who the requester is in a room, for the moderation,
 * receipts and search ops (room_moderation.h, receipts.h, search.h). */
#ifndef HISTORY_ROOM_ACCESS_H
#define HISTORY_ROOM_ACCESS_H

#include <cJSON.h>

#include "history.h"

struct room_access {
	int found;                    /* the room and the user exist */
	unsigned long long room_id;
	unsigned long long last_seq;
	unsigned long long user_id;
	char role[16];                /* "admin", "member", or "" (not a member) */
};

/* Looks up room (by name) and user (by name) into *out (zeroed first).
 * Returns a db_result. */
int room_access_lookup(struct history_svc *svc, const char *room, const char *user, struct room_access *out);

/* For an op only a room's admin may run: reads "room" from req into *room
 * (pointing into req) and looks the requester up into *out. Returns 0 when
 * user is an admin of the room; 1 after replying the error (bad_request,
 * not_member: no such room or not a member, forbidden: not an admin);
 * -1 on a database failure (nothing sent). */
int room_access_admin(struct history_svc *svc, const char *user, const char *op, const char *req_id,
		const cJSON *req, const char **room, struct room_access *out);

/* The same for an op any member may run (no forbidden). */
int room_access_member(struct history_svc *svc, const char *user, const char *op, const char *req_id,
		const cJSON *req, const char **room, struct room_access *out);

#endif
