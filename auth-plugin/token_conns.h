/* token_conns.h: which open connection logged in with which token, on the
 * broker thread. The ACL check finds a connection's token here (one hash
 * lookup, and none at all while no token connection is open) to apply its
 * scope; when a new snapshot comes (a token revoked, a user disabled) or a
 * token expires, the connections of tokens no longer good are kicked, on
 * every node, within the loader's refresh interval (or a second for an
 * expiry). Kicking goes through a function the caller passes, so that this
 * file needs no broker (unit-tested). */
#ifndef AUTH_TOKEN_CONNS_H
#define AUTH_TOKEN_CONNS_H

#include <stdbool.h>
#include <stddef.h>

#include "snapshot.h"

struct token_conns;

/* One connection that logged in with a token. tok is NULL once the token
 * is no longer good (the connection was kicked and is on its way out: its
 * ACL checks are then all refused). */
struct token_conn {
	const void *client;
	const struct snapshot_token *tok;
	char token_id[TOKEN_ID_LEN + 1];
	char *client_id;
};

/* Disconnects the connection with this client id (mosquitto_kick_client_by_clientid). */
typedef void (*token_kick_fn)(const char *client_id);

/* Returns an empty table (free with token_conns_free) or NULL when out of memory. */
struct token_conns *token_conns_new(void);

/* Records that client (compared, never dereferenced), with client_id
 * (copied), logged in with tok. Returns 0, or -1 when out of memory (the
 * caller then refuses the login). */
int token_conns_add(struct token_conns *tc, const void *client, const char *client_id,
		const struct snapshot_token *tok);

/* The connection's entry, or NULL when client did not log in with a token. O(1). */
const struct token_conn *token_conns_find(const struct token_conns *tc, const void *client);

/* Forgets client (its connection ended, or it logged in again). */
void token_conns_remove(struct token_conns *tc, const void *client);

/* After snap replaced the snapshot the entries point into: points each
 * entry at its token in snap, and kicks (and marks) the connections whose
 * token is gone (revoked, deleted), expired at now_ms (wall clock) or whose
 * user is disabled. Returns how many it kicked. */
size_t token_conns_rebind(struct token_conns *tc, const struct snapshot *snap, long long now_ms, token_kick_fn kick);

/* Kicks (and marks) the connections whose token expired at now_ms. Returns
 * how many. */
size_t token_conns_expire(struct token_conns *tc, long long now_ms, token_kick_fn kick);

/* Number of connections held. */
size_t token_conns_count(const struct token_conns *tc);

/* Frees the table; NULL allowed. */
void token_conns_free(struct token_conns *tc);

/* Whether tok may log in at now_ms (wall clock): not expired, user not
 * disabled. */
bool token_usable(const struct snapshot_token *tok, long long now_ms);

#endif
