/* chat_net_int.h: what the files of the chat client's MQTT session share
 * (private to them; front ends include chat_net.h only).
 *
 * The session is split along its seams, and a call only goes down this
 * list, never up, so that a message flows one way:
 *   chat_net.c           create, start, stop, free: the top
 *   chat_net_incoming.c  incoming publishes: dedupe, catch-up, replies, receipts
 *   chat_net_reconnect.c connecting, the reconnect thread, subscribing after a connect
 *   chat_net_catchup.c   catching up a room after a reconnect, holding live messages
 *   chat_net_sync.c      message operations: the live rule, learning the seqs of live
 *                        messages, applying stored events
 *   chat_net_msgops.c    the API of message operations (events, topic, bans, search...)
 *   chat_net_requests.c  requests and their req_ids, the request API
 *   chat_net_outbox.c    room messages kept until their receipt
 *   chat_net_rooms.c     the followed rooms, the current room, subscribing to one
 *   chat_net_ops.c       operations handed to Paho (publishes, subscribes)
 *   chat_net_events.c    events to the front end, errors, the --trace file
 *
 * Threads: the front end calls chat_net_* from its own thread; Paho calls
 * the on_* callbacks from its threads. net->lock guards everything the two
 * share (rooms, pending operations and requests, state). It is never held
 * while calling into Paho or emitting an event, so neither can deadlock
 * against Paho's own locks or the front end's. Functions below say when
 * they expect the lock held. */
#ifndef CHAT_NET_INT_H
#define CHAT_NET_INT_H

#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>

#include <MQTTAsync.h>
#include <uthash.h>

#include "chat_net.h"
#include "chat_ops.h"
#include "names.h"
#include "topics.h"

#define URI_MAX 300
#define CLIENT_ID_MAX 64
#define NET_TEXT_MAX 512
#define NET_SEEN_MAX 2048       /* (sender, id) pairs remembered per room */
#define NET_MAX_BUFFERED 1000   /* messages Paho queues while disconnected */
#define MSG_KEY_MAX (NAME_ROOM_MAX + 1 + 2 * CHAT_MSGID_BYTES + 1) /* "room/id" */
#define CHAT_SEARCH_MAX 200      /* bytes of a search query (docs/PROTOCOL.md 4.9) */
#define CHAT_SEARCH_NEXT_MAX 256 /* bytes of a search reply's "next" kept for /more */

enum op_kind { OP_PUBLISH, OP_SUBSCRIBE_ALL, OP_JOIN };

/* An operation handed to Paho with callbacks: kept on net->ops until its
 * callback frees it, so that anything left over when the client is
 * destroyed is freed too. */
struct op {
	struct op *prev, *next;
	struct chat_net *net;
	enum op_kind kind;
	int waiting;                        /* publish: lost with a connection, to send again */
	int attempts;                       /* publish: times handed to Paho */
	int background;                     /* publish: a sync request, not counted as pending
	                                     * and dropped with a connection (catch-up covers it) */
	char topic[TOPIC_MAX + 1];          /* publish */
	char *payload;                      /* publish: JSON text (cJSON_free) */
	int payload_len;
	char room[NAME_ROOM_MAX + 1];       /* publish: target room or ""; join: the room */
	char prev_room[NAME_ROOM_MAX + 1];  /* join: the current room before it */
	char (*rooms)[NAME_ROOM_MAX + 1];   /* subscribe all: the rooms, first in the topic list */
	size_t nrooms;
};

/* A room message kept until its receipt (or an error, or giving up):
 * on net->pend_head (oldest first) and in net->pend_by_key. */
struct pending_msg {
	struct pending_msg *prev, *next;
	UT_hash_handle hh;          /* key: "room/id" */
	char key[MSG_KEY_MAX];
	char room[NAME_ROOM_MAX + 1];
	char id[2 * CHAT_MSGID_BYTES + 1];
	char topic[TOPIC_MAX + 1];
	int need_send;              /* to be handed to Paho by outbox__flush */
	int resends;                /* sent again for lack of a receipt */
	long long due;              /* monotonic ms: no receipt by then, send again */
	char payload[];             /* the JSON text sent (a message or an event) */
};

/* A 64-bit hash in a bounded set: the oldest goes first when it is full
 * (uthash keeps insertion order). */
struct hash_entry {
	uint64_t key;
	UT_hash_handle hh;
};

/* A request waiting for its reply, by req_id. */
struct pending_req {
	char req_id[2 * CHAT_REQID_BYTES + 1];
	UT_hash_handle hh;
	long tag;
	char room[NAME_ROOM_MAX + 1];
};

/* A live message held while its room catches up. */
struct live_msg {
	struct live_msg *next;
	uint64_t hash;
	long reply_to, thread;
	char *user, *id, *body, *mentions; /* point into text[]; mentions may be "" */
	char text[];
};

/* A followed room, in net->rooms (in the order followed). */
struct net_room {
	char name[NAME_ROOM_MAX + 1];
	UT_hash_handle hh;
	long last_seq;              /* largest seq shown, when known */
	long read_seq;              /* last read marker sent */
	long stored_seq;            /* largest seq of our own receipts: for read markers only */
	long live_shown;            /* messages shown live (no seq) since last_seq was set */
	int known;
	int catching_up;
	long catchup_gen;           /* the catch-up under way; older replies are ignored */
	long page_count, page_max;  /* the catch-up page being received */
	struct live_msg *live_head, *live_tail;
	size_t nlive;
	struct hash_entry *seen;    /* msg_hash(sender, id) of the messages shown, bounded */
	/* Message operations (chat_net_sync.c): */
	struct ops_index index;     /* seq -> sender of the messages known with their seq */
	struct hash_entry *unseq;   /* msg_hash(sender, id) shown live, seq not known yet */
	long long sync_due;         /* monotonic ms of the next seq-learning request, or 0 */
	int syncing;                /* one is under way */
	int sync_tries;             /* in a row without learning every seq */
	int sync_newest;            /* ask for the newest page, not after last_seq (not known
	                             * when the live message came, or it did not bring them) */
};

enum net_state { NET_CONNECTING, NET_UP, NET_DOWN };

struct chat_net {
	MQTTAsync client;
	int have_client;
	int have_lock;
	pthread_mutex_t lock;
	chat_emit_fn emit;
	void *ctx;
	char user[NAME_USER_MAX + 1];
	const char *password;
	const char *cafile;
	char uri[URI_MAX];
	char client_id[CLIENT_ID_MAX];
	MQTTAsync_SSLOptions ssl;
	FILE *trace;                /* --trace: stdio locks it per line */
	long retry_min_ms, retry_max_ms;
	pthread_t reconnector;
	int have_reconnector;
	pthread_cond_t wakeup;      /* the reconnect thread waits on it (CLOCK_MONOTONIC) */
	int have_wakeup;

	/* Under lock: */
	struct net_room *rooms;     /* uthash by name, in the order followed */
	long catchup_gen;
	char current[NAME_ROOM_MAX + 1];
	struct op *ops;
	size_t npublish;
	size_t nmsg_ops;            /* of npublish: room messages (counted in npend instead) */
	struct pending_msg *pend_head, *pend_tail;
	struct pending_msg *pend_by_key;
	size_t npend;
	int flushing;               /* a thread is in outbox__flush */
	struct hash_entry *done;    /* msg_hash(room, id) of finished messages, bounded */
	struct pending_req *reqs;   /* uthash by req_id, oldest first */
	enum net_state state;
	int stopping;
	long long reconnect_at;     /* monotonic ms of the next connect attempt, or 0 */
	unsigned attempt;           /* connect attempts since the last stable connection */
	long long up_since;         /* monotonic ms of the last successful connect, or 0 */
	char dm_user[NAME_USER_MAX + 1];    /* a /msg USER TEXT waiting for its room */
	char dm_text[CHAT_BODY_MAX + 1];
	char thread_room[NAME_ROOM_MAX + 1]; /* /thread: replies typed in this room go to */
	long thread_root;                    /* this thread (0: none) */
	char search_query[CHAT_SEARCH_MAX + 1]; /* the last /search, for /more ("" : none) */
	char search_room[NAME_ROOM_MAX + 1];    /* its room, or "" for all one's rooms */
	char search_next[CHAT_SEARCH_NEXT_MAX + 1]; /* its reply's "next" ("": no more pages) */
};

/* ---- chat_net_msgops.c ---- */
/* The end of a search reply (CHAT_EV_ITEMS_END, op "search"): keeps its
 * "next" for chat_net_search_more (takes the lock). */
void msgops__search_end(struct chat_net *net, const struct chat_event *ev);

/* ---- chat_net_events.c ---- */
void net__lock(struct chat_net *net);
void net__unlock(struct chat_net *net);
/* Paho's text for code, never NULL (static). */
const char *net__strerror(int code);
/* One line of the --trace file, when there is one: the time, then the
 * printf-formatted text. */
void net__trace(struct chat_net *net, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Emits an event of kind with only text set (may be NULL). */
void net__emit_kind(struct chat_net *net, enum chat_event_kind kind, const char *text);
/* Emits a fatal CHAT_EV_ERROR: the session is over, exit status status. */
void net__fatal(struct chat_net *net, int status, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* A bounded set of 64-bit hashes (*set, a uthash; NULL is empty): adds h
 * (forgetting the oldest beyond max), tests it, frees the set. */
void net__hashset_add(struct hash_entry **set, uint64_t h, size_t max);
int net__hashset_has(struct hash_entry *set, uint64_t h);
void net__hashset_free(struct hash_entry **set);
/* FNV-1a of a, a '/' and b: who sent which message, or which room got it. */
uint64_t net__msg_hash(const char *a, const char *b);

/* ---- chat_net_ops.c ---- */
/* A new operation of kind (calloc'ed), or NULL. */
struct op *ops__new(struct chat_net *net, enum op_kind kind);
void ops__free(struct op *op);
/* Puts op on / takes it off net->ops (lock held). */
void ops__link(struct chat_net *net, struct op *op);
void ops__unlink(struct chat_net *net, struct op *op);
/* Takes a finished op off the list (takes the lock) and frees it; returns
 * whether the session is stopping. */
int ops__retire(struct chat_net *net, struct op *op);
/* Hands a linked publish op to Paho (QoS 1) with ops' callbacks; returns
 * Paho's code (on failure op stays the caller's). */
int ops__send(struct chat_net *net, struct op *op);
/* Publishes a request's payload (taken over: freed here) with QoS 1 to
 * topic; returns 0, or -1 after an error event. */
int ops__publish(struct chat_net *net, const char *topic, char *payload);
/* The same for a background request (struct op, background). */
int ops__publish_background(struct chat_net *net, const char *topic, char *payload);
/* Sends again, in order, the requests a lost connection dropped. */
void ops__resend_waiting(struct chat_net *net);

/* ---- chat_net_rooms.c ---- */
/* The subscription filter of a room: its messages and typing indicators. */
void rooms__filter(char *buf, size_t len, const char *room);
/* Finds (NULL: none) and adds (NULL when full or out of memory) a
 * followed room (lock held). */
struct net_room *rooms__find(struct chat_net *net, const char *name);
struct net_room *rooms__add(struct chat_net *net, const char *name);
size_t rooms__count(struct chat_net *net);
/* The seen set of r (lock held): adds h, or tells whether it is there. */
void rooms__seen_add(struct net_room *r, uint64_t h);
int rooms__seen_has(const struct net_room *r, uint64_t h);
/* Frees every followed room (no lock: the session is being freed). */
void rooms__free_all(struct chat_net *net);
/* Copies the current room into room (len bytes; "" for none). */
void rooms__current(struct chat_net *net, char *room, size_t len);
/* Copies room, or the current room when NULL, into buf; returns 0, or -1
 * after an error event when there is none or it is not a name. */
int rooms__arg(struct chat_net *net, const char *room, char *buf, size_t len);
/* Follows room (subscribing now when connected), current if make_current;
 * returns 0, or -1 after an error event. */
int rooms__track(struct chat_net *net, const char *room, int make_current);
/* Stops following room (after a leave): unsubscribes, forgets it. */
void rooms__untrack(struct chat_net *net, const char *room);

/* ---- chat_net_outbox.c ---- */
/* Keeps payload (copied: a message or event with id, for room) until its
 * receipt and sends it; returns 0, or -1 after an error event. */
int outbox__keep(struct chat_net *net, const char *room, const char *id, const char *payload);
/* Marks every kept message to be sent again (after a connect) and sends
 * them, in their original order. */
void outbox__resend_all(struct chat_net *net);
/* While connected: sends again each kept message whose receipt is
 * overdue, gives up those resent too often. Without the lock. */
void outbox__check_overdue(struct chat_net *net);
/* The archive answered for (room, id): keep == 0 ends the wait (a receipt,
 * an error). Returns 1 when it was waiting (the front end is told), 0 when
 * it is not kept and was not finished recently (a message of another
 * device: shown), -1 when it was finished already (a repeat: not shown)
 * or keep is set (sent again later). Takes the lock. */
int outbox__settle(struct chat_net *net, const char *room, const char *id, int keep);
/* Frees every kept message (no lock: the session is being freed). */
void outbox__free_all(struct chat_net *net);

/* ---- chat_net_requests.c ---- */
/* Sends a request built by chat_proto (payload taken over) to service and
 * remembers its req_id (with room and tag) so that only its reply is
 * shown; returns 0, or -1 after an error event. */
int requests__send(struct chat_net *net, const char *req_id, char *payload, const char *room, long tag,
		const char *service);
/* Forgets the request req_id; returns 1 with its room and tag copied out
 * when it was ours, else 0 (the chat_req_match_fn of chat_proto). */
int requests__take(struct chat_net *net, const char *req_id, char *room, size_t room_len, long *tag);
/* Frees every request (no lock: the session is being freed). */
void requests__free_all(struct chat_net *net);

/* ---- chat_net_sync.c ---- */
/* A live message shown (lock held, r its room): its seq is to be learned. */
void sync__live_shown(struct chat_net *net, struct net_room *r, const struct chat_event *ev);
/* A live event (CHAT_EV_OP, not stored): applied by the live rule, or
 * left for its stored form. Takes the lock. */
void sync__live_op(struct chat_net *net, const struct chat_event *ev);
/* A stored event from the meta topic (CHAT_EV_OP, stored). Takes the lock. */
void sync__meta_op(struct chat_net *net, const struct chat_event *ev);
/* A history entry from a catch-up or a sync page (kind CHAT_EV_HISTORY):
 * shown as a message or an event unless seen, else its seq is told.
 * Takes the lock. */
void sync__stored(struct chat_net *net, const struct chat_event *ev);
/* Any history entry or receipt with a seq: the index learns it (lock held). */
void sync__index(struct net_room *r, long seq, const char *sender, const char *kind, int deleted);
/* The end of a sync page (tag CHAT_TAG_SYNC). */
void sync__page_end(struct chat_net *net, const struct chat_event *ev);
/* Sends the sync requests that are due (reconnect thread, lock not held). */
void sync__check_due(struct chat_net *net);
/* The monotonic ms when the reconnect thread is to look again (a sync
 * planned, or one held back by another under way), or 0 (lock held). */
long long sync__next_due(struct chat_net *net);
/* Frees what a room holds for message operations (lock held or not shared). */
void sync__room_free(struct net_room *r);

/* ---- chat_net_catchup.c ---- */
/* After a connect: a catch-up for each room whose last seq is known, and
 * one rooms request to learn the seq of the others. */
void catchup__start(struct chat_net *net);
/* A live room message: shown unless seen, held while its room catches up. */
void catchup__live(struct chat_net *net, const struct chat_event *ev);
/* A message / the end of a catch-up page (tag >= CHAT_TAG_CATCHUP). */
void catchup__page_message(struct chat_net *net, const struct chat_event *ev);
void catchup__page_end(struct chat_net *net, const struct chat_event *ev);
/* Ends the catch-up gen of room (when still under way): shows what was held. */
void catchup__finish(struct chat_net *net, const char *room, long gen);

/* ---- chat_net_incoming.c ---- */
/* Paho's message callback: one incoming publish to events. */
int incoming__on_message(void *context, char *topic, int topic_len, MQTTAsync_message *msg);

/* ---- chat_net_reconnect.c ---- */
/* Paho's connected and connection-lost callbacks. */
void reconnect__on_connected(void *context, char *cause);
void reconnect__on_lost(void *context, char *cause);
/* Hands Paho one connect attempt; returns Paho's code. */
int reconnect__connect_now(struct chat_net *net);
/* The reconnect thread's function (arg: the session). */
void *reconnect__thread(void *arg);

#endif
