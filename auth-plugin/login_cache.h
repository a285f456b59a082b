/* login_cache.h: a cache of recent successful logins, so that a reconnect
 * storm does not redo PBKDF2 (tens of milliseconds of the broker's only
 * thread) for every client. An entry is keyed on HMAC-SHA256 under a random
 * per-process key of (user name, password, stored hash): the password is
 * never kept and never a key, and a changed stored hash (new password,
 * reloaded file) simply misses. Entries live for a TTL with +-10% jitter so
 * that a crowd that logged in together does not expire together. Broker
 * thread only. */
#ifndef AUTH_LOGIN_CACHE_H
#define AUTH_LOGIN_CACHE_H

#include <stdbool.h>
#include <stddef.h>

struct login_cache;

/* Returns an empty cache holding at most max_entries for ttl_s seconds each
 * (ttl_s 0 disables caching), or NULL when out of memory or when no random
 * key can be had. Free with login_cache_free. */
struct login_cache *login_cache_new(long ttl_s, size_t max_entries);

/* True when this exact (user, password, stored hash) succeeded within its TTL.
 * now is a monotonic time in seconds. */
bool login_cache_hit(struct login_cache *cache, const char *user, const char *password,
		const char *stored_hash, long now);

/* Records a successful check (evicting expired entries, then the oldest, when
 * full). */
void login_cache_put(struct login_cache *cache, const char *user, const char *password,
		const char *stored_hash, long now);

/* Forgets every entry (on reload). */
void login_cache_clear(struct login_cache *cache);

/* Number of entries held. */
size_t login_cache_size(const struct login_cache *cache);

/* Frees the cache; NULL allowed. */
void login_cache_free(struct login_cache *cache);

#endif
