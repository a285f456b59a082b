/* chat_proto.h: the chat/v1 payloads of the chat client (docs/PROTOCOL.md),
 * built and parsed with cJSON, and the events the client reports to its
 * front end. No network and no threads here: chat_net.c moves the bytes,
 * a front end (chat_plain.c) shows the events. */
#ifndef CHAT_CLIENT_PROTO_H
#define CHAT_CLIENT_PROTO_H

#include <stddef.h>

#include "names.h"
#include "proto.h"

#define CHAT_BODY_MAX PROTO_MSG_BODY_MAX /* bytes of a message body (PROTOCOL 3.1) */
#define CHAT_LINE_MAX 4096          /* bytes of an input line */
#define CHAT_HISTORY_DEFAULT 50
#define CHAT_HISTORY_MAX 250
#define CHAT_MSGID_BYTES 16         /* random bytes of a message id (32 hex) */
#define CHAT_REQID_BYTES 8          /* random bytes of a request id (16 hex) */
#define CHAT_TOKEN_MAX 64           /* ts, state, error codes, op */

enum chat_event_kind {
	CHAT_EV_CONNECTED,      /* connected and subscribed */
	CHAT_EV_DISCONNECTED,   /* text: the reason */
	CHAT_EV_RECONNECTING,   /* the next connect attempt: count = its delay in ms,
	                         * seq = its number since the connection was lost */
	CHAT_EV_MSG,            /* room, user (the sender, from the topic), id, body; seq and ts
	                         * when it comes from the archive (catch-up), else 0 and NULL */
	CHAT_EV_RECEIPT,        /* room, seq, id, ts (may be NULL) */
	CHAT_EV_HISTORY,        /* room, seq, ts, user (sender), id (may be NULL), body */
	CHAT_EV_HISTORY_END,    /* room, count, seq (the room's last_seq) */
	CHAT_EV_ROOM,           /* room, seq (its last_seq), unread, visibility, role (state),
	                         * user (the other person of a direct room, or NULL), text (its
	                         * topic, or NULL), count (unread mentions of us) */
	CHAT_EV_ROOMS_END,      /* count */
	CHAT_EV_PRESENCE,       /* user, state, text (the status text, or NULL); retained: the
	                         * broker's stored state sent on subscribing, not a change */
	CHAT_EV_ERROR,          /* code, text; fatal != 0: the session is over */
	CHAT_EV_BAD_PAYLOAD,    /* topic, text: a malformed incoming payload (diagnostic) */
	CHAT_EV_NOTE,           /* text: a diagnostic that is not an error of the chat */
	CHAT_EV_HELP,           /* text: one line answering /help */
	CHAT_EV_SENT,           /* a publish finished (acknowledged or given up) */
	CHAT_EV_CLOSED,         /* the disconnect asked for with chat_net_stop is done */
	CHAT_EV_REPLY,          /* op, room, user: a request succeeded (join, leave, create,
	                         * invite, kick, dm, read, status); state and text for status;
	                         * id for revoke_token; count (tokens revoked) for password */
	CHAT_EV_PUBLIC_ROOM,    /* room, count (members), seq (last_seq) */
	CHAT_EV_PUBLIC_ROOMS_END, /* count */
	CHAT_EV_MEMBER,         /* room, user, state, text (may be NULL): one of a roster */
	CHAT_EV_MEMBERS_END,    /* room, count */
	CHAT_EV_TYPING,         /* room, user, state ("on" or "off") */
	CHAT_EV_TOKEN,          /* one of a tokens reply: id, text (the label), ts (created),
	                         * state (last used, or "-"), code (expires, or "never"),
	                         * body (scope: "all", or MODE:ROOM,ROOM...) */
	CHAT_EV_TOKENS_END,     /* count */
	CHAT_EV_OP,             /* an event changed message ref of room (PROTOCOL 3.1, message
	                         * operations): op_kind ("edit", "delete", "react", "unreact",
	                         * "topic"), user (who), text (an edit's text, a topic or NULL),
	                         * reaction; seq: the event's own seq when it comes from the
	                         * archive (stored != 0), else 0 (live) */
	CHAT_EV_SEQ,            /* room, user, id: a message shown without a seq has seq */
	CHAT_EV_MENTION,        /* room, seq, id, user (the sender), ts, body: you were mentioned */
	CHAT_EV_READ,           /* room, user, seq: a member's read marker (meta topic, /seen) */
	CHAT_EV_ITEM,           /* op "bans" (room, user, text: by, ts), "receipts" (room, user,
	                         * seq), "search" (room, seq, user: sender, ts, body: snippet) */
	CHAT_EV_ITEMS_END,      /* op, room (or NULL), count, text (search: the next cursor) */
};

/* One event. The strings belong to the code that emits the event and are
 * valid only during the call of the emit function; fields a kind does not
 * use are NULL or 0. Free text (body, text) may hold any bytes but NUL;
 * the other strings are names or tokens without spaces. */
struct chat_event {
	enum chat_event_kind kind;
	const char *room;
	const char *user;
	const char *id;
	const char *body;
	const char *ts;
	const char *state;
	const char *code;
	const char *text;
	const char *topic;
	const char *op;         /* CHAT_EV_REPLY, CHAT_EV_ERROR of a request: the request's op */
	const char *visibility; /* CHAT_EV_ROOM */
	long seq;
	long count;
	long unread;            /* CHAT_EV_ROOM */
	long tag;               /* what the client tagged the request with (chat_net.c) */
	int fatal;              /* CHAT_EV_ERROR: exit status to end with, or 0 */
	int retained;           /* CHAT_EV_PRESENCE: the publish had MQTT's retain flag */
	/* Message operations (CHAT_EV_MSG, CHAT_EV_HISTORY, CHAT_EV_OP): */
	const char *op_kind;    /* "message" (also when NULL), "edit", "delete", "react", ... */
	const char *reaction;   /* react, unreact */
	const char *edited;     /* a message's last edit (ts), or NULL */
	const char *deleted_by; /* who deleted the message (its body is ""), or NULL */
	const char *deleted_ts;
	const char *reactions;  /* "R:COUNT:u1,u2 R2:COUNT:u3" (at most 5 names each), or NULL */
	const char *mentions;   /* "bob,carol", or NULL */
	const char *last_reply; /* a thread root's last reply (ts), or NULL */
	long ref;               /* an event's target seq */
	long reply_to;          /* the message quoted, or 0 */
	long thread;            /* the thread root, or 0 */
	long replies;           /* a thread root's reply count */
	int stored;             /* CHAT_EV_OP: from history-svc (history, meta topic), not live */
};

/* Receives events. May be called from any thread (the MQTT library's
 * callback threads included), so it must lock what it shares. */
typedef void (*chat_emit_fn)(void *ctx, const struct chat_event *ev);

/* Looks up the request req_id among those this client sent and still
 * waits for; when found, forgets it, copies the room it was about (or "")
 * into room (room_len bytes), stores its tag in *tag (copied into the
 * events of the reply) and returns 1; returns 0 for a request this client
 * did not send. */
typedef int (*chat_req_match_fn)(void *ctx, const char *req_id, char *room, size_t room_len, long *tag);

/* Where chat_proto_incoming sends what it finds. */
struct chat_proto_sink {
	chat_emit_fn emit;
	chat_req_match_fn match;
	void *ctx;
	const char *self;       /* our user name: only our inbox is read */
	int retained;           /* the publish came with MQTT's retain flag (sent on subscribing) */
};

/* Builders. Each returns the compact JSON text of one payload, which the
 * caller frees with cJSON_free, or NULL when out of memory.
 *   chat_proto_history: {"op":"history","req_id":REQ,"room":ROOM,"limit":N}
 *                       plus "before":SEQ when before > 0, or "after":SEQ
 *                       when after >= 0 (before is then ignored)
 *   chat_proto_rooms:   {"op":"rooms","req_id":REQ}
 *   chat_proto_request: {"op":OP,"req_id":REQ} plus "room", "user" and
 *                       "visibility" for those not NULL (create, join,
 *                       leave, invite, kick, dm, public_rooms, roster)
 *   chat_proto_read:    {"op":"read","req_id":REQ,"room":ROOM,"seq":SEQ}
 *   chat_proto_status:  {"op":"status","req_id":REQ,"state":S,"text":T|null}
 *   chat_proto_typing:  {"typing":true|false} */
char *chat_proto_history(const char *req_id, const char *room, long limit, long before, long after);
char *chat_proto_rooms(const char *req_id);
char *chat_proto_request(const char *op, const char *req_id, const char *room, const char *user,
		const char *visibility);
char *chat_proto_read(const char *req_id, const char *room, long seq);
char *chat_proto_status(const char *req_id, const char *state, const char *text);
char *chat_proto_typing(int on);

/* Builders of message operations (each returns text for cJSON_free, or
 * NULL; in chat_proto_ops.c):
 *   chat_proto_msg_ext:  a room message {"id","body"} plus "reply_to", "thread" (when > 0)
 *                        and "mentions" (when n > 0)
 *   chat_proto_event:    {"id","kind","ref"} plus "text" or "reaction" when
 *                        not NULL
 *   chat_proto_history_thread: a history request with "thread": root
 *   chat_proto_topic:    {"op":"topic","req_id","room","topic":T|null}
 *   chat_proto_role:     {"op":"role","req_id","room","user","role"}
 *   chat_proto_prefs:    {"op":"prefs","req_id"} plus "share_read" when
 *                        share_read >= 0
 *   chat_proto_search:   {"op":"search","req_id","query"} plus "room" when
 *                        not NULL and "before" when not NULL */
char *chat_proto_msg_ext(const char *id, const char *body, long reply_to, long thread,
		const char (*mentions)[NAME_USER_MAX + 1], size_t n);
char *chat_proto_event(const char *id, const char *kind, long ref, const char *text, const char *reaction);
char *chat_proto_history_thread(const char *req_id, const char *room, long limit, long thread);
char *chat_proto_topic(const char *req_id, const char *room, const char *topic);
char *chat_proto_role(const char *req_id, const char *room, const char *user, const char *role);
char *chat_proto_prefs(const char *req_id, int share_read);
char *chat_proto_search(const char *req_id, const char *query, const char *room, const char *before);

/* Turns one incoming publish (topic, and payload of len bytes) into events
 * sent to sink: room messages, inbox receipts, errors and replies (only
 * replies to our own requests, per sink->match), presence. A room message
 * (live, or in a history reply) that breaks the rule of PROTOCOL 3.1
 * (room_msg.h) is not shown: it becomes a CHAT_EV_NOTE saying why. Other
 * malformed payloads become CHAT_EV_BAD_PAYLOAD; unknown inbox types and
 * reply ops are ignored, as the protocol asks. Never trusts a sender name in a
 * payload: the sender of a room message is the last topic level. */
void chat_proto_incoming(const struct chat_proto_sink *sink, const char *topic,
		const void *payload, size_t len);

#endif
