/* chat_cmd_ops.h: the commands of message operations (/edit, /delete,
 * /react, /unreact, /reply, /thread, /topic, /op, /deop, /ban, /unban,
 * /bans, /seen, /share-read, /search, /more), called from chat_cmd.c's table
 * (nothing here calls chat_cmd.c). */
#ifndef CHAT_CMD_OPS_H
#define CHAT_CMD_OPS_H

#include "chat_cmd.h"

/* One command as typed: argv[0] is the command word, then argc - 1
 * arguments, then rest (free text, or ""). */
struct cmd_call {
	struct chat_net *net;
	int argc;
	char **argv;
	const char *rest;
};

/* Each acts on one command (errors are events) and returns CHAT_CMD_OK. */
enum chat_cmd_result cmd_ops_edit(const struct cmd_call *call);
enum chat_cmd_result cmd_ops_delete(const struct cmd_call *call);
enum chat_cmd_result cmd_ops_react(const struct cmd_call *call);
enum chat_cmd_result cmd_ops_unreact(const struct cmd_call *call);
enum chat_cmd_result cmd_ops_reply(const struct cmd_call *call);
enum chat_cmd_result cmd_ops_thread(const struct cmd_call *call);
enum chat_cmd_result cmd_ops_topic(const struct cmd_call *call);
enum chat_cmd_result cmd_ops_op(const struct cmd_call *call);
enum chat_cmd_result cmd_ops_deop(const struct cmd_call *call);
enum chat_cmd_result cmd_ops_ban(const struct cmd_call *call);
enum chat_cmd_result cmd_ops_unban(const struct cmd_call *call);
enum chat_cmd_result cmd_ops_bans(const struct cmd_call *call);
enum chat_cmd_result cmd_ops_seen(const struct cmd_call *call);
enum chat_cmd_result cmd_ops_share_read(const struct cmd_call *call);
enum chat_cmd_result cmd_ops_search(const struct cmd_call *call);
enum chat_cmd_result cmd_ops_more(const struct cmd_call *call);

#endif
