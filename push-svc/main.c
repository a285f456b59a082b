/* main.c: push-svc entry point. Usage: push-svc -c FILE
 * Subscribes on the hub to push requests (chat/v1/users/+/req/push),
 * presence (chat/v1/presence/+) and history-svc's stored hints
 * (chat/v1/sys/stored); sends Web Push notifications to the subscriptions of
 * users who are offline (push.h has the flow). Runs until SIGTERM or
 * SIGINT. Keys besides the common db_* and mqtt_* ones (docs/ADMIN.md,
 * "push-svc"): vapid_key_file, vapid_subject (required); window_ms, ttl_s,
 * request_timeout_ms, max_attempts, max_in_flight, rescan_s,
 * startup_hold_ms, max_subscriptions, preview_bytes, vapid_lifetime_s,
 * allow_http_loopback, metrics_port, metrics_bind, log_level. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "config.h"
#include "dispatch.h"
#include "feed.h"
#include "log.h"
#include "metrics.h"
#include "mqtt_svc.h"
#include "online.h"
#include "push.h"
#include "requests.h"
#include "sender.h"
#include "topics.h"
#include "webpush.h"

#define LOG_PRUNE_INTERVAL_MS 3600000LL

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static const char *const subscriptions[] = {
	TOPIC_PREFIX "/users/+/req/push",
	TOPIC_PREFIX "/presence/+",
	TOPIC_SYS_STORED,
};

struct loop {
	struct push_svc *svc;
	struct dispatch *dispatch;
	long long next_prune_ms;
};

static void on_connected(void *ud)
{
	struct loop *loop = ud;
	long long now = clock_mono_ms();

	/* Retained presence arrives right after subscribing: the first scan
	 * and the first push wait for it. */
	loop->svc->connected_ms = now;
	loop->svc->next_rescan_ms = now + loop->svc->cfg.startup_hold_ms;
}

/* push_log keeps 7 days of pushes. */
static void prune_log(struct push_svc *svc)
{
	struct db *db = push_db_get(svc);

	if(db && db_exec(db, "DELETE FROM push_log WHERE sent_at < NOW() - INTERVAL 7 DAY", NULL, 0, NULL, NULL,
			NULL, NULL) != DB_OK){
		push_db_failed(svc);
	}
}

static void on_idle(void *ud)
{
	struct loop *loop = ud;
	struct push_svc *svc = loop->svc;
	long long now = clock_mono_ms();

	feed_flush(svc);
	if(mqtt_svc_connected(svc->mqtt) && svc->connected_ms && now >= svc->next_rescan_ms){
		svc->next_rescan_ms = now + svc->cfg.rescan_s * 1000;
		if(feed_rescan(svc)) svc->next_rescan_ms = now + 1000;
	}
	dispatch_tick(loop->dispatch);
	if(now >= loop->next_prune_ms){
		loop->next_prune_ms = now + LOG_PRUNE_INTERVAL_MS;
		prune_log(svc);
	}
}

static void on_message(void *ud, const char *topic, const void *payload, size_t len)
{
	struct loop *loop = ud;
	struct push_svc *svc = loop->svc;
	struct topic_parts parts;

	if(!strcmp(topic, TOPIC_SYS_STORED)){
		feed_hint(svc, payload, len);
		return;
	}
	switch(topic_parse(topic, &parts)){
	case TOPIC_USER_REQ:
		if(!strcmp(parts.service, "push")) push_request(svc, parts.user, payload, len);
		break;
	case TOPIC_PRESENCE:
		if(online_update(svc->online, parts.user, payload, len) == 1) feed_user_online(svc, parts.user);
		break;
	default:
		log_warn("ignoring a message on unexpected topic %s", topic);
	}
}

static int read_config(const struct config *cfg, struct push_config *c, char *err, size_t errlen)
{
	long allow_http;

	memset(c, 0, sizeof(*c));
	if(db_opts_from_config(cfg, "db_", &c->db, err, errlen)
			|| config_get_long(cfg, "window_ms", 10000, 0, 3600000, &c->window_ms, err, errlen)
			|| config_get_long(cfg, "ttl_s", 86400, 0, 2419200, &c->ttl_s, err, errlen)
			|| config_get_long(cfg, "request_timeout_ms", 15000, 100, 600000, &c->timeout_ms, err, errlen)
			|| config_get_long(cfg, "max_attempts", 8, 1, 100, &c->max_attempts, err, errlen)
			|| config_get_long(cfg, "max_in_flight", 256, 1, 100000, &c->max_in_flight, err, errlen)
			|| config_get_long(cfg, "rescan_s", 60, 1, 86400, &c->rescan_s, err, errlen)
			|| config_get_long(cfg, "startup_hold_ms", 1500, 0, 60000, &c->startup_hold_ms, err, errlen)
			|| config_get_long(cfg, "max_subscriptions", 10, 1, 1000, &c->max_subscriptions, err, errlen)
			|| config_get_long(cfg, "preview_bytes", 200, 0, 2000, &c->preview_bytes, err, errlen)
			|| config_get_long(cfg, "vapid_lifetime_s", 43200, 60, 86400, &c->vapid_lifetime_s, err, errlen)
			|| config_get_long(cfg, "allow_http_loopback", 0, 0, 1, &allow_http, err, errlen)){
		return -1;
	}
	c->allow_http = (int)allow_http;
	return 0;
}

static int metrics_start(struct push_svc *svc, const struct config *cfg, char *err, size_t errlen)
{
	static const double latency_bounds[] = { 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30 };
	struct push_metrics *m = &svc->m;
	long port;

	err[0] = '\0';
	if(config_get_long(cfg, "metrics_port", 0, 0, 65535, &port, err, errlen)) return -1;
	if(port == 0) return 0;
	m->registry = metrics_new();
	m->sent = metrics_counter(m->registry, "chat_push_sent_total", "Pushes a push service accepted (2xx)", NULL, NULL);
	m->failed = metrics_counter(m->registry, "chat_push_failed_total",
			"Pushes given up: refused (4xx other than 404/410/429), out of attempts, or not buildable", NULL, NULL);
	m->pruned = metrics_counter(m->registry, "chat_push_pruned_total",
			"Subscriptions deleted because their push service answered 404 or 410", NULL, NULL);
	m->retried = metrics_counter(m->registry, "chat_push_retried_total",
			"Push attempts answered 429 or 5xx, or not answered, and tried again later", NULL, NULL);
	m->dropped_online = metrics_counter(m->registry, "chat_push_dropped_online_total",
			"Pushes owed to users who came online before they went (not sent)", NULL, NULL);
	m->queue_depth = metrics_gauge(m->registry, "chat_push_queue_depth",
			"Pushes due at the last look (subscription and room pairs)", NULL, NULL);
	m->in_flight = metrics_gauge(m->registry, "chat_push_in_flight", "HTTP requests to push services in flight",
			NULL, NULL);
	m->latency = metrics_histogram(m->registry, "chat_push_request_seconds",
			"Time from handing a push to the sender to its 2xx answer", NULL, NULL, latency_bounds,
			sizeof(latency_bounds) / sizeof(latency_bounds[0]));
	if(!m->registry || !m->sent || !m->latency){
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return metrics_serve(m->registry, config_get(cfg, "metrics_bind", "127.0.0.1"), (int)port, err, errlen);
}

int main(int argc, char **argv)
{
	struct config *cfg = NULL;
	struct push_svc svc;
	struct loop loop;
	struct mqtt_svc_opts mqtt_opts;
	struct sigaction sa;
	const char *key_file, *subject;
	char err[512];
	long level;
	int rc = 1;

	memset(&svc, 0, sizeof(svc));
	memset(&loop, 0, sizeof(loop));
	loop.svc = &svc;
	log_setup("push-svc", LOG_INFO);
	if(argc != 3 || strcmp(argv[1], "-c")){
		fprintf(stderr, "usage: push-svc -c CONFIG_FILE\n");
		return 2;
	}
	if(config_load(argv[2], &cfg, err, sizeof(err))
			|| read_config(cfg, &svc.cfg, err, sizeof(err))
			|| mqtt_svc_opts_from_config(cfg, &mqtt_opts, err, sizeof(err))){
		log_error("configuration: %s", err);
		goto out;
	}
	level = log_level_parse(config_get(cfg, "log_level", "info"));
	if(level < 0){
		log_error("configuration: log_level must be error, warn, info or debug");
		goto out;
	}
	log_setup("push-svc", (enum log_level)level);
	key_file = config_get(cfg, "vapid_key_file", NULL);
	subject = config_get(cfg, "vapid_subject", NULL);
	if(!key_file || !subject){
		log_error("configuration: vapid_key_file and vapid_subject are required (docs/ADMIN.md, \"push-svc\")");
		goto out;
	}
	svc.vapid = webpush_vapid_load(key_file, subject, err, sizeof(err));
	if(!svc.vapid){
		log_error("configuration: %s", err);
		goto out;
	}
	if(metrics_start(&svc, cfg, err, sizeof(err))){
		log_error("metrics: %s", err);
		goto out;
	}
	mqtt_opts.clean_session = false;
	mqtt_opts.subscriptions = subscriptions;
	mqtt_opts.subscription_count = (int)(sizeof(subscriptions) / sizeof(subscriptions[0]));
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	svc.online = online_new();
	svc.sender = sender_new(svc.cfg.timeout_ms, svc.cfg.allow_http, err, sizeof(err));
	loop.dispatch = dispatch_new(&svc);
	if(!svc.online || !svc.sender || !loop.dispatch){
		log_error("cannot start: %s", svc.sender ? "out of memory" : err);
		goto out;
	}
	svc.mqtt = mqtt_svc_new(&mqtt_opts, on_message, on_connected, on_idle, &loop, err, sizeof(err));
	if(!svc.mqtt){
		log_error("cannot start: %s", err);
		goto out;
	}
	log_info("started: window %ld ms, TTL %ld s, request timeout %ld ms, VAPID key %s%s", svc.cfg.window_ms,
			svc.cfg.ttl_s, svc.cfg.timeout_ms, webpush_vapid_public(svc.vapid),
			svc.cfg.allow_http ? ", http:// allowed on loopback" : "");
	mqtt_svc_run(svc.mqtt, &stop_requested);
	log_info("stopping: %u pushes in flight are abandoned (still owed: sent again at the next start)",
			dispatch_in_flight(loop.dispatch));
	rc = 0;
out:
	mqtt_svc_free(svc.mqtt);
	sender_free(svc.sender);
	dispatch_free(loop.dispatch);
	online_free(svc.online);
	metrics_free(svc.m.registry);
	webpush_vapid_free(svc.vapid);
	db_close(svc.db);
	free(svc.hinted);
	config_free(cfg);
	return rc;
}
