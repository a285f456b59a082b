/* main.c: history-svc entry point. Usage: history-svc -c FILE
 * FILE holds db_* and mqtt_* settings (see docs/ADMIN.md). Runs until
 * SIGTERM or SIGINT, reconnecting to the broker and MariaDB with backoff. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cJSON.h>

#include "config.h"
#include "history.h"
#include "json_util.h"
#include "log.h"
#include "reply_queue.h"
#include "requests.h"
#include "store.h"
#include "topics.h"

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static const char *const subscriptions[] = {
	TOPIC_PREFIX "/rooms/+/msg/+",
	TOPIC_PREFIX "/users/+/req/history",
};

void history_send_inbox(struct history_svc *svc, const char *user, const void *obj)
{
	char topic[TOPIC_MAX];
	char *text = json_print(obj);

	if(!text) return;
	if(topic_user_inbox(topic, sizeof(topic), user) == 0){
		mqtt_svc_publish(svc->mqtt, topic, text, strlen(text), 1, false);
	}
	cJSON_free(text);
}

int history_db_wait(struct history_svc *svc)
{
	long backoff_ms = 200;
	char err[512];

	while(!svc->db){
		if(*svc->stop) return -1;
		svc->db = db_open(&svc->cfg.db, err, sizeof(err));
		if(svc->db){
			log_info("connected to MariaDB");
			break;
		}
		log_warn("%s; retrying in %ld ms", err, backoff_ms);
		for(long waited = 0; waited < backoff_ms && !*svc->stop; waited += 100) usleep(100 * 1000);
		backoff_ms = backoff_ms * 2 > 5000 ? 5000 : backoff_ms * 2;
	}
	return 0;
}

static void on_message(void *ud, const char *topic, const void *payload, size_t len)
{
	struct history_svc *svc = ud;
	struct topic_parts parts;

	switch(topic_parse(topic, &parts)){
	case TOPIC_ROOM_MSG:
		store_handle_message(svc, parts.room, parts.user, payload, len);
		break;
	case TOPIC_USER_REQ:
		if(!strcmp(parts.service, "history")) requests_handle(svc, parts.user, payload, len);
		break;
	default:
		log_warn("ignoring a message on unexpected topic %s", topic);
		break;
	}
}

static void on_idle(void *ud)
{
	static time_t last_report;
	struct history_svc *svc = ud;
	time_t now = time(NULL);

	reply_queue_flush(svc);
	if(now - last_report < 60) return;
	last_report = now;
	log_info("stored %lu, duplicates %lu, rejected %lu, requests %lu (errors %lu)",
			svc->counters.stored, svc->counters.duplicates, svc->counters.rejected,
			svc->counters.requests, svc->counters.request_errors);
}

static int load_config(const char *path, struct config **cfg_out, struct history_config *cfg)
{
	char err[512];
	long level;
	int rc = -1;

	if(config_load(path, cfg_out, err, sizeof(err))) goto fail;
	if(db_opts_from_config(*cfg_out, "db_", &cfg->db, err, sizeof(err))) goto fail;
	if(mqtt_svc_opts_from_config(*cfg_out, &cfg->mqtt, err, sizeof(err))) goto fail;
	if(config_get_long(*cfg_out, "max_body_bytes", 4000, 1, 60000, &cfg->max_body_bytes, err, sizeof(err))) goto fail;
	if(config_get_long(*cfg_out, "max_payload_bytes", 16384, 64, 1048576, &cfg->max_payload_bytes, err, sizeof(err))) goto fail;
	if(config_get_long(*cfg_out, "membership_settle_ms", 1000, 0, 60000, &cfg->settle_ms, err, sizeof(err))) goto fail;
	level = log_level_parse(config_get(*cfg_out, "log_level", "info"));
	if(level < 0){
		snprintf(err, sizeof(err), "log_level must be error, warn, info or debug");
		goto fail;
	}
	log_setup("history-svc", (enum log_level)level);
	cfg->mqtt.clean_session = false; /* the broker keeps our queue while we are away */
	cfg->mqtt.subscriptions = subscriptions;
	cfg->mqtt.subscription_count = (int)(sizeof(subscriptions) / sizeof(subscriptions[0]));
	rc = 0;
	return rc;
fail:
	log_error("configuration: %s", err);
	return rc;
}

int main(int argc, char **argv)
{
	struct config *cfg_file = NULL;
	struct history_svc svc;
	struct sigaction sa;
	char err[512];
	int rc = 1;

	memset(&svc, 0, sizeof(svc));
	log_setup("history-svc", LOG_INFO);
	if(argc != 3 || strcmp(argv[1], "-c")){
		fprintf(stderr, "usage: history-svc -c CONFIG_FILE\n");
		return 2;
	}
	if(load_config(argv[2], &cfg_file, &svc.cfg)) goto out;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	svc.stop = &stop_requested;
	if(history_db_wait(&svc)) goto out;
	svc.mqtt = mqtt_svc_new(&svc.cfg.mqtt, on_message, NULL, on_idle, &svc, err, sizeof(err));
	if(!svc.mqtt){
		log_error("%s", err);
		goto out;
	}
	log_info("started");
	mqtt_svc_run(svc.mqtt, &stop_requested);
	log_info("stopping: stored %lu, duplicates %lu, rejected %lu", svc.counters.stored,
			svc.counters.duplicates, svc.counters.rejected);
	rc = 0;
out:
	reply_queue_clear(&svc);
	mqtt_svc_free(svc.mqtt);
	db_close(svc.db);
	config_free(cfg_file);
	return rc;
}
