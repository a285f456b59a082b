/* mqtt_svc.h: the MQTT side of a service daemon, on libmosquitto: connect
 * with a persistent session, subscribe on every (re)connect, reconnect with
 * capped exponential backoff, and run until asked to stop. */
#ifndef CHAT_MQTT_SVC_H
#define CHAT_MQTT_SVC_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

struct config;
struct mqtt_svc;

struct mqtt_svc_opts {
	const char *host;
	int port;
	const char *client_id;
	const char *username;
	const char *password;
	bool clean_session;
	const char *const *subscriptions; /* topic filters, all at QoS 1 */
	int subscription_count;
};

/* Called on the service thread for each message; topic and payload are
 * valid only during the call. */
typedef void (*mqtt_svc_message_fn)(void *ud, const char *topic, const void *payload, size_t len);

/* Called after each (re)connection was acknowledged, before subscribing. */
typedef void (*mqtt_svc_connected_fn)(void *ud);

/* Called about every 100 ms while running, for timers. */
typedef void (*mqtt_svc_idle_fn)(void *ud);

/* Reads mqtt_host, mqtt_port, mqtt_user, mqtt_password and mqtt_client_id
 * from cfg (strings point into cfg). Returns 0, or -1 with a message. */
int mqtt_svc_opts_from_config(const struct config *cfg, struct mqtt_svc_opts *opts,
		char *err, size_t errlen);

/* Creates the client (opts strings are copied by libmosquitto where it needs
 * them; subscriptions must outlive the service). Returns a service the caller
 * frees with mqtt_svc_free, or NULL with a message. */
struct mqtt_svc *mqtt_svc_new(const struct mqtt_svc_opts *opts, mqtt_svc_message_fn on_message,
		mqtt_svc_connected_fn on_connected, mqtt_svc_idle_fn on_idle, void *ud,
		char *err, size_t errlen);

/* Connects and runs the network loop until *stop becomes non-zero,
 * reconnecting with backoff (0.2 s doubling to 10 s). Returns 0. */
int mqtt_svc_run(struct mqtt_svc *svc, volatile sig_atomic_t *stop);

/* Queues a publish. Returns 0, or -1 when libmosquitto refuses it (for
 * example while disconnected with a full queue). */
int mqtt_svc_publish(struct mqtt_svc *svc, const char *topic, const void *payload, size_t len,
		int qos, bool retain);

/* True while the broker connection is up. */
bool mqtt_svc_connected(const struct mqtt_svc *svc);

/* Disconnects and frees; NULL allowed. */
void mqtt_svc_free(struct mqtt_svc *svc);

#endif
