/* mqtt_svc.c: service-side MQTT loop on libmosquitto; see mqtt_svc.h. */
#include "mqtt_svc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mosquitto.h>

#include "config.h"
#include "log.h"

struct mqtt_svc {
	struct mosquitto *mosq;
	struct mqtt_svc_opts opts;
	mqtt_svc_message_fn on_message;
	mqtt_svc_connected_fn on_connected;
	mqtt_svc_idle_fn on_idle;
	void *ud;
	bool connected;
};

static int lib_users;

int mqtt_svc_opts_from_config(const struct config *cfg, struct mqtt_svc_opts *opts,
		char *err, size_t errlen)
{
	long port;

	memset(opts, 0, sizeof(*opts));
	opts->host = config_get(cfg, "mqtt_host", "127.0.0.1");
	if(config_get_long(cfg, "mqtt_port", 1883, 1, 65535, &port, err, errlen)) return -1;
	opts->port = (int)port;
	opts->username = config_get(cfg, "mqtt_user", NULL);
	opts->password = config_get(cfg, "mqtt_password", NULL);
	opts->client_id = config_get(cfg, "mqtt_client_id", NULL);
	if(!opts->username || !opts->password || !opts->client_id){
		snprintf(err, errlen, "mqtt_user, mqtt_password and mqtt_client_id are required");
		return -1;
	}
	return 0;
}

static void on_connect(struct mosquitto *mosq, void *obj, int rc)
{
	struct mqtt_svc *svc = obj;

	if(rc != 0){
		log_error("broker refused the connection: %s", mosquitto_connack_string(rc));
		return;
	}
	svc->connected = true;
	log_info("connected to %s:%d as %s", svc->opts.host, svc->opts.port, svc->opts.username);
	if(svc->on_connected) svc->on_connected(svc->ud);
	for(int i = 0; i < svc->opts.subscription_count; i++){
		int sub_rc = mosquitto_subscribe(mosq, NULL, svc->opts.subscriptions[i], 1);
		if(sub_rc != MOSQ_ERR_SUCCESS){
			log_error("subscribe %s: %s", svc->opts.subscriptions[i], mosquitto_strerror(sub_rc));
		}
	}
}

static void on_disconnect(struct mosquitto *mosq, void *obj, int rc)
{
	struct mqtt_svc *svc = obj;

	(void)mosq;
	svc->connected = false;
	if(rc != 0) log_warn("lost the broker connection (%s)", mosquitto_strerror(rc));
}

static void on_message(struct mosquitto *mosq, void *obj, const struct mosquitto_message *msg)
{
	struct mqtt_svc *svc = obj;

	(void)mosq;
	svc->on_message(svc->ud, msg->topic, msg->payload, (size_t)msg->payloadlen);
}

struct mqtt_svc *mqtt_svc_new(const struct mqtt_svc_opts *opts, mqtt_svc_message_fn on_msg,
		mqtt_svc_connected_fn on_connected, mqtt_svc_idle_fn on_idle, void *ud,
		char *err, size_t errlen)
{
	struct mqtt_svc *svc = calloc(1, sizeof(*svc));

	if(!svc){
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if(lib_users++ == 0) mosquitto_lib_init();
	svc->opts = *opts;
	svc->on_message = on_msg;
	svc->on_connected = on_connected;
	svc->on_idle = on_idle;
	svc->ud = ud;
	svc->mosq = mosquitto_new(opts->client_id, opts->clean_session, svc);
	if(!svc->mosq){
		snprintf(err, errlen, "mosquitto_new failed");
		mqtt_svc_free(svc);
		return NULL;
	}
	mosquitto_int_option(svc->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
	/* Small request/response packets: do not let Nagle hold them back. */
	mosquitto_int_option(svc->mosq, MOSQ_OPT_TCP_NODELAY, 1);
	mosquitto_username_pw_set(svc->mosq, opts->username, opts->password);
	/* Enough in flight for throughput, bounded so memory stays bounded. */
	mosquitto_max_inflight_messages_set(svc->mosq, 100);
	mosquitto_connect_callback_set(svc->mosq, on_connect);
	mosquitto_disconnect_callback_set(svc->mosq, on_disconnect);
	mosquitto_message_callback_set(svc->mosq, on_message);
	return svc;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

int mqtt_svc_run(struct mqtt_svc *svc, volatile sig_atomic_t *stop)
{
	long backoff_ms = 200;
	bool ever_connected = false;
	int rc;

	while(!*stop){
		if(!ever_connected){
			rc = mosquitto_connect(svc->mosq, svc->opts.host, svc->opts.port, 30);
		}else{
			rc = MOSQ_ERR_SUCCESS;
		}
		if(rc == MOSQ_ERR_SUCCESS){
			ever_connected = true;
			while(!*stop){
				rc = mosquitto_loop(svc->mosq, 100, 1);
				if(svc->on_idle) svc->on_idle(svc->ud);
				if(rc != MOSQ_ERR_SUCCESS) break;
				if(svc->connected) backoff_ms = 200;
			}
			if(*stop) break;
		}
		log_warn("broker %s:%d unreachable (%s); retrying in %ld ms", svc->opts.host, svc->opts.port,
				mosquitto_strerror(rc), backoff_ms);
		for(long waited = 0; waited < backoff_ms && !*stop; waited += 100){
			sleep_ms(100);
			if(svc->on_idle) svc->on_idle(svc->ud);
		}
		backoff_ms = backoff_ms * 2 > 10000 ? 10000 : backoff_ms * 2;
		if(ever_connected) mosquitto_reconnect(svc->mosq);
	}
	if(svc->connected){
		mosquitto_disconnect(svc->mosq);
		mosquitto_loop(svc->mosq, 100, 1);
	}
	return 0;
}

int mqtt_svc_publish(struct mqtt_svc *svc, const char *topic, const void *payload, size_t len,
		int qos, bool retain)
{
	int rc = mosquitto_publish(svc->mosq, NULL, topic, (int)len, payload, qos, retain);

	if(rc != MOSQ_ERR_SUCCESS){
		log_warn("publish %s: %s", topic, mosquitto_strerror(rc));
		return -1;
	}
	return 0;
}

bool mqtt_svc_connected(const struct mqtt_svc *svc)
{
	return svc->connected;
}

void mqtt_svc_free(struct mqtt_svc *svc)
{
	if(!svc) return;
	if(svc->mosq) mosquitto_destroy(svc->mosq);
	free(svc);
	if(--lib_users == 0) mosquitto_lib_cleanup();
}
