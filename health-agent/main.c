/* main.c: health-agent, the per-node answer to HAProxy's agent-check
 * (docs/ADMIN.md, "Health check").
 *   health-agent -c FILE
 * It round-trips a probe through its broker every probe_interval_ms (see
 * probe.h) and answers each TCP connection on agent_bind:agent_port with one
 * line and closes it: "up" while the last probe came back at most stale_ms
 * ago, otherwise "down #<why>" (HAProxy takes '#' as the start of the
 * description only at the start of a word). HAProxy marks the server DOWN
 * on the first "down" and UP again on the first "up" (while its TCP check
 * passes).
 * Configuration ("key = value"): mqtt_host, mqtt_port, mqtt_user,
 * mqtt_password, node, agent_bind (127.0.0.1), agent_port (0: any free
 * port), port_file (where the port listened on is written, for the script
 * that writes HAProxy's configuration), probe_interval_ms (250),
 * stale_ms (1500), keepalive_s (5), log_level, metrics_port (0: no
 * Prometheus metrics) and metrics_bind (127.0.0.1), docs/ADMIN.md "Metrics". */
#include <errno.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <mosquitto.h>

#include "clock.h"
#include "config.h"
#include "log.h"
#include "metrics.h"
#include "names.h"
#include "probe.h"

struct agent_config {
	struct probe_settings mqtt;
	const char *bind;
	const char *port_file;
	long agent_port;
	long probe_interval_ms;
	long stale_ms;
	long metrics_port;
	const char *metrics_bind;
};

/* The agent's metrics; all NULL when metrics_port is unset. */
struct agent_metrics {
	struct metrics *registry;
	struct metric *probes_sent;
	struct metric *answers[2]; /* down, up */
	struct probe *probe;       /* read by the server's thread: probe_age_ms locks briefly */
};

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

/* Fills out from cfg (strings stay owned by cfg). 0, or -1 after logging. */
static int read_config(const struct config *cfg, struct agent_config *out)
{
	char err[256];
	long port = 0, keepalive = 0;
	int rc = -1;

	out->mqtt.host = config_get(cfg, "mqtt_host", "127.0.0.1");
	out->mqtt.user = config_get(cfg, "mqtt_user", NULL);
	out->mqtt.password = config_get(cfg, "mqtt_password", NULL);
	out->mqtt.node = config_get(cfg, "node", NULL);
	out->bind = config_get(cfg, "agent_bind", "127.0.0.1");
	out->port_file = config_get(cfg, "port_file", NULL);
	out->metrics_bind = config_get(cfg, "metrics_bind", "127.0.0.1");
	if(config_get_long(cfg, "mqtt_port", 1883, 1, 65535, &port, err, sizeof(err))
			|| config_get_long(cfg, "agent_port", 0, 0, 65535, &out->agent_port, err, sizeof(err))
			|| config_get_long(cfg, "probe_interval_ms", 250, 10, 60000, &out->probe_interval_ms, err, sizeof(err))
			|| config_get_long(cfg, "stale_ms", 1500, 50, 600000, &out->stale_ms, err, sizeof(err))
			|| config_get_long(cfg, "keepalive_s", 5, 5, 3600, &keepalive, err, sizeof(err))
			|| config_get_long(cfg, "metrics_port", 0, 0, 65535, &out->metrics_port, err, sizeof(err))){
		log_error("%s", err);
		goto out;
	}
	out->mqtt.port = (int)port;
	out->mqtt.keepalive_s = (int)keepalive;
	if(!out->mqtt.user || !out->mqtt.password){
		log_error("mqtt_user and mqtt_password are required");
		goto out;
	}
	if(!out->mqtt.node || !name_node_valid(out->mqtt.node) || !name_user_valid(out->mqtt.user)){
		log_error("node (a valid node name) is required and mqtt_user must be a valid user name");
		goto out;
	}
	rc = 0;
out:
	return rc;
}

/* A listening TCP socket on bind:port, or -1 after logging. */
static int listen_on(const char *bind_addr, long port)
{
	struct sockaddr_in addr;
	int fd = -1, one = 1, rc = -1;

	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_port = htons((unsigned short)port);
	if(inet_pton(AF_INET, bind_addr, &addr.sin_addr) != 1){
		log_error("agent_bind %s is not an IPv4 address", bind_addr);
		goto out;
	}
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if(fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one))
			|| bind(fd, (struct sockaddr *)&addr, sizeof(addr)) || listen(fd, 16)){
		log_error("cannot listen on %s:%ld: %s", bind_addr, port, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if(rc && fd >= 0){
		close(fd);
		fd = -1;
	}
	return fd;
}

/* The port fd listens on, written to path (through a temporary file, so that
 * a reader never sees half a number). 0, or -1 after logging. */
static int write_port_file(int fd, const char *path)
{
	struct sockaddr_in addr;
	socklen_t len = sizeof(addr);
	char tmp[4096];
	FILE *f = NULL;
	int rc = -1;

	if(getsockname(fd, (struct sockaddr *)&addr, &len)){
		log_error("getsockname: %s", strerror(errno));
		goto out;
	}
	if(snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)){
		log_error("port_file path too long");
		goto out;
	}
	f = fopen(tmp, "w");
	if(!f || fprintf(f, "%u\n", (unsigned)ntohs(addr.sin_port)) < 0){
		log_error("cannot write %s: %s", tmp, strerror(errno));
		goto out;
	}
	rc = fclose(f);
	f = NULL;
	if(rc){
		rc = -1;
		log_error("cannot write %s: %s", tmp, strerror(errno));
		goto out;
	}
	rc = -1;
	if(rename(tmp, path)){
		log_error("cannot rename %s to %s: %s", tmp, path, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if(f) fclose(f);
	return rc;
}

/* Writes the verdict line for the probe's state into buf; returns 1 for up. */
static int verdict(struct probe *probe, const struct agent_config *conf, char *buf, size_t len)
{
	long long age = probe_age_ms(probe, clock_mono_ms());

	if(age >= 0 && age <= conf->stale_ms){
		snprintf(buf, len, "up\n");
		return 1;
	}
	if(age < 0) snprintf(buf, len, "down #no probe came back through %s yet\n", conf->mqtt.node);
	else snprintf(buf, len, "down #no probe came back through %s for %lld ms\n", conf->mqtt.node, age);
	return 0;
}

/* Seconds since the last probe came back, -1 before the first. On the
 * metrics server's thread. */
static double probe_age_s(void *arg)
{
	struct agent_metrics *am = arg;
	long long age = probe_age_ms(am->probe, clock_mono_ms());

	return age < 0 ? -1 : (double)age / 1000.0;
}

/* Registers the metrics and serves them. 0 (also when off), or -1 after logging. */
static int metrics_start(struct agent_metrics *am, const struct agent_config *conf, struct probe *probe)
{
	static const char answers_help[] = "Answers given to HAProxy's agent-check, by verdict.";
	char err[256];
	int rc = -1;

	memset(am, 0, sizeof(*am));
	if(conf->metrics_port == 0) return 0;
	am->probe = probe;
	am->registry = metrics_new();
	am->probes_sent = metrics_counter(am->registry, "chat_health_probes_sent_total",
			"Probes published through the broker.", NULL, NULL);
	am->answers[0] = metrics_counter(am->registry, "chat_health_answers_total", answers_help, "verdict", "down");
	am->answers[1] = metrics_counter(am->registry, "chat_health_answers_total", answers_help, "verdict", "up");
	if(!metrics_gauge_fn(am->registry, "chat_health_probe_age_seconds",
				"Seconds since the last probe came back through the broker (-1: none yet); above stale_ms the agent answers down.",
				NULL, NULL, probe_age_s, am) || !am->probes_sent || !am->answers[1]){
		log_error("metrics: out of memory");
		goto out;
	}
	if(metrics_serve(am->registry, conf->metrics_bind, (int)conf->metrics_port, err, sizeof(err))){
		log_error("%s", err);
		goto out;
	}
	rc = 0;
out:
	return rc;
}

/* Answers one HAProxy connection and closes it. The line is short enough for
 * a fresh socket's buffer: the write does not block. */
static void answer(int listen_fd, struct probe *probe, const struct agent_config *conf, int *was_up,
		struct agent_metrics *am)
{
	char line[160];
	int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	int up;

	if(fd < 0) return;
	up = verdict(probe, conf, line, sizeof(line));
	metric_inc(am->answers[up]);
	if(up != *was_up){
		log_info("%s is now %s", conf->mqtt.node, up ? "up" : "down");
		*was_up = up;
	}
	if(write(fd, line, strlen(line)) < 0) log_debug("agent answer not sent: %s", strerror(errno));
	close(fd);
}

int main(int argc, char **argv)
{
	struct config *cfg = NULL;
	struct agent_config conf;
	struct probe *probe = NULL;
	struct agent_metrics am;
	struct sigaction sa;
	char err[256];
	int listen_fd = -1, was_up = -1, rc = 1, level;
	long long next_probe;

	log_setup("health-agent", LOG_INFO);
	memset(&am, 0, sizeof(am));
	if(argc != 3 || strcmp(argv[1], "-c")){
		fprintf(stderr, "usage: health-agent -c FILE\n");
		return 2;
	}
	mosquitto_lib_init();
	if(config_load(argv[2], &cfg, err, sizeof(err))){
		log_error("%s", err);
		goto out;
	}
	level = log_level_parse(config_get(cfg, "log_level", "info"));
	if(level >= 0) log_setup("health-agent", (enum log_level)level);
	memset(&conf, 0, sizeof(conf));
	if(read_config(cfg, &conf)) goto out;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	listen_fd = listen_on(conf.bind, conf.agent_port);
	if(listen_fd < 0 || (conf.port_file && write_port_file(listen_fd, conf.port_file))) goto out;
	probe = probe_start(&conf.mqtt, err, sizeof(err));
	if(!probe){
		log_error("%s", err);
		goto out;
	}
	if(metrics_start(&am, &conf, probe)) goto out;
	log_info("answering HAProxy on %s for %s (broker %s:%d)", conf.bind,
			conf.mqtt.node, conf.mqtt.host, conf.mqtt.port);
	next_probe = clock_mono_ms();
	while(!stop_requested){
		struct pollfd pfd = { .fd = listen_fd, .events = POLLIN };
		long long now = clock_mono_ms();
		int wait_ms;

		if(now >= next_probe){
			if(probe_send(probe) == 0) metric_inc(am.probes_sent);
			next_probe = now + conf.probe_interval_ms;
		}
		wait_ms = (int)(next_probe - now);
		if(poll(&pfd, 1, wait_ms > 0 ? wait_ms : 0) > 0 && (pfd.revents & POLLIN)){
			answer(listen_fd, probe, &conf, &was_up, &am);
		}
	}
	log_info("stopping");
	rc = 0;
out:
	/* The server reads the probe: it stops first. */
	metrics_free(am.registry);
	probe_free(probe);
	if(listen_fd >= 0) close(listen_fd);
	mosquitto_lib_cleanup();
	config_free(cfg);
	return rc;
}
