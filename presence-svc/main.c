/* main.c: presence-svc entry point. Usage: presence-svc -c FILE
 * Subscribes on the hub to the auth plugins' connection events, heartbeats
 * and snapshots from every node, to its own retained presence (read back
 * after a restart), to presence requests and to typing indicators;
 * publishes retained presence per user, answers requests, expires typing
 * indicators and stores last-seen times in MariaDB (in batches, off the
 * event path). Runs until SIGTERM or SIGINT. Optional keys besides the
 * common ones: coalesce_ms, min_interval_ms, node_timeout_ms,
 * startup_hold_ms, typing_ttl_ms (docs/PROTOCOL.md, section 3.4). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "db.h"
#include "log.h"
#include "mqtt_svc.h"
#include "presence.h"
#include "presence_metrics.h"
#include "requests.h"
#include "topics.h"
#include "clock.h"

#define LAST_SEEN_QUEUE_MAX 100000
#define LAST_SEEN_BATCH 1000

struct last_seen_item {
	char user[NAME_USER_MAX + 1];
	long long seen_ms;
};

struct presence_svc {
	struct db_opts db_opts;
	struct db *db;
	long long db_retry_at;
	struct mqtt_svc *mqtt;
	struct presence *presence;
	struct presence_requests_env requests;
	struct last_seen_item *queue;
	size_t queued;
	long long next_stats;
	unsigned long long requests_handled;
	struct presence_metrics *metrics; /* NULL when off */
};

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static const char *const subscriptions[] = {
	TOPIC_PREFIX "/sys/conn/+",
	TOPIC_PREFIX "/presence/+",
	TOPIC_PREFIX "/users/+/req/presence",
	TOPIC_PREFIX "/rooms/+/typing/+",
};

static void publish(void *ud, const char *topic, const char *payload, int qos, bool retain)
{
	struct presence_svc *svc = ud;

	mqtt_svc_publish(svc->mqtt, topic, payload, strlen(payload), qos, retain);
}

static void reply(void *ud, const char *user, const char *json)
{
	struct presence_svc *svc = ud;
	char topic[TOPIC_MAX];

	if(topic_user_inbox(topic, sizeof(topic), user)) return;
	mqtt_svc_publish(svc->mqtt, topic, json, strlen(json), 1, false);
}

/* Returns an open database connection, or NULL (retrying at most once a
 * second, so an outage costs nothing per event). */
static struct db *db_get(void *ud)
{
	struct presence_svc *svc = ud;
	char err[512];
	long long now = clock_mono_ms();

	if(svc->db) return svc->db;
	if(now < svc->db_retry_at) return NULL;
	svc->db = db_open(&svc->db_opts, err, sizeof(err));
	if(!svc->db){
		svc->db_retry_at = now + 1000;
		log_warn("MariaDB unreachable: %s", err);
	}
	return svc->db;
}

static void db_failed(void *ud)
{
	struct presence_svc *svc = ud;

	db_close(svc->db);
	svc->db = NULL;
	svc->db_retry_at = clock_mono_ms() + 1000;
}

/* Last-seen is best effort: queued here, written by flush_last_seen. */
static void queue_last_seen(void *ud, const char *user, long long seen_ms)
{
	struct presence_svc *svc = ud;

	if(svc->queued >= LAST_SEEN_QUEUE_MAX){
		log_warn("last-seen queue full; last-seen of %s not stored", user);
		return;
	}
	snprintf(svc->queue[svc->queued].user, sizeof(svc->queue[svc->queued].user), "%s", user);
	svc->queue[svc->queued].seen_ms = seen_ms;
	svc->queued++;
}

/* Writes up to LAST_SEEN_BATCH queued last-seen times in one transaction;
 * on failure they stay queued for the next try. */
static void flush_last_seen(struct presence_svc *svc)
{
	struct db_param params[2];
	struct db *db;
	size_t n = svc->queued < LAST_SEEN_BATCH ? svc->queued : LAST_SEEN_BATCH;
	int rc;

	if(n == 0) return;
	db = db_get(svc);
	if(!db) return;
	rc = db_begin(db);
	for(size_t i = 0; rc == DB_OK && i < n; i++){
		params[0] = DB_I64(svc->queue[i].seen_ms);
		params[1] = DB_STR(svc->queue[i].user);
		rc = db_exec(db, "INSERT INTO last_seen (user_id, seen_at) SELECT id, FROM_UNIXTIME(? / 1000) FROM users"
				" WHERE username = ? ON DUPLICATE KEY UPDATE seen_at = VALUES(seen_at)",
				params, 2, NULL, NULL, NULL, NULL);
	}
	if(rc == DB_OK) rc = db_commit(db);
	if(rc != DB_OK){
		log_warn("last-seen not stored yet (%zu queued): %s", svc->queued, db_error(db));
		db_rollback(db);
		db_failed(svc);
		return;
	}
	memmove(svc->queue, svc->queue + n, (svc->queued - n) * sizeof(*svc->queue));
	svc->queued -= n;
}

static void log_stats(struct presence_svc *svc, const char *when)
{
	struct presence_stats s;

	presence_get_stats(svc->presence, &s);
	log_info("%s: %zu users online on %zu connections; events %llu, heartbeats %llu, snapshot parts %llu,"
			" syncs asked %llu, published %llu, suppressed %llu, nodes lost %llu, typing expired %llu,"
			" corrected %llu, requests %llu, bad input %llu", when,
			presence_users_online(svc->presence), presence_connections(svc->presence),
			s.events, s.heartbeats, s.snapshot_parts, s.syncs_requested, s.published, s.suppressed,
			s.nodes_lost, s.typing_expired, s.corrected, svc->requests_handled, s.bad_input);
}

static void on_idle(void *ud)
{
	struct presence_svc *svc = ud;
	long long now = clock_mono_ms();

	presence_tick(svc->presence, mqtt_svc_connected(svc->mqtt));
	flush_last_seen(svc);
	if(svc->metrics){
		struct presence_stats s;

		presence_get_stats(svc->presence, &s);
		presence_metrics_update(svc->metrics, &s, presence_users_online(svc->presence),
				presence_connections(svc->presence), svc->requests_handled, svc->queued);
	}
	if(now >= svc->next_stats){
		if(svc->next_stats) log_stats(svc, "counters");
		svc->next_stats = now + 60000;
	}
}

static void on_message(void *ud, const char *topic, const void *payload, size_t len)
{
	struct presence_svc *svc = ud;
	struct topic_parts parts;

	switch(topic_parse(topic, &parts)){
	case TOPIC_SYS_CONN:
		if(presence_conn_message(svc->presence, parts.node, payload, len)){
			log_warn("ignoring a malformed connection event on %s", topic);
		}
		break;
	case TOPIC_PRESENCE:
		presence_retained(svc->presence, parts.user, payload, len);
		break;
	case TOPIC_USER_REQ:
		if(strcmp(parts.service, "presence")) break;
		svc->requests_handled++;
		presence_request(&svc->requests, parts.user, payload, len);
		break;
	case TOPIC_ROOM_TYPING:
		if(presence_typing(svc->presence, parts.room, parts.user, payload, len)){
			log_info("ignoring a malformed typing indicator on %s", topic);
		}
		break;
	default:
		log_warn("ignoring a message on unexpected topic %s", topic);
	}
}

static int read_opts(const struct config *cfg, struct presence_opts *opts, char *err, size_t errlen)
{
	presence_opts_default(opts);
	if(config_get_long(cfg, "coalesce_ms", opts->coalesce_ms, 0, 60000, &opts->coalesce_ms, err, errlen)
			|| config_get_long(cfg, "min_interval_ms", opts->min_interval_ms, 0, 600000, &opts->min_interval_ms, err, errlen)
			|| config_get_long(cfg, "node_timeout_ms", opts->node_timeout_ms, 1000, 600000, &opts->node_timeout_ms, err, errlen)
			|| config_get_long(cfg, "startup_hold_ms", opts->startup_hold_ms, 0, 600000, &opts->startup_hold_ms, err, errlen)
			|| config_get_long(cfg, "typing_ttl_ms", opts->typing_ttl_ms, 1000, 60000, &opts->typing_ttl_ms, err, errlen)){
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct config *cfg = NULL;
	struct presence_svc svc;
	struct mqtt_svc_opts mqtt_opts;
	struct presence_opts popts;
	struct presence_sink sink;
	struct sigaction sa;
	char err[512];
	long level;
	long metrics_port;
	int rc = 1;

	memset(&svc, 0, sizeof(svc));
	log_setup("presence-svc", LOG_INFO);
	if(argc != 3 || strcmp(argv[1], "-c")){
		fprintf(stderr, "usage: presence-svc -c CONFIG_FILE\n");
		return 2;
	}
	if(config_load(argv[2], &cfg, err, sizeof(err))
			|| db_opts_from_config(cfg, "db_", &svc.db_opts, err, sizeof(err))
			|| mqtt_svc_opts_from_config(cfg, &mqtt_opts, err, sizeof(err))
			|| read_opts(cfg, &popts, err, sizeof(err))
			|| config_get_long(cfg, "metrics_port", 0, 0, 65535, &metrics_port, err, sizeof(err))){
		log_error("configuration: %s", err);
		goto out;
	}
	level = log_level_parse(config_get(cfg, "log_level", "info"));
	if(level < 0){
		log_error("configuration: log_level must be error, warn, info or debug");
		goto out;
	}
	log_setup("presence-svc", (enum log_level)level);
	mqtt_opts.clean_session = false;
	mqtt_opts.subscriptions = subscriptions;
	mqtt_opts.subscription_count = (int)(sizeof(subscriptions) / sizeof(subscriptions[0]));
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	sink.publish = publish;
	sink.last_seen = queue_last_seen;
	sink.ud = &svc;
	svc.metrics = presence_metrics_start(config_get(cfg, "metrics_bind", "127.0.0.1"), metrics_port, err, sizeof(err));
	if(!svc.metrics && err[0]){
		log_error("%s", err);
		goto out;
	}
	svc.queue = calloc(LAST_SEEN_QUEUE_MAX, sizeof(*svc.queue));
	svc.presence = presence_new(&popts, &sink);
	svc.requests.presence = svc.presence;
	svc.requests.db_get = db_get;
	svc.requests.db_failed = db_failed;
	svc.requests.reply = reply;
	svc.requests.ud = &svc;
	svc.mqtt = mqtt_svc_new(&mqtt_opts, on_message, NULL, on_idle, &svc, err, sizeof(err));
	if(!svc.presence || !svc.mqtt || !svc.queue){
		log_error("cannot start: %s", svc.mqtt ? "out of memory" : err);
		goto out;
	}
	log_info("started: coalesce %ld ms, min interval %ld ms, node timeout %ld ms, startup hold %ld ms, typing ttl %ld ms",
			popts.coalesce_ms, popts.min_interval_ms, popts.node_timeout_ms, popts.startup_hold_ms, popts.typing_ttl_ms);
	mqtt_svc_run(svc.mqtt, &stop_requested);
	flush_last_seen(&svc);
	log_stats(&svc, "stopping");
	rc = 0;
out:
	mqtt_svc_free(svc.mqtt);
	presence_metrics_stop(svc.metrics);
	presence_free(svc.presence);
	db_close(svc.db);
	free(svc.queue);
	config_free(cfg);
	return rc;
}
