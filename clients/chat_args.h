/* chat_args.h: the command line of chat (options, environment defaults,
 * --help) and where its password comes from: CHAT_PASSWORD, a private file
 * given with --password-file, or a prompt on the terminal; never argv. */
#ifndef CHAT_ARGS_H
#define CHAT_ARGS_H

#include <stddef.h>
#include <stdio.h>

#include "names.h"

#define CHAT_HOST_MAX 255
#define CHAT_PASSWORD_MAX 256

#define CHAT_DEFAULT_HOST "127.0.0.1"
#define CHAT_DEFAULT_PORT 1883
#define CHAT_DEFAULT_ROOM "lobby"
#define CHAT_RETRY_LIMIT_MS 3600000L /* largest --reconnect-min/-max */

struct chat_opts {
	char host[CHAT_HOST_MAX + 1];
	int port;
	char user[NAME_USER_MAX + 1];
	char room[NAME_ROOM_MAX + 1];
	const char *password_file; /* from argv, or NULL */
	const char *cafile;        /* from argv, or NULL: no TLS */
	const char *trace;         /* --trace FILE from argv, or NULL */
	long retry_min_ms;         /* --reconnect-min MS, or 0 for the default */
	long retry_max_ms;         /* --reconnect-max MS, or 0 for the default */
	int plain;                 /* --plain was given */
	int help;                  /* --help was given: print chat_args_help and exit 0 */
	int logout;                /* --logout: revoke the kept token and delete it (chat_account.h) */
	int keep_token;            /* --keep-token: keep a token also with CHAT_PASSWORD or --password-file */
};

/* Fills opts from the defaults, then CHAT_HOST, CHAT_PORT and CHAT_USER,
 * then argv (which wins). Both "--opt VALUE" and "--opt=VALUE" work.
 * Returns 0, or -1 after printing what is wrong (and a hint to try --help)
 * on stderr; the caller should then exit with status 2. opts keeps pointers
 * into argv, which must outlive it. */
int chat_args_parse(int argc, char **argv, struct chat_opts *opts);

/* Prints the --help text to fp. */
void chat_args_help(FILE *fp);

/* Gets the password into buf (len bytes, NUL-terminated): from the
 * environment variable CHAT_PASSWORD when it is set and not empty, else
 * from the first line of opts->password_file (which must be a regular file
 * of mode 0600 or stricter), else by asking "Password: " on /dev/tty with
 * echo off. Returns 0, or -1 after printing why on stderr. The caller
 * should wipe buf (OPENSSL_cleanse) when done with it. */
int chat_args_password(const struct chat_opts *opts, char *buf, size_t len);

#endif
