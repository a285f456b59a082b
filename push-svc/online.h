/* online.h: who has an open connection now, from presence-svc's retained
 * chat/v1/presence/{user} messages (devices > 0). push-svc pushes only to
 * users who are not online. */
#ifndef PUSH_ONLINE_H
#define PUSH_ONLINE_H

#include <stdbool.h>
#include <stddef.h>

struct online;

/* Returns an empty set (free with online_free), or NULL when out of memory. */
struct online *online_new(void);

/* Reads a presence payload for user. Returns 1 when user went from offline
 * (or unknown) to online, 0 otherwise, -1 when the payload is not a presence
 * message (ignored). */
int online_update(struct online *o, const char *user, const void *payload, size_t len);

/* True when user has at least one open connection. */
bool online_is(const struct online *o, const char *user);

/* Users online now. */
size_t online_count(const struct online *o);

/* Frees o; NULL allowed. */
void online_free(struct online *o);

#endif
