/* loader.h: the plugin's background thread that keeps a snapshot of users
 * memberships and tokens current. It polls auth_version (a counter that database
 * triggers bump on every change to users, room_members or tokens) every refresh
 * interval and, when it moved, reads everything into a new snapshot and
 * hands it over. The broker thread adopts it with loader_adopt, so neither
 * side ever waits for the other and the broker never waits for MariaDB. */
#ifndef AUTH_LOADER_H
#define AUTH_LOADER_H

#include <stddef.h>

#include "db.h"
#include "snapshot.h"

struct loader;

/* Copies db settings and starts the thread, after one synchronous load
 * attempt so that a broker whose database is up starts with its users.
 * Returns a loader (stop it with loader_stop) or NULL with a message in err. */
struct loader *loader_start(const struct db_opts *opts, long refresh_ms, char *err, size_t errlen);

/* On the broker thread: if a newer snapshot is waiting, puts it in *current
 * and hands the one it replaces to the caller in *old (who frees it with
 * snapshot_free, after comparing if it likes). Returns 1 when it replaced,
 * 0 otherwise (*old untouched). */
int loader_adopt(struct loader *loader, struct snapshot **current, struct snapshot **old);

/* On the broker thread: copies a not-yet-reported status line (load errors,
 * recoveries) into buf and returns 1, or returns 0 when there is none. */
int loader_take_status(struct loader *loader, char *buf, size_t len);

/* On the broker thread: notes that the token with this id logged in now.
 * The loader thread writes tokens.last_used for the noted ids on its next
 * poll (lazily: at most once a refresh interval, never on the broker
 * thread). Up to LOADER_USED_MAX ids wait at once; beyond that a use is not
 * recorded (last_used is informative). */
void loader_token_used(struct loader *loader, const char *id);

#define LOADER_USED_MAX 4096

/* Stops and joins the thread, frees any waiting snapshot and the loader. */
void loader_stop(struct loader *loader);

#endif
