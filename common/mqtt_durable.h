/* mqtt_durable.h: an at-least-once MQTT consumer for services that must not
 * lose a message they were sent (history-svc), on Eclipse Paho MQTT C
 * (MQTTAsync). Two properties of Paho 1.3 make it durable where libmosquitto
 * 2.0 is not (libmosquitto sends PUBACK before the message callback runs):
 *  - Paho calls the message handler before it sends the PUBACK, and acks at
 *    once only if the handler returns "handled";
 *  - a message the handler does not take ("retry later") is written to
 *    Paho's file persistence before the PUBACK, and handed over again later,
 *    also after a restart of the process.
 * So the handler commits first and returns 1, and a SIGKILL at any moment
 * leaves every message either un-acked (the broker resends it to the
 * persistent session) or in the persistence directory.
 * Handlers run on Paho's receive thread. */
#ifndef CHAT_MQTT_DURABLE_H
#define CHAT_MQTT_DURABLE_H

#include <stddef.h>

struct mqtt_durable;

struct mqtt_durable_opts {
	const char *host;
	int port;
	const char *client_id;          /* fixed: the broker keeps the session under it */
	const char *username;
	const char *password;
	const char *persistence_dir;    /* Paho's file persistence; created if missing */
	const char *const *subscriptions; /* QoS 1 filters; must outlive the consumer */
	int subscription_count;
};

/* Returns 1 when the message is handled (it will be acknowledged), 0 to
 * have it kept (persisted) and handed over again later. */
typedef int (*mqtt_durable_message_fn)(void *ud, const char *topic, const void *payload, size_t len);

/* Creates the client (strings are copied). Returns it, or NULL with a
 * message in err. Free with mqtt_durable_free. */
struct mqtt_durable *mqtt_durable_new(const struct mqtt_durable_opts *opts, mqtt_durable_message_fn on_message,
		void *ud, char *err, size_t errlen);

/* Starts connecting (with a persistent session, automatic reconnection with
 * backoff from 1 to 30 s, and resubscription on each reconnect). Returns 0,
 * or -1 with a message. */
int mqtt_durable_start(struct mqtt_durable *md, char *err, size_t errlen);

/* Disconnects (waiting up to 2 s for in-flight publishes) and frees; NULL allowed. */
void mqtt_durable_free(struct mqtt_durable *md);

#endif
