/* chat_cmd.h: what a line typed by the user means (a message, or one of
 * the commands listed by /help: /join, /leave, /create, /invite, /kick,
 * /msg, /rooms, /who, /away, /back, /me, /history, /quit, ...), shared by
 * the front ends. Results and errors are reported as chat_net events. */
#ifndef CHAT_CMD_H
#define CHAT_CMD_H

#include <stddef.h>

#include "chat_net.h"

enum chat_cmd_result {
	CHAT_CMD_OK = 0,    /* done (or an error event was emitted); go on */
	CHAT_CMD_QUIT = 1,  /* the user asked to leave */
};

/* Acts on one input line of len bytes (no line end; it need not be
 * NUL-terminated): an empty line is ignored, "//text" sends "/text", a line
 * starting with '/' is a command, anything else is sent to the current
 * room. Returns CHAT_CMD_QUIT for /quit, else CHAT_CMD_OK. */
enum chat_cmd_result chat_cmd_line(struct chat_net *net, const char *line, size_t len);

/* What /me puts before its text in the body: front ends show such a
 * message as an action ("* alice waves"). */
#define CHAT_CMD_EMOTE "/me "

/* Returns the name of command i ("/join"...), for Tab completion, or NULL
 * when i is past the last one. The string is static. */
const char *chat_cmd_name(size_t i);

#endif
