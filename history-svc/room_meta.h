/* room_meta.h: announcements on a room's meta topic,
 * chat/v1/rooms/{room}/meta (docs/PROTOCOL.md "Room meta topic"): what
 * history-svc tells a room's members after a change is committed (a topic
 * change, a read marker that moved). Only services publish there. */
#ifndef HISTORY_ROOM_META_H
#define HISTORY_ROOM_META_H

#include "history.h"

/* Publishes obj (a JSON object, not freed) on room's meta topic at QoS 1,
 * not retained. Returns 0, or -1 when room is not a valid room name or obj
 * cannot be printed (nothing sent). Call after the change is committed. */
int room_meta_publish(struct history_svc *svc, const char *room, const void *obj);

#endif
