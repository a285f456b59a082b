/* push.h: push-svc's configuration and the state its parts share.
 * push-svc sends Web Push notifications (RFC 8030/8291/8292) to the devices
 * of users who have no open connection: for direct messages, mentions, and
 * every message of rooms a subscription chose. One thread runs the MQTT
 * loop, the database and the scheduling; the HTTP requests run on the
 * sender's thread (sender.h). A message flows one way:
 *   main (MQTT in) -> requests (subscribe ...) | feed (stored hints,
 *   presence) -> MariaDB push_state -> dispatch -> sender -> dispatch. */
#ifndef PUSH_H
#define PUSH_H

#include <stdbool.h>
#include <stddef.h>

#include "db.h"

struct mqtt_svc;
struct webpush_vapid;
struct sender;
struct online;
struct metric;
struct metrics;

struct push_config {
	struct db_opts db;
	long window_ms;          /* coalescing: at most one push per (subscription, room) per window */
	long ttl_s;              /* TTL header: how long a push service keeps an undelivered push */
	long timeout_ms;         /* per HTTP request */
	long max_attempts;       /* tries of one push on 429/5xx/no answer before it is dropped */
	long max_in_flight;      /* requests in flight at once */
	long rescan_s;           /* seconds between scans for rooms beyond their cursor */
	long startup_hold_ms;    /* no push this long after connecting (presence arrives) */
	long max_subscriptions;  /* per user */
	long preview_bytes;      /* longest body preview in a push */
	int allow_http;          /* 0: https only; 1: also http:// on loopback (tests) */
	long vapid_lifetime_s;   /* exp of the VAPID JWT, at most 24 h */
};

struct push_metrics {
	struct metrics *registry;
	struct metric *sent, *failed, *pruned, *retried, *dropped_online, *queue_depth, *in_flight, *latency;
};

struct push_svc {
	struct push_config cfg;
	struct db *db;
	long long db_retry_at;
	struct mqtt_svc *mqtt;
	struct webpush_vapid *vapid;
	struct sender *sender;
	struct online *online;
	long long connected_ms;  /* when the broker connection last came up (0: never) */
	long long next_poll_ms;  /* when dispatch next looks for due pushes */
	long long next_rescan_ms;
	struct push_metrics m;
	unsigned long long *hinted;  /* rooms hinted since the last feed_flush (feed.c) */
	size_t hinted_n, hinted_cap;
};

/* Returns the service's database connection, opening it when needed (at
 * most one attempt a second), or NULL while MariaDB is unreachable. */
struct db *push_db_get(struct push_svc *svc);

/* Drops the connection after a failed statement; the next push_db_get
 * reconnects. */
void push_db_failed(struct push_svc *svc);

#endif
