/* chat_net_catchup.c: exactly once, in order, across reconnects. Each
 * followed room remembers the largest seq it has shown (from receipts and
 * history) and the last NET_SEEN_MAX (sender, id) pairs. After every
 * reconnect, rooms with a known seq catch up with "history after seq"
 * page by page; live messages arriving meanwhile are held and shown after
 * the catch-up, and anything already seen is dropped (live messages carry
 * no seq, so they are matched by sender and id). Everything that adds to
 * a held list runs on Paho's message thread. */
#include "chat_net_int.h"

#include <stdlib.h>
#include <string.h>

#include "random_id.h"

#define LIVE_MAX 20000          /* live messages held per room during a catch-up */
#define CATCHUP_PAGE CHAT_HISTORY_MAX

/* Sends the catch-up page of room after seq for catch-up generation gen;
 * returns 0 or -1 (the caller ends the catch-up). */
static int send_catchup(struct chat_net *net, const char *room, long after, long gen)
{
	char req_id[2 * CHAT_REQID_BYTES + 1];
	char *payload = NULL;

	if(random_hex(req_id, sizeof(req_id), CHAT_REQID_BYTES)) return -1;
	payload = chat_proto_history(req_id, room, CATCHUP_PAGE, 0, after);
	if(!payload) return -1;
	return requests__send(net, req_id, payload, room, CHAT_TAG_CATCHUP + gen, "history");
}

void catchup__finish(struct chat_net *net, const char *room, long gen)
{
	struct live_msg *list = NULL;
	struct net_room *r = NULL;

	net__lock(net);
	r = rooms__find(net, room);
	if(r && r->catching_up && r->catchup_gen == gen){
		r->catching_up = 0;
		list = r->live_head;
		r->live_head = r->live_tail = NULL;
		r->nlive = 0;
	}
	net__unlock(net);
	while(list){
		struct live_msg *m = list;
		struct chat_event ev = { .kind = CHAT_EV_MSG, .room = room, .user = m->user, .id = m->id, .body = m->body,
			.op_kind = "message", .reply_to = m->reply_to, .thread = m->thread,
			.mentions = m->mentions[0] ? m->mentions : NULL };
		int dup = 1;

		list = m->next;
		net__lock(net);
		r = rooms__find(net, room);
		if(r && !rooms__seen_has(r, m->hash)){
			rooms__seen_add(r, m->hash);
			r->live_shown++;
			sync__live_shown(net, r, &ev);
			dup = 0;
		}
		net__unlock(net);
		if(!dup) chat_net_emit(net, &ev);
		free(m);
	}
}

void catchup__start(struct chat_net *net)
{
	char names[CHAT_ROOMS_MAX][NAME_ROOM_MAX + 1];
	long after[CHAT_ROOMS_MAX];
	long gen[CHAT_ROOMS_MAX];
	size_t n = 0;
	int unknown = 0;

	net__lock(net);
	for(struct net_room *r = net->rooms; r && n < CHAT_ROOMS_MAX; r = r->hh.next){
		if(!r->known){
			unknown = 1;
			continue;
		}
		r->syncing = 0; /* a sync's reply lost with the connection */
		if(!r->catching_up) continue;
		r->page_count = r->page_max = 0;
		snprintf(names[n], sizeof(names[n]), "%s", r->name);
		after[n] = r->last_seq;
		gen[n] = r->catchup_gen;
		n++;
	}
	net__unlock(net);
	for(size_t i = 0; i < n; i++){
		if(send_catchup(net, names[i], after[i], gen[i])) catchup__finish(net, names[i], gen[i]);
	}
	if(unknown){
		char req_id[2 * CHAT_REQID_BYTES + 1];
		char *payload = NULL;

		if(!random_hex(req_id, sizeof(req_id), CHAT_REQID_BYTES) && (payload = chat_proto_rooms(req_id)) != NULL){
			requests__send(net, req_id, payload, "", CHAT_TAG_LEARN, "history");
		}
	}
}

/* Holds a copy of the live message ev in r (lock held), unless held
 * already or too many are. */
static void hold(struct net_room *r, const struct chat_event *ev, uint64_t h)
{
	size_t ul = strlen(ev->user) + 1, il = strlen(ev->id) + 1, bl = strlen(ev->body) + 1;
	size_t ml = (ev->mentions ? strlen(ev->mentions) : 0) + 1;
	struct live_msg *m = NULL;

	for(m = r->live_head; m; m = m->next){
		if(m->hash == h) return;
	}
	if(r->nlive >= LIVE_MAX || (m = malloc(sizeof(*m) + ul + il + bl + ml)) == NULL) return;
	m->next = NULL;
	m->hash = h;
	m->user = m->text;
	m->id = m->user + ul;
	m->body = m->id + il;
	m->mentions = m->body + bl;
	m->reply_to = ev->reply_to;
	m->thread = ev->thread;
	memcpy(m->mentions, ev->mentions ? ev->mentions : "", ml);
	memcpy(m->user, ev->user, ul);
	memcpy(m->id, ev->id, il);
	memcpy(m->body, ev->body, bl);
	if(r->live_tail) r->live_tail->next = m;
	else r->live_head = m;
	r->live_tail = m;
	r->nlive++;
}

void catchup__live(struct chat_net *net, const struct chat_event *ev)
{
	struct net_room *r = NULL;
	uint64_t h = net__msg_hash(ev->user, ev->id);
	int show = 0;

	if(ev->op_kind && strcmp(ev->op_kind, "message")) return; /* not a message: chat_net_incoming.c */
	net__lock(net);
	r = rooms__find(net, ev->room);
	if(!r){
		show = 1; /* a room being left: harmless */
	}else if(rooms__seen_has(r, h)){
		show = 0;
	}else if(r->catching_up){
		hold(r, ev, h);
	}else{
		rooms__seen_add(r, h);
		r->live_shown++;
		sync__live_shown(net, r, ev);
		show = 1;
	}
	net__unlock(net);
	if(show) chat_net_emit(net, ev);
}

void catchup__page_message(struct chat_net *net, const struct chat_event *ev)
{
	struct net_room *r = NULL;
	int mine = 0;

	net__lock(net);
	r = rooms__find(net, ev->room);
	if(r && r->catching_up && ev->tag - CHAT_TAG_CATCHUP == r->catchup_gen){
		r->page_count++;
		if(ev->seq > r->page_max) r->page_max = ev->seq;
		mine = 1;
	}
	net__unlock(net);
	/* Shown unless seen (a message, or an event: chat_net_sync.c). */
	if(mine) sync__stored(net, ev);
}

void catchup__page_end(struct chat_net *net, const struct chat_event *ev)
{
	struct net_room *r = NULL;
	long gen = ev->tag - CHAT_TAG_CATCHUP;
	long after = 0;
	int more = 0;
	int mine = 0;

	net__lock(net);
	r = rooms__find(net, ev->room);
	if(r && r->catching_up && r->catchup_gen == gen){
		mine = 1;
		more = r->page_count >= CATCHUP_PAGE;
		after = r->page_max;
		r->page_count = r->page_max = 0;
	}
	net__unlock(net);
	if(!mine) return;
	if(!more || send_catchup(net, ev->room, after, gen)) catchup__finish(net, ev->room, gen);
}
