/* mqtt_durable.c: at-least-once consumer on Paho MQTTAsync; see mqtt_durable.h. */
#include "mqtt_durable.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <MQTTAsync.h>

#include "log.h"

struct mqtt_durable {
	MQTTAsync client;
	struct mqtt_durable_opts opts;
	char *host, *client_id, *username, *password, *persistence_dir;
	char uri[512];
	mqtt_durable_message_fn on_message;
	void *ud;
};

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static void on_subscribed(void *context, MQTTAsync_successData *response)
{
	(void)context;
	(void)response;
	log_info("subscriptions in place");
}

static void on_subscribe_failed(void *context, MQTTAsync_failureData *response)
{
	(void)context;
	log_error("subscribe failed (code %d)", response ? response->code : -1);
}

/* Called after every successful (re)connection. */
static void on_connected(void *context, char *cause)
{
	struct mqtt_durable *md = context;
	MQTTAsync_responseOptions ropts = MQTTAsync_responseOptions_initializer;
	int qos[16];
	int count = md->opts.subscription_count < 16 ? md->opts.subscription_count : 16;

	(void)cause;
	log_info("connected to %s:%d as %s", md->opts.host, md->opts.port, md->opts.username);
	for(int i = 0; i < count; i++) qos[i] = 1;
	ropts.onSuccess = on_subscribed;
	ropts.onFailure = on_subscribe_failed;
	ropts.context = md;
	if(MQTTAsync_subscribeMany(md->client, count, (char *const *)md->opts.subscriptions, qos, &ropts) != MQTTASYNC_SUCCESS){
		log_error("could not send the subscriptions");
	}
}

static void on_connection_lost(void *context, char *cause)
{
	(void)context;
	log_warn("lost the broker connection (%s); reconnecting", cause ? cause : "no reason given");
}

static void on_connect_failed(void *context, MQTTAsync_failureData *response)
{
	struct mqtt_durable *md = context;

	log_warn("cannot connect to %s:%d (code %d%s%s); retrying", md->opts.host, md->opts.port,
			response ? response->code : -1, response && response->message ? ": " : "",
			response && response->message ? response->message : "");
}

static int on_message_arrived(void *context, char *topic, int topic_len, MQTTAsync_message *message)
{
	struct mqtt_durable *md = context;
	int handled;

	(void)topic_len;
	handled = md->on_message(md->ud, topic, message->payload, (size_t)message->payloadlen);
	if(handled){
		MQTTAsync_freeMessage(&message);
		MQTTAsync_free(topic);
		return 1;
	}
	/* Paho keeps (and persists) it and calls again later. */
	return 0;
}

struct mqtt_durable *mqtt_durable_new(const struct mqtt_durable_opts *opts, mqtt_durable_message_fn on_message,
		void *ud, char *err, size_t errlen)
{
	MQTTAsync_createOptions create = MQTTAsync_createOptions_initializer;
	struct mqtt_durable *md = calloc(1, sizeof(*md));
	int rc;

	if(!md){
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	md->opts = *opts;
	md->host = dup_or_null(opts->host);
	md->client_id = dup_or_null(opts->client_id);
	md->username = dup_or_null(opts->username);
	md->password = dup_or_null(opts->password);
	md->persistence_dir = dup_or_null(opts->persistence_dir);
	md->opts.host = md->host;
	md->opts.client_id = md->client_id;
	md->opts.username = md->username;
	md->opts.password = md->password;
	md->opts.persistence_dir = md->persistence_dir;
	md->on_message = on_message;
	md->ud = ud;
	if(!md->host || !md->client_id || !md->username || !md->password || !md->persistence_dir){
		snprintf(err, errlen, "missing host, client id, user, password or persistence directory");
		goto fail;
	}
	if(mkdir(md->persistence_dir, 0700) && errno != EEXIST){
		snprintf(err, errlen, "cannot create %s: %s", md->persistence_dir, strerror(errno));
		goto fail;
	}
	snprintf(md->uri, sizeof(md->uri), "tcp://%s:%d", md->host, md->opts.port);
	create.sendWhileDisconnected = 1;
	create.maxBufferedMessages = 10000;
	rc = MQTTAsync_createWithOptions(&md->client, md->uri, md->client_id, MQTTCLIENT_PERSISTENCE_DEFAULT,
			md->persistence_dir, &create);
	if(rc != MQTTASYNC_SUCCESS){
		snprintf(err, errlen, "MQTTAsync_create failed (%d)", rc);
		goto fail;
	}
	MQTTAsync_setCallbacks(md->client, md, on_connection_lost, on_message_arrived, NULL);
	MQTTAsync_setConnected(md->client, md, on_connected);
	return md;
fail:
	mqtt_durable_free(md);
	return NULL;
}

int mqtt_durable_start(struct mqtt_durable *md, char *err, size_t errlen)
{
	MQTTAsync_connectOptions conn = MQTTAsync_connectOptions_initializer;
	int rc;

	conn.keepAliveInterval = 30;
	conn.cleansession = 0;
	conn.username = md->username;
	conn.password = md->password;
	conn.automaticReconnect = 1;
	conn.minRetryInterval = 1;
	conn.maxRetryInterval = 30;
	conn.maxInflight = 100;
	conn.onFailure = on_connect_failed;
	conn.context = md;
	rc = MQTTAsync_connect(md->client, &conn);
	if(rc != MQTTASYNC_SUCCESS){
		snprintf(err, errlen, "MQTTAsync_connect failed (%d)", rc);
		return -1;
	}
	return 0;
}

void mqtt_durable_free(struct mqtt_durable *md)
{
	MQTTAsync_disconnectOptions disc = MQTTAsync_disconnectOptions_initializer;

	if(!md) return;
	if(md->client){
		disc.timeout = 2000;
		if(MQTTAsync_isConnected(md->client) && MQTTAsync_disconnect(md->client, &disc) == MQTTASYNC_SUCCESS){
			/* The disconnect is asynchronous: give it its 2 s before destroying. */
			for(int i = 0; i < 40 && MQTTAsync_isConnected(md->client); i++){
				struct timespec step = { 0, 50 * 1000000L };
				nanosleep(&step, NULL);
			}
		}
		MQTTAsync_destroy(&md->client);
	}
	free(md->host);
	free(md->client_id);
	free(md->username);
	if(md->password){
		memset(md->password, 0, strlen(md->password));
		free(md->password);
	}
	free(md->persistence_dir);
	free(md);
}
