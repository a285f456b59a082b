/* allow_all_plugin.c: a do-nothing Mosquitto v5 plugin for the benchmarks
 * (docs/BENCHMARKS.md, scenario 1). It answers every login and every ACL
 * check (read, write, subscribe) with "allowed" and does nothing else, so
 * that a broker loading it pays exactly Mosquitto's own per-delivery ACL
 * machinery (security.c, the callback list) and nothing of ours. Comparing
 * it with bare Mosquitto and with chat_auth.so separates the broker's cost
 * of having an ACL plugin at all from the cost of our rules. It counts the
 * checks by kind and logs the counts when the broker stops (calls per
 * delivery, docs/BENCHMARKS.md).
 * Built as build/allow_all.so by `make bench`; never for production. */
#include <stddef.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>

static mosquitto_plugin_id_t *plugin_id;
static unsigned long long logins, checks[16]; /* by MOSQ_ACL_* bit */

static int on_allow(int event, void *event_data, void *userdata)
{
	(void)userdata;
	if(event == MOSQ_EVT_ACL_CHECK){
		const struct mosquitto_evt_acl_check *ed = event_data;

		checks[ed->access & 15]++;
	}else{
		logins++;
	}
	return MOSQ_ERR_SUCCESS;
}

/* Mosquitto's plugin entry points (mosquitto_plugin.h). */
int mosquitto_plugin_version(int supported_version_count, const int *supported_versions)
{
	(void)supported_version_count;
	(void)supported_versions;
	return 5;
}

/* Registers on_allow for logins and ACL checks; 0 or a MOSQ_ERR_* code. */
int mosquitto_plugin_init(mosquitto_plugin_id_t *identifier, void **userdata,
		struct mosquitto_opt *options, int option_count)
{
	int rc;

	(void)userdata;
	(void)options;
	(void)option_count;
	plugin_id = identifier;
	rc = mosquitto_callback_register(plugin_id, MOSQ_EVT_BASIC_AUTH, on_allow, NULL, NULL);
	if(rc) return rc;
	return mosquitto_callback_register(plugin_id, MOSQ_EVT_ACL_CHECK, on_allow, NULL, NULL);
}

/* Unregisters both callbacks; always 0. */
int mosquitto_plugin_cleanup(void *userdata, struct mosquitto_opt *options, int option_count)
{
	(void)userdata;
	(void)options;
	(void)option_count;
	mosquitto_log_printf(MOSQ_LOG_NOTICE, "allow-all: %llu logins, ACL checks: %llu read, %llu write, %llu subscribe",
			logins, checks[MOSQ_ACL_READ], checks[MOSQ_ACL_WRITE], checks[MOSQ_ACL_SUBSCRIBE]);
	mosquitto_callback_unregister(plugin_id, MOSQ_EVT_BASIC_AUTH, on_allow, NULL);
	mosquitto_callback_unregister(plugin_id, MOSQ_EVT_ACL_CHECK, on_allow, NULL);
	return 0;
}
