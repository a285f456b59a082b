/* presence.h: who is online, from the auth plugins' connection events,
 * heartbeats and snapshots (chat/v1/sys/conn/{node}); the rules are in
 * docs/PROTOCOL.md section 3.4.
 *  - A user is online (or away, or dnd: their own choice) while at least
 *    one of their connections, on any node, is open; offline otherwise.
 *    last_seen is null while they are connected, everywhere it is shown
 *    (presence_reported_last_seen).
 *  - A node that sends no heartbeat for node_timeout_ms is lost: its
 *    connections are dropped (last seen = its last heartbeat). When it is
 *    heard again, or when its heartbeat's count and digest of connection
 *    ids differ from ours, we ask it for a snapshot (chat/v1/sys/sync/
 *    {node}) and replace our view of it with the snapshot.
 *  - Changes are coalesced: a user's state is published coalesce_ms after
 *    the change, at most once per min_interval_ms, and only when it differs
 *    from what was last published (retained on chat/v1/presence/{user}).
 *  - For startup_hold_ms after start nothing is published: the retained
 *    states we published before a restart are read back and the nodes'
 *    snapshots come in; then only real differences go out.
 *  - Typing indicators seen on chat/v1/rooms/{room}/typing/{user} expire
 *    after typing_ttl_ms unless renewed or stopped: we then publish
 *    {"typing": false, "expired": true}.
 * Single-threaded: call everything from the service loop. */
#ifndef PRESENCE_H
#define PRESENCE_H

#include <stdbool.h>
#include <stddef.h>

struct presence;

struct presence_opts {
	long coalesce_ms;
	long min_interval_ms;
	long node_timeout_ms;
	long startup_hold_ms;
	long typing_ttl_ms;
	/* The clocks, in ms: monotonic for timers and wall (since the epoch)
	 * for what is published. presence_opts_default sets common/clock.c's;
	 * the unit tests set their own, so time moves only when they say. */
	long long (*mono_ms)(void);
	long long (*wall_ms)(void);
};

/* Where presence sends what it decides. publish: a message to send (the
 * strings are valid during the call only). last_seen: user went offline at
 * wall-clock time seen_ms (ms since the epoch), to store. */
struct presence_sink {
	void (*publish)(void *ud, const char *topic, const char *payload, int qos, bool retain);
	void (*last_seen)(void *ud, const char *user, long long seen_ms);
	void *ud;
};

/* What is known about one user, for replies. */
struct presence_view {
	const char *state;     /* "online", "away", "dnd" or "offline" */
	unsigned int devices;
	const char *text;      /* status text, "" when none */
	long long since_ms;    /* wall clock; 0 when unknown */
	long long last_seen_ms;/* wall clock; 0 when unknown, and always 0 while
	                        * the user has a connection: report it through
	                        * presence_reported_last_seen */
};

struct presence_stats {
	unsigned long long events, heartbeats, snapshot_parts, syncs_requested;
	unsigned long long published, suppressed, nodes_lost, typing_expired, bad_input;
	unsigned long long corrected; /* presence seen that we had not published: republished */
	unsigned long long nodes_heard; /* a node heard first, after a restart, or back after being lost */
};

/* Fills opts with the defaults of docs/PROTOCOL.md. */
void presence_opts_default(struct presence_opts *opts);

/* Returns an empty table using opts and sink (both copied), holding its
 * publications for opts->startup_hold_ms; NULL when out of memory. Free
 * with presence_free. */
struct presence *presence_new(const struct presence_opts *opts, const struct presence_sink *sink);

/* Applies one payload from chat/v1/sys/conn/{node}: a connect, disconnect,
 * heartbeat or snapshot event (read by conn_event_parse). Returns 0 (also
 * for a stale event of an older boot, which changes nothing), or -1 when it
 * is malformed or its node does not match (it is then ignored; counted in
 * bad_input). */
int presence_conn_message(struct presence *p, const char *node, const void *payload, size_t len);

/* A retained presence message of user read back while holding after a
 * start: what was published before. Ignored after the hold. Returns 0 or
 * -1 when malformed. */
int presence_retained(struct presence *p, const char *user, const void *payload, size_t len);

/* A typing indicator of user in room. Returns 0 or -1 when malformed. */
int presence_typing(struct presence *p, const char *room, const char *user, const void *payload, size_t len);

/* Sets user's chosen state ("online", "away" or "dnd") and text (NULL or
 * "" for none; the caller has validated it). Returns 0, or -1 when the user
 * has no open connection (the status lasts while they have one). */
int presence_set_status(struct presence *p, const char *user, const char *state, const char *text);

/* Fills view for user. Returns true when the user is known (connected, or
 * seen since start), false otherwise (view then says offline). */
bool presence_get(const struct presence *p, const char *user, struct presence_view *view);

/* The one rule for the last_seen every reply and publication carries
 * (docs/PROTOCOL.md 3.4): 0 (null) while the user of view has an open
 * connection; otherwise view's last_seen_ms, or, when presence knows no
 * disconnect of theirs, fallback_ms (the time MariaDB stored, for a reply;
 * 0 for none). Returns wall-clock ms, or 0 for null. */
long long presence_reported_last_seen(const struct presence_view *view, long long fallback_ms);

/* Calls fn for each open connection of user (client id, node, since in
 * wall-clock ms) until fn returns non-zero or max calls were made. Returns
 * the number of calls. */
size_t presence_devices(const struct presence *p, const char *user, size_t max,
		int (*fn)(void *ud, const char *client, const char *node, long long since_ms), void *ud);

/* Timers: publishes due changes, loses silent nodes, expires typing
 * indicators, ends the startup hold. Call about every 100 ms with whether
 * the broker connection is up (node timeouts only run while it is). */
void presence_tick(struct presence *p, bool connected);

/* Counters since start. */
void presence_get_stats(const struct presence *p, struct presence_stats *stats);

/* Number of users online and of open connections. */
size_t presence_users_online(const struct presence *p);
size_t presence_connections(const struct presence *p);

/* Frees the table; NULL allowed. */
void presence_free(struct presence *p);

#endif
