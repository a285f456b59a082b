/* chat_net.h: the network side of the chat client: one MQTT session (Paho
 * MQTTAsync) with automatic reconnection, the joined rooms and the current
 * room, sending messages and requests, and turning what arrives into
 * chat_proto events. Front ends (chat_plain.c) drive it and show its
 * events; they never touch MQTT themselves. */
#ifndef CHAT_NET_H
#define CHAT_NET_H

#include <stddef.h>

#include "chat_proto.h"

#define CHAT_ROOMS_MAX 64 /* rooms one session can join */

struct chat_net;

struct chat_net_opts {
	const char *host;
	int port;
	const char *cafile;   /* NULL: plain TCP; else TLS trusting this CA file */
	const char *user;
	const char *password; /* not copied: must outlive the session */
	const char *room;     /* the first room: joined and current */
};

/* Creates a session (not connected yet) that reports to emit(ctx, ...),
 * from the MQTT library's threads as well as from the caller's. Returns the
 * session, which the caller frees with chat_net_free, or NULL after
 * printing why on stderr. */
struct chat_net *chat_net_new(const struct chat_net_opts *opts, chat_emit_fn emit, void *ctx);

/* Starts connecting. Every successful connect (the first and each automatic
 * reconnect) subscribes to the joined rooms, the inbox and presence, then
 * emits CHAT_EV_CONNECTED; a failed first attempt emits
 * CHAT_EV_DISCONNECTED and CHAT_EV_RECONNECTING, or, when the broker
 * refused the login, a fatal CHAT_EV_ERROR ("auth", exit status 2).
 * Returns 0, or -1 after printing why on stderr. */
int chat_net_start(struct chat_net *net);

/* Sends body (len bytes, at most CHAT_BODY_MAX of UTF-8) to the current
 * room. While disconnected the message is queued and sent on reconnect.
 * Returns 0, or -1 after emitting an error event (too_long, bad_utf8,
 * not_connected, ...). */
int chat_net_send(struct chat_net *net, const char *body, size_t len);

/* Joins room (subscribing now when connected) and makes it current.
 * Returns 0, or -1 after emitting an error event. A refusal by the broker
 * arrives later as an error event ("not_member"), and the room is left. */
int chat_net_join(struct chat_net *net, const char *room);

/* Makes an already joined room current. Returns 0, or -1 after emitting an
 * error event. */
int chat_net_switch(struct chat_net *net, const char *room);

/* Asks history-svc for the last limit (1-CHAT_HISTORY_MAX) messages of the
 * current room, older than seq before when before > 0. The reply arrives as
 * events. Returns 0, or -1 after emitting an error event. */
int chat_net_history(struct chat_net *net, long limit, long before);

/* Asks for the rooms the user belongs to. Returns 0, or -1 after emitting
 * an error event. */
int chat_net_rooms(struct chat_net *net);

/* Copies the current room into buf (len bytes) and the joined rooms,
 * separated by spaces, into joined (joined_len bytes; may be NULL). */
void chat_net_rooms_joined(struct chat_net *net, char *buf, size_t len, char *joined, size_t joined_len);

/* Number of publishes (messages and requests) not yet acknowledged by the
 * broker nor given up. Each change is also signalled by CHAT_EV_SENT. */
size_t chat_net_pending(struct chat_net *net);

/* Emits an event through the session's emit function, for front ends and
 * commands that report local errors the same way as remote ones. */
void chat_net_emit(struct chat_net *net, const struct chat_event *ev);

/* Emits CHAT_EV_ERROR with code and a printf-formatted text. */
void chat_net_error(struct chat_net *net, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Disconnects cleanly, giving in-flight publishes up to timeout_ms to
 * complete, and stops reconnecting. CHAT_EV_CLOSED follows (at once when
 * not connected). Nothing more is sent after this. */
void chat_net_stop(struct chat_net *net, int timeout_ms);

/* Destroys the session and frees it; NULL is fine. Call chat_net_stop
 * first for a clean disconnect. */
void chat_net_free(struct chat_net *net);

#endif
