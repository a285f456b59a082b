/* chat_cmd_ops.c: the commands of message operations; see chat_cmd_ops.h.
 * A message is named by the number chat shows beside it (its seq in the
 * room, PROTOCOL 3.2), e.g. "/react 12 👍". */
#include "chat_cmd_ops.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "chat_net.h"

/* Parses s as a message number; returns it, or 0 after a usage error. */
static long message_number(const struct cmd_call *call, const char *s)
{
	char *end = NULL;
	long value;

	if(*s == '[') s++; /* "[12]" as shown */
	if(*s < '1' || *s > '9') goto bad;
	errno = 0;
	value = strtol(s, &end, 10);
	if(errno || (*end && strcmp(end, "]")) || value < 1) goto bad;
	return value;
bad:
	chat_net_error(call->net, "usage", "%s: \"%.20s\" is not a message number (the number shown beside a message)",
			call->argv[0], s);
	return 0;
}

enum chat_cmd_result cmd_ops_edit(const struct cmd_call *call)
{
	long ref = message_number(call, call->argv[1]);

	if(ref) chat_net_event(call->net, "edit", ref, call->rest, NULL);
	return CHAT_CMD_OK;
}

enum chat_cmd_result cmd_ops_delete(const struct cmd_call *call)
{
	long ref = message_number(call, call->argv[1]);

	if(ref) chat_net_event(call->net, "delete", ref, NULL, NULL);
	return CHAT_CMD_OK;
}

enum chat_cmd_result cmd_ops_react(const struct cmd_call *call)
{
	long ref = message_number(call, call->argv[1]);

	if(ref) chat_net_event(call->net, "react", ref, NULL, call->argv[2]);
	return CHAT_CMD_OK;
}

enum chat_cmd_result cmd_ops_unreact(const struct cmd_call *call)
{
	long ref = message_number(call, call->argv[1]);

	if(ref) chat_net_event(call->net, "unreact", ref, NULL, call->argv[2]);
	return CHAT_CMD_OK;
}

enum chat_cmd_result cmd_ops_reply(const struct cmd_call *call)
{
	char room[NAME_ROOM_MAX + 1];
	char current[NAME_ROOM_MAX + 1];
	long ref = message_number(call, call->argv[1]);
	long thread = chat_net_thread_current(call->net, room, sizeof(room));

	if(!ref) return CHAT_CMD_OK;
	chat_net_rooms_list(call->net, NULL, 0, current, sizeof(current));
	if(strcmp(room, current)) thread = 0;
	chat_net_send_ext(call->net, call->rest, strlen(call->rest), ref, thread);
	return CHAT_CMD_OK;
}

enum chat_cmd_result cmd_ops_thread(const struct cmd_call *call)
{
	struct chat_event ev = { .kind = CHAT_EV_HELP };
	long root = 0;

	if(call->argc > 1 && !(root = message_number(call, call->argv[1]))) return CHAT_CMD_OK;
	if(chat_net_thread(call->net, root)) return CHAT_CMD_OK;
	if(!root){
		ev.text = "left the thread: lines go to the room again";
		chat_net_emit(call->net, &ev);
	}
	return CHAT_CMD_OK;
}

enum chat_cmd_result cmd_ops_topic(const struct cmd_call *call)
{
	chat_net_topic(call->net, strcmp(call->rest, "-") ? call->rest : NULL);
	return CHAT_CMD_OK;
}

enum chat_cmd_result cmd_ops_op(const struct cmd_call *call)
{
	chat_net_room_admin(call->net, "role", call->argv[1], "admin");
	return CHAT_CMD_OK;
}

enum chat_cmd_result cmd_ops_deop(const struct cmd_call *call)
{
	chat_net_room_admin(call->net, "role", call->argv[1], "member");
	return CHAT_CMD_OK;
}

enum chat_cmd_result cmd_ops_ban(const struct cmd_call *call)
{
	chat_net_room_admin(call->net, "ban", call->argv[1], NULL);
	return CHAT_CMD_OK;
}

enum chat_cmd_result cmd_ops_unban(const struct cmd_call *call)
{
	chat_net_room_admin(call->net, "unban", call->argv[1], NULL);
	return CHAT_CMD_OK;
}

enum chat_cmd_result cmd_ops_bans(const struct cmd_call *call)
{
	chat_net_room_list(call->net, "bans");
	return CHAT_CMD_OK;
}

enum chat_cmd_result cmd_ops_seen(const struct cmd_call *call)
{
	chat_net_room_list(call->net, "receipts");
	return CHAT_CMD_OK;
}

enum chat_cmd_result cmd_ops_share_read(const struct cmd_call *call)
{
	int share = -1;

	if(call->argc > 1){
		if(!strcmp(call->argv[1], "on")){
			share = 1;
		}else if(!strcmp(call->argv[1], "off")){
			share = 0;
		}else{
			chat_net_error(call->net, "usage", "/share-read [on|off]: \"%.20s\" is neither", call->argv[1]);
			return CHAT_CMD_OK;
		}
	}
	chat_net_prefs(call->net, share);
	return CHAT_CMD_OK;
}

enum chat_cmd_result cmd_ops_search(const struct cmd_call *call)
{
	char room[NAME_ROOM_MAX + 1];
	const char *query = call->rest;
	size_t len = 0;

	if(query[0] == '#'){
		query++;
		while(query[len] && query[len] != ' ' && query[len] != '\t') len++;
		if(len == 0 || len > NAME_ROOM_MAX){
			chat_net_error(call->net, "usage", "/search [#ROOM] WORDS: no room name after '#'");
			return CHAT_CMD_OK;
		}
		memcpy(room, query, len);
		room[len] = '\0';
		query += len;
		while(*query == ' ' || *query == '\t') query++;
	}
	if(!*query){
		chat_net_error(call->net, "usage", "/search [#ROOM] WORDS: what to search for is missing");
		return CHAT_CMD_OK;
	}
	chat_net_search(call->net, len ? room : NULL, query);
	return CHAT_CMD_OK;
}

enum chat_cmd_result cmd_ops_more(const struct cmd_call *call)
{
	chat_net_search_more(call->net);
	return CHAT_CMD_OK;
}
