/* chat.c: main() of chat, the terminal client of the MQTT chat: reads the
 * options and the password, then runs a front end. The code is split by
 * concern:
 *   chat_args.c      options, environment defaults, --help, the password
 *   chat_account.c   the kept login token (--logout), before the session
 *   chat_net*.c      the MQTT session (Paho MQTTAsync): connect, subscribe,
 *                    publish, reconnect, catch up; reports chat_proto
 *                    events (its parts: chat_net_int.h)
 *   chat_backoff.c   the reconnect delay
 *   chat_proto.c     the chat/v1 payloads, built and parsed with cJSON
 *   chat_cmd.c       what an input line means (message or /command)
 *   chat_loop.c      the event loop both front ends share
 *   chat_plain.c     the plain line front end (stdin lines, one event a line)
 *   chat_tui*.c      the full-screen front end (ncursesw; its parts:
 *                    chat_tui_int.h)
 * Exit status: 0 done, 1 failure, 2 usage error or login refused. */
#include <stdio.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "chat_account.h"
#include "chat_args.h"
#include "chat_net.h"
#include "chat_plain.h"
#include "chat_tui.h"

/* Takes the command line (see chat --help); returns the exit status. */
int main(int argc, char **argv)
{
	struct chat_opts opts;
	struct chat_net_opts net_opts;
	char password[CHAT_PASSWORD_MAX + 1];
	int rc = 2;

	password[0] = '\0';
	if(chat_args_parse(argc, argv, &opts)) goto out;
	if(opts.help){
		chat_args_help(stdout);
		rc = 0;
		goto out;
	}
	if(opts.logout){
		rc = chat_account_logout(&opts);
		goto out;
	}
	/* The kept token, or the password (and then a token kept for next time). */
	if(chat_account_login_secret(&opts, password, sizeof(password))) goto out;

	net_opts.host = opts.host;
	net_opts.port = opts.port;
	net_opts.cafile = opts.cafile;
	net_opts.user = opts.user;
	net_opts.password = password;
	net_opts.room = opts.room;
	net_opts.trace = opts.trace;
	net_opts.retry_min_ms = opts.retry_min_ms;
	net_opts.retry_max_ms = opts.retry_max_ms;
	/* Full-screen on a terminal, unless --plain; plain for pipes. */
	if(!opts.plain && isatty(STDOUT_FILENO) && isatty(STDIN_FILENO)) rc = chat_tui_run(&net_opts);
	else rc = chat_plain_run(&net_opts);
out:
	OPENSSL_cleanse(password, sizeof(password));
	return rc;
}
