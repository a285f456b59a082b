/* chat_tui.h: the full-screen front end of chat (ncursesw): a room list
 * with unread counts and activity markers, the message pane with a
 * read-marker line, a member list with presence, a status line and an
 * input line with history and Tab completion. Layout and keys are in
 * docs/CLIENT.md. */
#ifndef CHAT_TUI_H
#define CHAT_TUI_H

#include "chat_net.h"

/* Runs a whole session full-screen on the terminal: connects with opts,
 * shows events and reads keys until /quit, Ctrl-D on an empty line,
 * SIGINT or SIGTERM, then restores the terminal, waits (at most 3 s, not
 * after a signal) for the broker to acknowledge what was sent and
 * disconnects. Blocks SIGINT, SIGTERM and SIGWINCH in the calling thread
 * (and so in the MQTT library's threads). Returns the exit status: 0 when
 * done, 2 when the broker refused the login, 1 on other failures. */
int chat_tui_run(const struct chat_net_opts *opts);

#endif
