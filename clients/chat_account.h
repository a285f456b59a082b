/* chat_account.h: chat's kept login token (docs/CLIENT.md, "TOKENS").
 * After a password login chat asks history-svc for a token, keeps it in
 * $XDG_CONFIG_HOME/chat/ (or ~/.config/chat/), in a file of mode 0600 named
 * token-USER@HOST:PORT, and logs in with it on later starts; a refused kept
 * token is deleted and the password asked again. `chat --logout` revokes
 * it and deletes the file. Done before the session starts, on a short
 * connection of its own (libmosquitto, blocking, at most ACCOUNT_WAIT_MS
 * per step), so the session (chat_net) only ever sees one password. */
#ifndef CHAT_ACCOUNT_H
#define CHAT_ACCOUNT_H

#include <stddef.h>

#include "chat_args.h"

#define ACCOUNT_WAIT_MS 10000

/* Puts into secret (len bytes) what the session logs in with: the kept
 * token when there is one and the brokers take it (opts->keep_token or no
 * password from CHAT_PASSWORD or --password-file); else the password
 * (chat_args_password), and then, when the password came from the prompt
 * or --keep-token was given, a new token asked for with it, kept and used
 * instead (a token that cannot be had now is not an error: the password
 * is used). Returns 0, or -1 after a message on stderr (exit status 2).
 * The caller wipes secret. */
int chat_account_login_secret(const struct chat_opts *opts, char *secret, size_t len);

/* chat --logout: revokes the kept token (a revoke_token request logged in
 * with it) and deletes its file. A token the brokers already refuse is
 * just deleted. Returns the exit status: 0 done or nothing kept, 1 when
 * the token could not be revoked now (the file is kept). */
int chat_account_logout(const struct chat_opts *opts);

#endif
