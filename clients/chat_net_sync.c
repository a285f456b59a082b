/* chat_net_sync.c: message operations in the session (docs/CLIENT.md,
 * MESSAGE OPERATIONS). Each followed room keeps an index of seq -> sender
 * (chat_ops.h) from receipts, history and catch-up, so that the live rule
 * can be applied: a live edit or delete counts only when its topic sender
 * wrote the message, a reaction from any member, and a live event about a
 * message the index does not have waits for its stored form.
 *
 * Live messages carry no seq, but users name messages by seq (/edit 12):
 * a while after live messages were shown (SYNC_DELAY_MS), the room asks
 * history-svc for what was stored after its last seq (tag CHAT_TAG_SYNC)
 * and learns their seqs (CHAT_EV_SEQ); the same pages bring the stored
 * form of the events the live rule left waiting, and anything missed.
 * Events from history-svc (the meta topic, history) are applied as they
 * are: history-svc checked them. Each event is applied once: by (sender,
 * id) as live messages are, and by its seq. */
#include "chat_net_int.h"

#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "random_id.h"

#define SYNC_DELAY_MS 300       /* after a live message, ask for its seq this much later */
#define SYNC_TRIES_MAX 6        /* doubling delays while some seqs are still unknown */
#define SYNC_PAGE CHAT_HISTORY_MAX
#define UNSEQ_MAX 2048

static void unseq_del(struct net_room *r, uint64_t h)
{
	struct hash_entry *e = NULL;

	HASH_FIND(hh, r->unseq, &h, sizeof(h), e);
	if(!e) return;
	HASH_DELETE(hh, r->unseq, e);
	free(e);
}

/* Plans a sync of r in delay_ms unless one is planned (lock held). */
static void schedule(struct chat_net *net, struct net_room *r, long long delay_ms)
{
	if(r->sync_due) return;
	r->sync_due = clock_mono_ms() + delay_ms;
	pthread_cond_signal(&net->wakeup);
}

static void note(struct chat_net *net, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void note(struct chat_net *net, const char *fmt, ...)
{
	char text[NET_TEXT_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	net__trace(net, "event note %s", text);
	net__emit_kind(net, CHAT_EV_NOTE, text);
}

void sync__index(struct net_room *r, long seq, const char *sender, const char *kind, int deleted)
{
	if(seq < 1 || !sender) return;
	ops_index_put(&r->index, seq, sender, kind && strcmp(kind, "message"), deleted);
}

void sync__live_shown(struct chat_net *net, struct net_room *r, const struct chat_event *ev)
{
	if(!strcmp(ev->user, net->user)) return; /* our receipts tell our seqs */
	net__hashset_add(&r->unseq, net__msg_hash(ev->user, ev->id), UNSEQ_MAX);
	/* The room's last seq learned later may already count this one. */
	if(!r->known) r->sync_newest = 1;
	r->sync_tries = 0;
	schedule(net, r, SYNC_DELAY_MS);
}

void sync__live_op(struct chat_net *net, const struct chat_event *ev)
{
	struct net_room *r = NULL;
	uint64_t h = net__msg_hash(ev->user, ev->id);
	enum ops_verdict v = OPS_UNKNOWN;

	net__lock(net);
	r = rooms__find(net, ev->room);
	if(!r || rooms__seen_has(r, h)){
		net__unlock(net);
		return;
	}
	if(!r->catching_up) v = ops_live_verdict(&r->index, ev->op_kind, ev->ref, ev->user);
	if(v == OPS_APPLY){
		struct ops_entry *target = ops_index_find(&r->index, ev->ref);

		rooms__seen_add(r, h);
		if(target && !strcmp(ev->op_kind, "delete")) target->deleted = 1;
	}else if(v == OPS_UNKNOWN || (v == OPS_FORGED && !strcmp(ev->op_kind, "delete"))){
		/* Its stored form comes with the next sync (or the catch-up):
		 * a delete by an admin too, if the meta topic is slower. */
		net__hashset_add(&r->unseq, h, UNSEQ_MAX);
		r->sync_tries = 0;
		schedule(net, r, SYNC_DELAY_MS);
	}
	net__unlock(net);
	if(v == OPS_APPLY){
		chat_net_emit(net, ev);
		return;
	}
	note(net, "%s a live %s from %s of message %ld in %s: %s", v == OPS_UNKNOWN ? "holding back" : "ignored",
			ev->op_kind, ev->user, ev->ref, ev->room,
			v == OPS_UNKNOWN ? "not known here yet (its stored form will count)" : ops_verdict_name(v));
}

void sync__meta_op(struct chat_net *net, const struct chat_event *ev)
{
	struct net_room *r = NULL;
	struct ops_entry *e = NULL;
	int fresh = 0;

	net__lock(net);
	r = rooms__find(net, ev->room);
	if(r){
		e = ops_index_find(&r->index, ev->seq);
		fresh = !e || !e->is_event;
		ops_index_put(&r->index, ev->seq, ev->user, 1, 0);
		if(fresh && ev->op_kind && !strcmp(ev->op_kind, "delete")) sync__index(r, ev->ref, "", "message", 1);
	}
	net__unlock(net);
	if(fresh) chat_net_emit(net, ev);
}

void sync__stored(struct chat_net *net, const struct chat_event *ev)
{
	const char *kind = ev->op_kind ? ev->op_kind : "message";
	int is_msg = !strcmp(kind, "message");
	uint64_t h = net__msg_hash(ev->user, ev->id ? ev->id : "");
	struct chat_event out = *ev;
	struct net_room *r = NULL;
	struct ops_entry *e = NULL;
	int seen, show = 0, tell_seq = 0;

	net__lock(net);
	r = rooms__find(net, ev->room);
	if(!r){
		net__unlock(net);
		return;
	}
	if(ev->seq > r->last_seq) r->last_seq = ev->seq;
	e = ops_index_find(&r->index, ev->seq);
	seen = (ev->id && rooms__seen_has(r, h)) || (!is_msg && e && e->is_event);
	sync__index(r, ev->seq, ev->user, kind, ev->deleted_by != NULL);
	if(!is_msg && !seen && !strcmp(kind, "delete")) sync__index(r, ev->ref, "", "message", 1);
	if(seen){
		tell_seq = is_msg && net__hashset_has(r->unseq, h);
	}else{
		if(ev->id) rooms__seen_add(r, h);
		show = 1;
	}
	unseq_del(r, h);
	net__unlock(net);
	out.tag = 0;
	if(tell_seq){
		struct chat_event s = { .kind = CHAT_EV_SEQ, .room = ev->room, .user = ev->user, .id = ev->id, .seq = ev->seq };

		chat_net_emit(net, &s);
	}else if(show && is_msg){
		out.kind = CHAT_EV_MSG;
		chat_net_emit(net, &out);
	}else if(show){
		out.kind = CHAT_EV_OP;
		out.stored = 1;
		out.body = NULL;
		chat_net_emit(net, &out);
	}
}

void sync__page_end(struct chat_net *net, const struct chat_event *ev)
{
	struct net_room *r = NULL;

	net__lock(net);
	r = rooms__find(net, ev->room);
	if(r){
		r->syncing = 0;
		if(ev->kind == CHAT_EV_HISTORY_END && !r->known){
			r->known = 1;
			if(ev->seq > r->last_seq) r->last_seq = ev->seq;
		}
		if(ev->kind == CHAT_EV_HISTORY_END && ev->count >= SYNC_PAGE){
			schedule(net, r, 0); /* more to come */
		}else if(HASH_COUNT(r->unseq) > 0 && r->sync_tries < SYNC_TRIES_MAX){
			/* Not stored yet (history-svc is behind), refused, or stored
			 * at or before last_seq (learned after it was shown). */
			r->sync_newest = 1;
			schedule(net, r, (long long)SYNC_DELAY_MS << ++r->sync_tries);
		}else{
			net__hashset_free(&r->unseq); /* never stored: refused, or a forgery */
			r->sync_tries = 0;
		}
		r->live_shown = (long)HASH_COUNT(r->unseq);
	}
	net__unlock(net);
}

long long sync__next_due(struct chat_net *net)
{
	long long now = clock_mono_ms(), next = 0;

	for(struct net_room *r = net->rooms; r; r = r->hh.next){
		long long at = r->sync_due;

		if(!at) continue;
		if(at <= now) at = now + 200; /* held back: a sync or catch-up under way, or offline */
		if(!next || at < next) next = at;
	}
	return next;
}

void sync__check_due(struct chat_net *net)
{
	char names[CHAT_ROOMS_MAX][NAME_ROOM_MAX + 1];
	long after[CHAT_ROOMS_MAX];
	long long now = clock_mono_ms();
	size_t n = 0;

	net__lock(net);
	for(struct net_room *r = net->rooms; r && n < CHAT_ROOMS_MAX; r = r->hh.next){
		if(!r->sync_due || r->sync_due > now || r->syncing || r->catching_up || net->state != NET_UP) continue;
		r->sync_due = 0;
		r->syncing = 1;
		snprintf(names[n], sizeof(names[n]), "%s", r->name);
		after[n++] = r->known && !r->sync_newest ? r->last_seq : -1;
		r->sync_newest = 0;
	}
	net__unlock(net);
	for(size_t i = 0; i < n; i++){
		char req_id[2 * CHAT_REQID_BYTES + 1];
		char *payload = NULL;

		if(!random_hex(req_id, sizeof(req_id), CHAT_REQID_BYTES)){
			payload = chat_proto_history(req_id, names[i], SYNC_PAGE, 0, after[i]);
		}
		if(!payload || requests__send(net, req_id, payload, names[i], CHAT_TAG_SYNC, "history")){
			struct net_room *r = NULL;

			net__lock(net);
			r = rooms__find(net, names[i]);
			if(r) r->syncing = 0;
			net__unlock(net);
		}
	}
}

void sync__room_free(struct net_room *r)
{
	ops_index_free(&r->index);
	net__hashset_free(&r->unseq);
}
