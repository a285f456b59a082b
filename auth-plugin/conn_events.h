/* conn_events.h: tells presence-svc who is connected to this broker node,
 * and polices typing indicators.
 * The plugin sees every successful login (BASIC_AUTH) and every disconnect
 * (DISCONNECT, however the connection ended), remembers which connections it
 * announced, and publishes on chat/v1/sys/conn/{node} (bridges carry it to
 * the hub):
 *  - one "connect" or "disconnect" event per change (QoS 1);
 *  - every CONN_EVENTS_HEARTBEAT_MS a "heartbeat" (QoS 0) with the number of
 *    connections and an order-free digest of their ids, so presence-svc can
 *    tell a node is alive and that its table for the node is right;
 *  - a "snapshot" of every connection (QoS 1, in parts of at most
 *    CONN_EVENTS_SNAPSHOT_PART) when presence-svc asks on
 *    chat/v1/sys/sync/{node}, at most once per second.
 * Each connection gets an id unique across broker restarts (node, boot time,
 * counter), so a client id taken over by a new connection is told apart
 * from the old one. The wire format is in docs/PROTOCOL.md. Broker thread
 * only; every call is O(1) except a snapshot, which is O(connections). */
#ifndef AUTH_CONN_EVENTS_H
#define AUTH_CONN_EVENTS_H

#include <stdbool.h>
#include <stdint.h>

#define CONN_EVENTS_HEARTBEAT_MS 2000
#define CONN_EVENTS_SNAPSHOT_PART 100
/* Typing indicators: at most this many publishes per connection per window. */
#define CONN_EVENTS_TYPING_MAX 5
#define CONN_EVENTS_TYPING_WINDOW_MS 5000
#define CONN_EVENTS_TYPING_PAYLOAD_MAX 64

struct mosquitto;
struct conn_events;

/* Returns a tracker for node (copied) or NULL when out of memory or node is
 * not a valid node name; free it with conn_events_free. */
struct conn_events *conn_events_new(const char *node);

/* Records a successful login of username by client and publishes a
 * "connect" event. */
void conn_events_connected(struct conn_events *events, struct mosquitto *client, const char *username);

/* If client was announced, publishes a "disconnect" event and forgets it. */
void conn_events_disconnected(struct conn_events *events, struct mosquitto *client);

/* Called on every broker tick: publishes the heartbeat when due and a
 * requested snapshot once the rate limit allows. */
void conn_events_tick(struct conn_events *events);

/* Called for every message the broker accepts (MOSQ_EVT_MESSAGE, also those
 * arriving over a bridge): a message on this node's sync topic asks for a
 * snapshot. Only looks; never changes or refuses the message. */
void conn_events_message(struct conn_events *events, const char *topic, const void *payload, uint32_t len);

/* Called after the chat rules allowed client to publish on topic: returns
 * false when the publish must be refused anyway. That is the case for a
 * typing indicator (chat/v1/rooms/{room}/typing/{user}) from a tracked user
 * connection whose payload is not {"typing": true|false} in at most
 * CONN_EVENTS_TYPING_PAYLOAD_MAX bytes, or that is over its rate. Every
 * other publish is allowed. Logs what it refuses (once per window). */
bool conn_events_publish_allowed(struct conn_events *events, struct mosquitto *client, const char *topic,
		const void *payload, uint32_t len);

/* The order-free digest of a set of connection ids: the XOR of each id's
 * 64-bit FNV-1a hash. presence-svc computes the same (presence_table.c). */
uint64_t conn_events_id_hash(const char *conn_id);

/* Frees the tracker (no events are published). NULL allowed. */
void conn_events_free(struct conn_events *events);

#endif
