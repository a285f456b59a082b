/* clientid_owner.h: which user each client id belongs to on this node, so
 * that nobody logs in with another user's client id (Mosquitto would hand
 * them the other user's live connection, kicking it, and with a clean login
 * wipe the other user's persistent session and its queued messages).
 *
 * A client id is bound to a user by the user's first successful login with
 * it on this node. The binding lasts while a connection of the user holds
 * the id, and hold_ms after its last connection ended (the time the broker
 * may keep the session: set persistent_client_expiration no longer).
 * Memory is bounded: at most max_idle bindings without a connection in all,
 * and per_user_idle of them for one user; beyond that the binding idle the
 * longest is forgotten first (for one user: that user's own). Bindings held
 * by live connections are bounded by the broker's connections.
 *
 * Bindings live in memory; clientid_store.c saves them to a file and
 * restores them across a broker restart. Broker thread only; every call
 * is O(1) apart from expiry, which drops the expired idle bindings. Times are
 * monotonic milliseconds. Connections are told apart by the broker's context
 * pointer, which is compared and never dereferenced. */
#ifndef AUTH_CLIENTID_OWNER_H
#define AUTH_CLIENTID_OWNER_H

#include <stdbool.h>
#include <stddef.h>

struct clientid_owners;

/* Returns an empty table or NULL when out of memory. Free with
 * clientid_owners_free. */
struct clientid_owners *clientid_owners_new(long long hold_ms, size_t max_idle, size_t per_user_idle);

/* The user client_id is bound to at now_ms (a string owned by the table,
 * valid until the next call that changes it), or NULL when it is free. */
const char *clientid_owners_owner(struct clientid_owners *owners, const char *client_id, long long now_ms);

/* Records that connection conn of user logged in with client_id (which must
 * be free or bound to user): the id is user's while conn lasts. A previous
 * connection holding the id (one the broker is taking over) is released.
 * Returns 0, or -1 when out of memory (nothing recorded). */
int clientid_owners_connected(struct clientid_owners *owners, const char *client_id, const char *user,
		const void *conn, long long now_ms);

/* Records that connection conn ended: its id stays bound for hold_ms. An
 * unknown conn is ignored. */
void clientid_owners_disconnected(struct clientid_owners *owners, const void *conn, long long now_ms);

/* Restores an idle binding of client_id to user, idle since idle_since_ms
 * (from a saved table; ignored when client_id is already bound). Returns 0,
 * or -1 for an invalid id or name or when out of memory. */
int clientid_owners_restore(struct clientid_owners *owners, const char *client_id, const char *user,
		long long idle_since_ms);

/* Calls fn(arg, client_id, user, idle_since_ms) for every binding;
 * idle_since_ms is -1 for one a connection holds. fn must not change the
 * table. */
void clientid_owners_each(const struct clientid_owners *owners,
		void (*fn)(void *arg, const char *client_id, const char *user, long long idle_since_ms), void *arg);

/* Drops idle bindings older than hold_ms. */
void clientid_owners_expire(struct clientid_owners *owners, long long now_ms);

/* Number of bindings, with and without a connection. */
size_t clientid_owners_size(const struct clientid_owners *owners);

/* Frees the table; NULL allowed. */
void clientid_owners_free(struct clientid_owners *owners);

#endif
