/* mqtt_pub.c: publish-only connection on libmosquitto; see mqtt_pub.h. */
#include "mqtt_pub.h"

#include <stdio.h>
#include <stdlib.h>

#include <mosquitto.h>

#include "log.h"

struct mqtt_pub {
	struct mosquitto *mosq;
	bool thread_started;
};

static void on_connect(struct mosquitto *mosq, void *obj, int rc)
{
	(void)mosq;
	(void)obj;
	if(rc == 0) log_info("reply connection up");
	else log_error("reply connection refused: %s", mosquitto_connack_string(rc));
}

struct mqtt_pub *mqtt_pub_new(const char *host, int port, const char *client_id, const char *username,
		const char *password, char *err, size_t errlen)
{
	struct mqtt_pub *pub = calloc(1, sizeof(*pub));
	int rc;

	if(!pub){
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	mosquitto_lib_init();
	pub->mosq = mosquitto_new(client_id, true, pub);
	if(!pub->mosq){
		snprintf(err, errlen, "mosquitto_new failed");
		goto fail;
	}
	mosquitto_int_option(pub->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
	mosquitto_int_option(pub->mosq, MOSQ_OPT_TCP_NODELAY, 1);
	mosquitto_username_pw_set(pub->mosq, username, password);
	/* libmosquitto 2.0 walks the in-flight list on every PUBACK to release
	 * the next queued message: with 1,000 in flight that walk was 12% of
	 * history-svc's CPU while it drained a backlog (perf). 100 in flight
	 * is plenty on a local link. */
	mosquitto_max_inflight_messages_set(pub->mosq, 100);
	mosquitto_reconnect_delay_set(pub->mosq, 1, 10, true);
	mosquitto_connect_callback_set(pub->mosq, on_connect);
	rc = mosquitto_connect_async(pub->mosq, host, port, 30);
	if(rc != MOSQ_ERR_SUCCESS) log_warn("reply connection: %s; retrying", mosquitto_strerror(rc));
	rc = mosquitto_loop_start(pub->mosq);
	if(rc != MOSQ_ERR_SUCCESS){
		snprintf(err, errlen, "cannot start the reply thread: %s", mosquitto_strerror(rc));
		goto fail;
	}
	pub->thread_started = true;
	return pub;
fail:
	mqtt_pub_free(pub);
	return NULL;
}

int mqtt_pub_send(struct mqtt_pub *pub, const char *topic, const void *payload, size_t len, int qos, bool retain)
{
	int rc = mosquitto_publish(pub->mosq, NULL, topic, (int)len, payload, qos, retain);

	if(rc != MOSQ_ERR_SUCCESS){
		log_warn("publish %s: %s", topic, mosquitto_strerror(rc));
		return -1;
	}
	return 0;
}

void mqtt_pub_free(struct mqtt_pub *pub)
{
	if(!pub) return;
	if(pub->mosq){
		mosquitto_disconnect(pub->mosq);
		if(pub->thread_started) mosquitto_loop_stop(pub->mosq, false);
		mosquitto_destroy(pub->mosq);
		mosquitto_lib_cleanup();
	}
	free(pub);
}
