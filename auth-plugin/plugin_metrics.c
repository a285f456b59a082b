/* plugin_metrics.c: the plugin's metrics; see plugin_metrics.h. The set of
 * accepted connections (for the open-connections gauge, so that a refused
 * login's disconnect does not lower it) lives here, on the broker thread. */
#include "plugin_metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <uthash.h>

#include "acl.h"
#include "metrics.h"
#include "plugin_alloc.h"

struct open_conn {
	const void *conn;
	UT_hash_handle hh;
};

struct plugin_metrics {
	struct metrics *registry;
	struct metric *connections_open;
	struct metric *logins_accepted;
	struct metric *token_logins;
	struct metric *logins_refused[REFUSED_REASON_COUNT];
	struct metric *acl[3][4]; /* outcome x access (read, write, subscribe, unsubscribe) */
	struct metric *flood_locks[2];
	struct metric *snapshot_version;
	struct metric *snapshot_users;
	struct metric *snapshot_loaded;
	struct metric *messages;
	struct metric *send_limited[2]; /* room message, request */
	struct open_conn *open; /* broker thread only */
};

static const char *const refusal_names[REFUSED_REASON_COUNT] = {
	[REFUSED_BAD_PASSWORD] = "bad_password",
	[REFUSED_UNKNOWN_USER] = "unknown_user",
	[REFUSED_INVALID_NAME] = "invalid_name",
	[REFUSED_USER_LOCKED] = "user_locked",
	[REFUSED_ADDRESS_LOCKED] = "address_locked",
	[REFUSED_SLOWED] = "slowed",
	[REFUSED_BUSY] = "busy",
	[REFUSED_CLIENTID_TAKEN] = "clientid_taken",
	[REFUSED_BACKEND_ERROR] = "backend_error",
	[REFUSED_NO_MEMORY] = "out_of_memory",
	[REFUSED_TOKEN] = "token",
};

static const char *const access_names[4] = { "read", "write", "subscribe", "unsubscribe" };

/* Seconds since the snapshot in force was adopted; -1 before the first. On
 * the server's thread: reads one atomic. */
static double snapshot_age(void *arg)
{
	struct plugin_metrics *pm = arg;
	double loaded = metric_value(pm->snapshot_loaded);

	return loaded > 0 ? (double)time(NULL) - loaded : -1;
}

struct plugin_metrics *plugin_metrics_start(const char *bind, long port, char *err, size_t errlen)
{
	static const char *const outcome_names[3] = { "chat_auth_acl_allowed_total", "chat_auth_acl_denied_total",
		"chat_auth_acl_deferred_total" };
	static const char *const outcome_help[3] = {
		"ACL checks this plugin allowed, by access kind.",
		"ACL checks this plugin denied, by access kind.",
		"ACL checks this plugin left to other plugins (the broker denies when all defer), by access kind." };
	struct plugin_metrics *pm = NULL;
	struct plugin_metrics *rc = NULL;
	struct metrics *r;

	if(errlen) err[0] = '\0';
	if(port <= 0) goto out;
	/* libc memory: the server's thread reads it, never the broker's allocator. */
	pm = calloc(1, sizeof(*pm));
	if(!pm || !(pm->registry = metrics_new())){
		snprintf(err, errlen, "metrics: out of memory");
		goto out;
	}
	r = pm->registry;
	pm->connections_open = metrics_gauge(r, "chat_auth_connections_open",
			"Connections whose login this plugin accepted and that are still open.", NULL, NULL);
	pm->logins_accepted = metrics_counter(r, "chat_auth_logins_accepted_total",
			"Logins this plugin accepted.", NULL, NULL);
	pm->token_logins = metrics_counter(r, "chat_auth_logins_accepted_token_total",
			"Logins this plugin accepted with a token (counted in chat_auth_logins_accepted_total too).", NULL, NULL);
	for(int i = 0; i < REFUSED_REASON_COUNT; i++){
		pm->logins_refused[i] = metrics_counter(r, "chat_auth_logins_refused_total",
				"Logins refused (or, for unknown_user, left to other plugins), by reason.", "reason", refusal_names[i]);
	}
	for(int o = 0; o < 3; o++){
		for(int a = 0; a < 4; a++){
			pm->acl[o][a] = metrics_counter(r, outcome_names[o], outcome_help[o], "access", access_names[a]);
		}
	}
	pm->flood_locks[0] = metrics_counter(r, "chat_auth_flood_locks_total",
			"Times the flood protection locked a user name or an address.", "key", "user");
	pm->flood_locks[1] = metrics_counter(r, "chat_auth_flood_locks_total",
			"Times the flood protection locked a user name or an address.", "key", "address");
	pm->snapshot_version = metrics_gauge(r, "chat_auth_snapshot_version",
			"auth_version of the users/rooms snapshot in force (0: none loaded).", NULL, NULL);
	pm->snapshot_users = metrics_gauge(r, "chat_auth_snapshot_users",
			"Users in the snapshot in force.", NULL, NULL);
	pm->snapshot_loaded = metrics_gauge(r, "chat_auth_snapshot_loaded_timestamp_seconds",
			"Unix time the snapshot in force was built and adopted (0: none).", NULL, NULL);
	metrics_gauge_fn(r, "chat_auth_snapshot_age_seconds",
			"Seconds since the snapshot in force was adopted (-1: none yet). Grows while nothing changes users or memberships.",
			NULL, NULL, snapshot_age, pm);
	pm->messages = metrics_counter(r, "chat_auth_messages_total",
			"Messages the broker accepted (publishes from clients and bridges).", NULL, NULL);
	pm->send_limited[0] = metrics_counter(r, "chat_auth_send_limited_total",
			"Publishes refused by the per-user send rate limit, by kind.", "kind", "room_message");
	pm->send_limited[1] = metrics_counter(r, "chat_auth_send_limited_total",
			"Publishes refused by the per-user send rate limit, by kind.", "kind", "request");
	if(!pm->connections_open || !pm->messages || !pm->snapshot_loaded || !pm->send_limited[1]){
		snprintf(err, errlen, "metrics: out of memory");
		goto out;
	}
	if(metrics_serve(r, bind, (int)port, err, errlen)) goto out;
	rc = pm;
	pm = NULL;
out:
	plugin_metrics_stop(pm);
	return rc;
}

void plugin_metrics_login_accepted(struct plugin_metrics *pm, const void *conn)
{
	struct open_conn *entry = NULL;

	if(!pm) return;
	metric_inc(pm->logins_accepted);
	HASH_FIND_PTR(pm->open, &conn, entry);
	if(entry) return;
	entry = plugin_calloc(1, sizeof(*entry));
	if(!entry) return; /* the gauge then undercounts; nothing else is affected */
	entry->conn = conn;
	HASH_ADD_PTR(pm->open, conn, entry);
	metric_gauge_add(pm->connections_open, 1);
}

void plugin_metrics_token_login(struct plugin_metrics *pm)
{
	if(!pm) return;
	metric_inc(pm->token_logins);
}

void plugin_metrics_login_refused(struct plugin_metrics *pm, enum login_refusal reason)
{
	if(!pm || (unsigned)reason >= REFUSED_REASON_COUNT) return;
	metric_inc(pm->logins_refused[reason]);
}

void plugin_metrics_disconnected(struct plugin_metrics *pm, const void *conn)
{
	struct open_conn *entry = NULL;

	if(!pm) return;
	HASH_FIND_PTR(pm->open, &conn, entry);
	if(!entry) return;
	HASH_DEL(pm->open, entry);
	plugin_free(entry);
	metric_gauge_add(pm->connections_open, -1);
}

void plugin_metrics_acl(struct plugin_metrics *pm, int access, enum acl_outcome outcome)
{
	int a;

	if(!pm) return;
	switch(access){
	case ACL_READ: a = 0; break;
	case ACL_WRITE: a = 1; break;
	case ACL_SUBSCRIBE: a = 2; break;
	case ACL_UNSUBSCRIBE: a = 3; break;
	default: return;
	}
	metric_inc(pm->acl[outcome][a]);
}

void plugin_metrics_flood_locked(struct plugin_metrics *pm, bool address)
{
	if(!pm) return;
	metric_inc(pm->flood_locks[address ? 1 : 0]);
}

void plugin_metrics_snapshot(struct plugin_metrics *pm, unsigned long long version, unsigned long users)
{
	if(!pm) return;
	metric_set(pm->snapshot_version, (double)version);
	metric_set(pm->snapshot_users, (double)users);
	metric_set(pm->snapshot_loaded, (double)time(NULL));
}

void plugin_metrics_message(struct plugin_metrics *pm)
{
	if(!pm) return;
	metric_inc(pm->messages);
}

void plugin_metrics_send_limited(struct plugin_metrics *pm, bool request)
{
	if(!pm) return;
	metric_inc(pm->send_limited[request ? 1 : 0]);
}

void plugin_metrics_stop(struct plugin_metrics *pm)
{
	struct open_conn *entry, *tmp;

	if(!pm) return;
	/* The server stops first: nothing reads pm after this. */
	metrics_free(pm->registry);
	HASH_ITER(hh, pm->open, entry, tmp){
		HASH_DEL(pm->open, entry);
		plugin_free(entry);
	}
	free(pm);
}
