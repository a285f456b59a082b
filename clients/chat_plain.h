/* chat_plain.h: the plain line front end of chat, for scripts, bots and
 * plain terminals: commands and messages are read as lines from stdin,
 * every event is written as one line to stdout (format in README.md and
 * chat --help). */
#ifndef CHAT_PLAIN_H
#define CHAT_PLAIN_H

#include "chat_net.h"

/* Runs a whole session in plain mode: connects with opts, waits for the
 * first connect attempt to finish, then reads stdin until /quit, end of
 * input, SIGINT or SIGTERM, waits (at most 10 s, not after a signal) for
 * the broker to acknowledge everything sent, and disconnects. Blocks
 * SIGINT and SIGTERM in the calling thread (and so in the MQTT library's
 * threads) and ignores SIGPIPE. Returns the exit status: 0 when done, 2
 * when the broker refused the login, 1 on other failures. */
int chat_plain_run(const struct chat_net_opts *opts);

#endif
