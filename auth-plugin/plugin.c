/* plugin.c: chat-auth, a Mosquitto 2.0 plugin (v5 API) loaded into every
 * broker node with
 *   plugin /path/to/chat_auth.so
 *   plugin_opt_node leaf1
 *   plugin_opt_db_socket /path/to/mariadb.sock   (or plugin_opt_db_host/_port)
 *   plugin_opt_db_user ... plugin_opt_db_password ... plugin_opt_db_name ...
 *   plugin_opt_refresh_ms 500                    (optional)
 *   plugin_opt_backends mariadb                  (optional)
 * It checks logins, decides every publish and subscribe in the chat tree and
 * reports connects and disconnects for presence-svc. Everything here runs on
 * the broker's only thread and answers from memory; the database is read
 * by the loader thread (loader.c). A missing required option refuses to
 * start the broker. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

#include "acl.h"
#include "backend.h"
#include "conn_events.h"
#include "db.h"
#include "loader.h"
#include "names.h"
#include "snapshot.h"

#define MAX_BACKENDS 4

struct plugin_state {
	mosquitto_plugin_id_t *id;
	struct loader *loader;
	struct snapshot *snap;
	struct conn_events *events;
	const struct credential_backend *backends[MAX_BACKENDS];
	int backend_count;
};

static struct plugin_state state;

static const char *opt_get(struct mosquitto_opt *opts, int count, const char *key)
{
	for(int i = 0; i < count; i++){
		if(opts[i].key && !strcmp(opts[i].key, key)) return opts[i].value;
	}
	return NULL;
}

/* Adopts a newer snapshot and reports loader status, on the broker thread. */
static void refresh(void)
{
	char status[512];

	if(loader_adopt(state.loader, &state.snap)){
		mosquitto_log_printf(MOSQ_LOG_INFO, "chat-auth: snapshot version %llu: %lu users, %lu memberships",
				state.snap->version, state.snap->user_count, state.snap->membership_count);
	}
	while(loader_take_status(state.loader, status, sizeof(status))){
		mosquitto_log_printf(MOSQ_LOG_NOTICE, "%s", status);
	}
}

static int on_basic_auth(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_basic_auth *ed = event_data;
	struct login login;
	enum user_role role = ROLE_USER;
	int rc = MOSQ_ERR_PLUGIN_DEFER;

	(void)event;
	(void)userdata;
	refresh();
	login.username = ed->username;
	login.password = ed->password;
	login.client_id = mosquitto_client_id(ed->client);
	login.address = mosquitto_client_address(ed->client);
	/* Mosquitto 2.0 lets '+', '#' and '/' through in names for v5 plugins;
	 * such names would break topic rules, so they never log in. */
	if(!login.username || !name_user_valid(login.username)
			|| !name_clientid_valid(login.client_id)){
		mosquitto_log_printf(MOSQ_LOG_NOTICE, "chat-auth: refused a login with an invalid user name or client id from %s",
				login.address ? login.address : "?");
		rc = MOSQ_ERR_AUTH;
		goto out;
	}
	for(int i = 0; i < state.backend_count; i++){
		enum backend_answer answer = state.backends[i]->check(state.snap, &login, &role);

		if(answer == BACKEND_DEFER) continue;
		if(answer == BACKEND_ALLOW){
			rc = MOSQ_ERR_SUCCESS;
			if(role == ROLE_USER) conn_events_connected(state.events, ed->client, login.username);
		}else{
			if(answer == BACKEND_ERROR){
				mosquitto_log_printf(MOSQ_LOG_WARNING, "chat-auth: back-end %s could not check user %s; refused",
						state.backends[i]->name, login.username);
			}
			rc = MOSQ_ERR_AUTH;
		}
		goto out;
	}
out:
	return rc;
}

static int on_acl_check(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_acl_check *ed = event_data;
	const struct snapshot_user *user;
	enum acl_answer answer;

	(void)event;
	(void)userdata;
	refresh();
	user = snapshot_user(state.snap, mosquitto_client_username(ed->client));
	answer = acl_chat_decide(user, ed->access, ed->topic, ed->retain);
	if(answer == ACL_ALLOW) return MOSQ_ERR_SUCCESS;
	if(answer == ACL_DENY) return MOSQ_ERR_ACL_DENIED;
	return MOSQ_ERR_PLUGIN_DEFER;
}

static int on_disconnect(int event, void *event_data, void *userdata)
{
	struct mosquitto_evt_disconnect *ed = event_data;

	(void)event;
	(void)userdata;
	conn_events_disconnected(state.events, ed->client);
	return MOSQ_ERR_SUCCESS;
}

static int on_tick(int event, void *event_data, void *userdata)
{
	(void)event;
	(void)event_data;
	(void)userdata;
	refresh();
	return MOSQ_ERR_SUCCESS;
}

static void release(void)
{
	if(state.id){
		mosquitto_callback_unregister(state.id, MOSQ_EVT_BASIC_AUTH, on_basic_auth, NULL);
		mosquitto_callback_unregister(state.id, MOSQ_EVT_ACL_CHECK, on_acl_check, NULL);
		mosquitto_callback_unregister(state.id, MOSQ_EVT_DISCONNECT, on_disconnect, NULL);
		mosquitto_callback_unregister(state.id, MOSQ_EVT_TICK, on_tick, NULL);
	}
	loader_stop(state.loader);
	snapshot_free(state.snap);
	conn_events_free(state.events);
	memset(&state, 0, sizeof(state));
}

static int parse_backends(const char *list)
{
	char copy[256];
	char *save = NULL;

	snprintf(copy, sizeof(copy), "%s", list);
	for(char *name = strtok_r(copy, " ,", &save); name; name = strtok_r(NULL, " ,", &save)){
		const struct credential_backend *backend = backend_find(name);

		if(!backend){
			mosquitto_log_printf(MOSQ_LOG_ERR, "chat-auth: plugin_opt_backends names an unknown back-end \"%s\"", name);
			return -1;
		}
		if(state.backend_count == MAX_BACKENDS){
			mosquitto_log_printf(MOSQ_LOG_ERR, "chat-auth: plugin_opt_backends lists more than %d back-ends", MAX_BACKENDS);
			return -1;
		}
		state.backends[state.backend_count++] = backend;
	}
	if(state.backend_count == 0){
		mosquitto_log_printf(MOSQ_LOG_ERR, "chat-auth: plugin_opt_backends is empty");
		return -1;
	}
	return 0;
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
	static const char *const required[] = { "node", "db_user", "db_name" };
	struct db_opts db_opts;
	const char *node, *refresh_text, *backends;
	char err[384];
	long refresh_ms = 500;
	int rc = MOSQ_ERR_INVAL;

	*userdata = NULL;
	memset(&state, 0, sizeof(state));
	for(size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++){
		if(!opt_get(opts, opt_count, required[i])){
			mosquitto_log_printf(MOSQ_LOG_ERR, "chat-auth: required option plugin_opt_%s is missing; refusing to start", required[i]);
			goto out;
		}
	}
	node = opt_get(opts, opt_count, "node");
	if(!name_node_valid(node)){
		mosquitto_log_printf(MOSQ_LOG_ERR, "chat-auth: plugin_opt_node \"%s\" must be 1-32 of a-z, 0-9, '_', '-'", node);
		goto out;
	}
	if(!opt_get(opts, opt_count, "db_socket") && !opt_get(opts, opt_count, "db_host")){
		mosquitto_log_printf(MOSQ_LOG_ERR, "chat-auth: set plugin_opt_db_socket or plugin_opt_db_host; refusing to start");
		goto out;
	}
	refresh_text = opt_get(opts, opt_count, "refresh_ms");
	if(refresh_text){
		char *end = NULL;
		refresh_ms = strtol(refresh_text, &end, 10);
		if(!end || *end || refresh_ms < 50 || refresh_ms > 60000){
			mosquitto_log_printf(MOSQ_LOG_ERR, "chat-auth: plugin_opt_refresh_ms must be 50-60000");
			goto out;
		}
	}
	backends = opt_get(opts, opt_count, "backends");
	if(parse_backends(backends ? backends : "mariadb")) goto out;

	memset(&db_opts, 0, sizeof(db_opts));
	db_opts.host = opt_get(opts, opt_count, "db_host");
	db_opts.socket = opt_get(opts, opt_count, "db_socket");
	db_opts.user = opt_get(opts, opt_count, "db_user");
	db_opts.password = opt_get(opts, opt_count, "db_password");
	db_opts.name = opt_get(opts, opt_count, "db_name");
	db_opts.port = opt_get(opts, opt_count, "db_port")
		? (unsigned int)strtoul(opt_get(opts, opt_count, "db_port"), NULL, 10) : 3306;

	state.id = identifier;
	state.events = conn_events_new(node);
	if(!state.events){
		mosquitto_log_printf(MOSQ_LOG_ERR, "chat-auth: out of memory");
		rc = MOSQ_ERR_NOMEM;
		goto out;
	}
	state.loader = loader_start(&db_opts, refresh_ms, err, sizeof(err));
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
			|| mosquitto_callback_register(identifier, MOSQ_EVT_TICK, on_tick, NULL, NULL)){
		mosquitto_log_printf(MOSQ_LOG_ERR, "chat-auth: could not register callbacks");
		goto out;
	}
	mosquitto_log_printf(MOSQ_LOG_INFO, "chat-auth: node %s, refresh every %ld ms", node, refresh_ms);
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
	release();
	return MOSQ_ERR_SUCCESS;
}
