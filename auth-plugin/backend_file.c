/* backend_file.c: the "file" credential back-end: a password file in
 * mosquitto_passwd's format ("user:$7$..." or "user:$6$..." lines), so that
 * an admin keeps using `mosquitto_passwd` as they already do.
 *   plugin_opt_password_file /etc/mosquitto/passwd
 * Read at start and again on SIGHUP (MOSQ_EVT_RELOAD); a file that cannot be
 * read at start refuses to start the broker, at reload keeps the old users.
 * Users from this file have the role "user". */
#include "backend.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <uthash.h>

#include "names.h"
#include "plugin_alloc.h"
#include "pwhash.h"

#define LINE_MAX_LEN 1024

struct file_user {
	char name[NAME_USER_MAX + 1];
	char hash[PWHASH_MAX_LEN];
	UT_hash_handle hh;
};

struct file_state {
	char path[4096];
	struct file_user *users;
};

static void users_free(struct file_user *users)
{
	struct file_user *user, *tmp;

	HASH_ITER(hh, users, user, tmp){
		HASH_DEL(users, user);
		memset(user->hash, 0, sizeof(user->hash));
		plugin_free(user);
	}
}

/* Reads path into a new table. Returns 0 with *out set, or -1 with err. */
static int read_file(const char *path, struct file_user **out, char *err, size_t errlen)
{
	struct file_user *users = NULL;
	struct file_user *user = NULL;
	char line[LINE_MAX_LEN];
	FILE *fp = NULL;
	int lineno = 0;
	int skipped = 0;
	int rc = -1;

	fp = fopen(path, "r");
	if(!fp){
		snprintf(err, errlen, "cannot read password file %s: %s", path, strerror(errno));
		goto out;
	}
	while(fgets(line, sizeof(line), fp)){
		char *colon, *hash;
		size_t len = strlen(line);

		lineno++;
		while(len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = '\0';
		if(len == 0 || line[0] == '#') continue;
		colon = strchr(line, ':');
		hash = colon ? colon + 1 : NULL;
		if(colon) *colon = '\0';
		if(!colon || !name_user_valid(line) || strlen(hash) >= PWHASH_MAX_LEN
				|| (strncmp(hash, "$7$", 3) && strncmp(hash, "$6$", 3))){
			/* Never echo the line: it may hold a plaintext password. */
			mosquitto_log_printf(MOSQ_LOG_WARNING, "chat-auth: %s:%d: not a \"user:$7$...\" or \"user:$6$...\" line; skipped",
					path, lineno);
			skipped++;
			continue;
		}
		HASH_FIND_STR(users, line, user);
		if(!user){
			user = plugin_calloc(1, sizeof(*user));
			if(!user){
				snprintf(err, errlen, "out of memory reading %s", path);
				goto out;
			}
			/* Both lengths were checked above (name_user_valid, PWHASH_MAX_LEN). */
			memcpy(user->name, line, strlen(line) + 1);
			HASH_ADD_STR(users, name, user);
		}
		memcpy(user->hash, hash, strlen(hash) + 1);
	}
	memset(line, 0, sizeof(line));
	mosquitto_log_printf(MOSQ_LOG_INFO, "chat-auth: password file %s: %u users, %d lines skipped",
			path, HASH_COUNT(users), skipped);
	*out = users;
	users = NULL;
	rc = 0;
out:
	if(fp) fclose(fp);
	users_free(users);
	return rc;
}

static int file_init(void **state, struct mosquitto_opt *opts, int opt_count, char *err, size_t errlen)
{
	struct file_state *fs = NULL;
	const char *path = backend_opt(opts, opt_count, "password_file");
	int rc = -1;

	*state = NULL;
	if(!path){
		snprintf(err, errlen, "the file back-end needs plugin_opt_password_file");
		goto out;
	}
	fs = plugin_calloc(1, sizeof(*fs));
	if(!fs){
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	if(strlen(path) >= sizeof(fs->path)){
		snprintf(err, errlen, "plugin_opt_password_file is too long");
		goto out;
	}
	snprintf(fs->path, sizeof(fs->path), "%s", path);
	if(read_file(fs->path, &fs->users, err, errlen)) goto out;
	*state = fs;
	fs = NULL;
	rc = 0;
out:
	if(fs) plugin_free(fs);
	return rc;
}

static enum backend_answer file_check(void *state, const struct backend_env *env,
		const struct login *login, enum user_role *role)
{
	struct file_state *fs = state;
	struct file_user *user = NULL;
	enum backend_answer answer;

	HASH_FIND_STR(fs->users, login->username, user);
	if(!user) return BACKEND_DEFER;
	answer = backend_verify_password(env, user->name, login->password, user->hash);
	if(answer == BACKEND_ALLOW) *role = ROLE_USER;
	return answer;
}

static enum backend_answer file_cached(void *state, const struct backend_env *env,
		const struct login *login, enum user_role *role)
{
	struct file_state *fs = state;
	struct file_user *user = NULL;

	HASH_FIND_STR(fs->users, login->username, user);
	if(!user) return BACKEND_DEFER;
	if(!login->password || !login_cache_hit(env->cache, user->name, login->password, user->hash, env->now)){
		return BACKEND_DENY;
	}
	*role = ROLE_USER;
	return BACKEND_ALLOW;
}

static int file_reload(void *state, char *err, size_t errlen)
{
	struct file_state *fs = state;
	struct file_user *fresh = NULL;

	if(read_file(fs->path, &fresh, err, errlen)) return -1;
	users_free(fs->users);
	fs->users = fresh;
	return 0;
}

static void file_cleanup(void *state)
{
	struct file_state *fs = state;

	if(!fs) return;
	users_free(fs->users);
	plugin_free(fs);
}

const struct credential_backend backend_file = {
	.name = "file",
	.init = file_init,
	.check = file_check,
	.cached = file_cached,
	.reload = file_reload,
	.cleanup = file_cleanup,
};
