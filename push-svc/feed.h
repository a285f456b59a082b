/* feed.h: from stored messages to pushes owed. history-svc publishes a
 * hint on chat/v1/sys/stored after each commit; feed scans that room's
 * messages beyond its cursor (push_cursor), finds who is owed a push (the
 * other member of a direct room, mentioned members, subscriptions with
 * wake=all on the room) and is offline, and adds them to push_state in the
 * same transaction that moves the cursor. MariaDB is the truth: a hint
 * lost while push-svc was away is made up by feed_rescan (at start, then
 * every rescan_s). */
#ifndef PUSH_FEED_H
#define PUSH_FEED_H

#include <stddef.h>

#include "push.h"

/* Takes a hint {"room","from_seq","to_seq"}: the room is scanned at the
 * next feed_flush. */
void feed_hint(struct push_svc *svc, const void *payload, size_t len);

/* Scans the rooms hinted since the last call, many per transaction. */
void feed_flush(struct push_svc *svc);

/* Scans every room whose last_seq is beyond its cursor. Returns 0, or -1
 * when the database failed (try again later). */
int feed_rescan(struct push_svc *svc);

/* user came online: what push-svc still owed them is dropped (they can
 * read it now). */
void feed_user_online(struct push_svc *svc, const char *user);

#endif
