/* db.h: MariaDB access through prepared statements only (Connector/C).
 * Every query goes through db_exec with typed parameters; statements are
 * prepared once per connection and cached by the address of their SQL text,
 * so pass string literals (or strings that live as long as the db).
 *
 * Several servers (a Galera cluster, docs/ADMIN.md "Database cluster"):
 * opts.hosts lists them in the order every component uses; a connection
 * goes to the first one that answers and is a synced, primary cluster
 * member, so all components write through the same node while it lives.
 * A lost connection (DB_GONE) reconnects, again from the top of the list,
 * on the next statement. A connection below the top goes back up (failback)
 * at a statement outside a transaction, once per failback interval, when a
 * server above it is usable again. */
#ifndef CHAT_DB_H
#define CHAT_DB_H

#include <stdbool.h>
#include <stddef.h>

struct db;

struct db_opts {
	const char *hosts;      /* "h1:p1,h2:p2,/path/to.sock": several servers,
	                         * tried in this order (a port left out is port);
	                         * when set, host and socket are not used */
	const char *host;       /* NULL or "" with socket set: unix socket */
	unsigned int port;
	const char *socket;
	const char *user;
	const char *password;
	const char *name;       /* database name */
	unsigned int timeout_s; /* connect, read and write timeout; 0 = 10 s */
	int failback_s;         /* seconds between failback tries; 0 = 30 s,
	                         * negative: never */
};

enum db_result {
	DB_OK = 0,
	DB_ERROR = -1,      /* the query failed; see db_error */
	DB_DUPLICATE = -2,  /* a unique key refused the row */
	DB_GONE = -3,       /* the connection is lost, or its server left the
	                     * cluster (outcome of a COMMIT unknown); the next
	                     * statement reconnects, to the next server if need be */
	DB_RETRY = -4,      /* the server aborted the transaction (a deadlock or a
	                     * Galera certification conflict) and rolled it back:
	                     * run the whole transaction again */
	DB_TIMEOUT = -5,    /* the statement ran longer than its max_statement_time
	                     * and was stopped; the connection is fine */
};

enum db_param_type { DB_PARAM_STR, DB_PARAM_I64, DB_PARAM_NULL };

struct db_param {
	enum db_param_type type;
	const char *str;
	unsigned long len;
	long long i64;
};

#define DB_STR(s) ((struct db_param){ .type = DB_PARAM_STR, .str = (s), .len = (unsigned long)strlen(s) })
#define DB_STRN(s, n) ((struct db_param){ .type = DB_PARAM_STR, .str = (s), .len = (unsigned long)(n) })
#define DB_I64(v) ((struct db_param){ .type = DB_PARAM_I64, .i64 = (long long)(v) })

/* Called once per result row with the columns as NUL-terminated strings
 * (NULL where the column is SQL NULL) and their lengths; the strings are
 * valid only during the call. Return 0 to go on, non-zero to stop. */
typedef int (*db_row_fn)(void *ud, int ncols, char **cols, unsigned long *lens);

/* Connects with opts (the strings are copied). Returns a db the caller frees
 * with db_close, or NULL with a message in err. */
struct db *db_open(const struct db_opts *opts, char *err, size_t errlen);

/* Closes the connection, its cached statements and frees db; NULL allowed. */
void db_close(struct db *db);

/* Most parameters one statement may bind. */
#define DB_MAX_PARAMS 512

/* Runs sql with nparams parameters (at most DB_MAX_PARAMS); calls row_fn
 * for each result row when it is not NULL. *affected (when not NULL) gets
 * the affected-row count and *insert_id (when not NULL) the AUTO_INCREMENT
 * id. Returns a db_result. */

int db_exec(struct db *db, const char *sql, const struct db_param *params, int nparams,
		db_row_fn row_fn, void *ud, unsigned long long *affected,
		unsigned long long *insert_id);

/* Transactions: return DB_OK, DB_ERROR or DB_GONE. */
int db_begin(struct db *db);
int db_commit(struct db *db);
int db_rollback(struct db *db);

/* The last error message of this db; owned by db. */
const char *db_error(const struct db *db);

/* The server this db talks to now ("host:port" or the socket path), or ""
 * when disconnected; owned by db, valid until its next statement. */
const char *db_server(struct db *db);

/* Reads database settings "<prefix>hosts" (or "<prefix>host",
 * "<prefix>port", "<prefix>socket"), "<prefix>user", "<prefix>password",
 * "<prefix>name", "<prefix>failback_s" (0: never) from cfg into opts; the strings point into cfg. Returns 0, or -1 with a message when a required
 * key is missing. */
struct config;
int db_opts_from_config(const struct config *cfg, const char *prefix,
		struct db_opts *opts, char *err, size_t errlen);

#endif
