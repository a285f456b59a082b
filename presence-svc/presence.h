/* presence.h: who is online, from the auth plugin's connection events.
 * A user is online while at least one of their connections (on any node)
 * is open. Each change of a user's state is published retained on
 * chat/v1/presence/{user}; going offline stores last-seen in MariaDB. */
#ifndef PRESENCE_H
#define PRESENCE_H

#include <stddef.h>

struct presence;

/* Called to publish a retained presence payload (JSON text) for user. */
typedef void (*presence_publish_fn)(void *ud, const char *user, const char *json);
/* Called when user goes offline at iso_ts / sql_ts, to store last-seen. */
typedef void (*presence_offline_fn)(void *ud, const char *user, const char *sql_ts);

/* Returns an empty presence table (free with presence_free) or NULL. */
struct presence *presence_new(presence_publish_fn publish, presence_offline_fn offline, void *ud);

/* Applies one event payload from chat/v1/sys/conn/{node}. Returns 0, or -1
 * when the payload is malformed or its node does not match (it is then
 * ignored). */
int presence_apply_event(struct presence *p, const char *node, const void *payload, size_t len);

/* Number of users online and of open connections. */
size_t presence_users_online(const struct presence *p);
size_t presence_connections(const struct presence *p);

/* Frees the table; NULL allowed. */
void presence_free(struct presence *p);

#endif
