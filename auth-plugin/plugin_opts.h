/* plugin_opts.h: the plugin's plugin_opt_* options, read once at start into
 * one struct (docs/ADMIN.md lists them all). */
#ifndef AUTH_PLUGIN_OPTS_H
#define AUTH_PLUGIN_OPTS_H

#include <stddef.h>

#include <mosquitto_broker.h>

#include "db.h"
#include "flood.h"
#include "send_rate.h"

#define PLUGIN_MAX_BACKENDS 4

struct plugin_opts {
	const char *node;
	struct db_opts db;
	long refresh_ms;
	const char *backend_names[PLUGIN_MAX_BACKENDS];
	int backend_count;
	long cache_ttl_s;
	long cache_max;
	struct flood_opts flood;
	long clientid_hold_s;   /* a client id stays its user's this long after its last connection */
	long clientid_max_idle; /* client id bindings without a connection, in all */
	long clientid_per_user; /* ... and for one user */
	const char *clientid_file; /* where the bindings are saved; NULL: memory only */
	const char *acl_file; /* NULL when none */
	long metrics_port;           /* 0: no metrics server */
	const char *metrics_bind;    /* its address; default 127.0.0.1 */
	struct send_rate_opts send_rate; /* per-user room message and request limits */
};

/* Fills out from the broker's options (strings point into opts, which the
 * broker keeps for the plugin's lifetime; backend names into names_buf of
 * names_len bytes). Returns 0, or -1 with a message naming the missing or
 * bad option in err. */
int plugin_opts_read(struct mosquitto_opt *opts, int opt_count, struct plugin_opts *out,
		char *names_buf, size_t names_len, char *err, size_t errlen);

#endif
