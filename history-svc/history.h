/* history.h: history-svc's configuration and shared state. history-svc
 * subscribes on the hub to every room's messages, stores each once with the
 * next per-room sequence number, sends the sender a receipt, and answers
 * history and room-list requests on the requester's inbox. */
#ifndef HISTORY_H
#define HISTORY_H

#include <stdbool.h>
#include <stddef.h>

#include <pthread.h>
#include <signal.h>

#include "db.h"
#include "mqtt_durable.h"
#include "mqtt_pub.h"
#include "mqtt_svc.h"
#include "room_msg.h"

struct history_config {
	struct db_opts db;
	struct mqtt_svc_opts mqtt;   /* host, port, user, password, client id */
	const char *persistence_dir; /* Paho's store for messages taken but not yet stored */
	long max_body_bytes;    /* largest message body accepted */
	long max_payload_bytes; /* largest MQTT payload looked at */
	long settle_ms;         /* delay before replying to a membership change */
	long retention_interval_s; /* seconds between retention passes */
	long batch_max;         /* most messages per storage transaction */
	long max_pending;       /* most messages waiting for MariaDB before intake pauses */
	long metrics_port;      /* 0: no metrics server */
	const char *metrics_bind;
};

struct history_counters {
	unsigned long stored;
	unsigned long duplicates;
	unsigned long rejected;
	unsigned long requests;
	unsigned long request_errors;
};

struct queued_reply;
struct committer;
struct history_metrics;

struct history_svc {
	struct history_config cfg;
	struct room_msg_limits intake_limits; /* from cfg, for room_msg_check */
	struct queued_reply *replies; /* reply_queue.c */
	struct db *db;
	struct mqtt_durable *mqtt;   /* intake: room messages and requests */
	struct committer *committer; /* stores room messages in batches (committer.h) */
	struct mqtt_pub *out;        /* receipts, replies and errors */
	struct db *retention_db;     /* the main thread's own connection (retention.c) */
	pthread_mutex_t lock;        /* Paho's, the committer's and the main thread share db, replies, counters */
	volatile sig_atomic_t *stop;
	struct history_counters counters;
	struct history_metrics *metrics; /* NULL when off (history_metrics.h) */
};

#endif
