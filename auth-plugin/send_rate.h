/* send_rate.h: per-user send rate limits on this broker node (issue 13):
 * a token bucket per user for room messages (chat/v1/rooms/{room}/msg/{me})
 * and another for requests (chat/v1/users/{me}/req/{service}), so that one
 * client cannot flood a room, the bridge or the services. Typing indicators
 * have their own per-connection limit (conn_events.h) and count in neither.
 *
 * A bucket holds up to burst sends and refills at rate sends per second; a
 * send that finds it empty is refused (plugin.c denies the publish: MQTT 5
 * senders get PUBACK 0x87, 3.1.1 senders a plain PUBACK, docs/PROTOCOL.md).
 * The buckets of one user are shared by all their connections to this node.
 * A user gets an entry at their first send and loses it once idle long
 * enough for both buckets to be full again (a full bucket is the same as
 * none), so idle connections cost nothing here; at most max_users entries,
 * the least recently used one giving way to a new user.
 *
 * Broker thread only; every call O(1) (send_rate_expire: O(entries it
 * removes)). Times are monotonic milliseconds passed in by the caller, so
 * tests drive the clock. Memory from plugin_alloc.h. */
#ifndef AUTH_SEND_RATE_H
#define AUTH_SEND_RATE_H

#include <stdbool.h>
#include <stddef.h>

/* At most one log line per user per this many ms (send_rate_take). */
#define SEND_RATE_LOG_WINDOW_MS 10000

enum send_kind { SEND_ROOM_MSG = 0, SEND_REQUEST, SEND_KIND_COUNT, SEND_UNLIMITED = -1 };

struct send_rate_opts {
	long rate[SEND_KIND_COUNT];  /* sends per second; 0: that kind is not limited */
	long burst[SEND_KIND_COUNT]; /* bucket size in sends (>= 1 when rate > 0) */
	size_t max_users;            /* entries kept at most (>= 1) */
};

enum send_verdict {
	SEND_OK,        /* allowed (a token taken) */
	SEND_DROP,      /* over the rate: refuse it */
	SEND_DROP_LOG,  /* over the rate, and the first refusal of the user's log window: log it */
};

struct send_rate;

/* Returns a limiter with a copy of opts, or NULL when out of memory; free
 * with send_rate_free. */
struct send_rate *send_rate_new(const struct send_rate_opts *opts);

/* Which bucket a publish on topic draws from: SEND_ROOM_MSG, SEND_REQUEST,
 * or SEND_UNLIMITED for every other topic (typing, outside the tree, ...). */
enum send_kind send_rate_classify(const char *topic);

/* Takes one send of kind for user at now_ms. Returns SEND_OK, SEND_DROP or
 * SEND_DROP_LOG; with SEND_DROP_LOG, *dropped (when not NULL) is the number
 * of the user's sends refused since the previous log line, this one
 * included. A kind whose rate is 0, SEND_UNLIMITED, or out of memory for a
 * new entry answer SEND_OK (a limiter never refuses for its own failure). */
enum send_verdict send_rate_take(struct send_rate *sr, const char *user, enum send_kind kind,
		long long now_ms, unsigned long long *dropped);

/* Forgets users idle long enough that their buckets are full again and
 * their log window is over. Call it now and then (plugin tick). */
void send_rate_expire(struct send_rate *sr, long long now_ms);

/* Number of users with an entry now. */
size_t send_rate_users(const struct send_rate *sr);

/* Frees the limiter; NULL allowed. */
void send_rate_free(struct send_rate *sr);

#endif
