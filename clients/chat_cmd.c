/* chat_cmd.c: the meaning of an input line (message or command); see
 * chat_cmd.h. Commands are a table: name, usage, argument counts, and the
 * function that acts; a wrong count prints the usage as one error line. */
#include "chat_cmd.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat_cmd_ops.h"
#include "names.h"

#define ARGS_MAX 4
#define TEXT_ARG -1 /* max_args: the rest of the line is free text */

struct chat_cmd {
	const char *name;
	const char *usage;  /* arguments and what it does, for /help and errors */
	int min_args;
	int max_args;       /* or TEXT_ARG: min_args words, then free text */
	enum chat_cmd_result (*run)(const struct cmd_call *call);
	int need_text;      /* the free text may not be empty */
};

/* Parses s as a decimal number in [min, max]; returns 0, or -1. */
static int parse_long(const char *s, long min, long max, long *out)
{
	char *end = NULL;
	long value;

	if(*s < '0' || *s > '9') return -1;
	errno = 0;
	value = strtol(s, &end, 10);
	if(errno || *end || value < min || value > max) return -1;
	*out = value;
	return 0;
}

static enum chat_cmd_result cmd_quit(const struct cmd_call *call)
{
	(void)call;
	return CHAT_CMD_QUIT;
}

static enum chat_cmd_result cmd_help(const struct cmd_call *call);

static enum chat_cmd_result cmd_join(const struct cmd_call *call)
{
	chat_net_join(call->net, call->argv[1]);
	return CHAT_CMD_OK;
}

static enum chat_cmd_result cmd_room(const struct cmd_call *call)
{
	chat_net_switch(call->net, call->argv[1]);
	return CHAT_CMD_OK;
}

static enum chat_cmd_result cmd_leave(const struct cmd_call *call)
{
	chat_net_leave(call->net, call->argc > 1 ? call->argv[1] : NULL);
	return CHAT_CMD_OK;
}

static enum chat_cmd_result cmd_create(const struct cmd_call *call)
{
	int is_private = 0;

	if(call->argc > 2){
		if(!strcmp(call->argv[2], "private")){
			is_private = 1;
		}else if(strcmp(call->argv[2], "public")){
			chat_net_error(call->net, "usage", "/create ROOM [public|private]: \"%s\" is neither", call->argv[2]);
			return CHAT_CMD_OK;
		}
	}
	chat_net_create(call->net, call->argv[1], is_private);
	return CHAT_CMD_OK;
}

static enum chat_cmd_result cmd_invite(const struct cmd_call *call)
{
	chat_net_member_op(call->net, "invite", call->argc > 2 ? call->argv[2] : NULL, call->argv[1]);
	return CHAT_CMD_OK;
}

static enum chat_cmd_result cmd_kick(const struct cmd_call *call)
{
	chat_net_member_op(call->net, "kick", call->argc > 2 ? call->argv[2] : NULL, call->argv[1]);
	return CHAT_CMD_OK;
}

static enum chat_cmd_result cmd_msg(const struct cmd_call *call)
{
	chat_net_dm(call->net, call->argv[1], call->rest);
	return CHAT_CMD_OK;
}

static enum chat_cmd_result cmd_rooms(const struct cmd_call *call)
{
	chat_net_rooms(call->net, 1);
	return CHAT_CMD_OK;
}

static enum chat_cmd_result cmd_public(const struct cmd_call *call)
{
	chat_net_public_rooms(call->net);
	return CHAT_CMD_OK;
}

static enum chat_cmd_result cmd_who(const struct cmd_call *call)
{
	chat_net_roster(call->net, call->argc > 1 ? call->argv[1] : NULL, 1);
	return CHAT_CMD_OK;
}

static enum chat_cmd_result cmd_away(const struct cmd_call *call)
{
	chat_net_status(call->net, "away", call->rest);
	return CHAT_CMD_OK;
}

static enum chat_cmd_result cmd_dnd(const struct cmd_call *call)
{
	chat_net_status(call->net, "dnd", call->rest);
	return CHAT_CMD_OK;
}

static enum chat_cmd_result cmd_back(const struct cmd_call *call)
{
	chat_net_status(call->net, "online", call->rest);
	return CHAT_CMD_OK;
}

static enum chat_cmd_result cmd_me(const struct cmd_call *call)
{
	char body[CHAT_BODY_MAX + 1];
	int n = snprintf(body, sizeof(body), "%s%s", CHAT_CMD_EMOTE, call->rest);

	if(n < 0 || (size_t)n >= sizeof(body)){
		chat_net_error(call->net, "too_long", "the message is more than %d bytes: not sent", CHAT_BODY_MAX);
		return CHAT_CMD_OK;
	}
	chat_net_send(call->net, body, (size_t)n);
	return CHAT_CMD_OK;
}

static enum chat_cmd_result cmd_history(const struct cmd_call *call)
{
	long limit = CHAT_HISTORY_DEFAULT;
	long before = 0;

	if((call->argc > 1 && parse_long(call->argv[1], 1, CHAT_HISTORY_MAX, &limit))
			|| (call->argc > 2 && parse_long(call->argv[2], 1, LONG_MAX, &before))){
		chat_net_error(call->net, "usage", "/history [N [SEQ]]: N is 1-%d (default %d), SEQ a message number",
				CHAT_HISTORY_MAX, CHAT_HISTORY_DEFAULT);
		return CHAT_CMD_OK;
	}
	chat_net_history(call->net, NULL, limit, before, 1);
	return CHAT_CMD_OK;
}

static enum chat_cmd_result cmd_tokens(const struct cmd_call *call)
{
	chat_net_tokens(call->net);
	return CHAT_CMD_OK;
}

static enum chat_cmd_result cmd_revoke(const struct cmd_call *call)
{
	chat_net_revoke_token(call->net, call->argv[1]);
	return CHAT_CMD_OK;
}

static enum chat_cmd_result cmd_password(const struct cmd_call *call)
{
	if(call->argc > 3 && strcmp(call->argv[3], "revoke")){
		chat_net_error(call->net, "usage", "/password OLD NEW [revoke]: the third word can only be \"revoke\"");
		return CHAT_CMD_OK;
	}
	chat_net_password(call->net, call->argv[1], call->argv[2], call->argc > 3);
	return CHAT_CMD_OK;
}

static const struct chat_cmd commands[] = {
	{ "/join", "ROOM: join a public room (or follow a private one you belong to) and make it current", 1, 1, cmd_join, 0 },
	{ "/room", "ROOM: make a followed ROOM the current room", 1, 1, cmd_room, 0 },
	{ "/leave", "[ROOM]: leave ROOM (default: the current room) for good", 0, 1, cmd_leave, 0 },
	{ "/create", "ROOM [public|private]: create a room (public by default); you become its admin", 1, 2, cmd_create, 0 },
	{ "/invite", "USER [ROOM]: add USER to ROOM (default: current); room admins only", 1, 2, cmd_invite, 0 },
	{ "/kick", "USER [ROOM]: remove USER from ROOM (default: current); room admins only", 1, 2, cmd_kick, 0 },
	{ "/msg", "USER [TEXT]: open the direct-message room with USER (and send TEXT there)", 1, TEXT_ARG, cmd_msg, 0 },
	{ "/rooms", ": list your rooms with their unread counts", 0, 0, cmd_rooms, 0 },
	{ "/public", ": list the public rooms", 0, 0, cmd_public, 0 },
	{ "/who", "[ROOM]: the members of ROOM (default: current) and their presence", 0, 1, cmd_who, 0 },
	{ "/away", "[TEXT]: show yourself away, with TEXT", 0, TEXT_ARG, cmd_away, 0 },
	{ "/dnd", "[TEXT]: show yourself as do-not-disturb, with TEXT", 0, TEXT_ARG, cmd_dnd, 0 },
	{ "/back", "[TEXT]: show yourself online again", 0, TEXT_ARG, cmd_back, 0 },
	{ "/me", "TEXT: an action (\"* you TEXT\")", 0, TEXT_ARG, cmd_me, 1 },
	{ "/history", "[N [SEQ]]: the last N messages of the current room (default 50, at most 250), older than SEQ if given", 0, 2, cmd_history, 0 },
	{ "/reply", "N TEXT: send TEXT quoting message N (the number shown beside it)", 1, TEXT_ARG, cmd_ops_reply, 1 },
	{ "/edit", "N TEXT: replace the text of your message N with TEXT", 1, TEXT_ARG, cmd_ops_edit, 1 },
	{ "/delete", "N: delete message N (yours; any as a room admin)", 1, 1, cmd_ops_delete, 0 },
	{ "/react", "N REACTION: react to message N (e.g. /react 12 \xf0\x9f\x91\x8d)", 2, 2, cmd_ops_react, 0 },
	{ "/unreact", "N REACTION: take your reaction to message N back", 2, 2, cmd_ops_unreact, 0 },
	{ "/thread", "[N]: show the thread of message N; lines typed in this room then go to it (no N: leave it)", 0, 1, cmd_ops_thread, 0 },
	{ "/topic", "TEXT: set the room's topic (room admins; /topic - clears it)", 0, TEXT_ARG, cmd_ops_topic, 1 },
	{ "/op", "USER: make USER an admin of the current room (room admins)", 1, 1, cmd_ops_op, 0 },
	{ "/deop", "USER: make USER a plain member again (room admins)", 1, 1, cmd_ops_deop, 0 },
	{ "/ban", "USER: remove USER from the current room and keep them out (room admins)", 1, 1, cmd_ops_ban, 0 },
	{ "/unban", "USER: let USER join the current room again (room admins)", 1, 1, cmd_ops_unban, 0 },
	{ "/bans", ": the users banned from the current room (room admins)", 0, 0, cmd_ops_bans, 0 },
	{ "/seen", ": how far each member of the current room has read (those who share it)", 0, 0, cmd_ops_seen, 0 },
	{ "/share-read", "[on|off]: let members see how far you have read (default on); no argument: show it", 0, 1, cmd_ops_share_read, 0 },
	{ "/search", "[#ROOM] WORDS: search your rooms (or ROOM) for WORDS, newest first", 0, TEXT_ARG, cmd_ops_search, 1 },
	{ "/more", ": the next page of results of the last /search", 0, 0, cmd_ops_more, 0 },
	{ "/tokens", ": list your login tokens (id, label, created, last used, expiry, scope)", 0, 0, cmd_tokens, 0 },
	{ "/revoke", "ID: revoke your login token ID (its connections close)", 1, 1, cmd_revoke, 0 },
	{ "/password", "OLD NEW [revoke]: change your password (and revoke all your tokens)", 2, 3, cmd_password, 0 },
	{ "/help", ": this list", 0, 0, cmd_help, 0 },
	{ "/quit", ": leave, once the broker has acknowledged what was sent (at most 10 s)", 0, 0, cmd_quit, 0 },
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static enum chat_cmd_result cmd_help(const struct cmd_call *call)
{
	char names[CHAT_ROOMS_MAX][NAME_ROOM_MAX + 1];
	char current[NAME_ROOM_MAX + 1];
	char text[CHAT_ROOMS_MAX * (NAME_ROOM_MAX + 1) + NAME_ROOM_MAX + 256];
	struct chat_event ev = { .kind = CHAT_EV_HELP, .text = text };
	size_t n, used;

	snprintf(text, sizeof(text), "TEXT: send TEXT to the current room (//TEXT sends /TEXT)");
	chat_net_emit(call->net, &ev);
	for(size_t i = 0; i < NCOMMANDS; i++){
		snprintf(text, sizeof(text), "%s %s", commands[i].name, commands[i].usage);
		chat_net_emit(call->net, &ev);
	}
	n = chat_net_rooms_list(call->net, names, CHAT_ROOMS_MAX, current, sizeof(current));
	used = (size_t)snprintf(text, sizeof(text), "current room: %s; joined:", current);
	for(size_t i = 0; i < n && used < sizeof(text); i++){
		used += (size_t)snprintf(text + used, sizeof(text) - used, " %s", names[i]);
	}
	chat_net_emit(call->net, &ev);
	return CHAT_CMD_OK;
}

/* Returns the command name at index i (for completion), or NULL past the
 * end. The string is static. */
const char *chat_cmd_name(size_t i)
{
	return i < NCOMMANDS ? commands[i].name : NULL;
}

/* Acts on one input line (len bytes, no line end): a message or a command.
 * Returns CHAT_CMD_QUIT for /quit, else CHAT_CMD_OK; errors are events.
 * Nothing to free. */
enum chat_cmd_result chat_cmd_line(struct chat_net *net, const char *line, size_t len)
{
	char buf[CHAT_LINE_MAX + 1];
	char *argv[ARGS_MAX + 1];
	const struct chat_cmd *cmd = NULL;
	struct cmd_call call = { .net = net, .argv = argv, .rest = "" };
	size_t pos = 0;
	int want = 0;

	if(len == 0) return CHAT_CMD_OK;
	if(len > CHAT_LINE_MAX){
		chat_net_error(net, "too_long", "the line is %zu bytes, more than %d: ignored", len, CHAT_LINE_MAX);
		return CHAT_CMD_OK;
	}
	if(!utf8_valid(line, len)){
		chat_net_error(net, "bad_utf8", "the line is not valid UTF-8: ignored");
		return CHAT_CMD_OK;
	}
	if(line[0] != '/'){
		chat_net_send(net, line, len);
		return CHAT_CMD_OK;
	}
	if(len > 1 && line[1] == '/'){
		chat_net_send(net, line + 1, len - 1);
		return CHAT_CMD_OK;
	}

	memcpy(buf, line, len);
	buf[len] = '\0';
	/* The command word decides how many words follow before free text. */
	while(pos < len && buf[pos] != ' ' && buf[pos] != '\t') pos++;
	for(size_t i = 0; i < NCOMMANDS; i++){
		if(strlen(commands[i].name) == pos && !strncmp(commands[i].name, buf, pos)) cmd = &commands[i];
	}
	if(!cmd){
		chat_net_error(net, "usage", "unknown command %.*s: /help lists the commands (//TEXT sends /TEXT)",
				(int)(pos > 40 ? 40 : pos), buf);
		return CHAT_CMD_OK;
	}
	want = cmd->max_args == TEXT_ARG ? cmd->min_args : ARGS_MAX;
	argv[call.argc++] = buf;
	for(;;){
		while(pos < len && (buf[pos] == ' ' || buf[pos] == '\t')) buf[pos++] = '\0';
		if(pos >= len) break;
		if(call.argc == want + 1){
			call.rest = buf + pos; /* free text: the rest, as typed */
			break;
		}
		argv[call.argc++] = buf + pos;
		while(pos < len && buf[pos] != ' ' && buf[pos] != '\t') pos++;
	}
	if(call.argc - 1 < cmd->min_args || (cmd->max_args != TEXT_ARG && call.argc - 1 > cmd->max_args)
			|| (cmd->need_text && !call.rest[0])){
		chat_net_error(net, "usage", "%s %s", cmd->name, cmd->usage);
		return CHAT_CMD_OK;
	}
	return cmd->run(&call);
}
