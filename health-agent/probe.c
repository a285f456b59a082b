/* probe.c: the MQTT round trip of the health agent; see probe.h. */
#include "probe.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mosquitto.h>

#include "clock.h"
#include "log.h"
#include "topics.h"

struct probe {
	struct mosquitto *mosq;
	char topic[TOPIC_MAX + 1];
	pthread_mutex_t lock;      /* guards the fields below */
	int connected;
	unsigned long long sent;   /* last token published */
	unsigned long long echoed; /* highest token received back */
	long long echoed_ms;       /* clock_mono_ms() when it came back */
	int loop_started;
};

static void on_connect(struct mosquitto *mosq, void *obj, int rc)
{
	struct probe *probe = obj;

	if(rc){
		log_warn("broker refused the health login: %s", mosquitto_connack_string(rc));
		return;
	}
	if(mosquitto_subscribe(mosq, NULL, probe->topic, 0) != MOSQ_ERR_SUCCESS){
		log_warn("could not subscribe to %s", probe->topic);
		return;
	}
	pthread_mutex_lock(&probe->lock);
	probe->connected = 1;
	pthread_mutex_unlock(&probe->lock);
	log_info("connected; probing on %s", probe->topic);
}

static void on_disconnect(struct mosquitto *mosq, void *obj, int rc)
{
	struct probe *probe = obj;

	(void)mosq;
	pthread_mutex_lock(&probe->lock);
	probe->connected = 0;
	pthread_mutex_unlock(&probe->lock);
	if(rc) log_warn("lost the broker (%s); reconnecting", mosquitto_strerror(rc));
}

/* An echo: only a token we sent, newer than the last one seen, counts. */
static void on_message(struct mosquitto *mosq, void *obj, const struct mosquitto_message *msg)
{
	struct probe *probe = obj;
	char text[24];
	char *end = NULL;
	unsigned long long token;

	(void)mosq;
	if(msg->payloadlen <= 0 || msg->payloadlen >= (int)sizeof(text)) return;
	memcpy(text, msg->payload, (size_t)msg->payloadlen);
	text[msg->payloadlen] = '\0';
	errno = 0;
	token = strtoull(text, &end, 10);
	if(errno || *end) return;
	pthread_mutex_lock(&probe->lock);
	if(token > probe->echoed && token <= probe->sent){
		probe->echoed = token;
		probe->echoed_ms = clock_mono_ms();
	}
	pthread_mutex_unlock(&probe->lock);
}

struct probe *probe_start(const struct probe_settings *settings, char *err, size_t errlen)
{
	struct probe *probe = NULL;
	char client_id[64];
	int rc = 0;

	probe = calloc(1, sizeof(*probe));
	if(!probe){
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	pthread_mutex_init(&probe->lock, NULL);
	probe->echoed_ms = -1;
	if(snprintf(probe->topic, sizeof(probe->topic), TOPIC_PREFIX "/sys/health/%s/%s",
			settings->node, settings->user) >= (int)sizeof(probe->topic)
			|| snprintf(client_id, sizeof(client_id), "%s-%s", settings->user, settings->node)
			>= (int)sizeof(client_id)){
		snprintf(err, errlen, "node or user name too long");
		rc = -1;
		goto out;
	}
	probe->mosq = mosquitto_new(client_id, true, probe);
	if(!probe->mosq){
		snprintf(err, errlen, "mosquitto_new failed");
		rc = -1;
		goto out;
	}
	mosquitto_connect_callback_set(probe->mosq, on_connect);
	mosquitto_disconnect_callback_set(probe->mosq, on_disconnect);
	mosquitto_message_callback_set(probe->mosq, on_message);
	/* A refused login is retried slowly: it must not look like a flood. */
	mosquitto_reconnect_delay_set(probe->mosq, 1, 10, true);
	if(mosquitto_username_pw_set(probe->mosq, settings->user, settings->password) != MOSQ_ERR_SUCCESS){
		snprintf(err, errlen, "mosquitto_username_pw_set failed");
		rc = -1;
		goto out;
	}
	/* connect_async fails at once only for bad arguments; a broker that is
	 * down is retried by the network thread. */
	rc = mosquitto_connect_async(probe->mosq, settings->host, settings->port, settings->keepalive_s);
	if(rc != MOSQ_ERR_SUCCESS && rc != MOSQ_ERR_ERRNO){
		snprintf(err, errlen, "connect to %s:%d: %s", settings->host, settings->port, mosquitto_strerror(rc));
		rc = -1;
		goto out;
	}
	if(mosquitto_loop_start(probe->mosq) != MOSQ_ERR_SUCCESS){
		snprintf(err, errlen, "could not start the MQTT network thread");
		rc = -1;
		goto out;
	}
	probe->loop_started = 1;
	rc = 0;
out:
	if(rc && probe){
		probe_free(probe);
		probe = NULL;
	}
	return probe;
}

int probe_send(struct probe *probe)
{
	char payload[24];
	unsigned long long token;
	int connected;
	int len;

	pthread_mutex_lock(&probe->lock);
	connected = probe->connected;
	token = connected ? ++probe->sent : 0;
	pthread_mutex_unlock(&probe->lock);
	if(!connected) return -1;
	len = snprintf(payload, sizeof(payload), "%llu", token);
	if(mosquitto_publish(probe->mosq, NULL, probe->topic, len, payload, 0, false) != MOSQ_ERR_SUCCESS){
		return -1;
	}
	return 0;
}

long long probe_age_ms(struct probe *probe, long long now_ms)
{
	long long echoed_ms;

	pthread_mutex_lock(&probe->lock);
	echoed_ms = probe->echoed_ms;
	pthread_mutex_unlock(&probe->lock);
	return echoed_ms < 0 ? -1 : now_ms - echoed_ms;
}

void probe_free(struct probe *probe)
{
	if(!probe) return;
	if(probe->mosq){
		/* The disconnect also wakes the network thread from a reconnect
		 * wait, so it ends without being cancelled. */
		mosquitto_disconnect(probe->mosq);
		if(probe->loop_started) mosquitto_loop_stop(probe->mosq, false);
		mosquitto_destroy(probe->mosq);
	}
	pthread_mutex_destroy(&probe->lock);
	free(probe);
}
