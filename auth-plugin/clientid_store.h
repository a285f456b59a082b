/* clientid_store.h: saving the client id bindings (clientid_owner.h) to a
 * file and restoring them when the broker starts, so that a restart with
 * persistence on, which restores the sessions, restores who owns them too.
 *
 * The file (plugin_opt_clientid_file) holds one line per binding:
 *   CLIENT_ID <TAB> USER <TAB> WALL_MS
 * where WALL_MS is the wall-clock time (ms since the epoch) the binding went
 * idle, or the time of saving for one a connection held. Client ids and
 * user names cannot contain a tab or a line end (names.h). It is written to
 * FILE.tmp (mode 0600) and renamed over FILE, so a crash leaves the old or
 * the new table. The plugin saves it every CLIENTID_STORE_SAVE_S seconds,
 * like the broker's autosave_interval, and when the broker stops; one save
 * of 100,000 bindings takes a few ms of the broker thread. */
#ifndef AUTH_CLIENTID_STORE_H
#define AUTH_CLIENTID_STORE_H

#include <stddef.h>

#include "clientid_owner.h"

#define CLIENTID_STORE_SAVE_S 60

/* Restores the bindings saved at path into owners. now_mono_ms and
 * now_wall_ms are the current monotonic and wall-clock times. A missing
 * file is an empty table. Returns the number of bindings restored, or -1
 * with a message in err when the file exists but cannot be read; lines that
 * do not parse are skipped and counted in *skipped. */
long clientid_store_load(const char *path, struct clientid_owners *owners, long long now_mono_ms,
		long long now_wall_ms, size_t *skipped, char *err, size_t errlen);

/* Saves every binding of owners to path. Returns 0, or -1 with a message
 * in err (the previous file stays). */
int clientid_store_save(const char *path, const struct clientid_owners *owners, long long now_mono_ms,
		long long now_wall_ms, char *err, size_t errlen);

#endif
