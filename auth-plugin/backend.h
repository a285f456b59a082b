/* backend.h: credential back-ends of the auth plugin, as a table of function
 * pointers found by name. Each back-end answers a login with allow, deny,
 * defer (not a user it manages) or error; the plugin turns error into deny,
 * never into allow. Back-ends run on the broker thread and must answer from
 * memory (the mariadb back-end reads a snapshot kept by a background thread). */
#ifndef AUTH_BACKEND_H
#define AUTH_BACKEND_H

#include <stddef.h>

#include "snapshot.h"

enum backend_answer { BACKEND_ALLOW, BACKEND_DENY, BACKEND_DEFER, BACKEND_ERROR };

struct login {
	const char *username;
	const char *password;  /* NULL when the client sent none */
	const char *client_id;
	const char *address;
};

struct credential_backend {
	const char *name;
	/* Checks one login against snap (the plugin's current snapshot, NULL
	 * before the first load). On BACKEND_ALLOW, *role gets the user's role. */
	enum backend_answer (*check)(const struct snapshot *snap, const struct login *login,
			enum user_role *role);
};

/* Returns the back-end called name, or NULL when there is none. */
const struct credential_backend *backend_find(const char *name);

#endif
