/* room_moderation.h: what a room's admins do besides invite and kick
 * (docs/PROTOCOL.md 4.4): set the topic, change members' roles, ban and
 * unban users, list the bans. Each op is a struct request_op run function:
 * it replies, or returns -1 on a database failure having sent nothing. */
#ifndef HISTORY_ROOM_MODERATION_H
#define HISTORY_ROOM_MODERATION_H

#include <cJSON.h>

#include "history.h"

/* topic: {"room", "topic": text or "" or null}. Stores a 'topic' event row
 * with the room's next seq and the room's topic in one transaction, replies
 * {"room","topic","seq"} and announces it on the room's meta topic. */
int room_moderation_topic(struct history_svc *svc, const char *user, const char *req_id, const cJSON *req);
/* role: {"room", "user", "role": "admin"|"member"}; the last admin cannot
 * step down. */
int room_moderation_role(struct history_svc *svc, const char *user, const char *req_id, const cJSON *req);
/* ban / unban: {"room", "user"}. A ban also removes the membership; the
 * reply waits the membership settle delay, as kick's does. */
int room_moderation_ban(struct history_svc *svc, const char *user, const char *req_id, const cJSON *req);
int room_moderation_unban(struct history_svc *svc, const char *user, const char *req_id, const cJSON *req);
/* bans: {"room"}: {"room", "bans": [{"user","by","ts"}]}. */
int room_moderation_bans(struct history_svc *svc, const char *user, const char *req_id, const cJSON *req);

/* Sets *banned to 1 when the user named user is banned from room room_id,
 * else 0. Returns a db_result. For join and invite (room_admin.c). */
int room_moderation_is_banned(struct history_svc *svc, unsigned long long room_id, const char *user, int *banned);

#endif
