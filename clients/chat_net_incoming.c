/* chat_net_incoming.c: what arrives. Paho's message callback hands each
 * publish to chat_proto_incoming, whose events pass through sink_emit
 * here before the front end sees them: live messages and catch-up pages
 * (deduplicated, held, in order), receipts and errors that end a kept
 * message's wait (each shown once), the replies to the session's own
 * requests (join, leave, the rooms it learns seqs from). */
#include "chat_net_int.h"

#include <string.h>

static int sink_match(void *ctx, const char *req_id, char *room, size_t room_len, long *tag)
{
	return requests__take(ctx, req_id, room, room_len, tag);
}

/* Sends the text of a /msg USER TEXT once the direct room with user is
 * current. */
static void dm_send(struct chat_net *net, const char *user)
{
	char text[CHAT_BODY_MAX + 1] = "";

	net__lock(net);
	if(net->dm_user[0] && !strcmp(net->dm_user, user)){
		snprintf(text, sizeof(text), "%s", net->dm_text);
		net->dm_user[0] = '\0';
	}
	net__unlock(net);
	if(text[0]) chat_net_send(net, text, strlen(text));
}

/* A history message or the end of a reply that is not a catch-up: the
 * room's seen set, and its last seq from a newest page. */
static void history_seen(struct chat_net *net, const struct chat_event *ev)
{
	int newest = ev->tag == CHAT_TAG_NEWEST || ev->tag == CHAT_TAG_SHOW_NEWEST;
	struct net_room *r = NULL;

	net__lock(net);
	r = rooms__find(net, ev->room);
	if(r && ev->kind == CHAT_EV_HISTORY && ev->id) rooms__seen_add(r, net__msg_hash(ev->user, ev->id));
	if(r && ev->kind == CHAT_EV_HISTORY) sync__index(r, ev->seq, ev->user, ev->op_kind, ev->deleted_by != NULL);
	if(r && newest && ev->seq > r->last_seq) r->last_seq = ev->seq;
	if(r && newest && ev->kind == CHAT_EV_HISTORY_END) r->known = 1;
	net__unlock(net);
}

/* A room's last seq from a rooms reply. */
static void room_seq(struct chat_net *net, const struct chat_event *ev)
{
	struct net_room *r = NULL;

	net__lock(net);
	r = rooms__find(net, ev->room);
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
	net__unlock(net);
}

/* A receipt, or history-svc's error about one of our messages: ends the
 * message's wait (an error "unavailable" does not: the archive is down and
 * the receipt timeout sends it again); shown once per id. */
static void settle(struct chat_net *net, const struct chat_event *ev)
{
	int keep = ev->kind == CHAT_EV_ERROR && ev->code && !strcmp(ev->code, "unavailable");
	int r;

	if(ev->kind == CHAT_EV_RECEIPT){
		/* Stored is not shown: a message sent before the subscription
		 * was back must still come with the catch-up. Only the read
		 * marker may move on. */
		struct net_room *room = NULL;

		net__lock(net);
		room = rooms__find(net, ev->room);
		if(room && ev->seq > room->stored_seq) room->stored_seq = ev->seq;
		/* Our messages' seqs; an event's seq counts as applied only
		 * once its stored form or live copy was shown. */
		if(room && (!ev->op_kind || !strcmp(ev->op_kind, "message"))) sync__index(room, ev->seq, net->user, NULL, 0);
		net__unlock(net);
	}
	r = outbox__settle(net, ev->room, ev->id, keep);
	if(r < 0){
		net__trace(net, "%s for %s: not shown (%s)", ev->kind == CHAT_EV_RECEIPT ? "receipt" : "error", ev->id,
				keep ? "it will be sent again" : "finished already");
		return;
	}
	chat_net_emit(net, ev);
	if(r > 0) net__emit_kind(net, CHAT_EV_SENT, NULL);
}

/* An error reply to a request; returns whether the front end sees it. */
static int request_error(struct chat_net *net, const struct chat_event *ev)
{
	if(ev->tag >= CHAT_TAG_CATCHUP){
		if(ev->room) catchup__finish(net, ev->room, ev->tag - CHAT_TAG_CATCHUP);
		if(ev->code && !strcmp(ev->code, "not_member")) return 0; /* left meanwhile */
	}
	if(ev->tag == CHAT_TAG_LEARN) return 0;
	if(ev->tag == CHAT_TAG_SYNC){
		sync__page_end(net, ev);
		return 0;
	}
	if(ev->tag == CHAT_TAG_JOIN && ev->op && !strcmp(ev->op, "join") && ev->room
			&& ev->code && !strcmp(ev->code, "not_found")){
		/* Not a public room: perhaps a private one we belong to. The
		 * broker says no (not_member) if not. */
		rooms__track(net, ev->room, 1);
		return 0;
	}
	return 1;
}

/* Everything chat_proto finds in incoming publishes passes here first:
 * dedupe and catch-up, the session's own requests, then the front end. */
static void sink_emit(void *ctx, const struct chat_event *ev)
{
	struct chat_net *net = ctx;

	switch(ev->kind){
	case CHAT_EV_MSG:
		catchup__live(net, ev);
		return;
	case CHAT_EV_OP:
		if(ev->stored) sync__meta_op(net, ev);
		else sync__live_op(net, ev);
		return;
	case CHAT_EV_HISTORY:
		if(ev->tag == CHAT_TAG_SYNC){
			sync__stored(net, ev);
			return;
		}
		if(ev->tag >= CHAT_TAG_CATCHUP){
			catchup__page_message(net, ev);
			return;
		}
		history_seen(net, ev);
		break;
	case CHAT_EV_HISTORY_END:
		if(ev->tag == CHAT_TAG_SYNC){
			sync__page_end(net, ev);
			return;
		}
		if(ev->tag >= CHAT_TAG_CATCHUP){
			catchup__page_end(net, ev);
			return;
		}
		history_seen(net, ev);
		break;
	case CHAT_EV_RECEIPT:
		settle(net, ev);
		return;
	case CHAT_EV_ROOM:
		room_seq(net, ev);
		if(ev->tag == CHAT_TAG_LEARN) return;
		break;
	case CHAT_EV_ROOMS_END:
		if(ev->tag == CHAT_TAG_LEARN) return;
		break;
	case CHAT_EV_ITEMS_END:
		if(ev->op && !strcmp(ev->op, "search")) msgops__search_end(net, ev);
		break;
	case CHAT_EV_REPLY:
		if(ev->tag == CHAT_TAG_JOIN && ev->room) rooms__track(net, ev->room, 1);
		if(ev->tag == CHAT_TAG_LEAVE && ev->room) rooms__untrack(net, ev->room);
		chat_net_emit(net, ev);
		if(ev->op && !strcmp(ev->op, "dm") && ev->room && ev->user) dm_send(net, ev->user);
		return;
	case CHAT_EV_ERROR:
		if(!ev->op && ev->tag == CHAT_TAG_NONE && ev->room && ev->id){
			settle(net, ev);
			return;
		}
		if(!request_error(net, ev)) return;
		break;
	default:
		break;
	}
	chat_net_emit(net, ev);
}

int incoming__on_message(void *context, char *topic, int topic_len, MQTTAsync_message *msg)
{
	struct chat_net *net = context;
	struct chat_proto_sink sink = { .emit = sink_emit, .match = sink_match, .ctx = net, .self = net->user,
		.retained = msg->retained };
	size_t len = msg->payloadlen > 0 ? (size_t)msg->payloadlen : 0;

	net__trace(net, "in %s%s %.*s", topic, msg->retained ? " (retained)" : "", (int)(len > 1000 ? 1000 : len),
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
