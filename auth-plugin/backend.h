/* backend.h: credential back-ends of the auth plugin, as a table of function
 * pointers found by name (backends.c). The plugin asks the back-ends named in
 * plugin_opt_backends in order; each answers allow, deny, defer (not a user
 * it manages: ask the next) or error. The plugin refuses on error (the
 * client gets no CONNACK: docs/PROTOCOL.md 1), never
 * into allow. Back-ends run on the broker thread: "mariadb" and "file" answer
 * from memory; "http" makes a bounded network call (see backend_http.c). */
#ifndef AUTH_BACKEND_H
#define AUTH_BACKEND_H

#include <stdbool.h>
#include <stddef.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include "login_cache.h"
#include "snapshot.h"

enum backend_answer { BACKEND_ALLOW, BACKEND_DENY, BACKEND_DEFER, BACKEND_ERROR };

struct login {
	const char *username;
	const char *password;  /* NULL when the client sent none */
	const char *client_id;
	const char *address;
};

/* What the plugin lends every back-end for one check. */
struct backend_env {
	const struct snapshot *snap; /* current users snapshot; NULL before the first load */
	struct login_cache *cache;   /* successful-login cache (may be NULL) */
	long now;                    /* monotonic seconds */
};

struct credential_backend {
	const char *name;
	/* True when the back-end's users are the snapshot's users, whose role
	 * the ACL check reads there; for the others the plugin remembers which
	 * connections logged in as admins. */
	bool roles_in_snapshot;
	/* Reads the back-end's plugin_opt_* options and sets *state (NULL is a
	 * valid state). Returns 0, or -1 with a message naming the missing or
	 * bad option in err: the broker then refuses to start. */
	int (*init)(void **state, struct mosquitto_opt *opts, int opt_count, char *err, size_t errlen);
	/* Checks one login. On BACKEND_ALLOW, *role gets the user's role. */
	enum backend_answer (*check)(void *state, const struct backend_env *env,
			const struct login *login, enum user_role *role);
	/* Answers from the login cache alone, with no hashing and no network
	 * call (one HMAC): BACKEND_ALLOW with *role when this exact login
	 * succeeded recently, BACKEND_DENY when the back-end knows the user but
	 * the login is not cached (or the account is disabled), BACKEND_DEFER
	 * when it does not know the user. The plugin asks this first, so a
	 * cached login passes even while flood protection holds its name back.
	 * May be NULL (then DEFER). */
	enum backend_answer (*cached)(void *state, const struct backend_env *env,
			const struct login *login, enum user_role *role);
	/* Re-reads files on SIGHUP (may be NULL). Returns 0, or -1 with a message
	 * (the old data stays in force). */
	int (*reload)(void *state, char *err, size_t errlen);
	/* Frees state (may be NULL). */
	void (*cleanup)(void *state);
};

/* Returns the back-end called name, or NULL when there is none. */
const struct credential_backend *backend_find(const char *name);

/* Returns the value of plugin_opt_<key>, or NULL. */
const char *backend_opt(struct mosquitto_opt *opts, int opt_count, const char *key);

/* Shared by back-ends holding "$7$"/"$6$" hashes: checks password against
 * stored_hash for user, through the login cache. Returns BACKEND_ALLOW,
 * BACKEND_DENY, or BACKEND_ERROR for a malformed hash. */
enum backend_answer backend_verify_password(const struct backend_env *env, const char *user,
		const char *password, const char *stored_hash);

#endif
