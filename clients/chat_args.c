/* chat_args.c: command line, environment defaults, --help and password
 * sources of chat; see chat_args.h. */
#include "chat_args.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chat_net.h"
#include "password_input.h"

static void usage_hint(void)
{
	fprintf(stderr, "Try 'chat --help' for more information.\n");
}

static int set_host(struct chat_opts *opts, const char *value, const char *from)
{
	size_t len = strlen(value);

	if(len == 0 || len > CHAT_HOST_MAX || strpbrk(value, " \t\r\n/?#@[]")){
		fprintf(stderr, "chat: %s: \"%s\" is not a host name or address\n", from, value);
		return -1;
	}
	memcpy(opts->host, value, len + 1);
	return 0;
}

static int set_port(struct chat_opts *opts, const char *value, const char *from)
{
	char *end = NULL;
	long port;

	errno = 0;
	port = strtol(value, &end, 10);
	if(errno || end == value || *end || port < 1 || port > 65535 || value[0] == '+' || value[0] == '-'){
		fprintf(stderr, "chat: %s: \"%s\" is not a port number (1-65535)\n", from, value);
		return -1;
	}
	opts->port = (int)port;
	return 0;
}

static int set_user(struct chat_opts *opts, const char *value, const char *from)
{
	if(!name_user_valid(value)){
		fprintf(stderr, "chat: %s: user name \"%s\" must be 1-%d of A-Z a-z 0-9 _ . - "
				"starting with a letter or digit\n", from, value, NAME_USER_MAX);
		return -1;
	}
	snprintf(opts->user, sizeof(opts->user), "%s", value);
	return 0;
}

static int set_room(struct chat_opts *opts, const char *value, const char *from)
{
	if(!name_room_valid(value)){
		fprintf(stderr, "chat: %s: room name \"%s\" must be 1-%d of a-z 0-9 _ - "
				"starting with a letter or digit\n", from, value, NAME_ROOM_MAX);
		return -1;
	}
	snprintf(opts->room, sizeof(opts->room), "%s", value);
	return 0;
}

static int set_ms(long *out, const char *value, const char *from)
{
	char *end = NULL;
	long ms;

	errno = 0;
	ms = strtol(value, &end, 10);
	if(errno || end == value || *end || ms < 10 || ms > CHAT_RETRY_LIMIT_MS || value[0] == '+'){
		fprintf(stderr, "chat: %s: \"%s\" is not a delay in milliseconds (10-%ld)\n", from, value,
				CHAT_RETRY_LIMIT_MS);
		return -1;
	}
	*out = ms;
	return 0;
}

/* Matches argv[*i] against "--name VALUE" or "--name=VALUE". Returns 1 and
 * sets *value (advancing *i past a separate value), 0 when it is another
 * option, or -1 when the value is missing. */
static int option_value(int argc, char **argv, int *i, const char *name, const char **value)
{
	const char *arg = argv[*i];
	size_t len = strlen(name);

	if(strncmp(arg, name, len)) return 0;
	if(arg[len] == '='){
		*value = arg + len + 1;
		return 1;
	}
	if(arg[len] != '\0') return 0;
	if(*i + 1 >= argc){
		fprintf(stderr, "chat: option %s needs a value\n", name);
		return -1;
	}
	*value = argv[++*i];
	return 1;
}

/* Fills opts from defaults, environment and argv; 0, or -1 after a message
 * on stderr. opts points into argv; nothing to free. */
int chat_args_parse(int argc, char **argv, struct chat_opts *opts)
{
	const char *env = NULL;
	const char *value = NULL;
	int rc = -1;

	memset(opts, 0, sizeof(*opts));
	snprintf(opts->host, sizeof(opts->host), "%s", CHAT_DEFAULT_HOST);
	opts->port = CHAT_DEFAULT_PORT;
	snprintf(opts->room, sizeof(opts->room), "%s", CHAT_DEFAULT_ROOM);

	env = getenv("CHAT_HOST");
	if(env && *env && set_host(opts, env, "CHAT_HOST")) goto out;
	env = getenv("CHAT_PORT");
	if(env && *env && set_port(opts, env, "CHAT_PORT")) goto out;
	env = getenv("CHAT_USER");
	if(env && *env && set_user(opts, env, "CHAT_USER")) goto out;

	for(int i = 1; i < argc; i++){
		const char *arg = argv[i];
		int r;

		if(!strcmp(arg, "--help") || !strcmp(arg, "-h")){
			opts->help = 1;
			rc = 0;
			goto out;
		}
		if(!strcmp(arg, "--plain")){
			opts->plain = 1;
			continue;
		}
		if(!strcmp(arg, "--logout") || !strcmp(arg, "--keep-token")){
			*(arg[2] == 'l' ? &opts->logout : &opts->keep_token) = 1;
			continue;
		}
		if((r = option_value(argc, argv, &i, "--host", &value)) != 0){
			if(r < 0 || set_host(opts, value, "--host")) goto out;
		}else if((r = option_value(argc, argv, &i, "--port", &value)) != 0){
			if(r < 0 || set_port(opts, value, "--port")) goto out;
		}else if((r = option_value(argc, argv, &i, "--user", &value)) != 0){
			if(r < 0 || set_user(opts, value, "--user")) goto out;
		}else if((r = option_value(argc, argv, &i, "--room", &value)) != 0){
			if(r < 0 || set_room(opts, value, "--room")) goto out;
		}else if((r = option_value(argc, argv, &i, "--password-file", &value)) != 0){
			if(r < 0) goto out;
			if(!*value){
				fprintf(stderr, "chat: --password-file needs a file name\n");
				goto out;
			}
			opts->password_file = value;
		}else if((r = option_value(argc, argv, &i, "--cafile", &value)) != 0){
			if(r < 0) goto out;
			if(!*value || access(value, R_OK)){
				fprintf(stderr, "chat: --cafile %s: %s\n", value, *value ? strerror(errno) : "needs a file name");
				goto out;
			}
			opts->cafile = value;
		}else if((r = option_value(argc, argv, &i, "--reconnect-min", &value)) != 0){
			if(r < 0 || set_ms(&opts->retry_min_ms, value, "--reconnect-min")) goto out;
		}else if((r = option_value(argc, argv, &i, "--reconnect-max", &value)) != 0){
			if(r < 0 || set_ms(&opts->retry_max_ms, value, "--reconnect-max")) goto out;
		}else if((r = option_value(argc, argv, &i, "--trace", &value)) != 0){
			if(r < 0) goto out;
			if(!*value){
				fprintf(stderr, "chat: --trace needs a file name\n");
				goto out;
			}
			opts->trace = value;
		}else if(!strncmp(arg, "--password", 10) || !strcmp(arg, "-P")){
			fprintf(stderr, "chat: %s: passwords are never taken from the command line "
					"(use CHAT_PASSWORD, --password-file FILE, or the prompt)\n", arg);
			goto out;
		}else if(arg[0] == '-'){
			fprintf(stderr, "chat: unknown option %s\n", arg);
			goto out;
		}else{
			fprintf(stderr, "chat: unexpected argument \"%s\"\n", arg);
			goto out;
		}
	}
	if(!opts->user[0]){
		fprintf(stderr, "chat: no user name: give --user NAME or set CHAT_USER\n");
		goto out;
	}
	if((opts->retry_min_ms ? opts->retry_min_ms : CHAT_RETRY_MIN_MS)
			> (opts->retry_max_ms ? opts->retry_max_ms : CHAT_RETRY_MAX_MS)){
		fprintf(stderr, "chat: --reconnect-min must not be more than --reconnect-max (%ld ms)\n",
				opts->retry_max_ms ? opts->retry_max_ms : (long)CHAT_RETRY_MAX_MS);
		goto out;
	}
	rc = 0;
out:
	if(rc) usage_hint();
	return rc;
}

/* Prints the --help text to fp. */
void chat_args_help(FILE *fp)
{
	fprintf(fp,
		"usage: chat [--host H] [--port P] [--user NAME] [--room ROOM]\n"
		"            [--password-file FILE] [--cafile FILE] [--plain]\n"
		"            [--reconnect-min MS] [--reconnect-max MS] [--trace FILE]\n"
		"            [--keep-token] [--logout] [--help]\n"
		"\n"
		"Terminal client of the MQTT chat (protocol chat/v1, docs/PROTOCOL.md).\n"
		"\n"
		"Options (environment defaults in brackets):\n"
		"  --host H              broker host name or address [CHAT_HOST, else " CHAT_DEFAULT_HOST "]\n"
		"  --port P              broker port [CHAT_PORT, else %d]\n"
		"  --user NAME           your user name [CHAT_USER]; required\n"
		"  --room ROOM           the room to join first and make current [" CHAT_DEFAULT_ROOM "]\n"
		"  --password-file FILE  read the password from the first line of FILE, which\n"
		"                        must be a regular file of mode 0600 or stricter\n"
		"  --cafile FILE         use TLS (ssl://) and trust the CA certificates in FILE\n"
		"  --plain               plain line mode, for scripts (also used whenever\n"
		"                        stdin or stdout is not a terminal); else full-screen\n"
		"  --reconnect-min MS    after a lost connection, the first attempt comes\n"
		"                        within MS (default %d), each next one within\n"
		"                        twice as long as the one before, at a random point\n"
		"                        of that window, never sooner than MS/2\n"
		"  --reconnect-max MS    the window stops growing at MS (default %d)\n"
		"  --trace FILE          append a debugging trace to FILE: every publish sent\n"
		"                        and received (message bodies included, never the\n"
		"                        password), every event and reconnect, with times\n"
		"  --keep-token          keep a login token also when the password comes from\n"
		"                        CHAT_PASSWORD or --password-file (see below)\n"
		"  --logout              revoke the kept token, delete its file, and exit\n"
		"  --help                this text\n"
		"\n"
		"The password comes from CHAT_PASSWORD, else --password-file, else a prompt\n"
		"on the terminal; never from the command line. After a password typed at\n"
		"the prompt (or with --keep-token), chat asks for a login token and keeps\n"
		"it in $XDG_CONFIG_HOME/chat/ (else ~/.config/chat/), mode 0600, as\n"
		"token-USER@HOST:PORT; later starts log in with it, and ask the password\n"
		"again if it was revoked or expired. /tokens lists your tokens, /revoke ID\n"
		"revokes one, /password OLD NEW [revoke] changes your password.\n"
		"\n"
		"Input, one line at a time on stdin (at most 4096 bytes):\n"
		"  TEXT                  send TEXT to the current room (at most 4000 bytes)\n"
		"  //TEXT                send /TEXT\n"
		"  /join ROOM            join a public ROOM (or follow a private one you\n"
		"                        belong to) and make it the current room\n"
		"  /leave [ROOM]  /create ROOM [public|private]  /invite USER [ROOM]\n"
		"  /kick USER [ROOM]  /msg USER [TEXT]  /public  /who [ROOM]\n"
		"  /away [TEXT]  /dnd [TEXT]  /back  /me TEXT   (see docs/CLIENT.md)\n"
		"  /room ROOM            make ROOM (already joined) the current room\n"
		"  /history [N [SEQ]]    the last N messages of the current room (default 50,\n"
		"                        at most 250), only those older than SEQ if given\n"
		"  /rooms                list your rooms\n"
		"  /help                 list the commands\n"
		"  /quit                 leave (as does end of input): waits up to 10 s until\n"
		"                        every message sent is confirmed stored (receipt)\n"
		"\n"
		"Output, one event per line on stdout; fields are separated by one space, the\n"
		"free text comes last, with newline, carriage return and backslash written\n"
		"as \\n, \\r and \\\\:\n"
		"  status connected | status disconnected REASON\n"
		"  status reconnecting DELAY_MS ATTEMPT   offline: connect attempt number\n"
		"                                     ATTEMPT comes in DELAY_MS ms\n"
		"  msg ROOM SENDER BODY               a room message (including your own)\n"
		"  receipt ROOM SEQ ID                your message ID was stored as SEQ (once\n"
		"                                     per ID; until then it is kept and resent)\n"
		"  history ROOM SEQ TS SENDER BODY    a message of a /history reply, oldest\n"
		"  history-end ROOM COUNT             first, then the end of the reply\n"
		"  room NAME LAST_SEQ ... rooms-end COUNT   a /rooms reply\n"
		"  presence USER STATE                someone went online or offline\n"
		"  error CODE MESSAGE                 a refused message or request, or a local\n"
		"                                     error (usage, too_long, bad_utf8, auth,\n"
		"                                     not_connected, not_sent, not_stored,\n"
		"                                     queue_full, ...)\n"
		"  help TEXT                          the answer to /help\n"
		"Malformed incoming payloads are reported on stderr as \"error bad_payload ...\".\n"
		"\n"
		"Exit status: 0 after /quit, end of input, SIGINT or SIGTERM; 1 on a failure;\n"
		"2 on a usage error or when the broker refuses the login (\"error auth ...\").\n",
		CHAT_DEFAULT_PORT, CHAT_RETRY_MIN_MS, CHAT_RETRY_MAX_MS);
}

/* Reads the first line of a password file that only its owner may read. */
static int password_from_file(const char *path, char *buf, size_t len)
{
	struct stat st;
	FILE *fp = NULL;
	int fd = -1;
	int rc = -1;

	/* O_NONBLOCK: opening a FIFO must not hang; it is refused below. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if(fd < 0){
		fprintf(stderr, "chat: password file %s: %s\n", path, strerror(errno));
		goto out;
	}
	if(fstat(fd, &st)){
		fprintf(stderr, "chat: password file %s: %s\n", path, strerror(errno));
		goto out;
	}
	if(!S_ISREG(st.st_mode)){
		fprintf(stderr, "chat: password file %s is not a regular file; refusing it\n", path);
		goto out;
	}
	if(st.st_mode & 07777 & ~(mode_t)0600){
		fprintf(stderr, "chat: password file %s has mode %04o; refusing it because a file holding "
				"a password must be readable by its owner only (mode 0600 or stricter: chmod 600 %s)\n",
				path, (unsigned int)(st.st_mode & 07777), path);
		goto out;
	}
	if(fcntl(fd, F_SETFL, 0)){
		fprintf(stderr, "chat: password file %s: %s\n", path, strerror(errno));
		goto out;
	}
	fp = fdopen(fd, "r");
	if(!fp){
		fprintf(stderr, "chat: password file %s: %s\n", path, strerror(errno));
		goto out;
	}
	fd = -1; /* fp owns it now */
	if(password_read_line(fp, buf, len)){
		fprintf(stderr, "chat: password file %s: expected the password on its first line (1-%zu bytes)\n",
				path, len - 1);
		goto out;
	}
	rc = 0;
out:
	if(fp) fclose(fp);
	if(fd >= 0) close(fd);
	return rc;
}

/* Puts the password (environment, private file or tty prompt) into buf;
 * 0, or -1 after a message on stderr. The caller wipes buf. */
int chat_args_password(const struct chat_opts *opts, char *buf, size_t len)
{
	const char *env = getenv("CHAT_PASSWORD");
	int rc = -1;
	size_t n;

	memset(buf, 0, len);
	if(env && *env){
		n = strlen(env);
		if(n >= len){
			fprintf(stderr, "chat: CHAT_PASSWORD is longer than %zu bytes\n", len - 1);
			goto out;
		}
		memcpy(buf, env, n + 1);
		rc = 0;
		goto out;
	}
	if(opts->password_file){
		rc = password_from_file(opts->password_file, buf, len);
		goto out;
	}
	if(password_prompt_tty("Password: ", buf, len)){
		fprintf(stderr, "chat: no password: set CHAT_PASSWORD, use --password-file FILE, "
				"or run chat on a terminal to be asked\n");
		goto out;
	}
	rc = 0;
out:
	return rc;
}
