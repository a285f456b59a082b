/* backend_mariadb.c: the "mariadb" credential back-end: users, roles and
 * PBKDF2-SHA512 hashes from the users table, read from the snapshot that the
 * loader thread keeps in memory. Also holds the back-end table. */
#include "backend.h"

#include <string.h>

static enum backend_answer mariadb_check(const struct snapshot *snap, const struct login *login,
		enum user_role *role)
{
	const struct snapshot_user *user;
	int verdict;

	if(!snap) return BACKEND_ERROR; /* nothing loaded yet: cannot decide */
	user = snapshot_user(snap, login->username);
	if(!user) return BACKEND_DEFER;
	if(user->disabled || !login->password) return BACKEND_DENY;
	verdict = pwhash_verify(login->password, user->pw_hash);
	if(verdict < 0) return BACKEND_ERROR;
	if(verdict == 0) return BACKEND_DENY;
	*role = user->role;
	return BACKEND_ALLOW;
}

static const struct credential_backend backends[] = {
	{ .name = "mariadb", .check = mariadb_check },
};

const struct credential_backend *backend_find(const char *name)
{
	for(size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++){
		if(!strcmp(backends[i].name, name)) return &backends[i];
	}
	return NULL;
}
