/* chat_net_requests.c: requests to history-svc and presence-svc. Each
 * gets a random req_id, remembered (a uthash by req_id, with the room it
 * is about and the tag its reply's events carry) until its reply, so that
 * only replies to this client's own requests are shown (another device of
 * the same user shares the inbox). At most REQS_MAX wait: one more makes
 * the oldest's reply ignored. */
#include "chat_net_int.h"

#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "random_id.h"

#define REQS_MAX 32             /* requests waiting for a reply */

static void req_add(struct chat_net *net, const char *req_id, const char *room, long tag)
{
	struct pending_req *req = calloc(1, sizeof(*req));
	struct pending_req *old = NULL;

	if(!req) return; /* out of memory: its reply is ignored */
	snprintf(req->req_id, sizeof(req->req_id), "%s", req_id);
	snprintf(req->room, sizeof(req->room), "%s", room);
	req->tag = tag;
	net__lock(net);
	if(HASH_COUNT(net->reqs) >= REQS_MAX){
		old = net->reqs; /* the oldest: uthash keeps insertion order */
		HASH_DEL(net->reqs, old);
	}
	HASH_ADD_STR(net->reqs, req_id, req);
	net__unlock(net);
	free(old);
}

int requests__take(struct chat_net *net, const char *req_id, char *room, size_t room_len, long *tag)
{
	struct pending_req *req = NULL;

	net__lock(net);
	HASH_FIND_STR(net->reqs, req_id, req);
	if(req){
		HASH_DEL(net->reqs, req);
		if(room) snprintf(room, room_len, "%s", req->room);
		if(tag) *tag = req->tag;
	}
	net__unlock(net);
	free(req);
	return req != NULL;
}

void requests__free_all(struct chat_net *net)
{
	struct pending_req *req = NULL, *tmp = NULL;

	HASH_ITER(hh, net->reqs, req, tmp){
		HASH_DEL(net->reqs, req);
		free(req);
	}
}

int requests__send(struct chat_net *net, const char *req_id, char *payload, const char *room, long tag,
		const char *service)
{
	char topic[TOPIC_MAX + 1];
	int rc = -1;

	if(topic_user_req(topic, sizeof(topic), net->user, service)){
		chat_net_error(net, "send_failed", "cannot build the request topic");
		goto out;
	}
	req_add(net, req_id, room, tag);
	/* A sync lost with the connection is not sent again: the catch-up
	 * after the reconnect brings what it would have. */
	rc = tag == CHAT_TAG_SYNC ? ops__publish_background(net, topic, payload) : ops__publish(net, topic, payload);
	payload = NULL;
	if(rc) requests__take(net, req_id, NULL, 0, NULL);
out:
	cJSON_free(payload);
	return rc;
}

/* A new req_id into req_id; 0, or -1 after an error event. */
static int new_req_id(struct chat_net *net, char req_id[2 * CHAT_REQID_BYTES + 1])
{
	if(!random_hex(req_id, 2 * CHAT_REQID_BYTES + 1, CHAT_REQID_BYTES)) return 0;
	chat_net_error(net, "send_failed", "no random numbers: not sent");
	return -1;
}

/* Sends payload (built for req_id; NULL: out of memory, an error event)
 * as a request; returns 0, or -1 after an error event. */
static int send_built(struct chat_net *net, const char *req_id, char *payload, const char *room, long tag,
		const char *service)
{
	if(!payload){
		chat_net_error(net, "nomem", "out of memory: not sent");
		return -1;
	}
	return requests__send(net, req_id, payload, room, tag, service);
}

/* Builds and sends a request of op with the optional fields to service;
 * returns 0, or -1 after an error event. */
static int simple_request(struct chat_net *net, const char *service, const char *op, const char *room,
		const char *user, const char *visibility, long tag)
{
	char req_id[2 * CHAT_REQID_BYTES + 1];

	if(new_req_id(net, req_id)) return -1;
	return send_built(net, req_id, chat_proto_request(op, req_id, room, user, visibility), room ? room : "", tag,
			service);
}

/* Sends a history request for room (NULL: current); returns 0, or -1
 * after an error event. */
int chat_net_history(struct chat_net *net, const char *room_name, long limit, long before, int show)
{
	char room[NAME_ROOM_MAX + 1];
	char req_id[2 * CHAT_REQID_BYTES + 1];
	long tag;

	if(limit < 1 || limit > CHAT_HISTORY_MAX || before < 0){
		chat_net_error(net, "usage", "history: N must be 1-%d and SEQ positive", CHAT_HISTORY_MAX);
		return -1;
	}
	if(rooms__arg(net, room_name, room, sizeof(room)) || new_req_id(net, req_id)) return -1;
	if(show) tag = before > 0 ? CHAT_TAG_SHOW_OLDER : CHAT_TAG_SHOW_NEWEST;
	else tag = before > 0 ? CHAT_TAG_OLDER : CHAT_TAG_NEWEST;
	return send_built(net, req_id, chat_proto_history(req_id, room, limit, before, -1), room, tag, "history");
}

/* Sends a rooms request; returns 0, or -1 after an error event. */
int chat_net_rooms(struct chat_net *net, int show)
{
	char req_id[2 * CHAT_REQID_BYTES + 1];

	if(new_req_id(net, req_id)) return -1;
	return send_built(net, req_id, chat_proto_rooms(req_id), "", show ? CHAT_TAG_NONE : CHAT_TAG_QUIET, "history");
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
	net__lock(net);
	followed = rooms__find(net, room) != NULL;
	if(followed) snprintf(net->current, sizeof(net->current), "%s", room);
	net__unlock(net);
	if(followed) return 0;
	return simple_request(net, "history", "join", room, NULL, NULL, CHAT_TAG_JOIN);
}

/* Sends a leave request for room (NULL: current); returns 0, or -1 after
 * an error event. */
int chat_net_leave(struct chat_net *net, const char *room)
{
	char name[NAME_ROOM_MAX + 1];

	if(rooms__arg(net, room, name, sizeof(name))) return -1;
	return simple_request(net, "history", "leave", name, NULL, NULL, CHAT_TAG_LEAVE);
}

/* Sends a create request; returns 0, or -1 after an error event. */
int chat_net_create(struct chat_net *net, const char *room, int is_private)
{
	char name[NAME_ROOM_MAX + 1];

	if(rooms__arg(net, room, name, sizeof(name))) return -1;
	return simple_request(net, "history", "create", name, NULL, is_private ? "private" : "public", CHAT_TAG_JOIN);
}

/* Sends an invite or kick; returns 0, or -1 after an error event. */
int chat_net_member_op(struct chat_net *net, const char *op, const char *room, const char *user)
{
	char name[NAME_ROOM_MAX + 1];

	if(rooms__arg(net, room, name, sizeof(name))) return -1;
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
	net__lock(net);
	snprintf(net->dm_user, sizeof(net->dm_user), "%s", text && *text ? user : "");
	snprintf(net->dm_text, sizeof(net->dm_text), "%s", text && *text ? text : "");
	net__unlock(net);
	return simple_request(net, "history", "dm", NULL, user, NULL, CHAT_TAG_JOIN);
}

/* Sends a public_rooms request; returns 0, or -1 after an error event. */
int chat_net_public_rooms(struct chat_net *net)
{
	return simple_request(net, "history", "public_rooms", NULL, NULL, NULL, CHAT_TAG_NONE);
}

/* Sends a roster request to presence-svc; returns 0, or -1 after an
 * error event. */
int chat_net_roster(struct chat_net *net, const char *room, int show)
{
	char name[NAME_ROOM_MAX + 1];

	if(rooms__arg(net, room, name, sizeof(name))) return -1;
	return simple_request(net, "presence", "roster", name, NULL, NULL, show ? CHAT_TAG_NONE : CHAT_TAG_QUIET);
}

/* Sends a status request to presence-svc; returns 0, or -1 after an error
 * event. */
int chat_net_status(struct chat_net *net, const char *state, const char *text)
{
	char req_id[2 * CHAT_REQID_BYTES + 1];

	if(new_req_id(net, req_id)) return -1;
	return send_built(net, req_id, chat_proto_status(req_id, state, text), "", CHAT_TAG_NONE, "presence");
}

/* Sends a read marker for room at its largest seen seq, when it moved;
 * returns 0, or -1 after an error event. */
int chat_net_mark_read(struct chat_net *net, const char *room)
{
	char req_id[2 * CHAT_REQID_BYTES + 1];
	struct net_room *r = NULL;
	long seq = 0;

	net__lock(net);
	r = rooms__find(net, room);
	if(r && r->known){
		seq = r->last_seq > r->stored_seq ? r->last_seq : r->stored_seq;
		if(seq > r->read_seq) r->read_seq = seq;
		else seq = 0;
	}
	net__unlock(net);
	if(seq == 0) return 0;
	if(new_req_id(net, req_id)) return -1;
	return send_built(net, req_id, chat_proto_read(req_id, room, seq), room, CHAT_TAG_NONE, "history");
}

/* Publishes {"typing":true} to the current room, QoS 0, when connected. */
void chat_net_typing(struct chat_net *net)
{
	MQTTAsync_message msg = MQTTAsync_message_initializer;
	char room[NAME_ROOM_MAX + 1];
	char topic[TOPIC_MAX + 1];
	char *payload = NULL;
	int up;

	net__lock(net);
	up = net->state == NET_UP && !net->stopping;
	snprintf(room, sizeof(room), "%s", net->current);
	net__unlock(net);
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
