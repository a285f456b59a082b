/* chat_net_msgops.c: the session's API for message operations (edit,
 * delete, reactions, replies, threads, topic, roles, bans, read
 * receipts, search; docs/PROTOCOL.md). Events go through the outbox like
 * messages (kept until their receipt, sent again with the same id);
 * requests through chat_net_requests.c. See chat_net.h. */
#include "chat_net_int.h"

#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "proto.h"
#include "random_id.h"
#include "room_msg.h"

#define THREAD_PAGE 50

/* The current room into room; 0, or -1 after an error event. */
static int current_room(struct chat_net *net, char *room, size_t len)
{
	rooms__current(net, room, len);
	if(room[0]) return 0;
	chat_net_error(net, "no_room", "you are in no room: /join ROOM first");
	return -1;
}

/* Sends a request built for req_id (payload NULL: out of memory) about
 * room with tag; 0, or -1 after an error event. */
static int send_request(struct chat_net *net, const char *req_id, char *payload, const char *room, long tag)
{
	if(!payload){
		chat_net_error(net, "nomem", "out of memory: not sent");
		return -1;
	}
	return requests__send(net, req_id, payload, room ? room : "", tag, "history");
}

static int new_req_id(struct chat_net *net, char *req_id)
{
	if(!random_hex(req_id, 2 * CHAT_REQID_BYTES + 1, CHAT_REQID_BYTES)) return 0;
	chat_net_error(net, "send_failed", "no random numbers: not sent");
	return -1;
}

/* Sends an event; see chat_net.h. */
int chat_net_event(struct chat_net *net, const char *kind, long ref, const char *text, const char *reaction)
{
	char room[NAME_ROOM_MAX + 1];
	char id[2 * CHAT_MSGID_BYTES + 1];
	struct room_msg_refusal why;
	char *payload = NULL;
	int rc = -1;

	if(current_room(net, room, sizeof(room))) goto out;
	if(ref < 1){
		chat_net_error(net, "usage", "a message is named by its number (the one shown beside it)");
		goto out;
	}
	if(text && room_msg_body_check(PROTO_MSG_BODY_MAX, text, strlen(text), &why)){
		chat_net_error(net, why.code, "%s: not sent", why.message);
		goto out;
	}
	if(reaction && !ops_reaction_valid(reaction)){
		chat_net_error(net, "bad_reaction", "a reaction is 1-%d bytes without spaces or control characters: not sent",
				OPS_REACTION_MAX);
		goto out;
	}
	if(random_hex(id, sizeof(id), CHAT_MSGID_BYTES)){
		chat_net_error(net, "send_failed", "no random numbers: not sent");
		goto out;
	}
	payload = chat_proto_event(id, kind, ref, text, reaction);
	if(!payload){
		chat_net_error(net, "nomem", "out of memory: not sent");
		goto out;
	}
	rc = outbox__keep(net, room, id, payload);
out:
	cJSON_free(payload);
	return rc;
}

/* Follows a thread; see chat_net.h. */
int chat_net_thread(struct chat_net *net, long root)
{
	char room[NAME_ROOM_MAX + 1];
	char req_id[2 * CHAT_REQID_BYTES + 1];

	if(root <= 0){
		net__lock(net);
		net->thread_root = 0;
		net->thread_room[0] = '\0';
		net__unlock(net);
		return 0;
	}
	if(current_room(net, room, sizeof(room)) || new_req_id(net, req_id)) return -1;
	net__lock(net);
	net->thread_root = root;
	snprintf(net->thread_room, sizeof(net->thread_room), "%s", room);
	net__unlock(net);
	return send_request(net, req_id, chat_proto_history_thread(req_id, room, THREAD_PAGE, root), room,
			CHAT_TAG_THREAD);
}

/* The thread followed; see chat_net.h. */
long chat_net_thread_current(struct chat_net *net, char *room, size_t len)
{
	long root;

	net__lock(net);
	root = net->thread_root;
	snprintf(room, len, "%s", net->thread_room);
	net__unlock(net);
	return root;
}

/* Sets the topic; see chat_net.h. */
int chat_net_topic(struct chat_net *net, const char *topic)
{
	char room[NAME_ROOM_MAX + 1];
	char req_id[2 * CHAT_REQID_BYTES + 1];

	if(current_room(net, room, sizeof(room)) || new_req_id(net, req_id)) return -1;
	return send_request(net, req_id, chat_proto_topic(req_id, room, topic && *topic ? topic : NULL), room,
			CHAT_TAG_NONE);
}

/* ban, unban, role; see chat_net.h. */
int chat_net_room_admin(struct chat_net *net, const char *op, const char *user, const char *role)
{
	char room[NAME_ROOM_MAX + 1];
	char req_id[2 * CHAT_REQID_BYTES + 1];

	if(!name_user_valid(user)){
		chat_net_error(net, "usage", "\"%.40s\" is not a user name", user);
		return -1;
	}
	if(current_room(net, room, sizeof(room)) || new_req_id(net, req_id)) return -1;
	if(role) return send_request(net, req_id, chat_proto_role(req_id, room, user, role), room, CHAT_TAG_NONE);
	return send_request(net, req_id, chat_proto_request(op, req_id, room, user, NULL), room, CHAT_TAG_NONE);
}

/* bans, receipts; see chat_net.h. */
int chat_net_room_list(struct chat_net *net, const char *op)
{
	char room[NAME_ROOM_MAX + 1];
	char req_id[2 * CHAT_REQID_BYTES + 1];

	if(current_room(net, room, sizeof(room)) || new_req_id(net, req_id)) return -1;
	return send_request(net, req_id, chat_proto_request(op, req_id, room, NULL, NULL), room, CHAT_TAG_NONE);
}

/* prefs; see chat_net.h. */
int chat_net_prefs(struct chat_net *net, int share)
{
	char req_id[2 * CHAT_REQID_BYTES + 1];

	if(new_req_id(net, req_id)) return -1;
	return send_request(net, req_id, chat_proto_prefs(req_id, share), NULL, CHAT_TAG_NONE);
}

/* search; see chat_net.h. */
int chat_net_search(struct chat_net *net, const char *room, const char *query)
{
	char req_id[2 * CHAT_REQID_BYTES + 1];

	if(room && !name_room_valid(room)){
		chat_net_error(net, "usage", "\"%.70s\" is not a room name", room);
		return -1;
	}
	if(new_req_id(net, req_id)) return -1;
	net__lock(net);
	/* A query too long to keep is refused by history-svc (too_large). */
	snprintf(net->search_query, sizeof(net->search_query), "%s", strlen(query) < sizeof(net->search_query) ? query : "");
	snprintf(net->search_room, sizeof(net->search_room), "%s", room ? room : "");
	net->search_next[0] = '\0';
	net__unlock(net);
	return send_request(net, req_id, chat_proto_search(req_id, query, room, NULL), room, CHAT_TAG_NONE);
}

/* The next page of the last search; see chat_net.h. */
int chat_net_search_more(struct chat_net *net)
{
	char req_id[2 * CHAT_REQID_BYTES + 1];
	char query[CHAT_SEARCH_MAX + 1], room[NAME_ROOM_MAX + 1], next[CHAT_SEARCH_NEXT_MAX + 1];

	net__lock(net);
	snprintf(query, sizeof(query), "%s", net->search_query);
	snprintf(room, sizeof(room), "%s", net->search_room);
	snprintf(next, sizeof(next), "%s", net->search_next);
	net->search_next[0] = '\0'; /* one request per page */
	net__unlock(net);
	if(!query[0]){
		chat_net_error(net, "usage", "/more: no search to continue (/search WORDS first)");
		return -1;
	}
	if(!next[0]){
		chat_net_error(net, "usage", "/more: no more results for \"%.70s\"", query);
		return -1;
	}
	if(new_req_id(net, req_id)) return -1;
	return send_request(net, req_id, chat_proto_search(req_id, query, room[0] ? room : NULL, next),
			room[0] ? room : NULL, CHAT_TAG_NONE);
}

void msgops__search_end(struct chat_net *net, const struct chat_event *ev)
{
	net__lock(net);
	snprintf(net->search_next, sizeof(net->search_next), "%s",
			ev->text && strlen(ev->text) < sizeof(net->search_next) ? ev->text : "");
	net__unlock(net);
}
