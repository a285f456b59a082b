/* chat_net_rooms.c: the rooms the session follows (a uthash by name, in
 * the order followed), the current room, and subscribing to a room when it
 * is followed while connected (every connect subscribes to all of them:
 * chat_net_reconnect.c). */
#include "chat_net_int.h"

#include <stdlib.h>
#include <string.h>

void rooms__filter(char *buf, size_t len, const char *room)
{
	snprintf(buf, len, "%s/rooms/%s/#", TOPIC_PREFIX, room);
}

struct net_room *rooms__find(struct chat_net *net, const char *name)
{
	struct net_room *r = NULL;

	if(name) HASH_FIND_STR(net->rooms, name, r);
	return r;
}

static void live_free(struct net_room *r)
{
	struct live_msg *m = NULL;

	while((m = r->live_head) != NULL){
		r->live_head = m->next;
		free(m);
	}
	r->live_tail = NULL;
	r->nlive = 0;
}

static void room_free(struct net_room *r)
{
	if(r) sync__room_free(r);
	live_free(r);
	net__hashset_free(&r->seen);
	free(r);
}

size_t rooms__count(struct chat_net *net)
{
	return HASH_COUNT(net->rooms);
}

struct net_room *rooms__add(struct chat_net *net, const char *name)
{
	struct net_room *r = rooms__find(net, name);

	if(r) return r;
	if(rooms__count(net) >= CHAT_ROOMS_MAX) return NULL;
	r = calloc(1, sizeof(*r));
	if(!r) return NULL;
	snprintf(r->name, sizeof(r->name), "%s", name);
	HASH_ADD_STR(net->rooms, name, r);
	return r;
}

/* Forgets room name (lock held); the current room becomes the first
 * followed when it was name. */
static void room_remove(struct chat_net *net, const char *name)
{
	struct net_room *r = rooms__find(net, name);

	if(r){
		HASH_DEL(net->rooms, r);
		room_free(r);
	}
	if(!strcmp(net->current, name)) snprintf(net->current, sizeof(net->current), "%s", net->rooms ? net->rooms->name : "");
}

void rooms__seen_add(struct net_room *r, uint64_t h)
{
	net__hashset_add(&r->seen, h, NET_SEEN_MAX);
}

int rooms__seen_has(const struct net_room *r, uint64_t h)
{
	return net__hashset_has(r->seen, h);
}

void rooms__free_all(struct chat_net *net)
{
	struct net_room *r = NULL, *tmp = NULL;

	HASH_ITER(hh, net->rooms, r, tmp){
		HASH_DEL(net->rooms, r);
		room_free(r);
	}
}

void rooms__current(struct chat_net *net, char *room, size_t len)
{
	net__lock(net);
	snprintf(room, len, "%s", net->current);
	net__unlock(net);
}

static void bad_room_name(struct chat_net *net, const char *room)
{
	chat_net_error(net, "usage", "\"%s\" is not a room name: 1-%d of a-z 0-9 _ - starting with a letter or digit",
			room, NAME_ROOM_MAX);
}

int rooms__arg(struct chat_net *net, const char *room, char *buf, size_t len)
{
	if(room){
		if(!name_room_valid(room)){
			bad_room_name(net, room);
			return -1;
		}
		snprintf(buf, len, "%s", room);
		return 0;
	}
	rooms__current(net, buf, len);
	if(!buf[0]){
		chat_net_error(net, "no_room", "you are in no room: /join ROOM first");
		return -1;
	}
	return 0;
}

static void on_join_success(void *context, MQTTAsync_successData *resp)
{
	struct op *op = context;

	(void)resp;
	ops__retire(op->net, op);
}

static void on_join_failure(void *context, MQTTAsync_failureData *resp)
{
	struct op *op = context;
	struct chat_net *net = op->net;
	int code = resp ? resp->code : MQTTASYNC_FAILURE;
	int stopping;

	net__lock(net);
	ops__unlink(net, op);
	stopping = net->stopping;
	if(code == MQTT_BAD_SUBSCRIBE && !stopping){
		/* Refused: leave the room again, back to the room current before. */
		int was_current = !strcmp(net->current, op->room);

		room_remove(net, op->room);
		if(was_current && rooms__find(net, op->prev_room)){
			snprintf(net->current, sizeof(net->current), "%s", op->prev_room);
		}
	}
	net__unlock(net);
	if(!stopping && code == MQTT_BAD_SUBSCRIBE){
		chat_net_error(net, "not_member", "cannot join room %s: no such room, or you are not a member of it",
				op->room);
	}else if(!stopping && code != MQTTASYNC_OPERATION_INCOMPLETE){
		/* It stays joined: the next connect subscribes again. */
		chat_net_error(net, "subscribe_failed", "subscribing to room %s failed: %s", op->room, net__strerror(code));
	}
	ops__free(op);
}

int rooms__track(struct chat_net *net, const char *room, int make_current)
{
	MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
	char topic[TOPIC_MAX + 1];
	struct op *op = NULL;
	int subscribe_now = 0;
	int rc = -1;
	int r;

	if(!name_room_valid(room)){
		bad_room_name(net, room);
		goto out;
	}
	rooms__filter(topic, sizeof(topic), room);
	op = ops__new(net, OP_JOIN);
	if(!op){
		chat_net_error(net, "nomem", "out of memory");
		goto out;
	}
	snprintf(op->room, sizeof(op->room), "%s", room);
	net__lock(net);
	if(rooms__find(net, room)){
		if(make_current) snprintf(net->current, sizeof(net->current), "%s", room);
		net__unlock(net);
		rc = 0;
		goto out;
	}
	if(!rooms__add(net, room)){
		net__unlock(net);
		chat_net_error(net, "usage", "cannot follow more than %d rooms", CHAT_ROOMS_MAX);
		goto out;
	}
	snprintf(op->prev_room, sizeof(op->prev_room), "%s", net->current);
	if(make_current || !net->current[0]) snprintf(net->current, sizeof(net->current), "%s", room);
	/* When not up, the next connect subscribes to every joined room. */
	subscribe_now = net->state == NET_UP && !net->stopping;
	if(subscribe_now) ops__link(net, op);
	net__unlock(net);
	rc = 0;
	if(!subscribe_now) goto out;
	ro.onSuccess = on_join_success;
	ro.onFailure = on_join_failure;
	ro.context = op;
	r = MQTTAsync_subscribe(net->client, topic, 1, &ro);
	if(r != MQTTASYNC_SUCCESS){
		net__lock(net);
		ops__unlink(net, op);
		net__unlock(net);
		if(r != MQTTASYNC_DISCONNECTED){
			chat_net_error(net, "subscribe_failed", "subscribing to room %s failed: %s", room, net__strerror(r));
		}
		goto out;
	}
	op = NULL; /* Paho's until a callback */
out:
	ops__free(op);
	return rc;
}

void rooms__untrack(struct chat_net *net, const char *room)
{
	char topic[TOPIC_MAX + 1];
	int up;

	net__lock(net);
	room_remove(net, room);
	up = net->state == NET_UP && !net->stopping;
	net__unlock(net);
	rooms__filter(topic, sizeof(topic), room);
	/* Without callbacks: the broker stops delivery anyway after a leave. */
	if(up) MQTTAsync_unsubscribe(net->client, topic, NULL);
}

/* Follows room without a join request; returns 0, or -1 after an error
 * event. */
int chat_net_track(struct chat_net *net, const char *room, int make_current)
{
	return rooms__track(net, room, make_current);
}

/* Makes the joined room current; returns 0, or -1 after an error event. */
int chat_net_switch(struct chat_net *net, const char *room)
{
	int rc = -1;

	if(!name_room_valid(room)){
		chat_net_error(net, "usage", "\"%s\" is not a room name", room);
		goto out;
	}
	net__lock(net);
	if(rooms__find(net, room)){
		snprintf(net->current, sizeof(net->current), "%s", room);
		rc = 0;
	}
	net__unlock(net);
	if(rc) chat_net_error(net, "not_joined", "you have not joined room %s: use /join %s", room, room);
out:
	return rc;
}

/* Copies the followed rooms, in the order followed, into names (at most
 * max) and the current room into current (current_len bytes, "" for
 * none); returns how many were copied. Nothing to free. */
size_t chat_net_rooms_list(struct chat_net *net, char (*names)[NAME_ROOM_MAX + 1], size_t max, char *current,
		size_t current_len)
{
	struct net_room *r = NULL;
	size_t n = 0;

	net__lock(net);
	snprintf(current, current_len, "%s", net->current);
	for(r = net->rooms; r && n < max; r = r->hh.next) snprintf(names[n++], sizeof(names[0]), "%s", r->name);
	net__unlock(net);
	return n;
}
