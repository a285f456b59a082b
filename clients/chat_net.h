/* chat_net.h: the network side of the chat client: one MQTT session (Paho
 * MQTTAsync) that reconnects with capped, jittered backoff, the joined rooms and the current
 * room, sending messages and requests, and turning what arrives into
 * chat_proto events. Front ends (chat_plain.c, chat_tui.c) drive it and
 * show its events; they never touch MQTT themselves. Its parts are listed
 * in chat_net_int.h. */
#ifndef CHAT_NET_H
#define CHAT_NET_H

#include <stddef.h>
#include <stdint.h>

#include "chat_proto.h"
#include "names.h"

#define CHAT_ROOMS_MAX 64 /* rooms one session can join */
#define CHAT_RETRY_MIN_MS 1000   /* reconnect delays: the first ceiling */
#define CHAT_RETRY_MAX_MS 30000  /* and the cap */

struct chat_net;

/* Tags of the requests a session sends, seen in the events of their
 * replies (chat_event.tag). Catch-up pages never reach the front end as
 * history: they become CHAT_EV_MSG events with a seq. */
enum chat_req_tag {
	CHAT_TAG_NONE = 0,
	CHAT_TAG_NEWEST,    /* history: the newest page of a room */
	CHAT_TAG_OLDER,     /* history: a page before a seq (paging back) */
	CHAT_TAG_JOIN,      /* join, create, dm: subscribe and make current on success */
	CHAT_TAG_LEAVE,     /* leave: unsubscribe on success */
	CHAT_TAG_LEARN,     /* rooms, sent by the session itself: not shown */
	CHAT_TAG_QUIET,     /* rooms, roster: a front end's own request, for its side lists */
	CHAT_TAG_SHOW_NEWEST, /* history asked for by a command: the newest page */
	CHAT_TAG_SHOW_OLDER,  /* history asked for by a command: older than a seq */
	CHAT_TAG_SYNC,      /* history after a seq, to learn the seqs of live messages */
	CHAT_TAG_THREAD,    /* history of a thread asked for by /thread */
	CHAT_TAG_CATCHUP = 1000, /* history after a seq, plus the catch-up's generation */
};

struct chat_net_opts {
	const char *host;
	int port;
	const char *cafile;   /* NULL: plain TCP; else TLS trusting this CA file */
	const char *user;
	const char *password; /* not copied: must outlive the session */
	const char *room;     /* the first room: joined and current */
	const char *trace;    /* NULL, or a file to append a debugging trace to */
	long retry_min_ms;    /* reconnect backoff: first ceiling, 0 for CHAT_RETRY_MIN_MS */
	long retry_max_ms;    /* its cap, 0 for CHAT_RETRY_MAX_MS */
};

/* Creates a session (not connected yet) that reports to emit(ctx, ...),
 * from the MQTT library's threads as well as from the caller's. Returns the
 * session, which the caller frees with chat_net_free, or NULL after
 * printing why on stderr. */
struct chat_net *chat_net_new(const struct chat_net_opts *opts, chat_emit_fn emit, void *ctx);

/* Starts connecting. Every successful connect (the first and each
 * reconnect) subscribes to the joined rooms, the inbox and presence, then
 * emits CHAT_EV_CONNECTED and catches up: for every room whose last seq is
 * known, what was stored after it comes from history-svc as CHAT_EV_MSG
 * events with a seq, in order, before any message that arrived live
 * meanwhile; each message (sender and id) is reported once. A lost
 * connection or a failed attempt emits CHAT_EV_DISCONNECTED (the first
 * time of an outage) and CHAT_EV_RECONNECTING with the delay planned
 * (count, ms; see chat_backoff_ms) and the attempt's number (seq),
 * then tries again after the delay; when the broker refuses the login, a
 * fatal CHAT_EV_ERROR ("auth", exit status 2) instead.
 * Returns 0, or -1 after printing why on stderr. */
int chat_net_start(struct chat_net *net);

/* Sends body (len bytes, at most CHAT_BODY_MAX of UTF-8; copied) to the
 * current room with a new random id, and keeps it until history-svc's
 * receipt (CHAT_EV_RECEIPT, once per id) or error for that id: it is
 * sent again with the same id, in the original order, after every
 * reconnect, and when no receipt came within 10 s (doubling up to 60 s,
 * at most 6 times; then a "not_stored" error ends it). While
 * disconnected it waits and is sent on reconnect. At most 10,000 are
 * kept. Returns 0, or -1 after emitting an error event (too_long,
 * bad_utf8, queue_full, not_connected, ...). */
int chat_net_send(struct chat_net *net, const char *body, size_t len);

/* Joins room: asks history-svc to join it (public rooms), and when the
 * reply arrives subscribes and makes it current. A room already followed
 * just becomes current. When history-svc answers not_found (a private
 * room you may belong to), it subscribes anyway and a refusal by the
 * broker arrives as an error event ("not_member"). Returns 0, or -1 after
 * emitting an error event. */
int chat_net_join(struct chat_net *net, const char *room);

/* Follows room without asking history-svc (a room you are a member of):
 * subscribes now when connected, else on the next connect; makes it
 * current when make_current. Returns 0, or -1 after an error event. */
int chat_net_track(struct chat_net *net, const char *room, int make_current);

/* Leaves room (NULL: the current room) for good: a leave request, then
 * unsubscribing when the reply arrives. Returns 0, or -1 after an error
 * event. */
int chat_net_leave(struct chat_net *net, const char *room);

/* Creates room, public or private (is_private); on success it is followed
 * and current. Returns 0, or -1 after an error event. */
int chat_net_create(struct chat_net *net, const char *room, int is_private);

/* Sends an invite or kick (op "invite" or "kick") of user in room (NULL:
 * the current room). Returns 0, or -1 after an error event. */
int chat_net_member_op(struct chat_net *net, const char *op, const char *room, const char *user);

/* Opens the direct-message room with user; on success it is followed and
 * current, and text (when not NULL or "") is sent there. Returns 0, or -1
 * after an error event. */
int chat_net_dm(struct chat_net *net, const char *user, const char *text);

/* Asks for the public rooms. Returns 0, or -1 after an error event. */
int chat_net_public_rooms(struct chat_net *net);

/* Asks presence-svc for the members of room (NULL: current) with their
 * presence; the reply's events are tagged CHAT_TAG_NONE when show (a
 * command asked), else CHAT_TAG_QUIET. Returns 0, or -1 after an error
 * event. */
int chat_net_roster(struct chat_net *net, const char *room, int show);

/* Sets our presence: state "online", "away" or "dnd", with text (NULL or
 * "" for none). Returns 0, or -1 after an error event. */
int chat_net_status(struct chat_net *net, const char *state, const char *text);

/* Moves our read marker in room to the largest seq seen there, when known
 * and moved since the last call. Returns 0 (also when there was nothing to
 * send), or -1 after an error event. */
int chat_net_mark_read(struct chat_net *net, const char *room);

/* Tells the current room we are typing (QoS 0; nothing when offline). */
void chat_net_typing(struct chat_net *net);

/* Account requests (chat_net_account.c): list our tokens (CHAT_EV_TOKEN
 * events), revoke one by id (a CHAT_EV_REPLY with the id), change our
 * password (old and new, revoking every token when revoke_tokens; a
 * CHAT_EV_REPLY with count = tokens revoked). Each returns 0, or -1 after
 * an error event. */
int chat_net_tokens(struct chat_net *net);
int chat_net_revoke_token(struct chat_net *net, const char *id);
int chat_net_password(struct chat_net *net, const char *old_pw, const char *new_pw, int revoke_tokens);

/* Our user name (valid as long as the session). */
const char *chat_net_user(struct chat_net *net);

/* Makes an already joined room current. Returns 0, or -1 after emitting an
 * error event. */
int chat_net_switch(struct chat_net *net, const char *room);

/* Asks history-svc for the last limit (1-CHAT_HISTORY_MAX) messages of
 * room (NULL: the current room), older than seq before when before > 0.
 * The reply arrives as events tagged CHAT_TAG_NEWEST or CHAT_TAG_OLDER,
 * or CHAT_TAG_SHOW_NEWEST or CHAT_TAG_SHOW_OLDER when show (a command
 * asked: a front end prints the reply). Returns 0, or -1 after emitting
 * an error event. */
int chat_net_history(struct chat_net *net, const char *room, long limit, long before, int show);

/* Asks for the rooms the user belongs to; the reply's events are tagged
 * CHAT_TAG_NONE when show (a command asked), else CHAT_TAG_QUIET. Returns
 * 0, or -1 after emitting an error event. */
int chat_net_rooms(struct chat_net *net, int show);

/* Copies the followed rooms, in the order followed, into names (at most
 * max of them) and the current room into current (current_len bytes; ""
 * when none). Returns how many names were copied. */
size_t chat_net_rooms_list(struct chat_net *net, char (*names)[NAME_ROOM_MAX + 1], size_t max, char *current,
		size_t current_len);

/* Number of room messages without their receipt (or error) plus requests
 * not yet acknowledged by the broker nor given up. Each change is also
 * signalled by CHAT_EV_SENT. */
size_t chat_net_pending(struct chat_net *net);

/* Emits an event through the session's emit function, for front ends and
 * commands that report local errors the same way as remote ones. */
void chat_net_emit(struct chat_net *net, const struct chat_event *ev);

/* Emits CHAT_EV_ERROR with code and a printf-formatted text. */
void chat_net_error(struct chat_net *net, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* ---- Message operations (chat_net_msgops.c; docs/CLIENT.md) ----
 * Each returns 0, or -1 after emitting an error event. Events and
 * messages are kept until their receipt as chat_net_send's are. */

/* Sends body to the current room as a message with "reply_to": reply_to
 * and "thread": thread when > 0, and its @names as "mentions". */
int chat_net_send_ext(struct chat_net *net, const char *body, size_t len, long reply_to, long thread);

/* Sends an event of kind ("edit", "delete", "react", "unreact") about
 * message ref of the current room: text for an edit, reaction for the
 * other two (NULL when not used). */
int chat_net_event(struct chat_net *net, const char *kind, long ref, const char *text, const char *reaction);

/* Follows the thread of root in the current room (its replies are asked
 * for; lines typed in that room go to it), or none when root is 0. */
int chat_net_thread(struct chat_net *net, long root);

/* The thread followed: copies its room into room (len bytes) and returns
 * its root, or returns 0 when none. */
long chat_net_thread_current(struct chat_net *net, char *room, size_t len);

/* Sets the current room's topic (NULL or "": clears it). */
int chat_net_topic(struct chat_net *net, const char *topic);

/* Room admin requests about user in the current room: op "ban", "unban",
 * or "role" with role "admin" / "member". */
int chat_net_room_admin(struct chat_net *net, const char *op, const char *user, const char *role);

/* Lists requests about the current room: op "bans" or "receipts". */
int chat_net_room_list(struct chat_net *net, const char *op);

/* Sets (share 0 or 1) or reads (share < 0) the read-receipt preference. */
int chat_net_prefs(struct chat_net *net, int share);

/* Searches the rooms one is a member of (room NULL) or room for query;
 * the search is remembered for chat_net_search_more. Returns 0, or -1
 * after an error event. */
int chat_net_search(struct chat_net *net, const char *room, const char *query);

/* Asks for the next page of the last search (its reply's "next"). Returns
 * 0, or -1 after an error event ("usage": no search yet, or it has no
 * more pages). */
int chat_net_search_more(struct chat_net *net);

/* Disconnects cleanly, giving in-flight publishes up to timeout_ms to
 * complete, and stops reconnecting. CHAT_EV_CLOSED follows (at once when
 * not connected). Nothing more is sent after this. */
void chat_net_stop(struct chat_net *net, int timeout_ms);

/* Destroys the session and frees it; NULL is fine. Call chat_net_stop
 * first for a clean disconnect. */
void chat_net_free(struct chat_net *net);

#endif
