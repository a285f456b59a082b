/* token_login.h: the check of a token login (common/token.h) against the
 * snapshot, as a pure function (unit-tested and benchmarked without a
 * broker): the id's token, of this user, the SHA-256 of its secret
 * compared in constant time, not expired, its user not disabled. One
 * SHA-256 and two hash lookups: no PBKDF2, no database. */
#ifndef AUTH_TOKEN_LOGIN_H
#define AUTH_TOKEN_LOGIN_H

#include "snapshot.h"

/* Checks password (a token string) for user at now_ms (wall clock, ms).
 * Returns the token (it belongs to snap) when the login is good, else NULL. */
const struct snapshot_token *token_login_check(const struct snapshot *snap, const char *user,
		const char *password, long long now_ms);

#endif
