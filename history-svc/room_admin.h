/* room_admin.h: requests that create rooms and change who is in them
 * (docs/PROTOCOL.md, "Rooms and members"). Each is a struct request_op run
 * function: it replies, or returns -1 on a database failure. Replies to
 * membership changes wait membership_settle_ms (reply_queue.h). */
#ifndef HISTORY_ROOM_ADMIN_H
#define HISTORY_ROOM_ADMIN_H

#include <cJSON.h>

#include "history.h"

int room_admin_create(struct history_svc *svc, const char *user, const char *req_id, const cJSON *req);
int room_admin_join(struct history_svc *svc, const char *user, const char *req_id, const cJSON *req);
int room_admin_leave(struct history_svc *svc, const char *user, const char *req_id, const cJSON *req);
int room_admin_invite(struct history_svc *svc, const char *user, const char *req_id, const cJSON *req);
int room_admin_kick(struct history_svc *svc, const char *user, const char *req_id, const cJSON *req);
int room_admin_public_rooms(struct history_svc *svc, const char *user, const char *req_id, const cJSON *req);
/* read: {"room", "seq"}, a member marks the room read up to seq (markers only
 * move forward); unread counts in the rooms reply come from it. */
int room_admin_read(struct history_svc *svc, const char *user, const char *req_id, const cJSON *req);
/* dm: {"user"}, opens (or finds) the direct room of the requester and user. */
int room_admin_dm(struct history_svc *svc, const char *user, const char *req_id, const cJSON *req);

#endif
