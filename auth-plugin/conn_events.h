/* conn_events.h: tells presence-svc who is connected to this broker node.
 * The plugin sees every successful login (BASIC_AUTH) and every disconnect
 * (DISCONNECT, however the connection ended), remembers which connections it
 * announced, and publishes one JSON event per change on
 * chat/v1/sys/conn/{node}; bridges carry the events to the hub. Each
 * connection gets an id unique across broker restarts, so a client id taken
 * over by a new connection is told apart from the old one. Broker thread
 * only. */
#ifndef AUTH_CONN_EVENTS_H
#define AUTH_CONN_EVENTS_H

struct mosquitto;
struct conn_events;

/* Returns a tracker for node (copied) or NULL when out of memory; free it
 * with conn_events_free. */
struct conn_events *conn_events_new(const char *node);

/* Records a successful login of username by client and publishes a
 * "connect" event. */
void conn_events_connected(struct conn_events *events, struct mosquitto *client, const char *username);

/* If client was announced, publishes a "disconnect" event and forgets it. */
void conn_events_disconnected(struct conn_events *events, struct mosquitto *client);

/* Frees the tracker (no events are published). NULL allowed. */
void conn_events_free(struct conn_events *events);

#endif
