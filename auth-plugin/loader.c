/* loader.c: background snapshot loader for the auth plugin; see loader.h. */
#include "loader.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct loader {
	struct db_opts opts;
	char *hosts, *host, *socket, *user, *password, *name;
	long refresh_ms;
	pthread_t thread;
	bool thread_started;
	atomic_bool stopping;
	_Atomic(struct snapshot *) pending;
	unsigned long long loaded_version;
	bool loaded_once;
	struct db *db;
	pthread_mutex_t status_lock;
	char status[512];
	bool status_new;
	bool in_error;
	/* token ids that logged in, for last_used (loader_token_used) */
	pthread_mutex_t used_lock;
	char (*used)[TOKEN_ID_LEN + 1];
	size_t used_count;
};

static void set_status(struct loader *loader, bool is_error, const char *fmt, const char *detail)
{
	pthread_mutex_lock(&loader->status_lock);
	/* Report transitions, not every failed poll, so a dead database gives one
	 * line and its recovery another. */
	if(is_error != loader->in_error || !is_error){
		snprintf(loader->status, sizeof(loader->status), fmt, detail);
		loader->status_new = true;
	}
	loader->in_error = is_error;
	pthread_mutex_unlock(&loader->status_lock);
}

static int version_row(void *ud, int ncols, char **cols, unsigned long *lens)
{
	(void)lens;
	if(ncols >= 1 && cols[0]) *(unsigned long long *)ud = strtoull(cols[0], NULL, 10);
	return 0;
}

static int user_row(void *ud, int ncols, char **cols, unsigned long *lens)
{
	(void)lens;
	if(ncols == 4 && cols[0] && cols[1] && cols[2] && cols[3]){
		/* A row the plugin cannot use (bad name, unknown role) is skipped:
		 * that user simply cannot log in. */
		snapshot_add_user(ud, cols[0], cols[1], cols[2], strcmp(cols[3], "0") != 0);
	}
	return 0;
}

static int member_row(void *ud, int ncols, char **cols, unsigned long *lens)
{
	(void)lens;
	if(ncols == 2 && cols[0] && cols[1]) snapshot_add_member(ud, cols[0], cols[1]);
	return 0;
}

static int token_row(void *ud, int ncols, char **cols, unsigned long *lens)
{
	(void)lens;
	/* A row the plugin cannot use is skipped: that token cannot log in. */
	if(ncols == 6 && cols[0] && cols[1] && cols[2] && cols[5]){
		snapshot_add_token(ud, cols[0], cols[1], cols[2], cols[3] ? strtoll(cols[3], NULL, 10) : 0, cols[4], cols[5]);
	}
	return 0;
}

static const char sql_tokens[] =
	"SELECT t.id, u.username, t.secret_sha256, FLOOR(UNIX_TIMESTAMP(t.expires_at) * 1000), t.scope_rooms, t.scope_mode"
	" FROM tokens t JOIN users u ON u.id = t.user_id"
	" WHERE t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > NOW(3))";
/* last_used for up to USED_BATCH ids per statement (unused places repeat
 * the first id): one round trip per batch, not per login, after a storm. */
#define USED_BATCH 256
#define Q8 "?,?,?,?,?,?,?,?,"
#define Q64 Q8 Q8 Q8 Q8 Q8 Q8 Q8 Q8
static const char sql_token_used[] = "UPDATE tokens SET last_used = NOW(3) WHERE id IN (" Q64 Q64 Q64 Q64 "NULL)";

/* Writes last_used for the token ids noted since the last poll. A failure
 * loses those notes (last_used is informative) and reports the error. */
static int flush_used(struct loader *loader)
{
	char (*ids)[TOKEN_ID_LEN + 1] = NULL;
	struct db_param params[USED_BATCH];
	size_t count = 0;
	int rc = 0;

	pthread_mutex_lock(&loader->used_lock);
	if(loader->used_count){
		ids = loader->used;
		count = loader->used_count;
		loader->used = NULL;
		loader->used_count = 0;
	}
	pthread_mutex_unlock(&loader->used_lock);
	for(size_t first = 0; first < count && rc == 0; first += USED_BATCH){
		for(size_t k = 0; k < USED_BATCH; k++) params[k] = DB_STR(ids[first + k < count ? first + k : first]);
		if(db_exec(loader->db, sql_token_used, params, USED_BATCH, NULL, NULL, NULL, NULL) != DB_OK) rc = -1;
	}
	free(ids);
	return rc;
}

void loader_token_used(struct loader *loader, const char *id)
{
	pthread_mutex_lock(&loader->used_lock);
	if(!loader->used) loader->used = calloc(LOADER_USED_MAX, sizeof(*loader->used));
	if(loader->used && loader->used_count < LOADER_USED_MAX){
		memcpy(loader->used[loader->used_count++], id, TOKEN_ID_LEN + 1); /* a valid id: 16 characters and a NUL */
	}
	pthread_mutex_unlock(&loader->used_lock);
}

static const char sql_version[] = "SELECT version FROM auth_version WHERE id = 1";
static const char sql_users[] = "SELECT username, pw_hash, role, disabled FROM users";
static const char sql_members[] =
	"SELECT r.name, u.username FROM room_members m"
	" JOIN rooms r ON r.id = m.room_id JOIN users u ON u.id = m.user_id";

/* One poll: returns 0 when up to date or reloaded, -1 on a database error. */
static int poll_once(struct loader *loader)
{
	struct snapshot *snap = NULL;
	struct snapshot *old;
	unsigned long long version = 0;
	char err[384];
	int rc = -1;

	if(!loader->db){
		loader->db = db_open(&loader->opts, err, sizeof(err));
		if(!loader->db){
			set_status(loader, true, "chat-auth: cannot reach MariaDB, keeping the last snapshot: %s", err);
			goto out;
		}
	}
	if(db_exec(loader->db, sql_version, NULL, 0, version_row, &version, NULL, NULL) != DB_OK) goto db_failed;
	if(loader->loaded_once && version == loader->loaded_version){
		if(flush_used(loader)) goto db_failed;
		rc = 0;
		goto out;
	}
	snap = snapshot_new(version);
	if(!snap) goto out;
	/* Read every table in one consistent view (InnoDB repeatable read). */
	if(db_begin(loader->db) != DB_OK) goto db_failed;
	if(db_exec(loader->db, sql_users, NULL, 0, user_row, snap, NULL, NULL) != DB_OK) goto db_failed;
	if(db_exec(loader->db, sql_members, NULL, 0, member_row, snap, NULL, NULL) != DB_OK) goto db_failed;
	if(db_exec(loader->db, sql_tokens, NULL, 0, token_row, snap, NULL, NULL) != DB_OK) goto db_failed;
	if(db_commit(loader->db) != DB_OK) goto db_failed;
	loader->loaded_version = version;
	loader->loaded_once = true;
	old = atomic_exchange(&loader->pending, snap);
	snapshot_free(old); /* never adopted: the broker thread did not see it */
	snap = NULL;
	set_status(loader, false, "chat-auth: loaded users, memberships and tokens (%s)", "database version changed");
	/* After the new snapshot is handed over: a revocation is never late
	 * for last_used's sake. */
	if(flush_used(loader)) goto db_failed;
	rc = 0;
	goto out;
db_failed:
	set_status(loader, true, "chat-auth: MariaDB query failed, keeping the last snapshot: %s", db_error(loader->db));
	db_close(loader->db);
	loader->db = NULL;
out:
	snapshot_free(snap);
	return rc;
}

static void *loader_main(void *arg)
{
	struct loader *loader = arg;
	long waited_ms = 0;

	while(!atomic_load(&loader->stopping)){
		/* Sleep in short steps so that broker shutdown is never delayed by
		 * more than 50 ms. */
		struct timespec step = { 0, 50 * 1000000L };
		nanosleep(&step, NULL);
		waited_ms += 50;
		if(waited_ms < loader->refresh_ms) continue;
		waited_ms = 0;
		poll_once(loader);
	}
	return NULL;
}

static char *dup_opt(const char *s)
{
	return s ? strdup(s) : NULL;
}

struct loader *loader_start(const struct db_opts *opts, long refresh_ms, char *err, size_t errlen)
{
	struct loader *loader = calloc(1, sizeof(*loader));

	if(!loader){
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&loader->status_lock, NULL);
	pthread_mutex_init(&loader->used_lock, NULL);
	atomic_init(&loader->pending, NULL);
	atomic_init(&loader->stopping, false);
	loader->hosts = dup_opt(opts->hosts);
	loader->host = dup_opt(opts->host);
	loader->socket = dup_opt(opts->socket);
	loader->user = dup_opt(opts->user);
	loader->password = dup_opt(opts->password);
	loader->name = dup_opt(opts->name);
	loader->opts = *opts;
	loader->opts.hosts = loader->hosts;
	loader->opts.host = loader->host;
	loader->opts.socket = loader->socket;
	loader->opts.user = loader->user;
	loader->opts.password = loader->password;
	loader->opts.name = loader->name;
	if(!loader->opts.timeout_s) loader->opts.timeout_s = 5;
	loader->refresh_ms = refresh_ms;
	poll_once(loader);
	if(pthread_create(&loader->thread, NULL, loader_main, loader)){
		snprintf(err, errlen, "cannot start the loader thread");
		loader_stop(loader);
		return NULL;
	}
	loader->thread_started = true;
	return loader;
}

int loader_adopt(struct loader *loader, struct snapshot **current, struct snapshot **old)
{
	struct snapshot *fresh;

	if(!atomic_load_explicit(&loader->pending, memory_order_relaxed)) return 0;
	fresh = atomic_exchange(&loader->pending, NULL);
	if(!fresh) return 0;
	*old = *current;
	*current = fresh;
	return 1;
}

int loader_take_status(struct loader *loader, char *buf, size_t len)
{
	int taken = 0;

	pthread_mutex_lock(&loader->status_lock);
	if(loader->status_new){
		snprintf(buf, len, "%s", loader->status);
		loader->status_new = false;
		taken = 1;
	}
	pthread_mutex_unlock(&loader->status_lock);
	return taken;
}

void loader_stop(struct loader *loader)
{
	if(!loader) return;
	atomic_store(&loader->stopping, true);
	if(loader->thread_started) pthread_join(loader->thread, NULL);
	snapshot_free(atomic_exchange(&loader->pending, NULL));
	db_close(loader->db);
	free(loader->hosts);
	free(loader->host);
	free(loader->socket);
	free(loader->user);
	if(loader->password){
		memset(loader->password, 0, strlen(loader->password));
		free(loader->password);
	}
	free(loader->name);
	pthread_mutex_destroy(&loader->status_lock);
	pthread_mutex_destroy(&loader->used_lock);
	free(loader->used);
	free(loader);
}
