/* flood.h: protection against floods of bad logins, in three stages.
 *
 * Failures are counted per user name and per client address (a failure is a
 * wrong password, a login that no back-end knows, or an attempt refused
 * while slowed, see below), and forgotten after a quiet window.
 *
 * 1. Slowed: from slow_after failures on, a name (or address) gets at most
 *    one password verification per slow_interval_ms; attempts in between are
 *    refused without hashing and count as failures. An attacker therefore
 *    costs the broker one PBKDF2 run per name or address per interval, not
 *    one per attempt.
 * 2. Locked: from threshold failures on, the name (or address) is refused
 *    outright for a delay that doubles with each further failure, up to
 *    lockout_s. Attempts while locked do not count for a name (its owner's
 *    devices may be retrying), but do for an address.
 * 3. Node-wide budget: password checks are counted, not timed, so that the
 *    rule means the same on every machine. Checks of attempts whose name
 *    has failed twice or more or is slowed, or whose address is slowed,
 *    and checks that fail, are paid from one bucket holding verify_budget
 *    checks and refilled at verify_budget per verify_window_ms. Such
 *    attempts are checked only while the bucket holds a check; once it owes
 *    half a bucket (many fresh names from many addresses failing at once),
 *    every login that is not in the login cache waits for it. A name with
 *    one failure behind it is admitted like a fresh one, so its owner's
 *    retry after a typo is checked on any hardware with any budget. The
 *    operator sizes verify_budget from the cost of one check on the node
 *    (docs/ADMIN.md).
 *
 * Logins in the login cache are answered before any of this (plugin.c) and
 * never touch the counters or the budget. Broker thread only; memory bounded
 * by max_entries per table. Times are monotonic milliseconds. */
#ifndef AUTH_FLOOD_H
#define AUTH_FLOOD_H

#include <stdbool.h>
#include <stddef.h>

struct flood_opts {
	long user_threshold;     /* failures of one user name before it is locked */
	long address_threshold;  /* failures from one address before it is locked */
	long user_slow_after;    /* failures of one user name before it is slowed */
	long address_slow_after; /* failures from one address before it is slowed */
	long base_delay_s;       /* first lock; doubles with each further failure */
	long lockout_s;          /* longest lock */
	long window_s;           /* failures older than this are forgotten */
	long slow_interval_ms;   /* a slowed key gets one verification per interval (0: no limit) */
	long verify_budget;      /* node-wide charged verifications per window (bucket size) */
	long verify_window_ms;   /* the bucket refills verify_budget per this many ms */
	size_t max_entries;      /* per table */
};

enum flood_key { FLOOD_USER, FLOOD_ADDRESS };

/* What to do with a login that is not in the login cache. */
enum flood_verdict {
	FLOOD_VERIFY,         /* check the password */
	FLOOD_SLOWED,         /* the name or address is slowed and its next verification is not due */
	FLOOD_BUSY,           /* the node-wide verification budget is spent */
	FLOOD_USER_LOCKED,    /* the user name is locked */
	FLOOD_ADDRESS_LOCKED, /* the address is locked */
};

struct flood;

/* Returns an empty tracker (copying opts) or NULL when out of memory. Free
 * with flood_free. */
struct flood *flood_new(const struct flood_opts *opts);

/* Milliseconds the key is still locked at now_ms, 0 when it is not. key may
 * be NULL (then 0). */
long long flood_locked_for(struct flood *flood, enum flood_key kind, const char *key, long long now_ms);

/* Decides whether a login of user (NULL for an invalid name) from address
 * (may be NULL) may have its password verified now. On FLOOD_VERIFY it takes
 * the slowed keys' verification and sets *charged: true when the
 * verification must go to flood_charge whatever its outcome, false when
 * only a failed one is charged. Any other verdict changes nothing: pass it
 * to flood_refused. */
enum flood_verdict flood_admit(struct flood *flood, const char *user, const char *address,
		long long now_ms, bool *charged);

/* Records a login refused with verdict (not FLOOD_VERIFY) without a
 * verification: FLOOD_SLOWED counts a failure against each slowed key of
 * the attempt; FLOOD_ADDRESS_LOCKED one against the address (so an address
 * that keeps trying while locked reaches lockout_s); FLOOD_BUSY one against
 * the address if it has failed before; FLOOD_USER_LOCKED nothing. */
void flood_refused(struct flood *flood, enum flood_verdict verdict, const char *user,
		const char *address, long long now_ms);

/* Records a failed login of user from address after a verification (either
 * may be NULL: a user name no back-end knows is counted against the address
 * only, so invented names do not fill the table). */
void flood_failure(struct flood *flood, const char *user, const char *address, long long now_ms);

/* Records a verified successful login: the user name's count starts again. */
void flood_success(struct flood *flood, const char *user, long long now_ms);

/* Charges one verification made at now_ms to the node-wide budget. */
void flood_charge(struct flood *flood, long long now_ms);

/* Verifications left in the node-wide budget at now_ms (fractions while it
 * refills); negative when overdrawn. */
double flood_budget(struct flood *flood, long long now_ms);

/* Drops entries that are neither locked nor within the window. */
void flood_expire(struct flood *flood, long long now_ms);

/* Number of tracked keys of a kind. */
size_t flood_size(const struct flood *flood, enum flood_key kind);

/* A short name for a verdict, for log lines ("slowed", "locked", ...). */
const char *flood_verdict_name(enum flood_verdict verdict);

/* Frees the tracker; NULL allowed. */
void flood_free(struct flood *flood);

#endif
