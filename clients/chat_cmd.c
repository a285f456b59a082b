/* chat_cmd.c: the meaning of an input line (message or command); see
 * chat_cmd.h. */
#include "chat_cmd.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "names.h"

#define ARGS_MAX 4

static const char *const help_lines[] = {
	"TEXT                 send TEXT to the current room (//TEXT sends /TEXT)",
	"/join ROOM           join ROOM and make it the current room",
	"/room ROOM           make ROOM (already joined) the current room",
	"/history [N [SEQ]]   the last N messages of the current room (default 50, at most 250), older than SEQ if given",
	"/rooms               list your rooms",
	"/help                this list",
	"/quit                leave, once the broker has acknowledged what was sent (at most 10 s)",
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

static void help(struct chat_net *net)
{
	char current[NAME_ROOM_MAX + 1];
	char joined[CHAT_ROOMS_MAX * (NAME_ROOM_MAX + 1) + 1];
	char text[sizeof(joined) + sizeof(current) + 32];
	struct chat_event ev = { .kind = CHAT_EV_HELP };

	for(size_t i = 0; i < sizeof(help_lines) / sizeof(help_lines[0]); i++){
		ev.text = help_lines[i];
		chat_net_emit(net, &ev);
	}
	chat_net_rooms_joined(net, current, sizeof(current), joined, sizeof(joined));
	snprintf(text, sizeof(text), "current room: %s; joined: %s", current, joined);
	ev.text = text;
	chat_net_emit(net, &ev);
}

static void history(struct chat_net *net, int argc, char **argv)
{
	long limit = CHAT_HISTORY_DEFAULT;
	long before = 0;

	if(argc > 3 || (argc > 1 && parse_long(argv[1], 1, CHAT_HISTORY_MAX, &limit))
			|| (argc > 2 && parse_long(argv[2], 1, LONG_MAX, &before))){
		chat_net_error(net, "usage", "/history [N [SEQ]]: N is 1-%d (default %d), SEQ a message number",
				CHAT_HISTORY_MAX, CHAT_HISTORY_DEFAULT);
		return;
	}
	chat_net_history(net, limit, before);
}

/* Acts on one input line (len bytes, no line end): a message or a command.
 * Returns CHAT_CMD_QUIT for /quit, else CHAT_CMD_OK; errors are events.
 * Nothing to free. */
enum chat_cmd_result chat_cmd_line(struct chat_net *net, const char *line, size_t len)
{
	char buf[CHAT_LINE_MAX + 1];
	char *argv[ARGS_MAX];
	char *save = NULL;
	char *word = NULL;
	int argc = 0;

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
	for(word = strtok_r(buf, " \t", &save); word; word = strtok_r(NULL, " \t", &save)){
		if(argc == ARGS_MAX){
			chat_net_error(net, "usage", "too many arguments to %s: /help lists the commands", argv[0]);
			return CHAT_CMD_OK;
		}
		argv[argc++] = word;
	}

	if(!strcmp(argv[0], "/quit")){
		return CHAT_CMD_QUIT;
	}else if(!strcmp(argv[0], "/help")){
		help(net);
	}else if(!strcmp(argv[0], "/join")){
		if(argc != 2) chat_net_error(net, "usage", "/join ROOM: joins ROOM and makes it the current room");
		else chat_net_join(net, argv[1]);
	}else if(!strcmp(argv[0], "/room")){
		if(argc != 2) chat_net_error(net, "usage", "/room ROOM: makes a joined ROOM the current room");
		else chat_net_switch(net, argv[1]);
	}else if(!strcmp(argv[0], "/history")){
		history(net, argc, argv);
	}else if(!strcmp(argv[0], "/rooms")){
		if(argc != 1) chat_net_error(net, "usage", "/rooms takes no arguments");
		else chat_net_rooms(net);
	}else{
		chat_net_error(net, "usage", "unknown command %s: /help lists the commands (//TEXT sends /TEXT)", argv[0]);
	}
	return CHAT_CMD_OK;
}
