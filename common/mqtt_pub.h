/* mqtt_pub.h: a publish-only MQTT connection on libmosquitto with its own
 * network thread, for a service's replies and receipts. history-svc takes
 * messages in through a durable Paho consumer (mqtt_durable.h) whose command
 * queue is slow to drain after a backlog; sending on a separate connection
 * keeps replies prompt whatever the intake is doing. Replies need no
 * durability: a client that misses one asks again. Thread-safe. */
#ifndef CHAT_MQTT_PUB_H
#define CHAT_MQTT_PUB_H

#include <stdbool.h>
#include <stddef.h>

struct mqtt_pub;

/* Connects in the background to host:port as username with client id
 * client_id (clean session; reconnects by itself with backoff up to 10 s).
 * Strings are copied. Returns the publisher, or NULL with a message. */
struct mqtt_pub *mqtt_pub_new(const char *host, int port, const char *client_id, const char *username,
		const char *password, char *err, size_t errlen);

/* Queues a publish (QoS 1 messages wait while disconnected). Returns 0 or -1. */
int mqtt_pub_send(struct mqtt_pub *pub, const char *topic, const void *payload, size_t len, int qos, bool retain);

/* Disconnects, stops the thread and frees; NULL allowed. */
void mqtt_pub_free(struct mqtt_pub *pub);

#endif
