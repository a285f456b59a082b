/* receipts.h: read receipts for others (docs/PROTOCOL.md 4.5): the
 * receipts and prefs ops, and the live "read" announcement on a room's
 * meta topic when a member who shares their receipts moves their marker.
 * Sharing is on unless the user turns it off (user_prefs.share_read). */
#ifndef HISTORY_RECEIPTS_H
#define HISTORY_RECEIPTS_H

#include <cJSON.h>

#include "history.h"

/* receipts: {"room"} from a member: {"room", "markers": [{"user","seq"}]}
 * for every member who shares, sorted by user (seq 0: nothing read yet).
 * A struct request_op run function. */
int receipts_list(struct history_svc *svc, const char *user, const char *req_id, const cJSON *req);

/* prefs: {"share_read": bool} (optional) sets, and replies the current
 * {"share_read"}. A struct request_op run function. */
int receipts_prefs(struct history_svc *svc, const char *user, const char *req_id, const cJSON *req);

/* After user_id (named user) moved their read marker in room (room_id) to
 * seq, committed: announces {"type":"read","room","user","seq"} on the
 * room's meta topic if the user shares. Returns a db_result. */
int receipts_marker_moved(struct history_svc *svc, const char *room, const char *user,
		unsigned long long user_id, unsigned long long seq);

#endif
