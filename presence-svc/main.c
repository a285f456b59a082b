/* main.c: presence-svc entry point. Usage: presence-svc -c FILE
 * Subscribes on the hub to the auth plugin's connection events from every
 * node, publishes retained presence per user and stores last-seen times.
 * Runs until SIGTERM or SIGINT. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "db.h"
#include "log.h"
#include "mqtt_svc.h"
#include "presence.h"
#include "topics.h"

struct presence_svc {
	struct db_opts db_opts;
	struct db *db;
	struct mqtt_svc *mqtt;
	struct presence *presence;
};

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static const char *const subscriptions[] = { TOPIC_PREFIX "/sys/conn/+" };

static void publish_presence(void *ud, const char *user, const char *json)
{
	struct presence_svc *svc = ud;
	char topic[TOPIC_MAX];

	if(topic_presence(topic, sizeof(topic), user)) return;
	mqtt_svc_publish(svc->mqtt, topic, json, strlen(json), 1, true);
}

/* Last-seen is best effort: a database outage must not stop presence. */
static void store_last_seen(void *ud, const char *user, const char *sql_ts)
{
	struct presence_svc *svc = ud;
	struct db_param params[2];
	char err[512];

	for(int attempt = 0; attempt < 2; attempt++){
		if(!svc->db){
			svc->db = db_open(&svc->db_opts, err, sizeof(err));
			if(!svc->db){
				log_warn("last-seen of %s not stored: %s", user, err);
				return;
			}
		}
		params[0] = DB_STR(sql_ts);
		params[1] = DB_STR(user);
		if(db_exec(svc->db, "INSERT INTO last_seen (user_id, seen_at) SELECT id, ? FROM users WHERE username = ?"
					" ON DUPLICATE KEY UPDATE seen_at = VALUES(seen_at)",
					params, 2, NULL, NULL, NULL, NULL) == DB_OK) return;
		log_warn("last-seen of %s: %s", user, db_error(svc->db));
		db_close(svc->db);
		svc->db = NULL;
	}
}

static void on_message(void *ud, const char *topic, const void *payload, size_t len)
{
	struct presence_svc *svc = ud;
	struct topic_parts parts;

	if(topic_parse(topic, &parts) != TOPIC_SYS_CONN){
		log_warn("ignoring a message on unexpected topic %s", topic);
		return;
	}
	if(presence_apply_event(svc->presence, parts.node, payload, len)){
		log_warn("ignoring a malformed connection event on %s", topic);
	}
}

int main(int argc, char **argv)
{
	struct config *cfg = NULL;
	struct presence_svc svc;
	struct mqtt_svc_opts mqtt_opts;
	struct sigaction sa;
	char err[512];
	long level;
	int rc = 1;

	memset(&svc, 0, sizeof(svc));
	log_setup("presence-svc", LOG_INFO);
	if(argc != 3 || strcmp(argv[1], "-c")){
		fprintf(stderr, "usage: presence-svc -c CONFIG_FILE\n");
		return 2;
	}
	if(config_load(argv[2], &cfg, err, sizeof(err))
			|| db_opts_from_config(cfg, "db_", &svc.db_opts, err, sizeof(err))
			|| mqtt_svc_opts_from_config(cfg, &mqtt_opts, err, sizeof(err))){
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
	mqtt_opts.subscription_count = 1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	svc.presence = presence_new(publish_presence, store_last_seen, &svc);
	svc.mqtt = mqtt_svc_new(&mqtt_opts, on_message, NULL, NULL, &svc, err, sizeof(err));
	if(!svc.presence || !svc.mqtt){
		log_error("cannot start: %s", svc.mqtt ? "out of memory" : err);
		goto out;
	}
	log_info("started");
	mqtt_svc_run(svc.mqtt, &stop_requested);
	log_info("stopping: %zu users online on %zu connections", presence_users_online(svc.presence),
			presence_connections(svc.presence));
	rc = 0;
out:
	mqtt_svc_free(svc.mqtt);
	presence_free(svc.presence);
	db_close(svc.db);
	config_free(cfg);
	return rc;
}
