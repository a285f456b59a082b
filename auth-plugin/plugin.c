/* plugin.c: chat-auth, a Mosquitto 2.0 plugin (v5 API) loaded into every
 * broker node:
 *   plugin /path/to/chat_auth.so
 *   plugin_opt_node leaf1
 *   plugin_opt_db_host 127.0.0.1   plugin_opt_db_port 3306   (or plugin_opt_db_socket,
 *   or plugin_opt_db_hosts h1:p1,h2:p2,h3:p3 for a Galera cluster)
 *   plugin_opt_db_user ...  plugin_opt_db_password ...  plugin_opt_db_name ...
 * and the optional ones in docs/ADMIN.md (back-ends, login cache, flood
 * protection, ACL file). It checks logins through a chain of back-ends,
 * decides every publish and subscribe (chat rules, then the admin's ACL
 * file), and reports connects and disconnects for presence-svc. Everything
 * here runs on the broker's only thread and answers from memory; MariaDB is
 * read by the loader thread (loader.c). A missing or bad option refuses to
 * start the broker; an internal error never allows. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>
#include <uthash.h>

#include "acl.h"
#include "acl_file.h"
#include "backend.h"
#include "clientid_owner.h"
#include "clientid_store.h"
#include "conn_events.h"
#include "flood.h"
#include "loader.h"
#include "login_cache.h"
#include "names.h"
#include "plugin_metrics.h"
#include "plugin_opts.h"
#include "send_rate.h"
#include "snapshot.h"
#include "token.h"
#include "token_conns.h"
#include "token_login.h"
#include "clock.h"

/* Mosquitto 2.0.11 turns a BASIC_AUTH answer into a CONNACK thus
 * (src/handle_connect.c): MOSQ_ERR_SUCCESS accepts (0); MOSQ_ERR_AUTH, or
 * every plugin deferring, sends "not authorised" (3.1.1: 5, MQTT 5: 0x87);
 * any other value closes the connection without a CONNACK. No value sends
 * "server unavailable" (3) or "server busy" (0x89), so a login refused
 * without its password being checked gets no CONNACK: clients treat that as
 * a connection failure and retry, instead of asking for the password. */
#define REFUSED_NOT_AUTHORISED MOSQ_ERR_AUTH
#define REFUSED_TRY_LATER MOSQ_ERR_CONN_REFUSED

/* Clients logged in as admins by a back-end whose roles are not in the
 * snapshot (see roles_in_snapshot in backend.h). */
struct admin_client {
	struct mosquitto *client;
	UT_hash_handle hh;
};

struct plugin_state {
	mosquitto_plugin_id_t *id;
	struct plugin_opts opts;
	char backend_names[256];
	const struct credential_backend *backends[PLUGIN_MAX_BACKENDS];
	void *backend_states[PLUGIN_MAX_BACKENDS];
	struct loader *loader;
	struct snapshot *snap;
	struct conn_events *events;
	struct login_cache *cache;
	struct flood *flood;
	struct acl_file *acl_file;
	struct admin_client *admins;
	struct clientid_owners *owners;
	struct plugin_metrics *metrics; /* NULL when metrics are off */
	struct send_rate *send_rate;
	struct token_conns *token_conns;
	long last_expire;
	long last_token_expire;
	long last_owners_save;
};

static struct plugin_state state;

/* Disconnects users the new snapshot disables: a disabled account must not
 * keep a session it opened before. */
static void kick_disabled(const struct snapshot *old, const struct snapshot *fresh)
{
	const struct snapshot_user *user, *tmp, *before;

	HASH_ITER(hh, fresh->users, user, tmp){
		if(!user->disabled) continue;
		before = snapshot_user(old, user->name);
		if(before && !before->disabled){
			mosquitto_log_printf(MOSQ_LOG_NOTICE, "chat-auth: %s was disabled; disconnecting their clients", user->name);
			mosquitto_kick_client_by_username(user->name, false);
		}
	}
}

static void kick_token_client(const char *client_id)
{
	mosquitto_kick_client_by_clientid(client_id, false);
}

/* Adopts a newer snapshot and reports loader status, on the broker thread. */
static void refresh(void)
{
	struct snapshot *old = NULL;
	char status[512];
	size_t kicked;

	if(loader_adopt(state.loader, &state.snap, &old)){
		mosquitto_log_printf(MOSQ_LOG_INFO, "chat-auth: snapshot version %llu: %lu users, %lu memberships",
				state.snap->version, state.snap->user_count, state.snap->membership_count);
		plugin_metrics_snapshot(state.metrics, state.snap->version, state.snap->user_count);
		if(old) kick_disabled(old, state.snap);
		/* Before old is freed: the entries still point into it. */
		kicked = token_conns_rebind(state.token_conns, state.snap, clock_wall_ms(), kick_token_client);
		if(kicked){
			mosquitto_log_printf(MOSQ_LOG_NOTICE, "chat-auth: disconnected %zu connections whose token was revoked, "
					"expired or whose user was disabled", kicked);
		}
		snapshot_free(old);
	}
	while(loader_take_status(state.loader, status, sizeof(status))){
		mosquitto_log_printf(MOSQ_LOG_NOTICE, "%s", status);
	}
}

static void admin_remember(struct mosquitto *client)
{
	struct admin_client *entry = NULL;

	HASH_FIND_PTR(state.admins, &client, entry);
	if(entry) return;
	entry = mosquitto_calloc(1, sizeof(*entry));
	if(!entry) return; /* then this admin gets user rights only: never more */
	entry->client = client;
	HASH_ADD_PTR(state.admins, client, entry);
}

static void admin_forget(struct mosquitto *client)
{
	struct admin_client *entry = NULL;

	HASH_FIND_PTR(state.admins, &client, entry);
	if(!entry) return;
	HASH_DEL(state.admins, entry);
	mosquitto_free(entry);
}

/* Asks the back-ends in order, from their login caches only (cached_only)
 * or fully. Returns the first answer that is not a defer (-1 when all
 * defer), with the answering back-end's index in *which. */
static int ask_backends(const struct backend_env *env, const struct login *login, bool cached_only,
		enum user_role *role, int *which)
{
	for(int i = 0; i < state.opts.backend_count; i++){
		const struct credential_backend *backend = state.backends[i];
		enum backend_answer answer;

		if(cached_only){
			answer = backend->cached ? backend->cached(state.backend_states[i], env, login, role) : BACKEND_DEFER;
		}else{
			answer = backend->check(state.backend_states[i], env, login, role);
		}
		if(answer == BACKEND_DEFER) continue;
		if(answer == BACKEND_ERROR && !cached_only){
			mosquitto_log_printf(MOSQ_LOG_WARNING, "chat-auth: back-end %s could not check user %s; refused",
					backend->name, login->username);
		}
		*which = i;
		return (int)answer;
	}
	return -1;
}

/* Logs a login refused by the flood protection, at most ten lines a second
 * for each kind of refusal, so that an attack does not turn into a flood of
 * log writes on the broker thread. */
static void log_flood_refusal(const struct login *login, enum flood_verdict verdict, long long now_ms)
{
	static long long second[FLOOD_ADDRESS_LOCKED + 1];
	static int lines[FLOOD_ADDRESS_LOCKED + 1];
	static int suppressed[FLOOD_ADDRESS_LOCKED + 1];
	const char *address = login->address ? login->address : "?";

	if(now_ms / 1000 != second[verdict]){
		if(suppressed[verdict]){
			mosquitto_log_printf(MOSQ_LOG_NOTICE, "chat-auth: %d more logins refused by flood protection (%s)",
					suppressed[verdict], flood_verdict_name(verdict));
		}
		second[verdict] = now_ms / 1000;
		lines[verdict] = 0;
		suppressed[verdict] = 0;
	}
	if(++lines[verdict] > 10){
		suppressed[verdict]++;
		return;
	}
	switch(verdict){
	case FLOOD_USER_LOCKED:
		mosquitto_log_printf(MOSQ_LOG_NOTICE, "chat-auth: user %s is locked for %lld ms after failed logins; refused (from %s)",
				login->username, flood_locked_for(state.flood, FLOOD_USER, login->username, now_ms), address);
		break;
	case FLOOD_ADDRESS_LOCKED:
		mosquitto_log_printf(MOSQ_LOG_NOTICE, "chat-auth: address %s is locked for %lld ms after failed logins; refused (user %s)",
				address, flood_locked_for(state.flood, FLOOD_ADDRESS, login->address, now_ms), login->username);
		break;
	case FLOOD_SLOWED:
		mosquitto_log_printf(MOSQ_LOG_NOTICE, "chat-auth: login of %s from %s is slowed after failed logins; refused without a password check",
				login->username, address);
		break;
	case FLOOD_BUSY:
		mosquitto_log_printf(MOSQ_LOG_NOTICE, "chat-auth: login of %s from %s refused without a password check: the verification budget is spent",
				login->username, address);
		break;
	case FLOOD_VERIFY:
		break;
	}
}

/* Whether a login's name and address were locked, to count the locks a
 * failure sets (only when metrics are on: two O(1) lookups). */
struct lock_state {
	bool user, address;
};

static struct lock_state locks_now(const char *user, const char *address, long long now_ms)
{
	struct lock_state locks = { false, false };

	if(!state.metrics) return locks;
	locks.user = flood_locked_for(state.flood, FLOOD_USER, user, now_ms) > 0;
	locks.address = flood_locked_for(state.flood, FLOOD_ADDRESS, address, now_ms) > 0;
	return locks;
}

static void count_new_locks(struct lock_state before, const char *user, const char *address, long long now_ms)
{
	struct lock_state after;

	if(!state.metrics) return;
	after = locks_now(user, address, now_ms);
	if(after.user && !before.user) plugin_metrics_flood_locked(state.metrics, false);
	if(after.address && !before.address) plugin_metrics_flood_locked(state.metrics, true);
}

/* A failed login recorded with the flood protection, and counted. */
static void login_failed(const char *user, const char *address, long long now_ms)
{
	struct lock_state before = locks_now(user, address, now_ms);

	flood_failure(state.flood, user, address, now_ms);
	count_new_locks(before, user, address, now_ms);
}

/* A login the flood protection refused without a check, recorded and counted. */
static void login_flood_refused(enum flood_verdict verdict, const char *user, const char *address, long long now_ms)
{
	static const enum login_refusal reasons[] = {
		[FLOOD_VERIFY] = REFUSED_BUSY, /* not used: a refusal is never FLOOD_VERIFY */
		[FLOOD_SLOWED] = REFUSED_SLOWED,
		[FLOOD_BUSY] = REFUSED_BUSY,
		[FLOOD_USER_LOCKED] = REFUSED_USER_LOCKED,
		[FLOOD_ADDRESS_LOCKED] = REFUSED_ADDRESS_LOCKED,
	};
	struct lock_state before = locks_now(user, address, now_ms);

	flood_refused(state.flood, verdict, user, address, now_ms);
	count_new_locks(before, user, address, now_ms);
	plugin_metrics_login_refused(state.metrics, reasons[verdict]);
}

/* Checks a token login from the snapshot (token_login.h). Returns
 * BACKEND_ALLOW with *role and *tok, BACKEND_DENY, or BACKEND_ERROR before
 * the first snapshot. */
static enum backend_answer check_token(const struct login *login, enum user_role *role,
		const struct snapshot_token **tok_out)
{
	const struct snapshot_token *tok;

	if(!state.snap) return BACKEND_ERROR;
	tok = token_login_check(state.snap, login->username, login->password, clock_wall_ms());
	if(!tok) return BACKEND_DENY;
	*role = tok->user->role;
	*tok_out = tok;
	return BACKEND_ALLOW;
}

/* Checks a login: the login caches first (one HMAC; a cached login passes
 * whatever the flood protection says, except from a locked address), then
 * the flood protection decides whether the password may be verified (PBKDF2
 * or a network call), then the back-ends verify it, and last the client id
 * must be free or the user's own (clientid_owner.h). A password with the
 * token prefix is checked as a token only (check_token): no cache, no
 * flood budget or failure count (a check costs microseconds and a token
 * cannot be guessed), no back-end; a locked address is still refused. */
static int on_basic_auth(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_basic_auth *ed = event_data;
	struct backend_env env;
	struct login login;
	enum user_role role = ROLE_USER;
	enum flood_verdict verdict;
	const char *owner;
	long long now_ms;
	bool charged = false;
	bool verified = false;
	int rc = MOSQ_ERR_PLUGIN_DEFER;
	enum login_refusal refusal = REFUSED_REASON_COUNT; /* none, or counted at out */
	const struct snapshot_token *tok = NULL;
	int answered;
	int which = -1;

	(void)event;
	(void)userdata;
	refresh();
	now_ms = clock_mono_ms();
	env.snap = state.snap;
	env.cache = state.cache;
	env.now = (long)(clock_mono_ms() / 1000);
	login.username = ed->username;
	login.password = ed->password;
	login.client_id = mosquitto_client_id(ed->client);
	login.address = mosquitto_client_address(ed->client);
	admin_forget(ed->client);
	token_conns_remove(state.token_conns, ed->client);
	/* Mosquitto 2.0 lets '+', '#' and '/' through in names for v5 plugins;
	 * such names would break topic rules, so they never log in. */
	if(!login.username || !name_user_valid(login.username) || !name_clientid_valid(login.client_id)){
		mosquitto_log_printf(MOSQ_LOG_NOTICE, "chat-auth: refused a login with an invalid user name or client id from %s",
				login.address ? login.address : "?");
		login_failed(NULL, login.address, now_ms);
		refusal = REFUSED_INVALID_NAME;
		rc = REFUSED_NOT_AUTHORISED;
		goto out;
	}
	/* A locked address is refused before anything else. */
	if(flood_locked_for(state.flood, FLOOD_ADDRESS, login.address, now_ms) > 0){
		login_flood_refused(FLOOD_ADDRESS_LOCKED, login.username, login.address, now_ms);
		log_flood_refusal(&login, FLOOD_ADDRESS_LOCKED, now_ms);
		rc = REFUSED_TRY_LATER;
		goto out;
	}
	if(token_is_token(login.password)){
		answered = check_token(&login, &role, &tok);
		if(answered == BACKEND_DENY){
			/* Never the token in the log: its id is not secret, but the
			 * string may be a mistyped password. */
			mosquitto_log_printf(MOSQ_LOG_NOTICE, "chat-auth: refused a token login of %s from %s: unknown, revoked, expired or wrong token",
					login.username, login.address ? login.address : "?");
			/* Not counted by the flood protection: a 256-bit secret
			 * cannot be guessed and a check costs no PBKDF2, while
			 * counting would let anyone lock a user (or the devices
			 * behind one address) out with bad tokens. */
			refusal = REFUSED_TOKEN;
			rc = REFUSED_NOT_AUTHORISED;
			goto out;
		}
		if(answered == BACKEND_ERROR){
			refusal = REFUSED_BACKEND_ERROR;
			rc = REFUSED_TRY_LATER;
			goto out;
		}
	}else{
		/* A login that succeeded recently costs one HMAC and tells an attacker
		 * nothing new, so its owner is never kept out by someone guessing at
		 * their name. */
		answered = ask_backends(&env, &login, true, &role, &which);
		if(answered != BACKEND_ALLOW){
			verdict = flood_admit(state.flood, login.username, login.address, now_ms, &charged);
			if(verdict != FLOOD_VERIFY){
				login_flood_refused(verdict, login.username, login.address, now_ms);
				log_flood_refusal(&login, verdict, now_ms);
				rc = REFUSED_TRY_LATER;
				goto out;
			}
			answered = ask_backends(&env, &login, false, &role, &which);
			verified = true;
			/* Checks of suspicious attempts, and checks that failed or could
			 * not be made (an http timeout blocked the thread too), are paid
			 * from the node-wide budget (a name nobody knows cost no check). */
			if(charged || answered == BACKEND_DENY || answered == BACKEND_ERROR) flood_charge(state.flood, now_ms);
		}
	}
	if(answered == BACKEND_ALLOW){
		if(verified) flood_success(state.flood, login.username, now_ms);
		owner = clientid_owners_owner(state.owners, login.client_id, now_ms);
		if(owner && strcmp(owner, login.username)){
			mosquitto_log_printf(MOSQ_LOG_NOTICE, "chat-auth: refused %s from %s: client id %s belongs to another user's session",
					login.username, login.address ? login.address : "?", login.client_id);
			refusal = REFUSED_CLIENTID_TAKEN;
			rc = REFUSED_NOT_AUTHORISED;
			goto out;
		}
		if(clientid_owners_connected(state.owners, login.client_id, login.username, ed->client, now_ms)){
			mosquitto_log_printf(MOSQ_LOG_WARNING, "chat-auth: out of memory recording client id %s; refused", login.client_id);
			refusal = REFUSED_NO_MEMORY;
			rc = MOSQ_ERR_NOMEM;
			goto out;
		}
		if(tok && token_conns_add(state.token_conns, ed->client, login.client_id, tok)){
			mosquitto_log_printf(MOSQ_LOG_WARNING, "chat-auth: out of memory recording a token login of %s; refused", login.username);
			refusal = REFUSED_NO_MEMORY;
			rc = MOSQ_ERR_NOMEM;
			goto out;
		}
		if(tok) loader_token_used(state.loader, tok->id);
		if(which >= 0 && !state.backends[which]->roles_in_snapshot && role == ROLE_ADMIN) admin_remember(ed->client);
		if(role == ROLE_USER) conn_events_connected(state.events, ed->client, login.username);
		plugin_metrics_login_accepted(state.metrics, ed->client);
		if(tok) plugin_metrics_token_login(state.metrics);
		rc = MOSQ_ERR_SUCCESS;
	}else if(answered == BACKEND_DENY){
		login_failed(login.username, login.address, now_ms);
		refusal = REFUSED_BAD_PASSWORD;
		rc = REFUSED_NOT_AUTHORISED;
	}else if(answered == BACKEND_ERROR){
		/* The password could not be checked (no snapshot loaded yet, the
		 * http endpoint down): not the client's fault, so no "not
		 * authorised" that would make it ask for the password again. */
		refusal = REFUSED_BACKEND_ERROR;
		rc = REFUSED_TRY_LATER;
	}else{
		/* Nobody here knows this user: count it against the address only, and
		 * let other plugins decide (Mosquitto refuses when all defer). */
		login_failed(NULL, login.address, now_ms);
		refusal = REFUSED_UNKNOWN_USER;
	}
out:
	if(refusal != REFUSED_REASON_COUNT) plugin_metrics_login_refused(state.metrics, refusal);
	return rc;
}

/* The per-user send rate limit (send_rate.h) for a publish that the rules
 * allowed user to make on topic: false when it must be refused. Only users
 * are limited; services, bridges and admins never are. Mosquitto 2.0.11
 * turns the refusal into PUBACK 0x87 for MQTT 5 and a plain PUBACK for
 * 3.1.1 (src/handle_publish.c; docs/PROTOCOL.md 2, "Send rate limits"). */
static bool send_allowed(const struct snapshot_user *user, const char *topic)
{
	static const char *const what[SEND_KIND_COUNT] = { "room messages", "requests" };
	enum send_kind kind;
	enum send_verdict verdict;
	unsigned long long dropped = 0;

	if(!user || user->role != ROLE_USER) return true;
	kind = send_rate_classify(topic);
	if(kind == SEND_UNLIMITED) return true;
	verdict = send_rate_take(state.send_rate, user->name, kind, clock_mono_ms(), &dropped);
	if(verdict == SEND_OK) return true;
	plugin_metrics_send_limited(state.metrics, kind == SEND_REQUEST);
	if(verdict == SEND_DROP_LOG){
		mosquitto_log_printf(MOSQ_LOG_NOTICE, "chat-auth: %s sends %s faster than %ld/s (burst %ld) on this node; "
				"%llu refused since the last such line (one line per user per %d s)",
				user->name, what[kind], state.opts.send_rate.rate[kind], state.opts.send_rate.burst[kind],
				dropped, SEND_RATE_LOG_WINDOW_MS / 1000);
	}
	return false;
}

static int on_acl_check(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_acl_check *ed = event_data;
	const struct snapshot_user *user;
	struct admin_client *admin = NULL;
	const char *username;
	enum acl_answer answer;

	(void)event;
	(void)userdata;
	refresh();
	if(state.admins){
		HASH_FIND_PTR(state.admins, &ed->client, admin);
		if(admin){
			plugin_metrics_acl(state.metrics, ed->access, ACL_OUTCOME_ALLOWED);
			return MOSQ_ERR_SUCCESS;
		}
	}
	username = mosquitto_client_username(ed->client);
	user = snapshot_user(state.snap, username);
	answer = acl_chat_decide(user, ed->access, ed->topic, ed->retain);
	if(answer == ACL_DEFER && state.acl_file){
		answer = acl_file_decide(state.acl_file, username, mosquitto_client_id(ed->client), ed->access, ed->topic);
	}
	/* A token's scope narrows whatever was decided (token_conns.h). */
	if(token_conns_count(state.token_conns)){
		const struct token_conn *conn = token_conns_find(state.token_conns, ed->client);

		if(conn) answer = acl_token_scope(conn->tok, ed->access, ed->topic, answer);
	}
	/* Typing indicators: well-formed and rate-limited (conn_events.h). */
	if(answer == ACL_ALLOW && ed->access == MOSQ_ACL_WRITE
			&& !conn_events_publish_allowed(state.events, ed->client, ed->topic, ed->payload, ed->payloadlen)){
		answer = ACL_DENY;
	}
	if(answer == ACL_ALLOW && ed->access == MOSQ_ACL_WRITE && !send_allowed(user, ed->topic)){
		answer = ACL_DENY;
	}
	if(answer == ACL_ALLOW){
		plugin_metrics_acl(state.metrics, ed->access, ACL_OUTCOME_ALLOWED);
		return MOSQ_ERR_SUCCESS;
	}
	if(answer == ACL_DENY){
		plugin_metrics_acl(state.metrics, ed->access, ACL_OUTCOME_DENIED);
		return MOSQ_ERR_ACL_DENIED;
	}
	plugin_metrics_acl(state.metrics, ed->access, ACL_OUTCOME_DEFERRED);
	return MOSQ_ERR_PLUGIN_DEFER;
}

static int on_disconnect(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_disconnect *ed = event_data;

	(void)event;
	(void)userdata;
	conn_events_disconnected(state.events, ed->client);
	token_conns_remove(state.token_conns, ed->client);
	plugin_metrics_disconnected(state.metrics, ed->client);
	clientid_owners_disconnected(state.owners, ed->client, clock_mono_ms());
	admin_forget(ed->client);
	return MOSQ_ERR_SUCCESS;
}

/* Sees every accepted message, also those arriving over a bridge: presence
 * sync requests. Never changes or refuses a message: 2.0.11 leaks modified
 * ones, and a refusal here (MOSQ_ERR_ACL_DENIED) gets the same PUBACK 0x87
 * as one in ACL_CHECK, only later; any other error disconnects the client
 * (src/handle_publish.c). */
static int on_message(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_message *ed = event_data;

	(void)event;
	(void)userdata;
	conn_events_message(state.events, ed->topic, ed->payload, ed->payloadlen);
	plugin_metrics_message(state.metrics);
	return MOSQ_ERR_SUCCESS;
}

/* Saves the client id bindings when a file is configured. */
static void save_owners(void)
{
	char err[512];

	if(!state.opts.clientid_file || !state.owners) return;
	if(clientid_store_save(state.opts.clientid_file, state.owners, clock_mono_ms(), clock_wall_ms(), err, sizeof(err))){
		mosquitto_log_printf(MOSQ_LOG_WARNING, "chat-auth: client ids not saved: %s", err);
	}
}

static int on_tick(int event, void *event_data, void *userdata)
{
	long now = (long)(clock_mono_ms() / 1000);

	(void)event;
	(void)event_data;
	(void)userdata;
	refresh();
	conn_events_tick(state.events);
	send_rate_expire(state.send_rate, clock_mono_ms());
	if(now != state.last_token_expire && token_conns_count(state.token_conns)){
		size_t kicked;

		state.last_token_expire = now;
		kicked = token_conns_expire(state.token_conns, clock_wall_ms(), kick_token_client);
		if(kicked) mosquitto_log_printf(MOSQ_LOG_NOTICE, "chat-auth: disconnected %zu connections whose token expired", kicked);
	}
	if(now - state.last_expire >= 10){
		state.last_expire = now;
		flood_expire(state.flood, clock_mono_ms());
		clientid_owners_expire(state.owners, clock_mono_ms());
	}
	if(now - state.last_owners_save >= CLIENTID_STORE_SAVE_S){
		state.last_owners_save = now;
		save_owners();
	}
	return MOSQ_ERR_SUCCESS;
}

/* SIGHUP: re-read the ACL file and the back-ends' files, forget cached
 * logins. A file that no longer parses keeps the old rules in force. */
static int on_reload(int event, void *event_data, void *userdata)
{
	struct acl_file *fresh = NULL;
	char err[512];

	(void)event;
	(void)event_data;
	(void)userdata;
	login_cache_clear(state.cache);
	for(int i = 0; i < state.opts.backend_count; i++){
		if(state.backends[i]->reload && state.backends[i]->reload(state.backend_states[i], err, sizeof(err))){
			mosquitto_log_printf(MOSQ_LOG_ERR, "chat-auth: reload of back-end %s failed, keeping its old data: %s",
					state.backends[i]->name, err);
		}
	}
	if(state.opts.acl_file){
		if(acl_file_load(state.opts.acl_file, &fresh, err, sizeof(err))){
			mosquitto_log_printf(MOSQ_LOG_ERR, "chat-auth: ACL file not reloaded, keeping the old rules: %s", err);
		}else{
			acl_file_free(state.acl_file);
			state.acl_file = fresh;
			mosquitto_log_printf(MOSQ_LOG_INFO, "chat-auth: ACL file %s reloaded: %zu rules",
					state.opts.acl_file, acl_file_rule_count(fresh));
		}
	}
	return MOSQ_ERR_SUCCESS;
}

static void release(void)
{
	struct admin_client *admin, *tmp;

	if(state.id){
		mosquitto_callback_unregister(state.id, MOSQ_EVT_BASIC_AUTH, on_basic_auth, NULL);
		mosquitto_callback_unregister(state.id, MOSQ_EVT_ACL_CHECK, on_acl_check, NULL);
		mosquitto_callback_unregister(state.id, MOSQ_EVT_DISCONNECT, on_disconnect, NULL);
		mosquitto_callback_unregister(state.id, MOSQ_EVT_TICK, on_tick, NULL);
		mosquitto_callback_unregister(state.id, MOSQ_EVT_RELOAD, on_reload, NULL);
		mosquitto_callback_unregister(state.id, MOSQ_EVT_MESSAGE, on_message, NULL);
	}
	for(int i = 0; i < state.opts.backend_count; i++){
		if(state.backends[i] && state.backends[i]->cleanup) state.backends[i]->cleanup(state.backend_states[i]);
	}
	loader_stop(state.loader);
	plugin_metrics_stop(state.metrics);
	snapshot_free(state.snap);
	conn_events_free(state.events);
	login_cache_free(state.cache);
	flood_free(state.flood);
	send_rate_free(state.send_rate);
	clientid_owners_free(state.owners);
	token_conns_free(state.token_conns);
	acl_file_free(state.acl_file);
	HASH_ITER(hh, state.admins, admin, tmp){
		HASH_DEL(state.admins, admin);
		mosquitto_free(admin);
	}
	memset(&state, 0, sizeof(state));
}

int mosquitto_plugin_version(int supported_version_count, const int *supported_versions)
{
	for(int i = 0; i < supported_version_count; i++){
		if(supported_versions[i] == 5) return 5;
	}
	return -1;
}

int mosquitto_plugin_init(mosquitto_plugin_id_t *identifier, void **userdata,
		struct mosquitto_opt *opts, int opt_count)
{
	char err[512];
	int rc = MOSQ_ERR_INVAL;

	*userdata = NULL;
	memset(&state, 0, sizeof(state));
	if(plugin_opts_read(opts, opt_count, &state.opts, state.backend_names, sizeof(state.backend_names),
				err, sizeof(err))){
		mosquitto_log_printf(MOSQ_LOG_ERR, "chat-auth: %s; refusing to start", err);
		goto out;
	}
	for(int i = 0; i < state.opts.backend_count; i++){
		state.backends[i] = backend_find(state.opts.backend_names[i]);
		if(state.backends[i]->init && state.backends[i]->init(&state.backend_states[i], opts, opt_count, err, sizeof(err))){
			mosquitto_log_printf(MOSQ_LOG_ERR, "chat-auth: %s; refusing to start", err);
			/* Only the back-ends before this one hold state. */
			state.opts.backend_count = i;
			goto out;
		}
	}
	if(state.opts.acl_file && acl_file_load(state.opts.acl_file, &state.acl_file, err, sizeof(err))){
		mosquitto_log_printf(MOSQ_LOG_ERR, "chat-auth: %s; refusing to start", err);
		goto out;
	}
	state.id = identifier;
	state.events = conn_events_new(state.opts.node);
	state.cache = login_cache_new(state.opts.cache_ttl_s, (size_t)state.opts.cache_max);
	state.flood = flood_new(&state.opts.flood);
	state.owners = clientid_owners_new((long long)state.opts.clientid_hold_s * 1000,
			(size_t)state.opts.clientid_max_idle, (size_t)state.opts.clientid_per_user);
	state.send_rate = send_rate_new(&state.opts.send_rate);
	state.token_conns = token_conns_new();
	if(!state.events || !state.cache || !state.flood || !state.owners || !state.send_rate || !state.token_conns){
		mosquitto_log_printf(MOSQ_LOG_ERR, "chat-auth: out of memory");
		rc = MOSQ_ERR_NOMEM;
		goto out;
	}
	if(state.opts.clientid_file){
		size_t skipped = 0;
		long restored = clientid_store_load(state.opts.clientid_file, state.owners, clock_mono_ms(), clock_wall_ms(),
				&skipped, err, sizeof(err));

		if(restored < 0){
			mosquitto_log_printf(MOSQ_LOG_ERR, "chat-auth: %s; refusing to start", err);
			goto out;
		}
		mosquitto_log_printf(MOSQ_LOG_INFO, "chat-auth: %ld client ids restored from %s%s", restored,
				state.opts.clientid_file, skipped ? " (some lines skipped)" : "");
		state.last_owners_save = (long)(clock_mono_ms() / 1000);
	}
	if(backend_opt(opts, opt_count, "flood_verify_budget_ms")){
		mosquitto_log_printf(MOSQ_LOG_WARNING, "chat-auth: plugin_opt_flood_verify_budget_ms is no longer used: "
				"the budget counts checks (plugin_opt_flood_verify_budget, docs/ADMIN.md)");
	}
	/* Before the first snapshot is adopted, so that it is counted. */
	state.metrics = plugin_metrics_start(state.opts.metrics_bind, state.opts.metrics_port, err, sizeof(err));
	if(!state.metrics && err[0]){
		mosquitto_log_printf(MOSQ_LOG_ERR, "chat-auth: %s; refusing to start", err);
		goto out;
	}
	state.loader = loader_start(&state.opts.db, state.opts.refresh_ms, err, sizeof(err));
	if(!state.loader){
		mosquitto_log_printf(MOSQ_LOG_ERR, "chat-auth: %s", err);
		goto out;
	}
	refresh();
	if(!state.snap){
		mosquitto_log_printf(MOSQ_LOG_WARNING, "chat-auth: no users loaded yet; every login is refused until MariaDB answers");
	}
	if(mosquitto_callback_register(identifier, MOSQ_EVT_BASIC_AUTH, on_basic_auth, NULL, NULL)
			|| mosquitto_callback_register(identifier, MOSQ_EVT_ACL_CHECK, on_acl_check, NULL, NULL)
			|| mosquitto_callback_register(identifier, MOSQ_EVT_DISCONNECT, on_disconnect, NULL, NULL)
			|| mosquitto_callback_register(identifier, MOSQ_EVT_TICK, on_tick, NULL, NULL)
			|| mosquitto_callback_register(identifier, MOSQ_EVT_RELOAD, on_reload, NULL, NULL)
			|| mosquitto_callback_register(identifier, MOSQ_EVT_MESSAGE, on_message, NULL, NULL)){
		mosquitto_log_printf(MOSQ_LOG_ERR, "chat-auth: could not register callbacks");
		goto out;
	}
	mosquitto_log_printf(MOSQ_LOG_INFO, "chat-auth: node %s, back-ends %s, refresh %ld ms, login cache %ld s, ACL file %s",
			state.opts.node, backend_opt(opts, opt_count, "backends") ? backend_opt(opts, opt_count, "backends") : "mariadb",
			state.opts.refresh_ms, state.opts.cache_ttl_s, state.opts.acl_file ? state.opts.acl_file : "none");
	mosquitto_log_printf(MOSQ_LOG_INFO, "chat-auth: send rate per user: room messages %ld/s (burst %ld), requests %ld/s (burst %ld); 0/s: no limit",
			state.opts.send_rate.rate[SEND_ROOM_MSG], state.opts.send_rate.burst[SEND_ROOM_MSG],
			state.opts.send_rate.rate[SEND_REQUEST], state.opts.send_rate.burst[SEND_REQUEST]);
	if(state.metrics){
		mosquitto_log_printf(MOSQ_LOG_INFO, "chat-auth: metrics on http://%s:%ld/metrics",
				state.opts.metrics_bind ? state.opts.metrics_bind : "127.0.0.1", state.opts.metrics_port);
	}
	rc = MOSQ_ERR_SUCCESS;
out:
	if(rc != MOSQ_ERR_SUCCESS) release();
	return rc;
}

int mosquitto_plugin_cleanup(void *userdata, struct mosquitto_opt *opts, int opt_count)
{
	(void)userdata;
	(void)opts;
	(void)opt_count;
	save_owners();
	release();
	return MOSQ_ERR_SUCCESS;
}
