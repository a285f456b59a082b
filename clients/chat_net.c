/* chat_net.c: the MQTT session of the chat client (Paho MQTTAsync); see
 * chat_net.h.
 *
 * Threads: the front end calls chat_net_* from its own thread; Paho calls
 * the on_* callbacks from its threads. net->lock guards everything the two
 * share (rooms, pending operations and requests, state). It is never held
 * while calling into Paho or emitting an event, so neither can deadlock
 * against Paho's own locks or the front end's.
 *
 * Every operation handed to Paho with callbacks (publish, subscribe) has a
 * struct op as its context, kept on net->ops until its callback frees it,
 * so that anything left over when the client is destroyed is freed too.
 * A request dropped because the connection was lost (Paho fails in-flight
 * QoS 1 messages of a clean session) is sent again on the next connect.
 *
 * Room messages are kept until their receipt (net->pend_head, oldest
 * first), not only until their node's PUBACK: a node may ack a message
 * and die before forwarding it. Each is handed to Paho by flush_pending,
 * one thread at a time, in order; after every connect all of them are
 * sent again in their original order, and one without a receipt after
 * RECEIPT_TIMEOUT_MS (doubling per resend up to RESEND_DELAY_MAX_MS) is
 * sent again by the reconnect thread, at most RESEND_MAX times before it
 * is given up with an error. Always with the same id: history-svc stores
 * a message once per (room, sender, id) and answers a duplicate with the
 * original receipt. A history-svc error for the id ends it too. Receipts
 * and errors for ids finished recently (DONE_MAX) are not shown twice.
 *
 * Exactly once, in order: each followed room remembers the largest seq it
 * has shown (from receipts and history) and the last SEEN_MAX (sender, id)
 * pairs. After every reconnect, rooms with a known seq catch up with
 * "history after seq" page by page; live messages arriving meanwhile are
 * held and shown after the catch-up, and anything already seen is dropped
 * (live messages carry no seq, so they are matched by sender and id).
 *
 * Reconnecting is ours, not Paho's (whose automatic reconnect doubles its
 * delay without jitter, so that every client a broker restart dropped
 * comes back in the same instant, again and again). After a lost
 * connection or a failed attempt, net->reconnect_at is set to a delay
 * from chat_net_backoff_ms (exponential, capped, with full jitter) and the
 * reconnect thread calls MQTTAsync_connect when it is due. The attempt
 * count starts again only after a connection has stayed up for STABLE_MS,
 * so a broker that accepts and at once drops us does not get a tight
 * loop. */
#include "chat_net.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <MQTTAsync.h>
#include <cJSON.h>

#include "names.h"
#include "random_id.h"
#include "timefmt.h"
#include "topics.h"
#include "fnv.h"

#define KEEPALIVE_S 30
#define CONNECT_TIMEOUT_S 10
#define STABLE_MS 10000         /* up this long: the next loss starts the backoff again */
#define MAX_BUFFERED 1000       /* messages Paho queues while disconnected */
#define SEND_ATTEMPTS 5         /* times one publish is handed to Paho */
#define REQS_MAX 32             /* requests waiting for a reply */
#define URI_MAX 300
#define CLIENT_ID_MAX 64
#define TEXT_MAX 512
#define SEEN_MAX 2048           /* (sender, id) pairs remembered per room */
#define LIVE_MAX 20000          /* live messages held per room during a catch-up */
#define CATCHUP_PAGE CHAT_HISTORY_MAX
#define PENDING_MAX 10000       /* messages kept until their receipt */
#define RECEIPT_TIMEOUT_MS 10000        /* no receipt this long after sending: send again */
#define RESEND_DELAY_MAX_MS 60000       /* the doubling timeout's cap */
#define RESEND_MAX 6            /* resends for lack of a receipt before giving up */
#define TIMER_TICK_MS 500       /* the reconnect thread checks receipt timeouts this often */
#define DONE_MAX 1024           /* finished (room, id) pairs whose repeats are not shown */

enum op_kind { OP_PUBLISH, OP_SUBSCRIBE_ALL, OP_JOIN, OP_UNSUBSCRIBE };

struct op {
	struct op *prev, *next;
	struct chat_net *net;
	enum op_kind kind;
	int waiting;                        /* publish: lost with a connection, to send again */
	int attempts;                       /* publish: times handed to Paho */
	char topic[TOPIC_MAX + 1];          /* publish */
	char *payload;                      /* publish: JSON text (cJSON_free) */
	int payload_len;
	char room[NAME_ROOM_MAX + 1];       /* publish: target room or ""; join: the room */
	char prev_room[NAME_ROOM_MAX + 1];  /* join: the current room before it */
	char (*rooms)[NAME_ROOM_MAX + 1];   /* subscribe all: the rooms, first in the topic list */
	size_t nrooms;
};

/* A room message kept until its receipt (or an error, or giving up). */
struct pending_msg {
	struct pending_msg *next;
	char room[NAME_ROOM_MAX + 1];
	char id[2 * CHAT_MSGID_BYTES + 1];
	char topic[TOPIC_MAX + 1];
	int need_send;              /* to be handed to Paho by flush_pending */
	int resends;                /* sent again for lack of a receipt */
	long long due;              /* monotonic ms: no receipt by then, send again */
	char body[];
};

struct pending_req {
	int used;
	unsigned long order;
	long tag;
	char req_id[2 * CHAT_REQID_BYTES + 1];
	char room[NAME_ROOM_MAX + 1];
};

/* A live message held while its room catches up. */
struct live_msg {
	struct live_msg *next;
	uint64_t hash;
	char *user, *id, *body;     /* point into text[] */
	char text[];
};

/* A followed room. */
struct net_room {
	char name[NAME_ROOM_MAX + 1];
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
	uint64_t seen[SEEN_MAX];
	size_t seen_next, seen_count;
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
	struct net_room *rooms[CHAT_ROOMS_MAX];
	size_t nrooms;
	long catchup_gen;
	char current[NAME_ROOM_MAX + 1];
	struct op *ops;
	size_t npublish;
	size_t nmsg_ops;            /* of npublish: room messages (counted in npend instead) */
	struct pending_msg *pend_head, *pend_tail;
	size_t npend;
	int flushing;               /* a thread is in flush_pending */
	uint64_t done[DONE_MAX];    /* msg_hash(room, id) of finished messages */
	size_t done_next, done_count;
	struct pending_req reqs[REQS_MAX];
	unsigned long req_order;
	enum net_state state;
	int stopping;
	long long reconnect_at;     /* monotonic ms of the next connect attempt, or 0 */
	unsigned attempt;           /* connect attempts since the last stable connection */
	long long up_since;         /* monotonic ms of the last successful connect, or 0 */
	char dm_user[NAME_USER_MAX + 1];    /* a /msg USER TEXT waiting for its room */
	char dm_text[CHAT_BODY_MAX + 1];
};

static void lock(struct chat_net *net)
{
	pthread_mutex_lock(&net->lock);
}

static void unlock(struct chat_net *net)
{
	pthread_mutex_unlock(&net->lock);
}

static long long monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *mqtt_strerror(int code)
{
	const char *s = MQTTAsync_strerror(code);

	return s ? s : "unknown error";
}

/* One line of the --trace file: the time, then the formatted text. */
static void trace(struct chat_net *net, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void trace(struct chat_net *net, const char *fmt, ...)
{
	char when[TIMEFMT_LEN];
	va_list ap;

	if(!net->trace) return;
	timefmt_now(when, NULL);
	flockfile(net->trace);
	fprintf(net->trace, "%s ", when);
	va_start(ap, fmt);
	vfprintf(net->trace, fmt, ap);
	va_end(ap);
	fputc('\n', net->trace);
	fflush(net->trace);
	funlockfile(net->trace);
}

static const char *const event_names[] = {
	[CHAT_EV_CONNECTED] = "connected", [CHAT_EV_DISCONNECTED] = "disconnected",
	[CHAT_EV_RECONNECTING] = "reconnecting", [CHAT_EV_MSG] = "msg", [CHAT_EV_RECEIPT] = "receipt",
	[CHAT_EV_HISTORY] = "history", [CHAT_EV_HISTORY_END] = "history-end", [CHAT_EV_ROOM] = "room",
	[CHAT_EV_ROOMS_END] = "rooms-end", [CHAT_EV_PRESENCE] = "presence", [CHAT_EV_ERROR] = "error",
	[CHAT_EV_BAD_PAYLOAD] = "bad-payload", [CHAT_EV_NOTE] = "note", [CHAT_EV_HELP] = "help",
	[CHAT_EV_SENT] = "sent", [CHAT_EV_CLOSED] = "closed", [CHAT_EV_REPLY] = "reply",
	[CHAT_EV_PUBLIC_ROOM] = "public-room", [CHAT_EV_PUBLIC_ROOMS_END] = "public-rooms-end",
	[CHAT_EV_MEMBER] = "member", [CHAT_EV_MEMBERS_END] = "members-end", [CHAT_EV_TYPING] = "typing",
};

static const char *or_dash(const char *s)
{
	return s ? s : "-";
}

/* Passes ev (owned by the caller) to the front end's emit function. */
void chat_net_emit(struct chat_net *net, const struct chat_event *ev)
{
	if(net->trace){
		size_t k = (size_t)ev->kind;
		const char *name = k < sizeof(event_names) / sizeof(event_names[0]) && event_names[k] ? event_names[k] : "?";

		trace(net, "event %s room=%s user=%s id=%s op=%s code=%s state=%s seq=%ld count=%ld tag=%ld%s text=%s",
				name, or_dash(ev->room), or_dash(ev->user), or_dash(ev->id), or_dash(ev->op), or_dash(ev->code),
				or_dash(ev->state), ev->seq, ev->count, ev->tag, ev->retained ? " retained" : "", or_dash(ev->text));
	}
	net->emit(net->ctx, ev);
}

static void emit_kind(struct chat_net *net, enum chat_event_kind kind, const char *text)
{
	struct chat_event ev = { .kind = kind, .text = text };

	chat_net_emit(net, &ev);
}

static void verror(struct chat_net *net, int fatal, const char *code, const char *fmt, va_list ap)
{
	struct chat_event ev = { .kind = CHAT_EV_ERROR, .code = code, .fatal = fatal };
	char text[TEXT_MAX];

	vsnprintf(text, sizeof(text), fmt, ap);
	ev.text = text;
	chat_net_emit(net, &ev);
}

/* Emits an error event with code and the formatted text. */
void chat_net_error(struct chat_net *net, const char *code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verror(net, 0, code, fmt, ap);
	va_end(ap);
}

static void fatal_error(struct chat_net *net, int status, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void fatal_error(struct chat_net *net, int status, const char *code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verror(net, status, code, fmt, ap);
	va_end(ap);
}

/* ---- operations (lock held for link and unlink) ---- */

static void op_free(struct op *op)
{
	if(!op) return;
	cJSON_free(op->payload);
	free(op->rooms);
	free(op);
}

static void op_link(struct chat_net *net, struct op *op)
{
	op->prev = NULL;
	op->next = net->ops;
	if(net->ops) net->ops->prev = op;
	net->ops = op;
	if(op->kind == OP_PUBLISH) net->npublish++;
	if(op->kind == OP_PUBLISH && op->room[0]) net->nmsg_ops++;
}

static void op_unlink(struct chat_net *net, struct op *op)
{
	if(op->prev) op->prev->next = op->next;
	else net->ops = op->next;
	if(op->next) op->next->prev = op->prev;
	op->prev = op->next = NULL;
	if(op->kind == OP_PUBLISH) net->npublish--;
	if(op->kind == OP_PUBLISH && op->room[0]) net->nmsg_ops--;
}

/* Takes a finished operation off the list and frees it; returns whether the
 * session is stopping (read under the lock). */
static int op_retire(struct chat_net *net, struct op *op)
{
	int stopping;

	lock(net);
	op_unlink(net, op);
	stopping = net->stopping;
	unlock(net);
	op_free(op);
	return stopping;
}

/* ---- followed rooms (lock held) ---- */

static struct net_room *room_find(struct chat_net *net, const char *name)
{
	for(size_t i = 0; name && i < net->nrooms; i++){
		if(!strcmp(net->rooms[i]->name, name)) return net->rooms[i];
	}
	return NULL;
}

static void live_free_all(struct net_room *r)
{
	struct live_msg *m = NULL;

	while((m = r->live_head) != NULL){
		r->live_head = m->next;
		free(m);
	}
	r->live_tail = NULL;
	r->nlive = 0;
}

/* Adds room name (or finds it); NULL when full or out of memory. */
static struct net_room *room_add(struct chat_net *net, const char *name)
{
	struct net_room *r = room_find(net, name);

	if(r) return r;
	if(net->nrooms == CHAT_ROOMS_MAX) return NULL;
	r = calloc(1, sizeof(*r));
	if(!r) return NULL;
	snprintf(r->name, sizeof(r->name), "%s", name);
	net->rooms[net->nrooms++] = r;
	return r;
}

static void room_remove(struct chat_net *net, const char *name)
{
	for(size_t i = 0; i < net->nrooms; i++){
		if(strcmp(net->rooms[i]->name, name)) continue;
		live_free_all(net->rooms[i]);
		free(net->rooms[i]);
		memmove(&net->rooms[i], &net->rooms[i + 1], (net->nrooms - i - 1) * sizeof(net->rooms[0]));
		net->nrooms--;
		break;
	}
	if(!strcmp(net->current, name)){
		snprintf(net->current, sizeof(net->current), "%s", net->nrooms ? net->rooms[0]->name : "");
	}
}

/* FNV-1a of sender, a separator and id: who sent which message. */
static uint64_t msg_hash(const char *user, const char *id)
{
	uint64_t h = fnv1a64_update(FNV1A64_OFFSET_BASIS, user, strlen(user));

	h = fnv1a64_update(h, "/", 1);
	return fnv1a64_update(h, id, strlen(id));
}

static int seen_has(const struct net_room *r, uint64_t h)
{
	for(size_t i = 0; i < r->seen_count; i++){
		if(r->seen[i] == h) return 1;
	}
	return 0;
}

static void seen_add(struct net_room *r, uint64_t h)
{
	r->seen[r->seen_next] = h;
	r->seen_next = (r->seen_next + 1) % SEEN_MAX;
	if(r->seen_count < SEEN_MAX) r->seen_count++;
}

/* ---- messages kept until their receipt (lock held) ---- */

static void done_add(struct chat_net *net, const char *room, const char *id)
{
	net->done[net->done_next] = msg_hash(room, id);
	net->done_next = (net->done_next + 1) % DONE_MAX;
	if(net->done_count < DONE_MAX) net->done_count++;
}

static int done_has(const struct chat_net *net, const char *room, const char *id)
{
	uint64_t h = msg_hash(room, id);

	for(size_t i = 0; i < net->done_count; i++){
		if(net->done[i] == h) return 1;
	}
	return 0;
}

static struct pending_msg *pend_find(struct chat_net *net, const char *room, const char *id)
{
	struct pending_msg *m = NULL;

	for(m = net->pend_head; m && room && id; m = m->next){
		if(!strcmp(m->id, id) && !strcmp(m->room, room)) return m;
	}
	return NULL;
}

/* Takes m off the list (not freed) and remembers it as finished. */
static void pend_unlink(struct chat_net *net, struct pending_msg *m)
{
	struct pending_msg **pp = &net->pend_head;
	struct pending_msg *prev = NULL;

	while(*pp && *pp != m){
		prev = *pp;
		pp = &(*pp)->next;
	}
	if(!*pp) return;
	*pp = m->next;
	if(net->pend_tail == m) net->pend_tail = prev;
	m->next = NULL;
	net->npend--;
	done_add(net, m->room, m->id);
}

/* The receipt timeout after resends resends: doubling, capped. */
static long long resend_delay_ms(int resends)
{
	long long d = RECEIPT_TIMEOUT_MS;

	for(int i = 0; i < resends && d < RESEND_DELAY_MAX_MS; i++) d *= 2;
	return d < RESEND_DELAY_MAX_MS ? d : RESEND_DELAY_MAX_MS;
}

static struct op *op_new(struct chat_net *net, enum op_kind kind)
{
	struct op *op = calloc(1, sizeof(*op));

	if(op){
		op->net = net;
		op->kind = kind;
	}
	return op;
}

/* ---- requests waiting for replies ---- */

static void req_add(struct chat_net *net, const char *req_id, const char *room, long tag)
{
	struct pending_req *slot = &net->reqs[0];

	lock(net);
	/* A free slot, else the oldest request: its reply is then ignored. */
	for(size_t i = 0; i < REQS_MAX; i++){
		if(!net->reqs[i].used){
			slot = &net->reqs[i];
			break;
		}
		if(net->reqs[i].order < slot->order) slot = &net->reqs[i];
	}
	slot->used = 1;
	slot->order = ++net->req_order;
	slot->tag = tag;
	snprintf(slot->req_id, sizeof(slot->req_id), "%s", req_id);
	snprintf(slot->room, sizeof(slot->room), "%s", room);
	unlock(net);
}

static int req_take(struct chat_net *net, const char *req_id, char *room, size_t room_len, long *tag)
{
	int found = 0;

	lock(net);
	for(size_t i = 0; i < REQS_MAX; i++){
		if(net->reqs[i].used && !strcmp(net->reqs[i].req_id, req_id)){
			if(room) snprintf(room, room_len, "%s", net->reqs[i].room);
			if(tag) *tag = net->reqs[i].tag;
			net->reqs[i].used = 0;
			found = 1;
			break;
		}
	}
	unlock(net);
	return found;
}

/* ---- Paho callbacks ---- */

static int sink_match(void *ctx, const char *req_id, char *room, size_t room_len, long *tag)
{
	return req_take(ctx, req_id, room, room_len, tag);
}

static void sink_emit(void *ctx, const struct chat_event *ev);

static int on_message(void *context, char *topic, int topic_len, MQTTAsync_message *msg)
{
	struct chat_net *net = context;
	struct chat_proto_sink sink = { .emit = sink_emit, .match = sink_match, .ctx = net, .self = net->user,
		.retained = msg->retained };
	size_t len = msg->payloadlen > 0 ? (size_t)msg->payloadlen : 0;

	trace(net, "in %s%s %.*s", topic, msg->retained ? " (retained)" : "", (int)(len > 1000 ? 1000 : len),
			(const char *)msg->payload);
	/* topic_len is 0 unless the topic holds a NUL byte: never a chat topic. */
	if(topic_len == 0 || (size_t)topic_len == strlen(topic)){
		chat_proto_incoming(&sink, topic, msg->payload, len);
	}else{
		struct chat_event ev = { .kind = CHAT_EV_BAD_PAYLOAD, .topic = topic, .text = "topic with a NUL byte" };
		chat_net_emit(net, &ev);
	}
	MQTTAsync_freeMessage(&msg);
	MQTTAsync_free(topic);
	return 1;
}

static void on_pub_success(void *context, MQTTAsync_successData *resp)
{
	struct op *op = context;
	struct chat_net *net = op->net;

	(void)resp;
	trace(net, "acked %s", op->topic);
	op_retire(net, op);
	emit_kind(net, CHAT_EV_SENT, NULL);
}

static void on_pub_failure(void *context, MQTTAsync_failureData *resp)
{
	struct op *op = context;
	struct chat_net *net = op->net;
	int code = resp ? resp->code : MQTTASYNC_FAILURE;
	int stopping;

	lock(net);
	stopping = net->stopping;
	if(op->room[0]){
		/* A room message stays kept until its receipt: sent again after
		 * the reconnect, or when its receipt is overdue. */
		op_unlink(net, op);
		unlock(net);
		trace(net, "publish of a message to %s failed (%s): kept for a resend", op->room, mqtt_strerror(code));
		op_free(op);
		emit_kind(net, CHAT_EV_SENT, NULL);
		return;
	}
	if(!stopping && code == MQTTASYNC_OPERATION_INCOMPLETE && op->attempts < SEND_ATTEMPTS){
		op->waiting = 1; /* the connection dropped: send it again on reconnect */
		unlock(net);
		return;
	}
	op_unlink(net, op);
	unlock(net);
	if(!stopping){
		if(op->room[0]) chat_net_error(net, "not_sent", "a message to room %s was not sent: %s", op->room, mqtt_strerror(code));
		else chat_net_error(net, "not_sent", "a request was not sent: %s", mqtt_strerror(code));
	}
	op_free(op);
	emit_kind(net, CHAT_EV_SENT, NULL);
}

static int send_op(struct chat_net *net, struct op *op)
{
	MQTTAsync_message msg = MQTTAsync_message_initializer;
	MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;

	msg.payload = op->payload;
	msg.payloadlen = op->payload_len;
	msg.qos = 1;
	msg.retained = 0;
	ro.onSuccess = on_pub_success;
	ro.onFailure = on_pub_failure;
	ro.context = op;
	trace(net, "out %s %s", op->topic, op->payload);
	return MQTTAsync_sendMessage(net->client, op->topic, &msg, &ro);
}

/* Hands Paho, in order, every kept message marked need_send, while
 * connected. One thread at a time: another thread's call returns at once
 * and the running one picks up what it marked (it looks again under the
 * lock before it ends). */
static void flush_pending(struct chat_net *net)
{
	lock(net);
	if(net->flushing){
		unlock(net);
		return;
	}
	net->flushing = 1;
	while(net->state == NET_UP && !net->stopping){
		struct pending_msg *m = NULL;
		struct op *op = NULL;
		int r;

		for(m = net->pend_head; m && !m->need_send; m = m->next){
		}
		if(!m) break;
		m->need_send = 0;
		m->due = monotonic_ms() + resend_delay_ms(m->resends);
		op = op_new(net, OP_PUBLISH);
		if(op){
			snprintf(op->topic, sizeof(op->topic), "%s", m->topic);
			snprintf(op->room, sizeof(op->room), "%s", m->room);
			op->payload = chat_proto_msg(m->id, m->body);
		}
		if(!op || !op->payload){
			op_free(op); /* out of memory: the receipt timeout tries again */
			continue;
		}
		op->payload_len = (int)strlen(op->payload);
		op->attempts = 1;
		op_link(net, op);
		unlock(net);
		/* m may be gone from here on (a receipt): only op is ours. */
		r = send_op(net, op);
		lock(net);
		if(r != MQTTASYNC_SUCCESS){
			op_unlink(net, op);
			trace(net, "message to %s not handed over (%s): kept for a resend", op->room, mqtt_strerror(r));
			op_free(op);
			break; /* the next connect, or the receipt timeout, tries again */
		}
	}
	net->flushing = 0;
	unlock(net);
}

/* Marks every kept message to be sent again (after a connect) and sends
 * them, in their original order. */
static void resend_all_pending(struct chat_net *net)
{
	lock(net);
	for(struct pending_msg *m = net->pend_head; m; m = m->next) m->need_send = 1;
	unlock(net);
	flush_pending(net);
}

/* Sends again, in order, the requests a lost connection dropped. */
static void resend_waiting(struct chat_net *net)
{
	for(;;){
		struct op *op = NULL;
		struct op *oldest = NULL;
		int r;

		lock(net);
		/* The list is newest first: the last waiting one is the oldest. */
		for(op = net->ops; op; op = op->next){
			if(op->kind == OP_PUBLISH && op->waiting) oldest = op;
		}
		if(oldest){
			oldest->waiting = 0;
			oldest->attempts++;
		}
		unlock(net);
		if(!oldest) break;
		r = send_op(net, oldest);
		if(r != MQTTASYNC_SUCCESS){
			lock(net);
			op_unlink(net, oldest);
			unlock(net);
			chat_net_error(net, "not_sent", "a message was not sent again after reconnecting: %s", mqtt_strerror(r));
			op_free(oldest);
			emit_kind(net, CHAT_EV_SENT, NULL);
		}
	}
}

/* The subscription of a room: its messages and typing indicators. */
static void room_filter(char *buf, size_t len, const char *room)
{
	snprintf(buf, len, "%s/rooms/%s/#", TOPIC_PREFIX, room);
}

static int request(struct chat_net *net, const char *req_id, char *payload, const char *room, long tag,
		const char *service);

/* Sends the catch-up page of room after seq for catch-up generation gen;
 * returns 0 or -1 (no error event: the caller ends the catch-up). */
static int send_catchup(struct chat_net *net, const char *room, long after, long gen)
{
	char req_id[2 * CHAT_REQID_BYTES + 1];
	char *payload = NULL;

	if(random_hex(req_id, sizeof(req_id), CHAT_REQID_BYTES)) return -1;
	payload = chat_proto_history(req_id, room, CATCHUP_PAGE, 0, after);
	if(!payload) return -1;
	return request(net, req_id, payload, room, CHAT_TAG_CATCHUP + gen, "history");
}

/* Ends the catch-up of room (if gen is still its catch-up): shows the live
 * messages held meanwhile that the catch-up did not show. Runs on Paho's
 * message thread, as does everything that adds to the held list. */
static void finish_catchup(struct chat_net *net, const char *room, long gen)
{
	struct live_msg *list = NULL;
	struct net_room *r = NULL;

	lock(net);
	r = room_find(net, room);
	if(r && r->catching_up && r->catchup_gen == gen){
		r->catching_up = 0;
		list = r->live_head;
		r->live_head = r->live_tail = NULL;
		r->nlive = 0;
	}
	unlock(net);
	while(list){
		struct live_msg *m = list;
		struct chat_event ev = { .kind = CHAT_EV_MSG, .room = room, .user = m->user, .id = m->id, .body = m->body };
		int dup = 1;

		list = m->next;
		lock(net);
		r = room_find(net, room);
		if(r && !seen_has(r, m->hash)){
			seen_add(r, m->hash);
			r->live_shown++;
			dup = 0;
		}
		unlock(net);
		if(!dup) chat_net_emit(net, &ev);
		free(m);
	}
}

/* After a connect: a catch-up for each room whose last seq is known, and
 * one rooms request to learn the seq of the others. */
static void start_catchups(struct chat_net *net)
{
	char names[CHAT_ROOMS_MAX][NAME_ROOM_MAX + 1];
	long after[CHAT_ROOMS_MAX];
	long gen[CHAT_ROOMS_MAX];
	size_t n = 0;
	int unknown = 0;

	lock(net);
	for(size_t i = 0; i < net->nrooms; i++){
		struct net_room *r = net->rooms[i];

		if(!r->known){
			unknown = 1;
			continue;
		}
		if(!r->catching_up) continue;
		r->page_count = r->page_max = 0;
		snprintf(names[n], sizeof(names[n]), "%s", r->name);
		after[n] = r->last_seq;
		gen[n] = r->catchup_gen;
		n++;
	}
	unlock(net);
	for(size_t i = 0; i < n; i++){
		if(send_catchup(net, names[i], after[i], gen[i])) finish_catchup(net, names[i], gen[i]);
	}
	if(unknown){
		char req_id[2 * CHAT_REQID_BYTES + 1];
		char *payload = NULL;

		if(!random_hex(req_id, sizeof(req_id), CHAT_REQID_BYTES) && (payload = chat_proto_rooms(req_id)) != NULL){
			request(net, req_id, payload, "", CHAT_TAG_LEARN, "history");
		}
	}
}

/* A live room message: shown unless seen, held while its room catches up. */
static void live_message(struct chat_net *net, const struct chat_event *ev)
{
	struct net_room *r = NULL;
	uint64_t h = msg_hash(ev->user, ev->id);
	int show = 0;

	lock(net);
	r = room_find(net, ev->room);
	if(!r){
		show = 1; /* a room being left: harmless */
	}else if(seen_has(r, h)){
		show = 0;
	}else if(r->catching_up){
		struct live_msg *m = NULL;
		size_t ul = strlen(ev->user) + 1, il = strlen(ev->id) + 1, bl = strlen(ev->body) + 1;
		int held = 0;

		for(m = r->live_head; m; m = m->next){
			if(m->hash == h) held = 1;
		}
		if(!held && r->nlive < LIVE_MAX && (m = malloc(sizeof(*m) + ul + il + bl)) != NULL){
			m->next = NULL;
			m->hash = h;
			m->user = m->text;
			m->id = m->user + ul;
			m->body = m->id + il;
			memcpy(m->user, ev->user, ul);
			memcpy(m->id, ev->id, il);
			memcpy(m->body, ev->body, bl);
			if(r->live_tail) r->live_tail->next = m;
			else r->live_head = m;
			r->live_tail = m;
			r->nlive++;
		}
	}else{
		seen_add(r, h);
		r->live_shown++;
		show = 1;
	}
	unlock(net);
	if(show) chat_net_emit(net, ev);
}

/* A message of a catch-up page: shown as a room message unless seen. */
static void catchup_message(struct chat_net *net, const struct chat_event *ev)
{
	struct chat_event msg = *ev;
	struct net_room *r = NULL;
	int show = 0;

	lock(net);
	r = room_find(net, ev->room);
	if(r && r->catching_up && ev->tag - CHAT_TAG_CATCHUP == r->catchup_gen){
		uint64_t h = msg_hash(ev->user, ev->id ? ev->id : "");

		r->page_count++;
		if(ev->seq > r->page_max) r->page_max = ev->seq;
		if(ev->seq > r->last_seq) r->last_seq = ev->seq;
		show = !ev->id || !seen_has(r, h);
		if(show && ev->id) seen_add(r, h);
	}
	unlock(net);
	msg.kind = CHAT_EV_MSG;
	msg.tag = 0;
	if(show) chat_net_emit(net, &msg);
}

/* The end of a catch-up page: the next page, or the end. */
static void catchup_end(struct chat_net *net, const struct chat_event *ev)
{
	struct net_room *r = NULL;
	long gen = ev->tag - CHAT_TAG_CATCHUP;
	long after = 0;
	int more = 0;
	int mine = 0;

	lock(net);
	r = room_find(net, ev->room);
	if(r && r->catching_up && r->catchup_gen == gen){
		mine = 1;
		more = r->page_count >= CATCHUP_PAGE;
		after = r->page_max;
		r->page_count = r->page_max = 0;
	}
	unlock(net);
	if(!mine) return;
	if(!more || send_catchup(net, ev->room, after, gen)) finish_catchup(net, ev->room, gen);
}

static int track(struct chat_net *net, const char *room, int make_current, int quiet);
static void untrack(struct chat_net *net, const char *room);

/* Sends the text of a /msg USER TEXT once the direct room with user is
 * current. */
static void dm_send(struct chat_net *net, const char *user)
{
	char text[CHAT_BODY_MAX + 1] = "";

	lock(net);
	if(net->dm_user[0] && !strcmp(net->dm_user, user)){
		snprintf(text, sizeof(text), "%s", net->dm_text);
		net->dm_user[0] = '\0';
	}
	unlock(net);
	if(text[0]) chat_net_send(net, text, strlen(text));
}

/* Everything chat_proto finds in incoming publishes passes here first:
 * dedupe and catch-up, the session's own requests, then the front end. */
static void sink_emit(void *ctx, const struct chat_event *ev)
{
	struct chat_net *net = ctx;
	struct net_room *r = NULL;
	struct pending_msg *m = NULL;
	int dup = 0;

	switch(ev->kind){
	case CHAT_EV_MSG:
		live_message(net, ev);
		return;
	case CHAT_EV_HISTORY:
		if(ev->tag >= CHAT_TAG_CATCHUP){
			catchup_message(net, ev);
			return;
		}
		lock(net);
		r = room_find(net, ev->room);
		if(r && ev->id){
			uint64_t h = msg_hash(ev->user, ev->id);

			if(!seen_has(r, h)) seen_add(r, h);
		}
		if(r && ev->tag == CHAT_TAG_NEWEST && ev->seq > r->last_seq) r->last_seq = ev->seq;
		unlock(net);
		break;
	case CHAT_EV_HISTORY_END:
		if(ev->tag >= CHAT_TAG_CATCHUP){
			catchup_end(net, ev);
			return;
		}
		lock(net);
		r = room_find(net, ev->room);
		if(r && ev->tag == CHAT_TAG_NEWEST){
			if(ev->seq > r->last_seq) r->last_seq = ev->seq;
			r->known = 1;
		}
		unlock(net);
		break;
	case CHAT_EV_RECEIPT:
		/* Stored is not shown: a message sent before the subscription was
		 * back must still come with the catch-up. Only the read marker may
		 * move on. The message is no longer kept; the receipt of a resend
		 * that was stored already is not shown again. */
		lock(net);
		r = room_find(net, ev->room);
		if(r && ev->seq > r->stored_seq) r->stored_seq = ev->seq;
		m = pend_find(net, ev->room, ev->id);
		if(m) pend_unlink(net, m);
		else dup = done_has(net, ev->room, ev->id);
		unlock(net);
		if(dup){
			trace(net, "receipt of %s again: not shown", ev->id);
			return;
		}
		chat_net_emit(net, ev);
		if(m){
			free(m);
			emit_kind(net, CHAT_EV_SENT, NULL);
		}
		return;
	case CHAT_EV_ROOM:
		lock(net);
		r = room_find(net, ev->room);
		if(r && !r->known){
			r->known = 1;
			r->last_seq = ev->seq;
			r->live_shown = 0;
		}else if(r && !r->catching_up && ev->seq > r->last_seq && ev->seq - r->last_seq <= r->live_shown){
			/* Live messages carry no seq: when as many were shown since
			 * last_seq as the room has stored since, every one up to the
			 * room's last seq was shown (while subscribed, each stored
			 * message also arrives live), so the read marker may move. */
			r->live_shown = 0;
			r->last_seq = ev->seq;
		}
		unlock(net);
		if(ev->tag == CHAT_TAG_LEARN) return;
		break;
	case CHAT_EV_ROOMS_END:
		if(ev->tag == CHAT_TAG_LEARN) return;
		break;
	case CHAT_EV_REPLY:
		if(ev->tag == CHAT_TAG_JOIN && ev->room) track(net, ev->room, 1, 0);
		if(ev->tag == CHAT_TAG_LEAVE && ev->room) untrack(net, ev->room);
		chat_net_emit(net, ev);
		if(ev->op && !strcmp(ev->op, "dm") && ev->room && ev->user) dm_send(net, ev->user);
		return;
	case CHAT_EV_ERROR:
		if(!ev->op && ev->tag == CHAT_TAG_NONE && ev->room && ev->id){
			/* history-svc refused one of our messages: it ends the
			 * message's wait, except "unavailable" (the archive is down:
			 * the receipt timeout sends it again). Shown once per id. */
			int retry = ev->code && !strcmp(ev->code, "unavailable");

			lock(net);
			m = pend_find(net, ev->room, ev->id);
			if(m && !retry) pend_unlink(net, m);
			else if(!m) dup = done_has(net, ev->room, ev->id);
			unlock(net);
			if(m && retry){
				trace(net, "archive unavailable for %s: it will be sent again", ev->id);
				return;
			}
			if(dup) return;
			chat_net_emit(net, ev);
			if(m){
				free(m);
				emit_kind(net, CHAT_EV_SENT, NULL);
			}
			return;
		}
		if(ev->tag >= CHAT_TAG_CATCHUP){
			if(ev->room) finish_catchup(net, ev->room, ev->tag - CHAT_TAG_CATCHUP);
			if(ev->code && !strcmp(ev->code, "not_member")) return; /* left meanwhile */
		}
		if(ev->tag == CHAT_TAG_LEARN) return;
		if(ev->tag == CHAT_TAG_JOIN && ev->op && !strcmp(ev->op, "join") && ev->room
				&& ev->code && !strcmp(ev->code, "not_found")){
			/* Not a public room: perhaps a private one we belong to. The
			 * broker says no (not_member) if not. */
			track(net, ev->room, 1, 0);
			return;
		}
		break;
	default:
		break;
	}
	chat_net_emit(net, ev);
}

static void on_suball_success(void *context, MQTTAsync_successData *resp)
{
	struct op *op = context;
	struct chat_net *net = op->net;
	size_t count = op->nrooms + 2;
	int stopping;

	for(size_t i = 0; resp && i < count; i++){
		int qos;

		if(count == 1) qos = resp->alt.qos;
		else if(resp->alt.qosList) qos = resp->alt.qosList[i];
		else break;
		if(qos != MQTT_BAD_SUBSCRIBE) continue;
		if(i < op->nrooms){
			chat_net_error(net, "not_member", "cannot read room %s: no such room, or you are not a member of it",
					op->rooms[i]);
		}else if(i == op->nrooms){
			chat_net_error(net, "subscribe_refused", "the broker refused the subscription to your inbox: "
					"receipts and replies will not arrive");
		}else{
			chat_net_error(net, "subscribe_refused", "the broker refused the subscription to presence");
		}
	}
	stopping = op_retire(net, op);
	if(!stopping){
		emit_kind(net, CHAT_EV_CONNECTED, NULL);
		start_catchups(net);
	}
}

static void on_suball_failure(void *context, MQTTAsync_failureData *resp)
{
	struct op *op = context;
	struct chat_net *net = op->net;
	int code = resp ? resp->code : MQTTASYNC_FAILURE;
	int stopping;

	stopping = op_retire(net, op);
	/* Interrupted: the connection is gone and connectionLost says so. */
	if(stopping || code == MQTTASYNC_OPERATION_INCOMPLETE) return;
	chat_net_error(net, "subscribe_failed", "subscribing failed: %s", mqtt_strerror(code));
	emit_kind(net, CHAT_EV_CONNECTED, NULL);
	start_catchups(net);
}

static void on_connected(void *context, char *cause)
{
	struct chat_net *net = context;
	MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
	char topics[CHAT_ROOMS_MAX + 2][TOPIC_MAX + 1];
	char *names[CHAT_ROOMS_MAX + 2];
	int qos[CHAT_ROOMS_MAX + 2];
	struct op *op = NULL;
	size_t n = 0;
	int r;

	(void)cause;
	op = op_new(net, OP_SUBSCRIBE_ALL);
	lock(net);
	if(net->stopping){
		unlock(net);
		goto out;
	}
	net->state = NET_UP;
	net->reconnect_at = 0;
	net->up_since = monotonic_ms();
	pthread_cond_signal(&net->wakeup); /* receipt timeouts run while up */
	if(op) op->rooms = calloc(net->nrooms + 1, sizeof(*op->rooms));
	if(!op || !op->rooms){
		unlock(net);
		chat_net_error(net, "nomem", "out of memory: not subscribed");
		emit_kind(net, CHAT_EV_CONNECTED, NULL);
		goto out;
	}
	op->nrooms = net->nrooms;
	for(size_t i = 0; i < net->nrooms; i++){
		struct net_room *r = net->rooms[i];

		snprintf(op->rooms[i], sizeof(op->rooms[i]), "%s", r->name);
		/* Live messages are held from now until the catch-up is done. */
		if(r->known){
			r->catching_up = 1;
			r->catchup_gen = ++net->catchup_gen;
			r->live_shown = 0; /* the catch-up sets last_seq from here */
		}
	}
	op_link(net, op);
	unlock(net);

	for(size_t i = 0; i < op->nrooms; i++){
		room_filter(topics[n], sizeof(topics[n]), op->rooms[i]);
		n++;
	}
	topic_user_inbox(topics[n++], sizeof(topics[0]), net->user);
	snprintf(topics[n++], sizeof(topics[0]), "%s", TOPIC_PREFIX "/presence/+");
	for(size_t i = 0; i < n; i++){
		names[i] = topics[i];
		qos[i] = 1;
	}
	ro.onSuccess = on_suball_success;
	ro.onFailure = on_suball_failure;
	ro.context = op;
	r = MQTTAsync_subscribeMany(net->client, (int)n, names, qos, &ro);
	if(r != MQTTASYNC_SUCCESS){
		lock(net);
		op_unlink(net, op);
		unlock(net);
		if(r != MQTTASYNC_DISCONNECTED){
			chat_net_error(net, "subscribe_failed", "subscribing failed: %s", mqtt_strerror(r));
			emit_kind(net, CHAT_EV_CONNECTED, NULL);
		}
		goto out;
	}
	op = NULL; /* Paho's until a callback */
	resend_waiting(net);
	resend_all_pending(net);
out:
	op_free(op);
}

/* ---- reconnecting ---- */

/* Returns the delay before connect attempt number attempt (0 for the
 * first after a loss), given rnd, a uniformly random 32-bit number: "full
 * jitter" above a floor, uniform in [min_ms / 2, min(max_ms, min_ms *
 * 2^attempt)]. The ceiling doubles per attempt up to max_ms; the jitter
 * spreads the clients a broker restart dropped over the whole window
 * instead of bringing them back in the same instant; the floor keeps a
 * flapping connection from a tight loop. */
long chat_net_backoff_ms(unsigned attempt, long min_ms, long max_ms, uint32_t rnd)
{
	long ceiling = min_ms;
	long floor_ms = min_ms / 2;

	for(unsigned i = 0; i < attempt && ceiling < max_ms; i++) ceiling = ceiling > max_ms / 2 ? max_ms : ceiling * 2;
	if(ceiling > max_ms) ceiling = max_ms;
	if(ceiling <= floor_ms) return ceiling;
	return floor_ms + (long)(rnd % (uint32_t)(ceiling - floor_ms + 1));
}

/* Plans the next connect attempt (lock held); returns its delay in ms and
 * its number (1 for the first after a loss) in *number. */
static long schedule_reconnect(struct chat_net *net, unsigned *number)
{
	uint32_t rnd = 0;
	long delay;

	/* Without random bytes: the ceiling, still capped, without jitter.
	 * getrandom, not OpenSSL: see common/random_id.c. */
	if(getrandom(&rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) rnd = UINT32_MAX;
	delay = chat_net_backoff_ms(net->attempt, net->retry_min_ms, net->retry_max_ms, rnd);
	if(net->attempt < 64) net->attempt++;
	*number = net->attempt;
	net->reconnect_at = monotonic_ms() + delay;
	pthread_cond_signal(&net->wakeup);
	return delay;
}

/* The connection is down (lost, or an attempt failed): plans the next
 * attempt and tells the front end; reason (when not NULL) is reported
 * first as CHAT_EV_DISCONNECTED. */
static void reconnect_later(struct chat_net *net, const char *reason)
{
	struct chat_event ev = { .kind = CHAT_EV_RECONNECTING };
	unsigned number = 0;
	long delay;

	lock(net);
	if(net->stopping){
		unlock(net);
		return;
	}
	net->state = NET_DOWN;
	delay = schedule_reconnect(net, &number);
	unlock(net);
	trace(net, "reconnect: attempt %u in %ld ms (between %ld and %ld ms)", number, delay, net->retry_min_ms / 2,
			net->retry_max_ms);
	if(reason) emit_kind(net, CHAT_EV_DISCONNECTED, reason);
	ev.count = delay;
	ev.seq = number;
	chat_net_emit(net, &ev);
}

static void on_connect_success(void *context, MQTTAsync_successData *resp);
static void on_connect_failure(void *context, MQTTAsync_failureData *resp);

/* Hands Paho one connect attempt (MQTT 3.1.1, clean session, no automatic
 * reconnect); returns Paho's code. */
static int connect_now(struct chat_net *net)
{
	MQTTAsync_connectOptions co = MQTTAsync_connectOptions_initializer;

	co.keepAliveInterval = KEEPALIVE_S;
	co.connectTimeout = CONNECT_TIMEOUT_S;
	co.cleansession = 1;
	co.username = net->user;
	co.password = net->password;
	co.MQTTVersion = MQTTVERSION_3_1_1;
	co.automaticReconnect = 0;
	co.onSuccess = on_connect_success;
	co.onFailure = on_connect_failure;
	co.context = net;
	if(net->cafile) co.ssl = &net->ssl;
	trace(net, "connect: %s as %s", net->uri, net->client_id);
	return MQTTAsync_connect(net->client, &co);
}

/* While connected: sends again each kept message whose receipt is
 * overdue, and gives up (an error event) one sent again RESEND_MAX times
 * already. Called without the lock. */
static void check_overdue(struct chat_net *net)
{
	int marked = 0;

	for(;;){
		struct pending_msg *gone = NULL;
		long long now = monotonic_ms();

		lock(net);
		if(net->state != NET_UP || net->stopping){
			unlock(net);
			return;
		}
		for(struct pending_msg *m = net->pend_head; m; m = m->next){
			if(m->need_send || m->due > now) continue;
			if(m->resends >= RESEND_MAX){
				gone = m;
				break;
			}
			m->resends++;
			m->need_send = 1;
			marked = 1;
			trace(net, "no receipt for %s in room %s: sending it again (resend %d)", m->id, m->room, m->resends);
		}
		if(gone) pend_unlink(net, gone);
		unlock(net);
		if(!gone) break;
		chat_net_error(net, "not_stored", "a message to room %s (id %s) got no receipt from the archive after %d "
				"resends: given up", gone->room, gone->id, RESEND_MAX);
		free(gone);
		emit_kind(net, CHAT_EV_SENT, NULL);
	}
	if(marked) flush_pending(net);
}

/* The reconnect thread: sleeps until net->reconnect_at, then connects;
 * while connected with messages kept, checks their receipt timeouts every
 * TIMER_TICK_MS. Ends when the session stops. */
static void *reconnector_main(void *arg)
{
	struct chat_net *net = arg;
	long long next_check = 0;

	lock(net);
	while(!net->stopping){
		long long now = monotonic_ms();
		long long wake_at = net->reconnect_at;

		if(net->state == NET_UP && net->npend > 0){
			if(now >= next_check){
				next_check = now + TIMER_TICK_MS;
				unlock(net);
				check_overdue(net);
				lock(net);
				continue;
			}
			if(wake_at == 0 || next_check < wake_at) wake_at = next_check;
		}
		if(net->reconnect_at != 0 && now >= net->reconnect_at){
			int r;

			net->reconnect_at = 0;
			unlock(net);
			r = connect_now(net);
			if(r != MQTTASYNC_SUCCESS){
				char text[TEXT_MAX];

				snprintf(text, sizeof(text), "cannot connect to %s: %s", net->uri, mqtt_strerror(r));
				reconnect_later(net, text);
			}
			lock(net);
		}else if(wake_at == 0){
			pthread_cond_wait(&net->wakeup, &net->lock);
		}else{
			struct timespec until;

			until.tv_sec = (time_t)(wake_at / 1000);
			until.tv_nsec = (long)(wake_at % 1000) * 1000000;
			pthread_cond_timedwait(&net->wakeup, &net->lock, &until);
		}
	}
	unlock(net);
	return NULL;
}

static void on_connection_lost(void *context, char *cause)
{
	struct chat_net *net = context;

	lock(net);
	/* Up long enough: this is a new outage, not the same one flapping. */
	if(net->up_since && monotonic_ms() - net->up_since >= STABLE_MS) net->attempt = 0;
	net->up_since = 0;
	unlock(net);
	reconnect_later(net, cause && *cause ? cause : "connection lost");
}

static void on_connect_success(void *context, MQTTAsync_successData *resp)
{
	/* on_connected does the work, on every connect. */
	(void)context;
	(void)resp;
}

static void on_connect_failure(void *context, MQTTAsync_failureData *resp)
{
	struct chat_net *net = context;
	int code = resp ? resp->code : MQTTASYNC_FAILURE;
	const char *message = resp && resp->message ? resp->message : mqtt_strerror(code);
	char text[TEXT_MAX];
	int first;

	/* MQTT 3.1.1 CONNACK return codes 1-5. */
	if(code == 5){
		fatal_error(net, 2, "auth", "the broker refused the login: not authorised "
				"(wrong user name or password, or the account is disabled; CONNACK 5)");
		return;
	}
	if(code == 4){
		fatal_error(net, 2, "auth", "the broker refused the login: bad user name or password (CONNACK 4)");
		return;
	}
	if(code == 1 || code == 2){
		fatal_error(net, 1, "refused", "the broker refused the connection: %s (CONNACK %d)",
				code == 1 ? "unacceptable protocol version" : "client identifier rejected", code);
		return;
	}
	if(code == 3) snprintf(text, sizeof(text), "server unavailable (CONNACK 3)");
	else snprintf(text, sizeof(text), "cannot connect to %s: %s", net->uri, message);
	trace(net, "connect failed: %s", text);
	/* The reason is news only the first time of an outage. */
	lock(net);
	first = net->state != NET_DOWN;
	unlock(net);
	reconnect_later(net, first ? text : NULL);
}

static void on_disconnect_success(void *context, MQTTAsync_successData *resp)
{
	(void)resp;
	emit_kind(context, CHAT_EV_CLOSED, NULL);
}

static void on_disconnect_failure(void *context, MQTTAsync_failureData *resp)
{
	(void)resp;
	emit_kind(context, CHAT_EV_CLOSED, NULL);
}

static void on_join_success(void *context, MQTTAsync_successData *resp)
{
	struct op *op = context;
	struct chat_net *net = op->net;

	(void)resp;
	op_retire(net, op);
}

static void on_join_failure(void *context, MQTTAsync_failureData *resp)
{
	struct op *op = context;
	struct chat_net *net = op->net;
	int code = resp ? resp->code : MQTTASYNC_FAILURE;
	int stopping;

	lock(net);
	op_unlink(net, op);
	stopping = net->stopping;
	if(code == MQTT_BAD_SUBSCRIBE && !stopping){
		/* Refused: leave the room again, back to the room current before. */
		int was_current = !strcmp(net->current, op->room);

		room_remove(net, op->room);
		if(was_current && room_find(net, op->prev_room)){
			snprintf(net->current, sizeof(net->current), "%s", op->prev_room);
		}
	}
	unlock(net);
	if(!stopping && code == MQTT_BAD_SUBSCRIBE){
		chat_net_error(net, "not_member", "cannot join room %s: no such room, or you are not a member of it",
				op->room);
	}else if(!stopping && code != MQTTASYNC_OPERATION_INCOMPLETE){
		/* It stays joined: the next connect subscribes again. */
		chat_net_error(net, "subscribe_failed", "subscribing to room %s failed: %s", op->room, mqtt_strerror(code));
	}
	op_free(op);
}

static int on_ssl_error(const char *str, size_t len, void *u)
{
	char text[TEXT_MAX];

	while(len > 0 && (str[len - 1] == '\n' || str[len - 1] == '\r')) len--;
	snprintf(text, sizeof(text), "TLS: %.*s", (int)(len < sizeof(text) ? len : sizeof(text)), str);
	emit_kind(u, CHAT_EV_NOTE, text);
	return 0;
}

/* ---- API ---- */

/* Creates the session and its Paho client for opts (not connected yet);
 * returns it, freed by the caller with chat_net_free, or NULL after a
 * message on stderr. opts->password must outlive the session. */
struct chat_net *chat_net_new(const struct chat_net_opts *opts, chat_emit_fn emit, void *ctx)
{
	MQTTAsync_createOptions co = MQTTAsync_createOptions_initializer;
	pthread_condattr_t ca;
	struct chat_net *net = NULL;
	struct chat_net *ret = NULL;
	char rnd[9];
	int r;

	if(!name_user_valid(opts->user) || !name_room_valid(opts->room)){
		fprintf(stderr, "chat: invalid user or room name\n");
		goto out;
	}
	net = calloc(1, sizeof(*net));
	if(!net){
		fprintf(stderr, "chat: out of memory\n");
		goto out;
	}
	if(pthread_mutex_init(&net->lock, NULL)){
		fprintf(stderr, "chat: cannot create a mutex\n");
		goto out;
	}
	net->have_lock = 1;
	if(pthread_condattr_init(&ca) || pthread_condattr_setclock(&ca, CLOCK_MONOTONIC)
			|| pthread_cond_init(&net->wakeup, &ca)){
		pthread_condattr_destroy(&ca);
		fprintf(stderr, "chat: cannot create a condition variable\n");
		goto out;
	}
	pthread_condattr_destroy(&ca);
	net->have_wakeup = 1;
	net->retry_min_ms = opts->retry_min_ms > 0 ? opts->retry_min_ms : CHAT_RETRY_MIN_MS;
	net->retry_max_ms = opts->retry_max_ms > 0 ? opts->retry_max_ms : CHAT_RETRY_MAX_MS;
	if(net->retry_max_ms < net->retry_min_ms) net->retry_max_ms = net->retry_min_ms;
	net->emit = emit;
	net->ctx = ctx;
	net->password = opts->password;
	net->cafile = opts->cafile;
	net->state = NET_CONNECTING;
	if(opts->trace){
		net->trace = fopen(opts->trace, "ae");
		if(!net->trace){
			fprintf(stderr, "chat: --trace %s: %s\n", opts->trace, strerror(errno));
			goto out;
		}
		trace(net, "start: user %s, room %s", opts->user, opts->room);
	}
	snprintf(net->user, sizeof(net->user), "%s", opts->user);
	if(!room_add(net, opts->room)){
		fprintf(stderr, "chat: out of memory\n");
		goto out;
	}
	snprintf(net->current, sizeof(net->current), "%s", opts->room);

	/* An IPv6 address goes in brackets in a URI. */
	r = snprintf(net->uri, sizeof(net->uri), strchr(opts->host, ':') ? "%s://[%s]:%d" : "%s://%s:%d",
			opts->cafile ? "ssl" : "tcp", opts->host, opts->port);
	if(r < 0 || (size_t)r >= sizeof(net->uri)){
		fprintf(stderr, "chat: host name too long\n");
		goto out;
	}
	if(random_hex(rnd, sizeof(rnd), 4)){
		fprintf(stderr, "chat: no random numbers\n");
		goto out;
	}
	snprintf(net->client_id, sizeof(net->client_id), "chat-%s-%s", net->user, rnd);

	co.sendWhileDisconnected = 1;
	co.maxBufferedMessages = MAX_BUFFERED;
	co.MQTTVersion = MQTTVERSION_3_1_1;
	r = MQTTAsync_createWithOptions(&net->client, net->uri, net->client_id, MQTTCLIENT_PERSISTENCE_NONE, NULL, &co);
	if(r != MQTTASYNC_SUCCESS){
		fprintf(stderr, "chat: cannot create the MQTT client for %s: %s\n", net->uri, mqtt_strerror(r));
		goto out;
	}
	net->have_client = 1;
	r = MQTTAsync_setCallbacks(net->client, net, on_connection_lost, on_message, NULL);
	if(r == MQTTASYNC_SUCCESS) r = MQTTAsync_setConnected(net->client, net, on_connected);
	if(r != MQTTASYNC_SUCCESS){
		fprintf(stderr, "chat: cannot set the MQTT callbacks: %s\n", mqtt_strerror(r));
		goto out;
	}
	ret = net;
	net = NULL;
out:
	chat_net_free(net);
	return ret;
}

/* Starts the reconnect thread and the first connect attempt (MQTT 3.1.1,
 * clean session); returns 0, or -1 after a message on stderr. */
int chat_net_start(struct chat_net *net)
{
	MQTTAsync_SSLOptions ssl = MQTTAsync_SSLOptions_initializer;
	int rc = -1;
	int r;

	if(net->cafile){
		net->ssl = ssl;
		net->ssl.trustStore = net->cafile;
		net->ssl.enableServerCertAuth = 1;
		net->ssl.verify = 1;
		net->ssl.ssl_error_cb = on_ssl_error;
		net->ssl.ssl_error_context = net;
	}
	r = pthread_create(&net->reconnector, NULL, reconnector_main, net);
	if(r){
		fprintf(stderr, "chat: cannot start the reconnect thread: %s\n", strerror(r));
		goto out;
	}
	net->have_reconnector = 1;
	r = connect_now(net);
	if(r != MQTTASYNC_SUCCESS){
		fprintf(stderr, "chat: cannot connect to %s: %s\n", net->uri, mqtt_strerror(r));
		goto out;
	}
	rc = 0;
out:
	return rc;
}

/* Publishes a request's payload (taken over: freed here) with QoS 1 to
 * topic; room is "" (room messages go through flush_pending). */
static int publish(struct chat_net *net, const char *topic, char *payload, const char *room)
{
	struct op *op = NULL;
	int rc = -1;
	int r;

	op = op_new(net, OP_PUBLISH);
	if(!op){
		chat_net_error(net, "nomem", "out of memory: not sent");
		goto out;
	}
	snprintf(op->topic, sizeof(op->topic), "%s", topic);
	snprintf(op->room, sizeof(op->room), "%s", room);
	op->payload = payload;
	payload = NULL;
	op->payload_len = (int)strlen(op->payload);
	op->attempts = 1;
	lock(net);
	if(net->stopping){
		unlock(net);
		chat_net_error(net, "not_connected", "the session is closing: not sent");
		goto out;
	}
	op_link(net, op);
	unlock(net);
	r = send_op(net, op);
	if(r != MQTTASYNC_SUCCESS){
		lock(net);
		op_unlink(net, op);
		unlock(net);
		if(r == MQTTASYNC_MAX_BUFFERED_MESSAGES){
			chat_net_error(net, "not_connected", "not connected and %d messages are already waiting: not sent",
					MAX_BUFFERED);
		}else if(r == MQTTASYNC_DISCONNECTED){
			chat_net_error(net, "not_connected", "not connected: not sent");
		}else{
			chat_net_error(net, "send_failed", "not sent: %s", mqtt_strerror(r));
		}
		goto out;
	}
	op = NULL; /* Paho's until a callback */
	rc = 0;
out:
	op_free(op);
	cJSON_free(payload);
	return rc;
}

static void current_room(struct chat_net *net, char *room, size_t len)
{
	lock(net);
	snprintf(room, len, "%s", net->current);
	unlock(net);
}

/* Sends body (len bytes) to the current room; returns 0, or -1 after an
 * error event. body stays the caller's. */
int chat_net_send(struct chat_net *net, const char *body, size_t len)
{
	char text[CHAT_BODY_MAX + 1];
	char room[NAME_ROOM_MAX + 1];
	char topic[TOPIC_MAX + 1];
	char id[2 * CHAT_MSGID_BYTES + 1];
	struct pending_msg *m = NULL;
	int rc = -1;

	if(len == 0){
		chat_net_error(net, "usage", "empty message: not sent");
		goto out;
	}
	if(len > CHAT_BODY_MAX){
		chat_net_error(net, "too_long", "the message is %zu bytes, more than %d: not sent", len, CHAT_BODY_MAX);
		goto out;
	}
	if(!utf8_valid(body, len)){
		chat_net_error(net, "bad_utf8", "the message is not valid UTF-8: not sent");
		goto out;
	}
	memcpy(text, body, len);
	text[len] = '\0';
	current_room(net, room, sizeof(room));
	if(!room[0]){
		chat_net_error(net, "no_room", "you are in no room: /join ROOM first; not sent");
		goto out;
	}
	if(topic_room_msg(topic, sizeof(topic), room, net->user) || random_hex(id, sizeof(id), CHAT_MSGID_BYTES)){
		chat_net_error(net, "send_failed", "cannot build the message: not sent");
		goto out;
	}
	m = calloc(1, sizeof(*m) + len + 1);
	if(!m){
		chat_net_error(net, "nomem", "out of memory: not sent");
		goto out;
	}
	snprintf(m->room, sizeof(m->room), "%s", room);
	snprintf(m->id, sizeof(m->id), "%s", id);
	snprintf(m->topic, sizeof(m->topic), "%s", topic);
	memcpy(m->body, text, len + 1);
	m->need_send = 1;
	lock(net);
	if(net->stopping || net->npend >= PENDING_MAX){
		int stopping = net->stopping;

		unlock(net);
		if(stopping) chat_net_error(net, "not_connected", "the session is closing: not sent");
		else chat_net_error(net, "queue_full", "%d messages are still waiting for their receipts: not sent",
				PENDING_MAX);
		goto out;
	}
	if(net->pend_tail) net->pend_tail->next = m;
	else net->pend_head = m;
	net->pend_tail = m;
	net->npend++;
	pthread_cond_signal(&net->wakeup); /* its receipt timeout */
	unlock(net);
	m = NULL; /* the session's until its receipt */
	trace(net, "kept %s for room %s until its receipt", id, room);
	emit_kind(net, CHAT_EV_SENT, NULL); /* the count changed */
	flush_pending(net);
	rc = 0;
out:
	free(m);
	return rc;
}

/* Sends a request built by chat_proto (payload taken over) to service
 * and remembers its req_id (with room and tag) so that only its reply is
 * shown. */
static int request(struct chat_net *net, const char *req_id, char *payload, const char *room, long tag,
		const char *service)
{
	char topic[TOPIC_MAX + 1];
	int rc = -1;

	if(topic_user_req(topic, sizeof(topic), net->user, service)){
		chat_net_error(net, "send_failed", "cannot build the request topic");
		goto out;
	}
	req_add(net, req_id, room, tag);
	rc = publish(net, topic, payload, "");
	payload = NULL;
	if(rc) req_take(net, req_id, NULL, 0, NULL);
out:
	cJSON_free(payload);
	return rc;
}

/* Builds and sends a request of op with the optional fields to service;
 * returns 0, or -1 after an error event. */
static int simple_request(struct chat_net *net, const char *service, const char *op, const char *room,
		const char *user, const char *visibility, long tag)
{
	char req_id[2 * CHAT_REQID_BYTES + 1];
	char *payload = NULL;
	int rc = -1;

	if(random_hex(req_id, sizeof(req_id), CHAT_REQID_BYTES)){
		chat_net_error(net, "send_failed", "no random numbers: not sent");
		goto out;
	}
	payload = chat_proto_request(op, req_id, room, user, visibility);
	if(!payload){
		chat_net_error(net, "nomem", "out of memory: not sent");
		goto out;
	}
	rc = request(net, req_id, payload, room ? room : "", tag, service);
	payload = NULL;
out:
	cJSON_free(payload);
	return rc;
}

/* Copies room, or the current room when room is NULL, into buf; returns 0,
 * or -1 after an error event when there is none or it is not a name. */
static int room_arg(struct chat_net *net, const char *room, char *buf, size_t len)
{
	if(room){
		if(!name_room_valid(room)){
			chat_net_error(net, "usage", "\"%s\" is not a room name: 1-%d of a-z 0-9 _ - starting with a letter or digit",
					room, NAME_ROOM_MAX);
			return -1;
		}
		snprintf(buf, len, "%s", room);
		return 0;
	}
	current_room(net, buf, len);
	if(!buf[0]){
		chat_net_error(net, "no_room", "you are in no room: /join ROOM first");
		return -1;
	}
	return 0;
}

/* Sends a history request for room (NULL: current); returns 0, or -1
 * after an error event. */
int chat_net_history(struct chat_net *net, const char *room_name, long limit, long before)
{
	char room[NAME_ROOM_MAX + 1];
	char req_id[2 * CHAT_REQID_BYTES + 1];
	char *payload = NULL;
	int rc = -1;

	if(limit < 1 || limit > CHAT_HISTORY_MAX || before < 0){
		chat_net_error(net, "usage", "history: N must be 1-%d and SEQ positive", CHAT_HISTORY_MAX);
		goto out;
	}
	if(room_arg(net, room_name, room, sizeof(room))) goto out;
	if(random_hex(req_id, sizeof(req_id), CHAT_REQID_BYTES)){
		chat_net_error(net, "send_failed", "no random numbers: not sent");
		goto out;
	}
	payload = chat_proto_history(req_id, room, limit, before, -1);
	if(!payload){
		chat_net_error(net, "nomem", "out of memory: not sent");
		goto out;
	}
	rc = request(net, req_id, payload, room, before > 0 ? CHAT_TAG_OLDER : CHAT_TAG_NEWEST, "history");
	payload = NULL;
out:
	cJSON_free(payload);
	return rc;
}

/* Sends a rooms request; returns 0, or -1 after an error event. */
int chat_net_rooms(struct chat_net *net)
{
	char req_id[2 * CHAT_REQID_BYTES + 1];
	char *payload = NULL;
	int rc = -1;

	if(random_hex(req_id, sizeof(req_id), CHAT_REQID_BYTES)){
		chat_net_error(net, "send_failed", "no random numbers: not sent");
		goto out;
	}
	payload = chat_proto_rooms(req_id);
	if(!payload){
		chat_net_error(net, "nomem", "out of memory: not sent");
		goto out;
	}
	rc = request(net, req_id, payload, "", CHAT_TAG_NONE, "history");
	payload = NULL;
out:
	cJSON_free(payload);
	return rc;
}

/* Follows room (subscribing now when connected), current if make_current;
 * quiet: no error event for a bad name. Returns 0, or -1. */
static int track(struct chat_net *net, const char *room, int make_current, int quiet)
{
	MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
	char topic[TOPIC_MAX + 1];
	struct op *op = NULL;
	int subscribe_now = 0;
	int rc = -1;
	int r;

	if(!name_room_valid(room)){
		if(!quiet){
			chat_net_error(net, "usage", "\"%s\" is not a room name: 1-%d of a-z 0-9 _ - starting with a letter or digit",
					room, NAME_ROOM_MAX);
		}
		goto out;
	}
	room_filter(topic, sizeof(topic), room);
	op = op_new(net, OP_JOIN);
	if(!op){
		chat_net_error(net, "nomem", "out of memory");
		goto out;
	}
	snprintf(op->room, sizeof(op->room), "%s", room);
	lock(net);
	if(room_find(net, room)){
		if(make_current) snprintf(net->current, sizeof(net->current), "%s", room);
		unlock(net);
		rc = 0;
		goto out;
	}
	if(!room_add(net, room)){
		unlock(net);
		chat_net_error(net, "usage", "cannot follow more than %d rooms", CHAT_ROOMS_MAX);
		goto out;
	}
	snprintf(op->prev_room, sizeof(op->prev_room), "%s", net->current);
	if(make_current || !net->current[0]) snprintf(net->current, sizeof(net->current), "%s", room);
	/* When not up, the next connect subscribes to every joined room. */
	subscribe_now = net->state == NET_UP && !net->stopping;
	if(subscribe_now) op_link(net, op);
	unlock(net);
	rc = 0;
	if(!subscribe_now) goto out;
	ro.onSuccess = on_join_success;
	ro.onFailure = on_join_failure;
	ro.context = op;
	r = MQTTAsync_subscribe(net->client, topic, 1, &ro);
	if(r != MQTTASYNC_SUCCESS){
		lock(net);
		op_unlink(net, op);
		unlock(net);
		if(r != MQTTASYNC_DISCONNECTED){
			chat_net_error(net, "subscribe_failed", "subscribing to room %s failed: %s", room, mqtt_strerror(r));
		}
		goto out;
	}
	op = NULL; /* Paho's until a callback */
out:
	op_free(op);
	return rc;
}

/* Stops following room (after a leave): unsubscribes, forgets it. */
static void untrack(struct chat_net *net, const char *room)
{
	char topic[TOPIC_MAX + 1];
	int up;

	lock(net);
	room_remove(net, room);
	up = net->state == NET_UP && !net->stopping;
	unlock(net);
	room_filter(topic, sizeof(topic), room);
	/* Without callbacks: the broker stops delivery anyway after a leave. */
	if(up) MQTTAsync_unsubscribe(net->client, topic, NULL);
}

/* Follows room without a join request; returns 0, or -1 after an error
 * event. */
int chat_net_track(struct chat_net *net, const char *room, int make_current)
{
	return track(net, room, make_current, 0);
}

/* Joins room: a join request, or just makes it current when followed
 * already; returns 0, or -1 after an error event. */
int chat_net_join(struct chat_net *net, const char *room)
{
	int followed;

	if(!name_room_valid(room)){
		chat_net_error(net, "usage", "\"%s\" is not a room name: 1-%d of a-z 0-9 _ - starting with a letter or digit",
				room, NAME_ROOM_MAX);
		return -1;
	}
	lock(net);
	followed = room_find(net, room) != NULL;
	if(followed) snprintf(net->current, sizeof(net->current), "%s", room);
	unlock(net);
	if(followed) return 0;
	return simple_request(net, "history", "join", room, NULL, NULL, CHAT_TAG_JOIN);
}

/* Sends a leave request for room (NULL: current); returns 0, or -1 after
 * an error event. */
int chat_net_leave(struct chat_net *net, const char *room)
{
	char name[NAME_ROOM_MAX + 1];

	if(room_arg(net, room, name, sizeof(name))) return -1;
	return simple_request(net, "history", "leave", name, NULL, NULL, CHAT_TAG_LEAVE);
}

/* Sends a create request; returns 0, or -1 after an error event. */
int chat_net_create(struct chat_net *net, const char *room, int is_private)
{
	char name[NAME_ROOM_MAX + 1];

	if(room_arg(net, room, name, sizeof(name))) return -1;
	return simple_request(net, "history", "create", name, NULL, is_private ? "private" : "public", CHAT_TAG_JOIN);
}

/* Sends an invite or kick; returns 0, or -1 after an error event. */
int chat_net_member_op(struct chat_net *net, const char *op, const char *room, const char *user)
{
	char name[NAME_ROOM_MAX + 1];

	if(room_arg(net, room, name, sizeof(name))) return -1;
	if(!name_user_valid(user)){
		chat_net_error(net, "usage", "\"%s\" is not a user name", user);
		return -1;
	}
	return simple_request(net, "history", op, name, user, NULL, CHAT_TAG_NONE);
}

/* Sends a dm request, remembering text to send when the room is known;
 * returns 0, or -1 after an error event. */
int chat_net_dm(struct chat_net *net, const char *user, const char *text)
{
	if(!name_user_valid(user)){
		chat_net_error(net, "usage", "\"%s\" is not a user name", user);
		return -1;
	}
	if(!strcmp(user, net->user)){
		chat_net_error(net, "usage", "a direct message needs another user than yourself");
		return -1;
	}
	if(text && strlen(text) > CHAT_BODY_MAX){
		chat_net_error(net, "too_long", "the message is more than %d bytes: not sent", CHAT_BODY_MAX);
		return -1;
	}
	lock(net);
	snprintf(net->dm_user, sizeof(net->dm_user), "%s", text && *text ? user : "");
	snprintf(net->dm_text, sizeof(net->dm_text), "%s", text && *text ? text : "");
	unlock(net);
	return simple_request(net, "history", "dm", NULL, user, NULL, CHAT_TAG_JOIN);
}

/* Sends a public_rooms request; returns 0, or -1 after an error event. */
int chat_net_public_rooms(struct chat_net *net)
{
	return simple_request(net, "history", "public_rooms", NULL, NULL, NULL, CHAT_TAG_NONE);
}

/* Sends a roster request to presence-svc; returns 0, or -1 after an
 * error event. */
int chat_net_roster(struct chat_net *net, const char *room)
{
	char name[NAME_ROOM_MAX + 1];

	if(room_arg(net, room, name, sizeof(name))) return -1;
	return simple_request(net, "presence", "roster", name, NULL, NULL, CHAT_TAG_NONE);
}

/* Sends a status request to presence-svc; returns 0, or -1 after an error
 * event. */
int chat_net_status(struct chat_net *net, const char *state, const char *text)
{
	char req_id[2 * CHAT_REQID_BYTES + 1];
	char *payload = NULL;
	int rc = -1;

	if(random_hex(req_id, sizeof(req_id), CHAT_REQID_BYTES)){
		chat_net_error(net, "send_failed", "no random numbers: not sent");
		goto out;
	}
	payload = chat_proto_status(req_id, state, text);
	if(!payload){
		chat_net_error(net, "nomem", "out of memory: not sent");
		goto out;
	}
	rc = request(net, req_id, payload, "", CHAT_TAG_NONE, "presence");
	payload = NULL;
out:
	cJSON_free(payload);
	return rc;
}

/* Sends a read marker for room at its largest seen seq, when it moved;
 * returns 0, or -1 after an error event. */
int chat_net_mark_read(struct chat_net *net, const char *room)
{
	char req_id[2 * CHAT_REQID_BYTES + 1];
	struct net_room *r = NULL;
	char *payload = NULL;
	long seq = 0;
	int rc = 0;

	lock(net);
	r = room_find(net, room);
	if(r && r->known){
		seq = r->last_seq > r->stored_seq ? r->last_seq : r->stored_seq;
		if(seq > r->read_seq) r->read_seq = seq;
		else seq = 0;
	}
	unlock(net);
	if(seq == 0) goto out;
	rc = -1;
	if(random_hex(req_id, sizeof(req_id), CHAT_REQID_BYTES)) goto out;
	payload = chat_proto_read(req_id, room, seq);
	if(!payload) goto out;
	rc = request(net, req_id, payload, room, CHAT_TAG_NONE, "history");
	payload = NULL;
out:
	cJSON_free(payload);
	return rc;
}

/* Publishes {"typing":true} to the current room, QoS 0, when connected. */
void chat_net_typing(struct chat_net *net)
{
	MQTTAsync_message msg = MQTTAsync_message_initializer;
	char room[NAME_ROOM_MAX + 1];
	char topic[TOPIC_MAX + 1];
	char *payload = NULL;
	int up;

	lock(net);
	up = net->state == NET_UP && !net->stopping;
	snprintf(room, sizeof(room), "%s", net->current);
	unlock(net);
	if(!up || !room[0] || topic_room_typing(topic, sizeof(topic), room, net->user)) goto out;
	payload = chat_proto_typing(1);
	if(!payload) goto out;
	msg.payload = payload;
	msg.payloadlen = (int)strlen(payload);
	msg.qos = 0;
	MQTTAsync_sendMessage(net->client, topic, &msg, NULL);
out:
	cJSON_free(payload);
}

/* Returns 1 when connected, else 0. */
int chat_net_connected(struct chat_net *net)
{
	int up;

	lock(net);
	up = net->state == NET_UP;
	unlock(net);
	return up;
}

/* Returns our user name, owned by the session. */
const char *chat_net_user(struct chat_net *net)
{
	return net->user;
}

/* Makes the joined room current; returns 0, or -1 after an error event. */
int chat_net_switch(struct chat_net *net, const char *room)
{
	int rc = -1;

	if(!name_room_valid(room)){
		chat_net_error(net, "usage", "\"%s\" is not a room name", room);
		goto out;
	}
	lock(net);
	if(room_find(net, room)){
		snprintf(net->current, sizeof(net->current), "%s", room);
		rc = 0;
	}
	unlock(net);
	if(rc) chat_net_error(net, "not_joined", "you have not joined room %s: use /join %s", room, room);
out:
	return rc;
}

/* Copies the current room into buf and the joined rooms into joined. */
void chat_net_rooms_joined(struct chat_net *net, char *buf, size_t len, char *joined, size_t joined_len)
{
	size_t used = 0;

	lock(net);
	snprintf(buf, len, "%s", net->current);
	if(joined && joined_len > 0){
		joined[0] = '\0';
		for(size_t i = 0; i < net->nrooms; i++){
			int n = snprintf(joined + used, joined_len - used, "%s%s", i ? " " : "", net->rooms[i]->name);

			if(n < 0 || (size_t)n >= joined_len - used) break;
			used += (size_t)n;
		}
	}
	unlock(net);
}

/* Returns the number of room messages without a receipt, plus the
 * requests not yet acknowledged by the broker nor given up. */
size_t chat_net_pending(struct chat_net *net)
{
	size_t n;

	lock(net);
	n = net->npublish - net->nmsg_ops + net->npend;
	unlock(net);
	return n;
}

/* Stops reconnecting and disconnects, allowing timeout_ms for in-flight
 * publishes; CHAT_EV_CLOSED follows. */
void chat_net_stop(struct chat_net *net, int timeout_ms)
{
	MQTTAsync_disconnectOptions dis = MQTTAsync_disconnectOptions_initializer;
	int r;

	lock(net);
	net->stopping = 1;
	net->reconnect_at = 0;
	pthread_cond_signal(&net->wakeup);
	unlock(net);
	dis.timeout = timeout_ms;
	dis.onSuccess = on_disconnect_success;
	dis.onFailure = on_disconnect_failure;
	dis.context = net;
	r = MQTTAsync_disconnect(net->client, &dis);
	if(r != MQTTASYNC_SUCCESS) emit_kind(net, CHAT_EV_CLOSED, NULL); /* not connected */
}

/* Destroys the Paho client and frees the session and what it still holds;
 * NULL is fine. */
void chat_net_free(struct chat_net *net)
{
	struct pending_msg *m = NULL;
	struct op *op = NULL;

	if(!net) return;
	if(net->have_lock){
		lock(net);
		net->stopping = 1;
		if(net->have_wakeup) pthread_cond_signal(&net->wakeup);
		unlock(net);
	}
	/* Before Paho goes: the thread may be calling MQTTAsync_connect. */
	if(net->have_reconnector) pthread_join(net->reconnector, NULL);
	/* Fails what Paho still holds (our callbacks free those ops). */
	if(net->have_client) MQTTAsync_destroy(&net->client);
	/* No callbacks from here on: free what is left (publishes waiting to be
	 * sent again, anything Paho did not call back for). */
	while((op = net->ops) != NULL){
		net->ops = op->next;
		op_free(op);
	}
	while((m = net->pend_head) != NULL){
		net->pend_head = m->next;
		free(m);
	}
	for(size_t i = 0; i < net->nrooms; i++){
		live_free_all(net->rooms[i]);
		free(net->rooms[i]);
	}
	if(net->have_wakeup) pthread_cond_destroy(&net->wakeup);
	if(net->have_lock) pthread_mutex_destroy(&net->lock);
	if(net->trace) fclose(net->trace);
	free(net);
}
