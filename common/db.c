/* db.c: prepared-statement MariaDB helper; see db.h. With several servers
 * (opts.hosts) each connect walks the list from its top and keeps the first
 * server that is usable: for a Galera node, one that is ready (in the
 * primary component) and synced, so a joiner, a donor or a node cut off in
 * a minority partition is passed over. A connection that had to go down
 * the list tries the servers above it again every failback interval, at a
 * statement outside any transaction (failback_maybe). */
#include "db.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <errmsg.h>
#include <mysql.h>
#include <mysqld_error.h>

#include "clock.h"
#include "config.h"

#define STMT_CACHE_SIZE 64
#define MAX_SERVERS 16
#define FAILBACK_DEFAULT_S 30
/* Connect timeout for a server tried again by failback: one that is still
 * silently gone (a cut link) stalls the caller this long, not the full
 * timeout, each failback interval. */
#define FAILBACK_CONNECT_TIMEOUT_S 2

/* One server of the list: a unix socket, or host and port. */
struct db_server {
	char *host;
	char *socket;
	unsigned int port;
};

struct stmt_slot {
	const char *sql;
	MYSQL_STMT *stmt;
};

struct db {
	MYSQL *conn;
	struct db_opts opts;
	char *user, *password, *name;
	struct db_server servers[MAX_SERVERS];
	int nservers;
	int current;            /* index of the connected server, -1: none */
	bool in_txn;            /* between db_begin and db_commit/db_rollback */
	long long failback_ms;  /* interval of failback_maybe; <= 0: never */
	long long failback_at;  /* clock_mono_ms of its next try */
	char server_name[300];
	struct stmt_slot cache[STMT_CACHE_SIZE];
	char error[512];
};

static void set_error(struct db *db, const char *what, const char *detail)
{
	snprintf(db->error, sizeof(db->error), "%s: %s", what, detail ? detail : "unknown error");
}

static bool errno_is_gone(unsigned int code)
{
	return code == CR_SERVER_GONE_ERROR || code == CR_SERVER_LOST
		|| code == CR_CONNECTION_ERROR || code == CR_CONN_HOST_ERROR
		|| code == ER_CONNECTION_KILLED || code == CR_COMMANDS_OUT_OF_SYNC
		|| code == 4031 /* ER_CLIENT_INTERACTION_TIMEOUT */
		/* Galera: the node left the primary component ("WSREP has not
		 * yet prepared node for application use"), or lost it during a
		 * COMMIT, whose outcome is then unknown. Another node serves. */
		|| code == ER_UNKNOWN_COM_ERROR || code == ER_ERROR_DURING_COMMIT;
}

static void cache_clear(struct db *db)
{
	for(int i = 0; i < STMT_CACHE_SIZE; i++){
		if(db->cache[i].stmt) mysql_stmt_close(db->cache[i].stmt);
		db->cache[i].stmt = NULL;
		db->cache[i].sql = NULL;
	}
}

static void disconnect(struct db *db)
{
	cache_clear(db);
	if(db->conn) mysql_close(db->conn);
	db->conn = NULL;
	db->current = -1;
	db->in_txn = false;
}

/* Galera state of the connected server: wsrep_on, wsrep_ready, and
 * wsrep_local_state (4 = Synced). */
struct wsrep_state {
	bool galera, ready, synced;
};

static int wsrep_row(void *ud, int ncols, char **cols, unsigned long *lens)
{
	struct wsrep_state *state = ud;

	(void)lens;
	if(ncols == 3){
		state->galera = cols[0] && strcmp(cols[0], "1") == 0;
		state->ready = cols[1] && strcmp(cols[1], "ON") == 0;
		state->synced = cols[2] && strcmp(cols[2], "4") == 0;
	}
	return 1;
}

static const char sql_wsrep_state[] =
	"SELECT @@global.wsrep_on,"
	" (SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'WSREP_READY'),"
	" (SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'WSREP_LOCAL_STATE')";

/* True when the just connected server may take this db's statements: not a
 * Galera node, or one that is ready and synced. */
static bool server_usable(struct db *db, char *why, size_t whylen)
{
	struct wsrep_state state = { false, false, false };
	int rc;

	rc = db_exec(db, sql_wsrep_state, NULL, 0, wsrep_row, &state, NULL, NULL);
	if(rc == DB_ERROR && mysql_errno(db->conn) == ER_UNKNOWN_SYSTEM_VARIABLE) return true; /* no wsrep built in */
	if(rc != DB_OK){
		snprintf(why, whylen, "%.300s", db->error);
		return false;
	}
	if(!state.galera || (state.ready && state.synced)) return true;
	snprintf(why, whylen, "Galera node not %s", state.ready ? "synced" : "ready (not in the primary component)");
	return false;
}

static int connect_to(struct db *db, int index, bool probe, char *why, size_t whylen)
{
	const struct db_server *server = &db->servers[index];
	unsigned int timeout = db->opts.timeout_s ? db->opts.timeout_s : 10;
	unsigned int connect_timeout = timeout;
	int rc = DB_GONE;

	db->conn = mysql_init(NULL);
	if(!db->conn){
		snprintf(why, whylen, "out of memory");
		goto out;
	}
	if(probe && connect_timeout > FAILBACK_CONNECT_TIMEOUT_S) connect_timeout = FAILBACK_CONNECT_TIMEOUT_S;
	mysql_options(db->conn, MYSQL_OPT_CONNECT_TIMEOUT, &connect_timeout);
	mysql_options(db->conn, MYSQL_OPT_READ_TIMEOUT, &timeout);
	mysql_options(db->conn, MYSQL_OPT_WRITE_TIMEOUT, &timeout);
	mysql_options(db->conn, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	/* Every timestamp in and out of the database is UTC. */
	mysql_options(db->conn, MYSQL_INIT_COMMAND, "SET time_zone = '+00:00'");
	if(!mysql_real_connect(db->conn, server->host, db->user, db->password, db->name,
				server->port, server->socket, 0)){
		snprintf(why, whylen, "%s", mysql_error(db->conn));
		mysql_close(db->conn);
		db->conn = NULL;
		goto out;
	}
	db->current = index;
	/* Before server_usable's statement, which must not fail back. */
	db->failback_at = clock_mono_ms() + db->failback_ms;
	if(db->nservers > 1 && !server_usable(db, why, whylen)){
		disconnect(db);
		goto out;
	}
	rc = DB_OK;
out:
	return rc;
}

/* Writes "host:port" or the socket path of server into buf; returns buf. */
static const char *server_describe(const struct db_server *server, char *buf, size_t len)
{
	if(server->socket) snprintf(buf, len, "%s", server->socket);
	else snprintf(buf, len, "%s:%u", server->host ? server->host : "localhost", server->port);
	return buf;
}

/* Connects to the first usable server of the list; the servers above
 * index probe_above are tried with the short failback connect timeout. */
static int connect_now(struct db *db, int probe_above)
{
	char why[400];
	size_t at = 0;

	db->error[0] = '\0';
	for(int i = 0; i < db->nservers; i++){
		if(connect_to(db, i, i < probe_above, why, sizeof(why)) == DB_OK) return DB_OK;
		if(at < sizeof(db->error)){
			char name[300];

			at += (size_t)snprintf(db->error + at, sizeof(db->error) - at, "%sconnect to MariaDB %s: %s",
					i ? "; " : "", server_describe(&db->servers[i], name, sizeof(name)), why);
		}
	}
	if(db->nservers > 1 && at < sizeof(db->error)){
		snprintf(db->error + at, sizeof(db->error) - at, " (no usable server of %d)", db->nservers);
	}
	return DB_GONE;
}

/* Failback: connected below the top of the list, outside a transaction,
 * once the interval has passed: connects again from the top (the servers
 * above the current one with a short connect timeout), so every component
 * is back on the first server, the one writer, soon after it is usable
 * again. If none above is, it lands on the same server as before (or
 * another below; or none, and the statement reports DB_GONE as after any
 * lost connection). */
static void failback_maybe(struct db *db)
{
	int was = db->current;

	if(was <= 0 || db->in_txn || db->failback_ms <= 0 || clock_mono_ms() < db->failback_at) return;
	disconnect(db);
	(void)connect_now(db, was);
}

static char *dup_or_null(const char *s)
{
	return (s && *s) ? strdup(s) : NULL;
}

/* Fills db->servers from opts: the list in opts->hosts, else the one
 * host/port/socket. Returns 0, or -1 with a message in err. */
static int servers_parse(struct db *db, const struct db_opts *opts, char *err, size_t errlen)
{
	char *list = NULL, *item, *save = NULL;
	int rc = -1;

	if(!opts->hosts || !*opts->hosts){
		db->servers[0].host = dup_or_null(opts->host);
		db->servers[0].socket = dup_or_null(opts->socket);
		db->servers[0].port = opts->port;
		db->nservers = 1;
		rc = 0;
		goto out;
	}
	list = strdup(opts->hosts);
	if(!list){
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	for(item = strtok_r(list, ", \t", &save); item; item = strtok_r(NULL, ", \t", &save)){
		struct db_server *server = &db->servers[db->nservers];
		char *colon, *end = NULL;

		if(db->nservers == MAX_SERVERS){
			snprintf(err, errlen, "db hosts: more than %d servers", MAX_SERVERS);
			goto out;
		}
		server->port = opts->port ? opts->port : 3306;
		if(item[0] == '/'){
			server->socket = strdup(item);
		}else{
			colon = strrchr(item, ':');
			if(colon){
				unsigned long port = strtoul(colon + 1, &end, 10);

				if(colon == item || !colon[1] || *end || port < 1 || port > 65535){
					snprintf(err, errlen, "db hosts: \"%s\" is not host:port", item);
					goto out;
				}
				*colon = '\0';
				server->port = (unsigned int)port;
			}
			server->host = strdup(item);
		}
		if(!server->socket && !server->host){
			snprintf(err, errlen, "out of memory");
			goto out;
		}
		db->nservers++;
	}
	if(db->nservers == 0){
		snprintf(err, errlen, "db hosts: the list is empty");
		goto out;
	}
	rc = 0;
out:
	free(list);
	return rc;
}

struct db *db_open(const struct db_opts *opts, char *err, size_t errlen)
{
	struct db *db = calloc(1, sizeof(*db));

	if(!db){
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	db->opts = *opts;
	db->opts.hosts = db->opts.host = db->opts.socket = NULL; /* copied into servers */
	db->current = -1;
	db->failback_ms = opts->failback_s < 0 ? 0 : 1000LL * (opts->failback_s ? opts->failback_s : FAILBACK_DEFAULT_S);
	db->user = dup_or_null(opts->user);
	db->password = dup_or_null(opts->password);
	db->name = dup_or_null(opts->name);
	if(servers_parse(db, opts, err, errlen)){
		db_close(db);
		return NULL;
	}
	if(connect_now(db, 0) != DB_OK){
		snprintf(err, errlen, "%s", db->error);
		db_close(db);
		return NULL;
	}
	return db;
}

void db_close(struct db *db)
{
	if(!db) return;
	disconnect(db);
	for(int i = 0; i < db->nservers; i++){
		free(db->servers[i].host);
		free(db->servers[i].socket);
	}
	free(db->user);
	if(db->password){
		memset(db->password, 0, strlen(db->password));
		free(db->password);
	}
	free(db->name);
	free(db);
}

const char *db_error(const struct db *db)
{
	return db->error;
}

const char *db_server(struct db *db)
{
	if(db->current < 0) return "";
	return server_describe(&db->servers[db->current], db->server_name, sizeof(db->server_name));
}

static int classify(struct db *db, const char *what, unsigned int code, const char *message)
{
	set_error(db, what, message);
	if(code == ER_DUP_ENTRY) return DB_DUPLICATE;
	/* InnoDB rolled the transaction back; Galera reports a certification
	 * conflict (at COMMIT, or a local transaction aborted by a replicated
	 * one) the same way. */
	if(code == ER_LOCK_DEADLOCK) return DB_RETRY;
	/* A statement stopped by max_statement_time; inside InnoDB's full-text
	 * lookup the stop shows as handler error 188 (HA_ERR_ABORTED_BY_USER). */
	if(code == ER_STATEMENT_TIMEOUT || code == 188) return DB_TIMEOUT;
	if(errno_is_gone(code)){
		disconnect(db);
		return DB_GONE;
	}
	return DB_ERROR;
}

static MYSQL_STMT *stmt_get(struct db *db, const char *sql, int *rc)
{
	MYSQL_STMT *stmt;
	int free_slot = -1;

	for(int i = 0; i < STMT_CACHE_SIZE; i++){
		if(db->cache[i].sql == sql) return db->cache[i].stmt;
		if(!db->cache[i].sql && free_slot < 0) free_slot = i;
	}
	stmt = mysql_stmt_init(db->conn);
	if(!stmt){
		*rc = classify(db, "mysql_stmt_init", mysql_errno(db->conn), mysql_error(db->conn));
		return NULL;
	}
	if(mysql_stmt_prepare(stmt, sql, (unsigned long)strlen(sql))){
		*rc = classify(db, "prepare", mysql_stmt_errno(stmt), mysql_stmt_error(stmt));
		mysql_stmt_close(stmt);
		return NULL;
	}
	if(free_slot < 0){
		/* Full: a fixed set of queries never gets here; evict slot 0. */
		mysql_stmt_close(db->cache[0].stmt);
		free_slot = 0;
	}
	db->cache[free_slot].sql = sql;
	db->cache[free_slot].stmt = stmt;
	return stmt;
}

static int fetch_rows(struct db *db, MYSQL_STMT *stmt, MYSQL_RES *meta,
		db_row_fn row_fn, void *ud)
{
	unsigned int ncols = mysql_num_fields(meta);
	MYSQL_FIELD *fields = mysql_fetch_fields(meta);
	MYSQL_BIND *binds = NULL;
	char **cols = NULL;
	char **bufs = NULL;
	unsigned long *lens = NULL;
	my_bool *nulls = NULL;
	int rc = DB_ERROR;
	int fetched;

	if(mysql_stmt_store_result(stmt)){
		rc = classify(db, "store result", mysql_stmt_errno(stmt), mysql_stmt_error(stmt));
		goto out;
	}
	binds = calloc(ncols, sizeof(*binds));
	cols = calloc(ncols, sizeof(*cols));
	bufs = calloc(ncols, sizeof(*bufs));
	lens = calloc(ncols, sizeof(*lens));
	nulls = calloc(ncols, sizeof(*nulls));
	if(!binds || !cols || !bufs || !lens || !nulls){
		set_error(db, "fetch", "out of memory");
		goto out;
	}
	for(unsigned int i = 0; i < ncols; i++){
		unsigned long size = fields[i].max_length + 1;
		if(size < 64) size = 64;
		bufs[i] = malloc(size);
		if(!bufs[i]){
			set_error(db, "fetch", "out of memory");
			goto out;
		}
		binds[i].buffer_type = MYSQL_TYPE_STRING;
		binds[i].buffer = bufs[i];
		binds[i].buffer_length = size;
		binds[i].length = &lens[i];
		binds[i].is_null = &nulls[i];
	}
	if(mysql_stmt_bind_result(stmt, binds)){
		rc = classify(db, "bind result", mysql_stmt_errno(stmt), mysql_stmt_error(stmt));
		goto out;
	}
	while((fetched = mysql_stmt_fetch(stmt)) == 0 || fetched == MYSQL_DATA_TRUNCATED){
		if(fetched == MYSQL_DATA_TRUNCATED){
			set_error(db, "fetch", "column truncated");
			goto out;
		}
		for(unsigned int i = 0; i < ncols; i++){
			if(nulls[i]){
				cols[i] = NULL;
			}else{
				bufs[i][lens[i]] = '\0';
				cols[i] = bufs[i];
			}
		}
		if(row_fn && row_fn(ud, (int)ncols, cols, lens)) break;
	}
	if(fetched == 1){
		rc = classify(db, "fetch", mysql_stmt_errno(stmt), mysql_stmt_error(stmt));
		goto out;
	}
	rc = DB_OK;
out:
	mysql_stmt_free_result(stmt);
	if(bufs){
		for(unsigned int i = 0; i < ncols; i++) free(bufs[i]);
	}
	free(bufs);
	free(binds);
	free(cols);
	free(lens);
	free(nulls);
	return rc;
}

int db_exec(struct db *db, const char *sql, const struct db_param *params, int nparams,
		db_row_fn row_fn, void *ud, unsigned long long *affected,
		unsigned long long *insert_id)
{
	MYSQL_BIND small_binds[32];
	MYSQL_BIND *binds = small_binds;
	MYSQL_STMT *stmt;
	MYSQL_RES *meta = NULL;
	my_bool update_max = 1;
	int rc = DB_ERROR;

	failback_maybe(db);
	if(!db->conn){
		rc = connect_now(db, 0);
		if(rc != DB_OK) goto out;
	}
	if(nparams < 0 || nparams > DB_MAX_PARAMS){
		set_error(db, "db_exec", "too many parameters");
		rc = DB_ERROR;
		goto out;
	}
	/* Multi-row INSERTs (history-svc's group commit) bind hundreds. */
	if(nparams > 32 && !(binds = calloc((size_t)nparams, sizeof(*binds)))){
		set_error(db, "db_exec", "out of memory");
		rc = DB_ERROR;
		goto out;
	}
	stmt = stmt_get(db, sql, &rc);
	if(!stmt) goto out;
	if(mysql_stmt_param_count(stmt) != (unsigned long)nparams){
		set_error(db, "db_exec", "parameter count does not match the statement");
		rc = DB_ERROR;
		goto out;
	}
	memset(binds, 0, sizeof(*binds) * (size_t)(nparams > 32 ? nparams : 32));
	for(int i = 0; i < nparams; i++){
		switch(params[i].type){
		case DB_PARAM_STR:
			binds[i].buffer_type = MYSQL_TYPE_STRING;
			binds[i].buffer = (void *)params[i].str;
			binds[i].buffer_length = params[i].len;
			binds[i].length = (unsigned long *)&params[i].len;
			break;
		case DB_PARAM_I64:
			binds[i].buffer_type = MYSQL_TYPE_LONGLONG;
			binds[i].buffer = (void *)&params[i].i64;
			break;
		case DB_PARAM_NULL:
			binds[i].buffer_type = MYSQL_TYPE_NULL;
			break;
		}
	}
	if(nparams > 0 && mysql_stmt_bind_param(stmt, binds)){
		rc = classify(db, "bind", mysql_stmt_errno(stmt), mysql_stmt_error(stmt));
		goto out;
	}
	mysql_stmt_attr_set(stmt, STMT_ATTR_UPDATE_MAX_LENGTH, &update_max);
	if(mysql_stmt_execute(stmt)){
		rc = classify(db, "execute", mysql_stmt_errno(stmt), mysql_stmt_error(stmt));
		goto out;
	}
	if(affected) *affected = (unsigned long long)mysql_stmt_affected_rows(stmt);
	if(insert_id) *insert_id = (unsigned long long)mysql_stmt_insert_id(stmt);
	meta = mysql_stmt_result_metadata(stmt);
	if(meta){
		rc = fetch_rows(db, stmt, meta, row_fn, ud);
		goto out;
	}
	rc = DB_OK;
out:
	if(meta) mysql_free_result(meta);
	if(binds != small_binds) free(binds);
	return rc;
}

static int simple(struct db *db, const char *what, int failed)
{
	if(!failed) return DB_OK;
	return classify(db, what, mysql_errno(db->conn), mysql_error(db->conn));
}

int db_begin(struct db *db)
{
	int rc;

	failback_maybe(db);
	if(!db->conn && (rc = connect_now(db, 0)) != DB_OK) return rc;
	rc = simple(db, "begin", mysql_autocommit(db->conn, 0));
	if(rc == DB_OK) db->in_txn = true;
	return rc;
}

int db_commit(struct db *db)
{
	int rc;

	if(!db->conn){
		set_error(db, "commit", "connection lost");
		return DB_GONE;
	}
	rc = simple(db, "commit", mysql_commit(db->conn));
	if(rc == DB_OK) rc = simple(db, "autocommit", mysql_autocommit(db->conn, 1));
	db->in_txn = false;
	return rc;
}

int db_rollback(struct db *db)
{
	int rc;

	if(!db->conn) return DB_GONE;
	rc = simple(db, "rollback", mysql_rollback(db->conn));
	if(rc == DB_OK) rc = simple(db, "autocommit", mysql_autocommit(db->conn, 1));
	db->in_txn = false;
	return rc;
}

int db_opts_from_config(const struct config *cfg, const char *prefix,
		struct db_opts *opts, char *err, size_t errlen)
{
	char key[64];
	long port, failback;

	memset(opts, 0, sizeof(*opts));
#define GET(field, name) do { \
		snprintf(key, sizeof(key), "%s%s", prefix, name); \
		opts->field = config_get(cfg, key, NULL); \
	} while(0)
	GET(hosts, "hosts");
	GET(host, "host");
	GET(socket, "socket");
	GET(user, "user");
	GET(password, "password");
	GET(name, "name");
#undef GET
	snprintf(key, sizeof(key), "%sport", prefix);
	if(config_get_long(cfg, key, 3306, 1, 65535, &port, err, errlen)) return -1;
	opts->port = (unsigned int)port;
	snprintf(key, sizeof(key), "%sfailback_s", prefix);
	if(config_get_long(cfg, key, FAILBACK_DEFAULT_S, 0, 86400, &failback, err, errlen)) return -1;
	opts->failback_s = failback ? (int)failback : -1;
	if(!opts->user || !opts->name || (!opts->hosts && !opts->host && !opts->socket)){
		snprintf(err, errlen, "missing %suser, %sname and %shosts, %shost or %ssocket in the configuration",
				prefix, prefix, prefix, prefix, prefix);
		return -1;
	}
	return 0;
}
