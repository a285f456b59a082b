/* flood.h: protection against floods of bad logins. Failures are counted
 * per user name and per client address. Below a threshold nothing happens;
 * from the threshold on, each further failure locks that name (or address)
 * for a delay that doubles, up to a lockout time. While locked, a login is
 * refused at once, before any password hashing, so an attack costs the
 * broker a hash lookup instead of a PBKDF2 run. Counters are forgotten after
 * a quiet window. Broker thread only; memory bounded by max_entries. */
#ifndef AUTH_FLOOD_H
#define AUTH_FLOOD_H

#include <stdbool.h>
#include <stddef.h>

struct flood_opts {
	long user_threshold;    /* failures of one user name before delays start */
	long address_threshold; /* failures from one address before delays start */
	long base_delay_s;      /* first delay; doubles with each further failure */
	long lockout_s;         /* longest delay */
	long window_s;          /* failures older than this are forgotten */
	size_t max_entries;     /* per table */
};

enum flood_key { FLOOD_USER, FLOOD_ADDRESS };

struct flood;

/* Returns an empty tracker (copying opts) or NULL when out of memory. */
struct flood *flood_new(const struct flood_opts *opts);

/* Seconds the key is still locked at monotonic time now, 0 when it is not.
 * key may be NULL (then 0). */
long flood_locked_for(struct flood *flood, enum flood_key kind, const char *key, long now);

/* Records a failed login of user from address (either may be NULL). */
void flood_failure(struct flood *flood, const char *user, const char *address, long now);

/* Records a successful login: the user name's count starts again. */
void flood_success(struct flood *flood, const char *user, long now);

/* Drops entries that are neither locked nor within the window. */
void flood_expire(struct flood *flood, long now);

/* Number of tracked keys of a kind. */
size_t flood_size(const struct flood *flood, enum flood_key kind);

/* Frees the tracker; NULL allowed. */
void flood_free(struct flood *flood);

#endif
