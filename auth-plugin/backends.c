/* backends.c: the table of credential back-ends and what they share. */
#include "backend.h"

#include <string.h>

#include "pwhash.h"

extern const struct credential_backend backend_mariadb;
extern const struct credential_backend backend_file;
extern const struct credential_backend backend_http;

static const struct credential_backend *const backends[] = {
	&backend_mariadb, &backend_file, &backend_http,
};

const struct credential_backend *backend_find(const char *name)
{
	for(size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++){
		if(!strcmp(backends[i]->name, name)) return backends[i];
	}
	return NULL;
}

const char *backend_opt(struct mosquitto_opt *opts, int opt_count, const char *key)
{
	for(int i = 0; i < opt_count; i++){
		if(opts[i].key && !strcmp(opts[i].key, key)) return opts[i].value;
	}
	return NULL;
}

enum backend_answer backend_verify_password(const struct backend_env *env, const char *user,
		const char *password, const char *stored_hash)
{
	int verdict;

	if(!password) return BACKEND_DENY;
	if(login_cache_hit(env->cache, user, password, stored_hash, env->now)) return BACKEND_ALLOW;
	verdict = pwhash_verify(password, stored_hash);
	if(verdict < 0) return BACKEND_ERROR;
	if(verdict == 0) return BACKEND_DENY;
	login_cache_put(env->cache, user, password, stored_hash, env->now);
	return BACKEND_ALLOW;
}
