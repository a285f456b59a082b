/* chat_net_outbox.c: room messages kept until their receipt, not only
 * until their node's PUBACK (a node may ack a message and die before
 * forwarding it). A list oldest first (the order they are sent in) plus a
 * uthash by "room/id" (receipts find theirs at once).
 *
 * Each is handed to Paho by outbox__flush, one thread at a time, in
 * order; after every connect all of them are sent again in their original
 * order, and one without a receipt after RECEIPT_TIMEOUT_MS (doubling per
 * resend up to RESEND_DELAY_MAX_MS) is sent again by the reconnect
 * thread, at most RESEND_MAX times before it is given up with an error.
 * Always with the same id: history-svc stores a message once per (room,
 * sender, id) and answers a duplicate with the original receipt. A
 * history-svc error for the id ends it too. Receipts and errors for ids
 * finished recently (DONE_MAX) are not shown twice. */
#include "chat_net_int.h"

#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "chat_ops.h"
#include "clock.h"
#include "random_id.h"

#define PENDING_MAX 10000       /* messages kept until their receipt */
#define RECEIPT_TIMEOUT_MS 10000        /* no receipt this long after sending: send again */
#define RESEND_DELAY_MAX_MS 60000       /* the doubling timeout's cap */
#define RESEND_MAX 6            /* resends for lack of a receipt before giving up */
#define DONE_MAX 1024           /* finished (room, id) pairs whose repeats are not shown */

static void msg_key(char *key, const char *room, const char *id)
{
	snprintf(key, MSG_KEY_MAX, "%s/%s", room, id);
}

static struct pending_msg *pend_find(struct chat_net *net, const char *room, const char *id)
{
	char key[MSG_KEY_MAX];
	struct pending_msg *m = NULL;

	if(!room || !id) return NULL;
	msg_key(key, room, id);
	HASH_FIND_STR(net->pend_by_key, key, m);
	return m;
}

/* Takes m off the list (not freed) and remembers it as finished (lock
 * held). */
static void pend_unlink(struct chat_net *net, struct pending_msg *m)
{
	if(m->prev) m->prev->next = m->next;
	else net->pend_head = m->next;
	if(m->next) m->next->prev = m->prev;
	else net->pend_tail = m->prev;
	m->prev = m->next = NULL;
	HASH_DEL(net->pend_by_key, m);
	net->npend--;
	net__hashset_add(&net->done, net__msg_hash(m->room, m->id), DONE_MAX);
}

/* The receipt timeout after resends resends: doubling, capped. */
static long long resend_delay_ms(int resends)
{
	long long d = RECEIPT_TIMEOUT_MS;

	for(int i = 0; i < resends && d < RESEND_DELAY_MAX_MS; i++) d *= 2;
	return d < RESEND_DELAY_MAX_MS ? d : RESEND_DELAY_MAX_MS;
}

/* Hands Paho, in order, every kept message marked to be sent, while up.
 * One thread at a time: another thread's call returns at once and the
 * running one picks up what it marked (it looks again under the lock
 * before it ends). */
static void flush(struct chat_net *net)
{
	net__lock(net);
	if(net->flushing){
		net__unlock(net);
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
		m->due = clock_mono_ms() + resend_delay_ms(m->resends);
		op = ops__new(net, OP_PUBLISH);
		if(op){
			snprintf(op->topic, sizeof(op->topic), "%s", m->topic);
			snprintf(op->room, sizeof(op->room), "%s", m->room);
			op->payload = strdup(m->payload); /* freed with cJSON_free: the default hooks are free */
		}
		if(!op || !op->payload){
			ops__free(op); /* out of memory: the receipt timeout tries again */
			continue;
		}
		op->payload_len = (int)strlen(op->payload);
		op->attempts = 1;
		ops__link(net, op);
		net__unlock(net);
		/* m may be gone from here on (a receipt): only op is ours. */
		r = ops__send(net, op);
		net__lock(net);
		if(r != MQTTASYNC_SUCCESS){
			ops__unlink(net, op);
			net__trace(net, "message to %s not handed over (%s): kept for a resend", op->room, net__strerror(r));
			ops__free(op);
			break; /* the next connect, or the receipt timeout, tries again */
		}
	}
	net->flushing = 0;
	net__unlock(net);
}

void outbox__resend_all(struct chat_net *net)
{
	net__lock(net);
	for(struct pending_msg *m = net->pend_head; m; m = m->next) m->need_send = 1;
	net__unlock(net);
	flush(net);
}

void outbox__check_overdue(struct chat_net *net)
{
	int marked = 0;

	for(;;){
		struct pending_msg *gone = NULL;
		long long now = clock_mono_ms();

		net__lock(net);
		if(net->state != NET_UP || net->stopping){
			net__unlock(net);
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
			net__trace(net, "no receipt for %s in room %s: sending it again (resend %d)", m->id, m->room, m->resends);
		}
		if(gone) pend_unlink(net, gone);
		net__unlock(net);
		if(!gone) break;
		chat_net_error(net, "not_stored", "a message to room %s (id %s) got no receipt from the archive after %d "
				"resends: given up", gone->room, gone->id, RESEND_MAX);
		free(gone);
		net__emit_kind(net, CHAT_EV_SENT, NULL);
	}
	if(marked) flush(net);
}

int outbox__settle(struct chat_net *net, const char *room, const char *id, int keep)
{
	struct pending_msg *m = NULL;
	int rc = 0;

	net__lock(net);
	m = pend_find(net, room, id);
	if(m && keep) rc = -1;
	else if(m) pend_unlink(net, m);
	else if(room && id && net__hashset_has(net->done, net__msg_hash(room, id))) rc = -1;
	net__unlock(net);
	if(m && !keep){
		free(m);
		rc = 1;
	}
	return rc;
}

void outbox__free_all(struct chat_net *net)
{
	struct pending_msg *m = NULL;

	HASH_CLEAR(hh, net->pend_by_key); /* the table only: before its items go */
	while((m = net->pend_head) != NULL){
		net->pend_head = m->next;
		free(m);
	}
	net->pend_tail = NULL;
	net__hashset_free(&net->done);
}

int outbox__keep(struct chat_net *net, const char *room, const char *id, const char *payload)
{
	char topic[TOPIC_MAX + 1];
	size_t len = strlen(payload);
	struct pending_msg *m = NULL;
	int rc = -1;

	if(topic_room_msg(topic, sizeof(topic), room, net->user)){
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
	msg_key(m->key, room, id);
	snprintf(m->topic, sizeof(m->topic), "%s", topic);
	memcpy(m->payload, payload, len + 1);
	m->need_send = 1;
	net__lock(net);
	if(net->stopping || net->npend >= PENDING_MAX){
		int stopping = net->stopping;

		net__unlock(net);
		if(stopping) chat_net_error(net, "not_connected", "the session is closing: not sent");
		else chat_net_error(net, "queue_full", "%d messages are still waiting for their receipts: not sent",
				PENDING_MAX);
		goto out;
	}
	m->prev = net->pend_tail;
	if(net->pend_tail) net->pend_tail->next = m;
	else net->pend_head = m;
	net->pend_tail = m;
	HASH_ADD_STR(net->pend_by_key, key, m);
	net->npend++;
	pthread_cond_signal(&net->wakeup); /* its receipt timeout */
	net__unlock(net);
	m = NULL; /* the session's until its receipt */
	net__trace(net, "kept %s for room %s until its receipt", id, room);
	net__emit_kind(net, CHAT_EV_SENT, NULL); /* the count changed */
	flush(net);
	rc = 0;
out:
	free(m);
	return rc;
}

/* Sends body (len bytes) to the current room, quoting reply_to and in
 * thread when > 0, with its @names as mentions; returns 0, or -1 after an
 * error event. body stays the caller's. */
int chat_net_send_ext(struct chat_net *net, const char *body, size_t len, long reply_to, long thread)
{
	char room[NAME_ROOM_MAX + 1];
	char id[2 * CHAT_MSGID_BYTES + 1];
	char mentions[OPS_MENTIONS_MAX][NAME_USER_MAX + 1];
	char *text = NULL;
	char *payload = NULL;
	size_t nmentions;
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
	rooms__current(net, room, sizeof(room));
	if(!room[0]){
		chat_net_error(net, "no_room", "you are in no room: /join ROOM first; not sent");
		goto out;
	}
	text = strndup(body, len);
	if(!text || random_hex(id, sizeof(id), CHAT_MSGID_BYTES)){
		chat_net_error(net, "send_failed", "cannot build the message: not sent");
		goto out;
	}
	nmentions = ops_mentions_from_body(text, mentions, OPS_MENTIONS_MAX);
	payload = chat_proto_msg_ext(id, text, reply_to, thread, (const char (*)[NAME_USER_MAX + 1])mentions, nmentions);
	if(!payload){
		chat_net_error(net, "nomem", "out of memory: not sent");
		goto out;
	}
	rc = outbox__keep(net, room, id, payload);
out:
	cJSON_free(payload);
	free(text);
	return rc;
}

/* Sends body to the current room (in the thread followed there, if any). */
int chat_net_send(struct chat_net *net, const char *body, size_t len)
{
	char room[NAME_ROOM_MAX + 1];
	long thread = 0;

	rooms__current(net, room, sizeof(room));
	net__lock(net);
	if(room[0] && !strcmp(room, net->thread_room)) thread = net->thread_root;
	net__unlock(net);
	return chat_net_send_ext(net, body, len, 0, thread);
}

/* Returns the number of room messages without a receipt, plus the
 * requests not yet acknowledged by the broker nor given up. */
size_t chat_net_pending(struct chat_net *net)
{
	size_t n;

	net__lock(net);
	n = net->npublish - net->nmsg_ops + net->npend;
	net__unlock(net);
	return n;
}
