/* main.c: history-svc entry point. Usage: history-svc -c FILE
 * FILE holds db_* and mqtt_* settings and mqtt_persistence_dir (see
 * docs/ADMIN.md). Messages are taken from the hub through a durable Paho
 * consumer (mqtt_durable.h): each is checked (room_msg.h), written to the intake log
 * and queued for the group-commit thread (committer.h) before Paho may
 * acknowledge it. Requests are answered on Paho's thread once every
 * message taken before them is stored. Runs until SIGTERM or SIGINT;
 * reconnects to the broker and MariaDB with backoff. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "committer.h"
#include "config.h"
#include "history.h"
#include "history_metrics.h"
#include "log.h"
#include "outbox.h"
#include "proto.h"
#include "reply_queue.h"
#include "request_db.h"
#include "requests.h"
#include "retention.h"
#include "room_msg.h"
#include "topics.h"

static volatile sig_atomic_t stop_requested;

/* Paho 1.3's receive thread sleeps 100 ms whenever its socket has been
 * quiet for a second (MQTTAsync_cycle: a poll of 1,000 ms that times out,
 * then MQTTAsync_sleep(100)); a request arriving then waits up to 100 ms
 * (the p99.9 of docs/BENCHMARKS.md (5)). So the main thread publishes a
 * QoS 0 "wake" to a topic of this instance's own (docs/PROTOCOL.md 2:
 * chat/v1/sys/wake/{client id}, services only, no bridge carries it) every
 * WAKE_MS, and the socket is never quiet that long. */
#define WAKE_MS 400
#define WAKE_TOPIC_FMT TOPIC_PREFIX "/sys/wake/%s"

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static char wake_topic[NAME_MSGID_MAX + 32];

/* On Paho's receive thread. Returning 0 keeps the message for later. */
static int on_message(void *ud, const char *topic, const void *payload, size_t len)
{
	struct history_svc *svc = ud;
	struct topic_parts parts;
	struct room_msg checked;
	struct room_msg_refusal why;
	int handled = 1;

	if(!strcmp(topic, wake_topic)) return 1;
	switch(topic_parse(topic, &parts)){
	case TOPIC_ROOM_MSG:
		if(room_msg_check(&svc->intake_limits, payload, len, &checked, &why) == 0){
			handled = committer_take(svc->committer, parts.room, parts.user, &checked);
			if(handled) history_metrics_taken(svc->metrics);
			room_msg_free(&checked);
		}else{
			pthread_mutex_lock(&svc->lock);
			outbox_message_error(svc, parts.user, parts.room, why.msg_id[0] ? why.msg_id : NULL,
					why.code, why.message);
			pthread_mutex_unlock(&svc->lock);
		}
		break;
	case TOPIC_USER_REQ:
		if(strcmp(parts.service, "history")) break;
		history_metrics_request(svc->metrics);
		/* Answer as if messages were stored one by one: a request sent after
		 * a message sees it (history, unread counts). */
		if(!committer_wait_stored(svc->committer, 2000)) log_warn("answering a request while messages still wait for MariaDB");
		pthread_mutex_lock(&svc->lock);
		requests_handle(svc, parts.user, payload, len);
		pthread_mutex_unlock(&svc->lock);
		break;
	default:
		log_warn("ignoring a message on unexpected topic %s", topic);
		break;
	}
	if(!handled){
		/* Paho offers it again right away: let the committer catch up first. */
		usleep(100 * 1000);
	}
	return handled;
}

static void report_counters(struct history_svc *svc)
{
	log_info("stored %lu, duplicates %lu, rejected %lu, requests %lu (errors %lu)",
			svc->counters.stored, svc->counters.duplicates, svc->counters.rejected,
			svc->counters.requests, svc->counters.request_errors);
}

static int load_config(const char *path, struct config **cfg_out, struct history_config *cfg)
{
	char err[512];
	long level;

	if(config_load(path, cfg_out, err, sizeof(err))) goto fail;
	if(db_opts_from_config(*cfg_out, "db_", &cfg->db, err, sizeof(err))) goto fail;
	if(mqtt_svc_opts_from_config(*cfg_out, &cfg->mqtt, err, sizeof(err))) goto fail;
	if(config_get_long(*cfg_out, "max_body_bytes", PROTO_MSG_BODY_MAX, 1, 60000, &cfg->max_body_bytes, err, sizeof(err))) goto fail;
	if(config_get_long(*cfg_out, "max_payload_bytes", PROTO_MSG_PAYLOAD_MAX, 64, 1048576, &cfg->max_payload_bytes, err, sizeof(err))) goto fail;
	if(config_get_long(*cfg_out, "membership_settle_ms", 1000, 0, 60000, &cfg->settle_ms, err, sizeof(err))) goto fail;
	if(config_get_long(*cfg_out, "retention_interval_s", 60, 1, 86400, &cfg->retention_interval_s, err, sizeof(err))) goto fail;
	if(config_get_long(*cfg_out, "store_batch_max", 1000, 1, 100000, &cfg->batch_max, err, sizeof(err))) goto fail;
	if(config_get_long(*cfg_out, "store_max_pending", 200000, 1, 10000000, &cfg->max_pending, err, sizeof(err))) goto fail;
	if(config_get_long(*cfg_out, "metrics_port", 0, 0, 65535, &cfg->metrics_port, err, sizeof(err))) goto fail;
	cfg->metrics_bind = config_get(*cfg_out, "metrics_bind", "127.0.0.1");
	cfg->persistence_dir = config_get(*cfg_out, "mqtt_persistence_dir", NULL);
	if(!cfg->persistence_dir){
		snprintf(err, sizeof(err), "mqtt_persistence_dir is required (a directory for messages in flight)");
		goto fail;
	}
	level = log_level_parse(config_get(*cfg_out, "log_level", "info"));
	if(level < 0){
		snprintf(err, sizeof(err), "log_level must be error, warn, info or debug");
		goto fail;
	}
	log_setup("history-svc", (enum log_level)level);
	return 0;
fail:
	log_error("configuration: %s", err);
	return -1;
}

int main(int argc, char **argv)
{
	struct config *cfg_file = NULL;
	struct history_svc svc;
	struct mqtt_durable_opts mopts;
	struct sigaction sa;
	const char *subscriptions[3];
	long long last_wake = 0;
	time_t last_report = time(NULL);
	time_t last_retention = time(NULL);
	char err[512];
	int rc = 1;

	memset(&svc, 0, sizeof(svc));
	pthread_mutex_init(&svc.lock, NULL);
	log_setup("history-svc", LOG_INFO);
	if(argc != 3 || strcmp(argv[1], "-c")){
		fprintf(stderr, "usage: history-svc -c CONFIG_FILE\n");
		return 2;
	}
	if(load_config(argv[2], &cfg_file, &svc.cfg)) goto out;
	svc.intake_limits.max_payload_bytes = svc.cfg.max_payload_bytes;
	svc.intake_limits.max_body_bytes = svc.cfg.max_body_bytes;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	svc.stop = &stop_requested;
	svc.metrics = history_metrics_start(svc.cfg.metrics_bind, svc.cfg.metrics_port, err, sizeof(err));
	if(!svc.metrics && err[0]){
		log_error("%s", err);
		goto out;
	}
	while(request_db_wait(&svc, 5000) && !stop_requested);
	if(stop_requested) goto out;
	memset(&mopts, 0, sizeof(mopts));
	mopts.host = svc.cfg.mqtt.host;
	mopts.port = svc.cfg.mqtt.port;
	mopts.client_id = svc.cfg.mqtt.client_id;
	mopts.username = svc.cfg.mqtt.username;
	mopts.password = svc.cfg.mqtt.password;
	mopts.persistence_dir = svc.cfg.persistence_dir;
	snprintf(wake_topic, sizeof(wake_topic), WAKE_TOPIC_FMT, svc.cfg.mqtt.client_id);
	subscriptions[0] = TOPIC_PREFIX "/rooms/+/msg/+";
	subscriptions[1] = TOPIC_PREFIX "/users/+/req/history";
	subscriptions[2] = wake_topic;
	mopts.subscriptions = subscriptions;
	mopts.subscription_count = (int)(sizeof(subscriptions) / sizeof(subscriptions[0]));
	{
		char out_id[NAME_MSGID_MAX + 8];
		snprintf(out_id, sizeof(out_id), "%s-out", svc.cfg.mqtt.client_id);
		svc.out = mqtt_pub_new(svc.cfg.mqtt.host, svc.cfg.mqtt.port, out_id, svc.cfg.mqtt.username,
				svc.cfg.mqtt.password, err, sizeof(err));
		if(!svc.out){
			log_error("%s", err);
			goto out;
		}
	}
	{
		struct committer_opts copts = {
			.dir = svc.cfg.persistence_dir,
			.batch_max = svc.cfg.batch_max,
			.max_pending = svc.cfg.max_pending,
			.rotate_bytes = 16L * 1024 * 1024,
		};
		svc.committer = committer_start(&svc, &copts, err, sizeof(err));
		if(!svc.committer){
			log_error("%s", err);
			goto out;
		}
	}
	svc.mqtt = mqtt_durable_new(&mopts, on_message, &svc, err, sizeof(err));
	if(!svc.mqtt || mqtt_durable_start(svc.mqtt, err, sizeof(err))){
		log_error("%s", err);
		goto out;
	}
	log_info("started");
	while(!stop_requested){
		usleep(100 * 1000);
		pthread_mutex_lock(&svc.lock);
		if(clock_mono_ms() - last_wake >= WAKE_MS){
			last_wake = clock_mono_ms();
			/* While the broker is away, one warning per 10 s, not per wake. */
			if(mqtt_pub_send(svc.out, wake_topic, "", 0, 0, false)) last_wake += 10000;
		}
		reply_queue_flush(&svc);
		if(time(NULL) - last_report >= 60){
			last_report = time(NULL);
			report_counters(&svc);
		}
		pthread_mutex_unlock(&svc.lock);
		/* Outside the lock, on its own connection: storage goes on meanwhile. */
		if(time(NULL) - last_retention >= svc.cfg.retention_interval_s){
			last_retention = time(NULL);
			retention_pass(&svc, 2000);
		}
	}
	log_info("stopping");
	report_counters(&svc);
	rc = 0;
out:
	/* Stop Paho first: its thread must not run a handler on a freed db. */
	mqtt_durable_free(svc.mqtt);
	/* Then the committer: its batch in hand is stored and reported. */
	committer_stop(svc.committer);
	mqtt_pub_free(svc.out);
	reply_queue_clear(&svc);
	db_close(svc.db);
	db_close(svc.retention_db);
	history_metrics_stop(svc.metrics);
	config_free(cfg_file);
	pthread_mutex_destroy(&svc.lock);
	return rc;
}
