/* backend_mariadb.c: the "mariadb" credential back-end: users, roles,
 * disabled flags and PBKDF2-SHA512 hashes from the users table, read from the
 * snapshot that the loader thread keeps in memory (loader.c). Its database
 * options are the plugin's own (plugin_opt_db_*), read by plugin.c. */
#include "backend.h"

static enum backend_answer mariadb_check(void *state, const struct backend_env *env,
		const struct login *login, enum user_role *role)
{
	const struct snapshot_user *user;
	enum backend_answer answer;

	(void)state;
	if(!env->snap) return BACKEND_ERROR; /* nothing loaded yet: cannot decide */
	user = snapshot_user(env->snap, login->username);
	if(!user) return BACKEND_DEFER;
	if(user->disabled) return BACKEND_DENY;
	answer = backend_verify_password(env, user->name, login->password, user->pw_hash);
	if(answer == BACKEND_ALLOW) *role = user->role;
	return answer;
}

static enum backend_answer mariadb_cached(void *state, const struct backend_env *env,
		const struct login *login, enum user_role *role)
{
	const struct snapshot_user *user;

	(void)state;
	user = snapshot_user(env->snap, login->username);
	if(!user) return BACKEND_DEFER;
	if(user->disabled || !login->password
			|| !login_cache_hit(env->cache, user->name, login->password, user->pw_hash, env->now)){
		return BACKEND_DENY;
	}
	*role = user->role;
	return BACKEND_ALLOW;
}

const struct credential_backend backend_mariadb = {
	.name = "mariadb",
	.roles_in_snapshot = true,
	.check = mariadb_check,
	.cached = mariadb_cached,
};
