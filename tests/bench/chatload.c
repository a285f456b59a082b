/* chatload.c: the load generator of the benchmark suite (docs/BENCHMARKS.md).
 *
 * Simulates N chat users in R rooms over libmosquitto, logging in with user
 * names and passwords like real clients (so through the broker's auth plugin
 * when one is loaded). User i is PREFIX<i> in room ROOMPREFIX<i % R>; it
 * subscribes to chat/v1/rooms/ROOM/msg/+ and, if i < P, publishes protocol-v1
 * room messages to chat/v1/rooms/ROOM/msg/PREFIX<i>:
 *   {"id":"p<i>-<seq>","body":"xxx...","t":<send time, CLOCK_MONOTONIC ns>}
 * Receivers compute end-to-end latency from "t" (sender and receivers share
 * this process, hence this clock) and count every (publisher, seq) they see
 * in a bitmap, which yields lost and duplicated deliveries exactly.
 *
 * Modes:
 *   chat     the above: delivered throughput, latency percentiles, loss, dups
 *   connect  N clients connect (paced by --connect-rate, at most --max-pending
 *            handshakes at once), optionally stay idle --hold seconds, and
 *            leave: connects/s, CONNACK latency, refusals (also serves as the
 *            bad-login flood with a wrong password and --bind 127.0.0.2)
 *   history  one user sends history requests one after another to
 *            chat/v1/users/U/req/history and times each reply on its inbox
 *
 * Every loop is bounded in count (--max-msgs, --users, --requests) and in
 * time (--duration, --connect-timeout, --drain). Progress goes to stderr once
 * a second; the result is one JSON object on stdout (or --out FILE) and,
 * with --csv FILE, one appended CSV line. Clients are spread over --threads
 * worker threads, each driving its clients' sockets with poll(). */
#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <mosquitto.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "latency_hist.h"

enum mode { MODE_CHAT, MODE_CONNECT, MODE_HISTORY };
enum phase { PHASE_CONNECT, PHASE_RUN, PHASE_DRAIN, PHASE_HOLD, PHASE_STOP };
enum cstate { CS_NEW, CS_CONNECTING, CS_READY, CS_REFUSED, CS_FAILED, CS_CLOSED };

struct options {
	enum mode mode;
	const char *host;
	int port;
	int sub_port;             /* receivers connect here (bridge hop); 0 = port */
	const char *bind_address;
	const char *user_prefix;
	const char *user_list;    /* comma-separated names used in turn instead of PREFIX<i> */
	int user_offset;          /* first i of PREFIX<i> (several processes share a storm) */
	const char *room_prefix;
	const char *password;
	char **password_list;     /* --password-list: line k is the password of PREFIX<k> */
	long password_count;
	const char *client_prefix;
	int users, rooms, publishers, threads, qos, size, window, keepalive;
	double rate, connect_rate, duration, drain, hold, connect_timeout;
	long max_msgs;
	int max_pending;
	const char *history_room;
	long history_max_seq;
	int history_limit;
	long requests;
	const char *out, *csv, *label;
	bool pubs_no_sub;         /* publishers do not subscribe (bridge hop: receive only across it) */
};

struct worker;

struct client {
	struct mosquitto *mosq;
	struct worker *w;
	int index;
	int room;
	bool is_pub;
	bool is_sub;
	int sub_mid;
	enum cstate state;
	uint64_t connect_start_ns;
	uint64_t last_misc_ns;
	char user[64];
	char topic[160];
	/* publisher */
	uint64_t next_send_ns;
	uint32_t sent, inflight, acked;
	/* receiver: one bitmap per publisher of the room (room-local index) */
	uint8_t **seen;
	int local_pubs;
	/* history requester */
	long req_sent;
	uint64_t req_start_ns;
	char req_id[32];
};

struct worker {
	pthread_t thread;
	int id;
	struct client **clients;
	int n;
	int next_connect;
	uint64_t next_connect_ns;
	int pending;
	struct latency_hist lat;      /* end-to-end or request latency */
	struct latency_hist connack;  /* CONNECT to CONNACK */
	uint64_t delivered, duplicates, foreign, malformed, beyond_cap;
	uint64_t last_delivery_ns;
	uint64_t first_connect_ns, last_connack_ns;
};

static struct options opt;
static atomic_int phase = PHASE_CONNECT;
static atomic_bool interrupted;
static atomic_ulong n_ready, n_refused, n_failed, n_sent, n_acked, n_delivered, n_done_connect;
static uint64_t run_start_ns, run_end_ns;
static uint32_t per_pub_cap;
static char *body_text;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void on_interrupt(int sig)
{
	(void)sig;
	atomic_store(&interrupted, true);
}

/* Name of user i: from --user-list in turn, or PREFIX<i>. */
static void user_name(int i, char *buf, size_t len)
{
	if (opt.user_list) {
		int count = 1;
		for (const char *p = opt.user_list; *p; p++)
			count += *p == ',';
		int want = i % count;
		const char *p = opt.user_list;
		for (int k = 0; k < want; k++)
			p = strchr(p, ',') + 1;
		size_t n = strcspn(p, ",");
		if (n >= len)
			n = len - 1;
		memcpy(buf, p, n);
		buf[n] = '\0';
		return;
	}
	snprintf(buf, len, "%s%d", opt.user_prefix, opt.user_offset + i);
}

static void send_history_request(struct client *c)
{
	char topic[160];
	char *payload = NULL;
	cJSON *req = cJSON_CreateObject();
	if (!req)
		goto out;
	long before = 2 + (long)(random() % (opt.history_max_seq > 1 ? opt.history_max_seq - 1 : 1));
	snprintf(c->req_id, sizeof c->req_id, "r%ld", c->req_sent);
	cJSON_AddStringToObject(req, "op", "history");
	cJSON_AddStringToObject(req, "req_id", c->req_id);
	cJSON_AddStringToObject(req, "room", opt.history_room);
	cJSON_AddNumberToObject(req, "limit", opt.history_limit);
	cJSON_AddNumberToObject(req, "before", (double)before);
	payload = cJSON_PrintUnformatted(req);
	if (!payload)
		goto out;
	snprintf(topic, sizeof topic, "chat/v1/users/%s/req/history", c->user);
	c->req_start_ns = now_ns();
	c->req_sent++;
	if (mosquitto_publish(c->mosq, NULL, topic, (int)strlen(payload), payload, 1, false) == MOSQ_ERR_SUCCESS)
		atomic_fetch_add(&n_sent, 1);
out:
	free(payload);
	cJSON_Delete(req);
}

static void on_connect(struct mosquitto *mosq, void *obj, int rc)
{
	struct client *c = obj;
	struct worker *w = c->w;
	uint64_t t = now_ns();
	if (c->state == CS_CONNECTING)
		w->pending--;
	atomic_fetch_add(&n_done_connect, 1);
	if (rc != 0) {
		c->state = CS_REFUSED;
		lat_add(&w->connack, t - c->connect_start_ns);
		w->last_connack_ns = t;
		atomic_fetch_add(&n_refused, 1);
		mosquitto_disconnect(mosq);
		return;
	}
	lat_add(&w->connack, t - c->connect_start_ns);
	w->last_connack_ns = t;
	if (opt.mode == MODE_CONNECT) {
		c->state = CS_READY;
		atomic_fetch_add(&n_ready, 1);
		return;
	}
	if (opt.mode == MODE_HISTORY) {
		char inbox[160];
		snprintf(inbox, sizeof inbox, "chat/v1/users/%s/inbox", c->user);
		mosquitto_subscribe(mosq, &c->sub_mid, inbox, 1);
		return;
	}
	if (c->is_sub) {
		char filter[160];
		snprintf(filter, sizeof filter, "chat/v1/rooms/%s%d/msg/+", opt.room_prefix, c->room);
		mosquitto_subscribe(mosq, &c->sub_mid, filter, opt.qos);
	} else {
		c->state = CS_READY;
		atomic_fetch_add(&n_ready, 1);
	}
}

static void on_subscribe(struct mosquitto *mosq, void *obj, int mid, int qos_count, const int *granted)
{
	struct client *c = obj;
	(void)mosq;
	if (mid != c->sub_mid)
		return;
	if (qos_count < 1 || granted[0] > 2) {
		c->state = CS_FAILED;
		atomic_fetch_add(&n_failed, 1);
		return;
	}
	c->state = CS_READY;
	atomic_fetch_add(&n_ready, 1);
}

static void on_publish(struct mosquitto *mosq, void *obj, int mid)
{
	struct client *c = obj;
	(void)mosq;
	(void)mid;
	if (opt.mode != MODE_CHAT)
		return;
	if (c->inflight > 0)
		c->inflight--;
	c->acked++;
	atomic_fetch_add(&n_acked, 1);
}

static void on_chat_message(struct client *c, const struct mosquitto_message *msg, uint64_t t)
{
	struct worker *w = c->w;
	cJSON *root = cJSON_ParseWithLength(msg->payload, (size_t)msg->payloadlen);
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(root, "id");
	const cJSON *ts = cJSON_GetObjectItemCaseSensitive(root, "t");
	unsigned pub = 0, seq = 0;
	if (!cJSON_IsString(id) || !cJSON_IsNumber(ts) || sscanf(id->valuestring, "p%u-%u", &pub, &seq) != 2) {
		w->malformed++;
		goto out;
	}
	if ((int)(pub % (unsigned)opt.rooms) != c->room || pub >= (unsigned)opt.publishers) {
		w->foreign++;
		goto out;
	}
	int local = (int)(pub / (unsigned)opt.rooms);
	if (local >= c->local_pubs || seq >= per_pub_cap) {
		w->beyond_cap++;
		goto out;
	}
	uint8_t *bits = c->seen[local];
	if (bits[seq / 8] & (1u << (seq % 8))) {
		w->duplicates++;
		goto out;
	}
	bits[seq / 8] |= (uint8_t)(1u << (seq % 8));
	uint64_t sent = (uint64_t)ts->valuedouble;
	lat_add(&w->lat, t > sent ? t - sent : 0);
	w->delivered++;
	w->last_delivery_ns = t;
	atomic_fetch_add(&n_delivered, 1);
out:
	cJSON_Delete(root);
}

static void on_history_reply(struct client *c, const struct mosquitto_message *msg, uint64_t t)
{
	cJSON *root = cJSON_ParseWithLength(msg->payload, (size_t)msg->payloadlen);
	const cJSON *req_id = cJSON_GetObjectItemCaseSensitive(root, "req_id");
	const cJSON *ok = cJSON_GetObjectItemCaseSensitive(root, "ok");
	if (!cJSON_IsString(req_id) || strcmp(req_id->valuestring, c->req_id) != 0)
		goto out; /* a receipt or a stale reply */
	if (!cJSON_IsTrue(ok)) {
		c->w->malformed++;
	} else {
		lat_add(&c->w->lat, t - c->req_start_ns);
		c->w->delivered++;
		atomic_fetch_add(&n_delivered, 1);
	}
	c->w->last_delivery_ns = t;
	if (atomic_load(&phase) == PHASE_RUN && c->req_sent < opt.requests && t < run_end_ns)
		send_history_request(c);
out:
	cJSON_Delete(root);
}

static void on_message(struct mosquitto *mosq, void *obj, const struct mosquitto_message *msg)
{
	(void)mosq;
	uint64_t t = now_ns();
	if (opt.mode == MODE_CHAT)
		on_chat_message(obj, msg, t);
	else if (opt.mode == MODE_HISTORY)
		on_history_reply(obj, msg, t);
}

static void on_disconnect(struct mosquitto *mosq, void *obj, int rc)
{
	struct client *c = obj;
	(void)mosq;
	(void)rc;
	if (c->state == CS_CONNECTING) {
		/* closed before any CONNACK: counts as a failed connect */
		c->w->pending--;
		c->state = CS_FAILED;
		atomic_fetch_add(&n_failed, 1);
		atomic_fetch_add(&n_done_connect, 1);
	} else if (c->state == CS_READY) {
		c->state = CS_CLOSED;
	}
}

static void start_connect(struct client *c, uint64_t t)
{
	int port = opt.port;
	if (opt.mode == MODE_CHAT && !c->is_pub && opt.sub_port)
		port = opt.sub_port;
	c->connect_start_ns = t;
	c->last_misc_ns = t;
	if (c->w->first_connect_ns == 0)
		c->w->first_connect_ns = t;
	c->state = CS_CONNECTING;
	c->w->pending++;
	if (mosquitto_connect_bind_async(c->mosq, opt.host, port, opt.keepalive, opt.bind_address) != MOSQ_ERR_SUCCESS) {
		c->w->pending--;
		c->state = CS_FAILED;
		atomic_fetch_add(&n_failed, 1);
		atomic_fetch_add(&n_done_connect, 1);
	}
}

static void publish_one(struct client *c, uint64_t t)
{
	char id[48];
	char *payload = NULL;
	cJSON *msg = cJSON_CreateObject();
	if (!msg)
		goto out;
	snprintf(id, sizeof id, "p%d-%" PRIu32, c->index, c->sent);
	cJSON_AddStringToObject(msg, "id", id);
	cJSON_AddStringToObject(msg, "body", body_text);
	cJSON_AddNumberToObject(msg, "t", (double)t);
	payload = cJSON_PrintUnformatted(msg);
	if (!payload)
		goto out;
	int rc = mosquitto_publish(c->mosq, NULL, c->topic, (int)strlen(payload), payload, opt.qos, false);
	if (rc != MOSQ_ERR_SUCCESS)
		goto out;
	c->sent++;
	atomic_fetch_add(&n_sent, 1);
	if (opt.qos > 0)
		c->inflight++;
out:
	free(payload);
	cJSON_Delete(msg);
}

/* Sends what client c's schedule asks for by time t. */
static void publish_due(struct client *c, uint64_t t)
{
	if (!c->is_pub || c->state != CS_READY || t >= run_end_ns)
		return;
	uint64_t interval = opt.rate > 0 ? (uint64_t)(1e9 * opt.publishers / opt.rate) : 0;
	for (int burst = 0; burst < 64; burst++) {
		if (c->sent >= per_pub_cap || (opt.qos > 0 && c->inflight >= (uint32_t)opt.window))
			return;
		if (interval && t < c->next_send_ns)
			return;
		publish_one(c, t);
		if (interval) {
			c->next_send_ns += interval;
			if (c->next_send_ns + 100 * interval < t) /* far behind: do not burst forever */
				c->next_send_ns = t;
		} else if (opt.qos == 0 && burst >= 8) {
			return;
		}
	}
}

/* libmosquitto 2.0's loop_read reads about one packet per call; read until
 * the socket has nothing buffered (bounded, so one busy client cannot starve
 * the others of this worker). */
static void read_available(struct client *c)
{
	for (int i = 0; i < 1024; i++) {
		int sock = mosquitto_socket(c->mosq);
		int pending = 0;
		if (mosquitto_loop_read(c->mosq, 1) != MOSQ_ERR_SUCCESS || sock < 0)
			return;
		if (ioctl(sock, FIONREAD, &pending) != 0 || pending <= 0)
			return;
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct pollfd *fds = calloc((size_t)w->n + 1, sizeof *fds);
	struct client **polled = calloc((size_t)w->n + 1, sizeof *polled);
	uint64_t connect_interval = opt.connect_rate > 0 ? (uint64_t)(1e9 * opt.threads / opt.connect_rate) : 0;
	if (!fds || !polled)
		goto out;
	w->next_connect_ns = now_ns();
	bool history_started = false;
	for (;;) {
		int ph = atomic_load(&phase);
		if (ph == PHASE_STOP)
			break;
		uint64_t t = now_ns();
		while (ph == PHASE_CONNECT && w->next_connect < w->n && w->pending < opt.max_pending &&
				(!connect_interval || t >= w->next_connect_ns)) {
			start_connect(w->clients[w->next_connect++], t);
			if (connect_interval)
				w->next_connect_ns += connect_interval;
		}
		if (ph == PHASE_RUN) {
			if (opt.mode == MODE_CHAT) {
				for (int i = 0; i < w->n; i++)
					publish_due(w->clients[i], t);
			} else if (opt.mode == MODE_HISTORY && !history_started) {
				history_started = true;
				for (int i = 0; i < w->n; i++)
					if (w->clients[i]->state == CS_READY)
						send_history_request(w->clients[i]);
			}
		}
		int k = 0;
		for (int i = 0; i < w->n; i++) {
			struct client *c = w->clients[i];
			int sock = mosquitto_socket(c->mosq);
			if (sock < 0 || c->state == CS_NEW)
				continue;
			fds[k].fd = sock;
			fds[k].events = POLLIN | (mosquitto_want_write(c->mosq) ? POLLOUT : 0);
			fds[k].revents = 0;
			polled[k++] = c;
		}
		int timeout_ms = (ph == PHASE_HOLD) ? 50 : 1;
		if (k == 0) {
			struct timespec pause = {0, 1000000};
			nanosleep(&pause, NULL);
			continue;
		}
		int rc = poll(fds, (nfds_t)k, timeout_ms);
		if (rc < 0 && errno != EINTR)
			break;
		t = now_ns();
		for (int i = 0; i < k; i++) {
			struct client *c = polled[i];
			if (fds[i].revents & (POLLIN | POLLERR | POLLHUP))
				read_available(c);
			if (mosquitto_socket(c->mosq) >= 0 && (fds[i].revents & POLLOUT))
				mosquitto_loop_write(c->mosq, 64);
			if (t - c->last_misc_ns > 1000000000ull) {
				c->last_misc_ns = t;
				mosquitto_loop_misc(c->mosq);
			}
		}
	}
	for (int i = 0; i < w->n; i++) {
		struct client *c = w->clients[i];
		if (mosquitto_socket(c->mosq) >= 0) {
			mosquitto_disconnect(c->mosq);
			mosquitto_loop_write(c->mosq, 1);
		}
	}
out:
	free(fds);
	free(polled);
	return NULL;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: chatload [--mode chat|connect|history] [options]\n"
		"  --host H (127.0.0.1) --port P (1883) --sub-port P2 (receivers' broker)\n"
		"  --bind ADDR          source address of every socket\n"
		"  --users N (10) --rooms R (1) --publishers P (N) --user-prefix S (bench)\n"
		"  --user-list a,b,...  user names used in turn instead of PREFIX<i>\n"
		"  --user-offset K (0)  names start at PREFIX<K> (a storm shared by processes)\n"
		"  --room-prefix S (benchroom) --password-file F (or CHATLOAD_PASSWORD)\n"
		"  --password-list F    line k of F is the password (a token) of PREFIX<k>\n"
		"  --rate MSG/S (0: as fast as --window allows) --size BYTES (100) --qos 0|1|2 (1)\n"
		"  --window W (10) in-flight QoS>0 messages per publisher\n"
		"  --duration S (10) --max-msgs M (1000000) --drain S (5)\n"
		"  --connect-rate C (0: unpaced) --max-pending K (100) --connect-timeout S (60)\n"
		"  --hold S (0)         connect mode: stay connected and idle S seconds\n"
		"  --history-room R --history-max-seq S --history-limit L (50) --requests K (1000)\n"
		"  --pubs-no-sub        publishers only publish (receivers are the other users)\n"
		"  --threads T (2) --keepalive S (60) --client-prefix S --label S\n"
		"  --out FILE (JSON; default stdout) --csv FILE (append one line)\n");
}

static int parse_options(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"mode", 1, 0, 'm'}, {"host", 1, 0, 'h'}, {"port", 1, 0, 'p'}, {"sub-port", 1, 0, 'P'},
		{"bind", 1, 0, 'b'}, {"users", 1, 0, 'n'}, {"rooms", 1, 0, 'r'}, {"publishers", 1, 0, 'k'},
		{"user-prefix", 1, 0, 'u'}, {"user-list", 1, 0, 'U'}, {"user-offset", 1, 0, 'O'}, {"room-prefix", 1, 0, 'R'},
		{"password-file", 1, 0, 'F'}, {"rate", 1, 0, 'a'}, {"size", 1, 0, 's'}, {"qos", 1, 0, 'q'},
		{"window", 1, 0, 'w'}, {"duration", 1, 0, 'd'}, {"max-msgs", 1, 0, 'M'}, {"drain", 1, 0, 'D'},
		{"connect-rate", 1, 0, 'c'}, {"max-pending", 1, 0, 'x'}, {"connect-timeout", 1, 0, 'T'},
		{"hold", 1, 0, 'H'}, {"history-room", 1, 0, 1}, {"history-max-seq", 1, 0, 2},
		{"history-limit", 1, 0, 3}, {"requests", 1, 0, 4}, {"threads", 1, 0, 't'},
		{"keepalive", 1, 0, 'K'}, {"client-prefix", 1, 0, 'C'}, {"label", 1, 0, 'L'},
		{"out", 1, 0, 'o'}, {"csv", 1, 0, 'V'}, {"pubs-no-sub", 0, 0, 5}, {"password-list", 1, 0, 6},
		{"help", 0, 0, '?'},
		{0, 0, 0, 0}};
	static char password_buf[256];
	int rc = -1;
	const char *password_file = NULL;
	const char *password_list = NULL;
	FILE *pf = NULL;
	opt = (struct options){.mode = MODE_CHAT, .host = "127.0.0.1", .port = 1883, .user_prefix = "bench",
		.room_prefix = "benchroom", .client_prefix = "load", .users = 10, .rooms = 1, .publishers = -1,
		.threads = 2, .qos = 1, .size = 100, .window = 10, .keepalive = 60, .duration = 10,
		.drain = 5, .connect_timeout = 60, .max_msgs = 1000000, .max_pending = 100,
		.history_limit = 50, .requests = 1000, .label = ""};
	int ch;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'm':
			if (!strcmp(optarg, "chat")) opt.mode = MODE_CHAT;
			else if (!strcmp(optarg, "connect")) opt.mode = MODE_CONNECT;
			else if (!strcmp(optarg, "history")) opt.mode = MODE_HISTORY;
			else goto out;
			break;
		case 'h': opt.host = optarg; break;
		case 'p': opt.port = atoi(optarg); break;
		case 'P': opt.sub_port = atoi(optarg); break;
		case 'b': opt.bind_address = optarg; break;
		case 'n': opt.users = atoi(optarg); break;
		case 'r': opt.rooms = atoi(optarg); break;
		case 'k': opt.publishers = atoi(optarg); break;
		case 'u': opt.user_prefix = optarg; break;
		case 'U': opt.user_list = optarg; break;
		case 'O': opt.user_offset = atoi(optarg); break;
		case 'R': opt.room_prefix = optarg; break;
		case 'F': password_file = optarg; break;
		case 6: password_list = optarg; break;
		case 'a': opt.rate = atof(optarg); break;
		case 's': opt.size = atoi(optarg); break;
		case 'q': opt.qos = atoi(optarg); break;
		case 'w': opt.window = atoi(optarg); break;
		case 'd': opt.duration = atof(optarg); break;
		case 'M': opt.max_msgs = atol(optarg); break;
		case 'D': opt.drain = atof(optarg); break;
		case 'c': opt.connect_rate = atof(optarg); break;
		case 'x': opt.max_pending = atoi(optarg); break;
		case 'T': opt.connect_timeout = atof(optarg); break;
		case 'H': opt.hold = atof(optarg); break;
		case 1: opt.history_room = optarg; break;
		case 2: opt.history_max_seq = atol(optarg); break;
		case 3: opt.history_limit = atoi(optarg); break;
		case 4: opt.requests = atol(optarg); break;
		case 5: opt.pubs_no_sub = true; break;
		case 't': opt.threads = atoi(optarg); break;
		case 'K': opt.keepalive = atoi(optarg); break;
		case 'C': opt.client_prefix = optarg; break;
		case 'L': opt.label = optarg; break;
		case 'o': opt.out = optarg; break;
		case 'V': opt.csv = optarg; break;
		default: goto out;
		}
	}
	if (opt.publishers < 0 || opt.publishers > opt.users)
		opt.publishers = opt.users;
	if (opt.users < 1 || opt.users > 100000 || opt.rooms < 1 || opt.threads < 1 || opt.threads > 64 ||
			opt.qos < 0 || opt.qos > 2 || opt.size < 1 || opt.size > 60000 || opt.window < 1 ||
			opt.duration <= 0 || opt.duration > 3600 || opt.max_msgs < 1 || opt.max_pending < 1 ||
			opt.requests < 1 || opt.drain < 0 || opt.drain > 600 || opt.hold < 0 || opt.hold > 3600) {
		fprintf(stderr, "chatload: an option is out of range\n");
		goto out;
	}
	if (opt.mode == MODE_HISTORY && (!opt.history_room || opt.history_max_seq < 2)) {
		fprintf(stderr, "chatload: history mode needs --history-room and --history-max-seq >= 2\n");
		goto out;
	}
	if (password_file) {
		pf = fopen(password_file, "r");
		if (!pf || !fgets(password_buf, sizeof password_buf, pf)) {
			fprintf(stderr, "chatload: cannot read %s\n", password_file);
			goto out;
		}
		password_buf[strcspn(password_buf, "\r\n")] = '\0';
		opt.password = password_buf;
	} else {
		opt.password = getenv("CHATLOAD_PASSWORD");
	}
	if (password_list) {
		char line[256];
		long cap = 0;
		pf = fopen(password_list, "r");
		while (pf && fgets(line, sizeof line, pf)) {
			if (opt.password_count == cap) {
				char **grown = realloc(opt.password_list, (size_t)(cap = cap ? cap * 2 : 1024) * sizeof(char *));
				if (!grown)
					goto out;
				opt.password_list = grown;
			}
			line[strcspn(line, "\r\n")] = '\0';
			if (!(opt.password_list[opt.password_count++] = strdup(line)))
				goto out;
		}
		if (!pf || opt.password_count < (long)opt.user_offset + opt.users) {
			fprintf(stderr, "chatload: %s needs a line for each of users %d..%d\n", password_list,
				opt.user_offset, opt.user_offset + opt.users - 1);
			goto out;
		}
	}
	rc = 0;
out:
	if (pf)
		fclose(pf);
	return rc;
}

static cJSON *latency_json(const struct latency_hist *h)
{
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return NULL;
	cJSON_AddNumberToObject(o, "count", (double)h->count);
	cJSON_AddNumberToObject(o, "p50", lat_quantile(h, 0.50) / 1e3);
	cJSON_AddNumberToObject(o, "p90", lat_quantile(h, 0.90) / 1e3);
	cJSON_AddNumberToObject(o, "p99", lat_quantile(h, 0.99) / 1e3);
	cJSON_AddNumberToObject(o, "p999", lat_quantile(h, 0.999) / 1e3);
	cJSON_AddNumberToObject(o, "max", h->max_ns / 1e3);
	cJSON_AddNumberToObject(o, "mean", h->count ? (double)h->sum_ns / (double)h->count / 1e3 : 0);
	return o;
}

static void progress(const char *what)
{
	fprintf(stderr, "chatload[%s] %s: ready %lu refused %lu failed %lu sent %lu acked %lu delivered %lu\n",
		opt.label, what, atomic_load(&n_ready), atomic_load(&n_refused), atomic_load(&n_failed),
		atomic_load(&n_sent), atomic_load(&n_acked), atomic_load(&n_delivered));
}

static void sleep_s(double s)
{
	struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
	nanosleep(&ts, NULL);
}

/* Runs the load; prints or writes the JSON result. Exit status 0 when the
 * run completed (whatever it measured), 1 on a setup error, 2 on usage. */
int main(int argc, char **argv)
{
	int rc = 1;
	struct client *clients = NULL;
	struct worker *workers = NULL;
	int started = 0;
	cJSON *result = NULL;
	char *text = NULL;
	FILE *f = NULL;

	if (parse_options(argc, argv) != 0) {
		usage(stderr);
		rc = 2;
		goto out;
	}
	signal(SIGINT, on_interrupt);
	signal(SIGTERM, on_interrupt);
	signal(SIGPIPE, SIG_IGN);
	srandom((unsigned)getpid());
	mosquitto_lib_init();
	per_pub_cap = (uint32_t)((opt.max_msgs + opt.publishers - 1) / (opt.publishers ? opt.publishers : 1));
	if (per_pub_cap < 1)
		per_pub_cap = 1;
	body_text = malloc((size_t)opt.size + 1);
	clients = calloc((size_t)opt.users, sizeof *clients);
	workers = calloc((size_t)opt.threads, sizeof *workers);
	if (!body_text || !clients || !workers)
		goto out;
	memset(body_text, 'x', (size_t)opt.size);
	body_text[opt.size] = '\0';
	for (int t = 0; t < opt.threads; t++) {
		workers[t].id = t;
		workers[t].clients = calloc((size_t)opt.users / (size_t)opt.threads + 1, sizeof(struct client *));
		if (!workers[t].clients)
			goto out;
	}
	for (int i = 0; i < opt.users; i++) {
		struct client *c = &clients[i];
		char client_id[96];
		c->index = i;
		c->room = i % opt.rooms;
		c->is_pub = opt.mode == MODE_CHAT && i < opt.publishers;
		c->is_sub = opt.mode == MODE_CHAT && !(c->is_pub && opt.pubs_no_sub);
		c->w = &workers[i % opt.threads];
		c->w->clients[c->w->n++] = c;
		user_name(i, c->user, sizeof c->user);
		snprintf(c->topic, sizeof c->topic, "chat/v1/rooms/%s%d/msg/%s", opt.room_prefix, c->room, c->user);
		snprintf(client_id, sizeof client_id, "%s-%d-%d", opt.client_prefix, (int)getpid(), i);
		c->mosq = mosquitto_new(client_id, true, c);
		if (!c->mosq)
			goto out;
		if (opt.password_list)
			mosquitto_username_pw_set(c->mosq, c->user, opt.password_list[opt.user_offset + i]);
		else if (opt.password || opt.user_list || opt.user_prefix[0])
			mosquitto_username_pw_set(c->mosq, c->user, opt.password);
		mosquitto_connect_callback_set(c->mosq, on_connect);
		mosquitto_subscribe_callback_set(c->mosq, on_subscribe);
		mosquitto_publish_callback_set(c->mosq, on_publish);
		mosquitto_message_callback_set(c->mosq, on_message);
		mosquitto_disconnect_callback_set(c->mosq, on_disconnect);
		mosquitto_int_option(c->mosq, MOSQ_OPT_SEND_MAXIMUM, opt.window > 20 ? opt.window : 20);
		mosquitto_int_option(c->mosq, MOSQ_OPT_TCP_NODELAY, 1);
		if (c->is_sub) {
			c->local_pubs = 0;
			for (int p = c->room; p < opt.publishers; p += opt.rooms)
				c->local_pubs++;
			c->seen = calloc((size_t)c->local_pubs + 1, sizeof *c->seen);
			if (!c->seen)
				goto out;
			for (int p = 0; p < c->local_pubs; p++) {
				c->seen[p] = calloc(per_pub_cap / 8 + 1, 1);
				if (!c->seen[p])
					goto out;
			}
		}
	}
	for (int t = 0; t < opt.threads; t++) {
		if (pthread_create(&workers[t].thread, NULL, worker_main, &workers[t]) != 0)
			goto out;
		started++;
	}

	/* Connect phase: until every client has an answer, or the timeout. */
	uint64_t t0 = now_ns(), last_progress = t0;
	while (!atomic_load(&interrupted)) {
		unsigned long answered = atomic_load(&n_ready) + atomic_load(&n_refused) + atomic_load(&n_failed);
		if (answered >= (unsigned long)opt.users)
			break;
		if (now_ns() - t0 > (uint64_t)(opt.connect_timeout * 1e9)) {
			fprintf(stderr, "chatload: connect timeout after %.0f s\n", opt.connect_timeout);
			break;
		}
		if (now_ns() - last_progress > 1000000000ull) {
			last_progress = now_ns();
			progress("connecting");
		}
		sleep_s(0.005);
	}
	uint64_t connect_done_ns = now_ns();
	progress("connected");

	if (opt.mode == MODE_CONNECT) {
		if (opt.hold > 0) {
			atomic_store(&phase, PHASE_HOLD);
			fprintf(stderr, "chatload[%s] holding %lu idle connections for %.0f s (pid %d)\n",
				opt.label, atomic_load(&n_ready), opt.hold, (int)getpid());
			uint64_t until = now_ns() + (uint64_t)(opt.hold * 1e9);
			while (!atomic_load(&interrupted) && now_ns() < until)
				sleep_s(0.05);
		}
	} else {
		/* Run phase: publishers (or the history requester) go. */
		run_start_ns = now_ns();
		run_end_ns = run_start_ns + (uint64_t)(opt.duration * 1e9);
		for (int i = 0; i < opt.users; i++)
			clients[i].next_send_ns = run_start_ns + (uint64_t)(opt.rate > 0 ? 1e9 * i / opt.rate : 0);
		atomic_store(&phase, PHASE_RUN);
		last_progress = now_ns();
		unsigned long cap_total = (unsigned long)per_pub_cap * (unsigned long)opt.publishers;
		while (!atomic_load(&interrupted) && now_ns() < run_end_ns) {
			if (opt.mode == MODE_CHAT && atomic_load(&n_sent) >= cap_total)
				break;
			if (opt.mode == MODE_HISTORY && atomic_load(&n_delivered) >= (unsigned long)opt.requests)
				break;
			if (now_ns() - last_progress > 1000000000ull) {
				last_progress = now_ns();
				progress("running");
			}
			sleep_s(0.01);
		}
		uint64_t sends_end = now_ns();
		run_end_ns = sends_end;
		atomic_store(&phase, PHASE_DRAIN);
		/* Drain: until deliveries stop for 1 s (0.3 s once all is acked), or the limit. */
		unsigned long last = atomic_load(&n_delivered);
		uint64_t quiet_since = now_ns();
		while (!atomic_load(&interrupted) && now_ns() - sends_end < (uint64_t)(opt.drain * 1e9)) {
			sleep_s(0.05);
			unsigned long d = atomic_load(&n_delivered);
			if (d != last) {
				last = d;
				quiet_since = now_ns();
			}
			bool all_acked = opt.qos == 0 || atomic_load(&n_acked) >= atomic_load(&n_sent);
			uint64_t quiet = now_ns() - quiet_since;
			if (quiet > 1000000000ull || (all_acked && quiet > 300000000ull))
				break;
		}
		progress("done");
	}
	atomic_store(&phase, PHASE_STOP);
	for (int t = 0; t < started; t++)
		pthread_join(workers[t].thread, NULL);
	started = 0;

	/* Results. */
	struct latency_hist lat, connack;
	lat_reset(&lat);
	lat_reset(&connack);
	uint64_t delivered = 0, dups = 0, foreign = 0, malformed = 0, beyond = 0, last_delivery = 0;
	uint64_t first_connect = 0, last_connack = 0;
	for (int t = 0; t < opt.threads; t++) {
		struct worker *w = &workers[t];
		lat_merge(&lat, &w->lat);
		lat_merge(&connack, &w->connack);
		delivered += w->delivered;
		dups += w->duplicates;
		foreign += w->foreign;
		malformed += w->malformed;
		beyond += w->beyond_cap;
		if (w->last_delivery_ns > last_delivery)
			last_delivery = w->last_delivery_ns;
		if (w->first_connect_ns && (!first_connect || w->first_connect_ns < first_connect))
			first_connect = w->first_connect_ns;
		if (w->last_connack_ns > last_connack)
			last_connack = w->last_connack_ns;
	}
	uint64_t expected = 0;
	uint64_t sent = 0, acked = 0;
	for (int i = 0; i < opt.users; i++) {
		if (!clients[i].is_pub)
			continue;
		sent += clients[i].sent;
		acked += clients[i].acked;
		unsigned receivers = 0;
		for (int j = clients[i].room; j < opt.users; j += opt.rooms)
			receivers += clients[j].is_sub && (clients[j].state == CS_READY || clients[j].state == CS_CLOSED);
		expected += (uint64_t)clients[i].sent * receivers;
	}
	double window_s = last_delivery > run_start_ns ? (last_delivery - run_start_ns) / 1e9 : 0;
	double send_window_s = run_end_ns > run_start_ns ? (run_end_ns - run_start_ns) / 1e9 : 0;
	double connect_window_s = last_connack > first_connect ? (last_connack - first_connect) / 1e9 : 0;
	result = cJSON_CreateObject();
	if (!result)
		goto out;
	const char *mode_name[] = {"chat", "connect", "history"};
	cJSON_AddStringToObject(result, "label", opt.label);
	cJSON_AddStringToObject(result, "mode", mode_name[opt.mode]);
	cJSON_AddNumberToObject(result, "users", opt.users);
	cJSON_AddNumberToObject(result, "rooms", opt.rooms);
	cJSON_AddNumberToObject(result, "publishers", opt.mode == MODE_CHAT ? opt.publishers : 0);
	cJSON_AddNumberToObject(result, "qos", opt.qos);
	cJSON_AddNumberToObject(result, "size", opt.size);
	cJSON_AddNumberToObject(result, "rate", opt.rate);
	cJSON_AddNumberToObject(result, "ready", (double)atomic_load(&n_ready));
	cJSON_AddNumberToObject(result, "refused", (double)atomic_load(&n_refused));
	cJSON_AddNumberToObject(result, "failed", (double)atomic_load(&n_failed));
	cJSON_AddNumberToObject(result, "connect_s", (connect_done_ns - t0) / 1e9);
	cJSON_AddNumberToObject(result, "connects_per_s",
		connect_window_s > 0 ? (double)(atomic_load(&n_ready) + atomic_load(&n_refused)) / connect_window_s : 0);
	cJSON_AddItemToObject(result, "connack_us", latency_json(&connack));
	if (opt.mode != MODE_CONNECT) {
		cJSON_AddNumberToObject(result, "sent", (double)(opt.mode == MODE_CHAT ? sent : atomic_load(&n_sent)));
		cJSON_AddNumberToObject(result, "acked", (double)acked);
		cJSON_AddNumberToObject(result, "expected", (double)(opt.mode == MODE_CHAT ? expected : atomic_load(&n_sent)));
		cJSON_AddNumberToObject(result, "delivered", (double)delivered);
		cJSON_AddNumberToObject(result, "lost", (double)(opt.mode == MODE_CHAT ?
			(expected > delivered ? expected - delivered : 0) : atomic_load(&n_sent) - delivered));
		cJSON_AddNumberToObject(result, "duplicates", (double)dups);
		cJSON_AddNumberToObject(result, "foreign", (double)foreign);
		cJSON_AddNumberToObject(result, "malformed", (double)malformed);
		cJSON_AddNumberToObject(result, "beyond_cap", (double)beyond);
		cJSON_AddNumberToObject(result, "send_window_s", send_window_s);
		cJSON_AddNumberToObject(result, "window_s", window_s);
		cJSON_AddNumberToObject(result, "sent_per_s", send_window_s > 0 ? sent / send_window_s : 0);
		cJSON_AddNumberToObject(result, "delivered_per_s", window_s > 0 ? delivered / window_s : 0);
		cJSON_AddItemToObject(result, "latency_us", latency_json(&lat));
	}
	text = cJSON_PrintUnformatted(result);
	if (!text)
		goto out;
	if (opt.out) {
		f = fopen(opt.out, "w");
		if (!f || fprintf(f, "%s\n", text) < 0) {
			fprintf(stderr, "chatload: cannot write %s\n", opt.out);
			goto out;
		}
	} else {
		printf("%s\n", text);
	}
	if (opt.csv) {
		FILE *csv = fopen(opt.csv, "a");
		if (!csv)
			goto out;
		fprintf(csv, "%s,%s,%d,%d,%d,%d,%lu,%lu,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%.1f,%.1f,%.1f,%.1f,%.1f,%.1f\n",
			opt.label, mode_name[opt.mode], opt.users, opt.rooms, opt.qos, opt.size,
			atomic_load(&n_ready), atomic_load(&n_refused), delivered, dups,
			expected > delivered ? expected - delivered : 0,
			window_s > 0 ? delivered / window_s : 0,
			lat_quantile(&lat, 0.5) / 1e3, lat_quantile(&lat, 0.9) / 1e3, lat_quantile(&lat, 0.99) / 1e3,
			lat_quantile(&lat, 0.999) / 1e3, lat.max_ns / 1e3);
		fclose(csv);
	}
	rc = 0;
out:
	if (started) {
		atomic_store(&phase, PHASE_STOP);
		for (int t = 0; t < started; t++)
			pthread_join(workers[t].thread, NULL);
	}
	if (f)
		fclose(f);
	free(text);
	cJSON_Delete(result);
	if (clients) {
		for (int i = 0; i < opt.users; i++) {
			if (clients[i].mosq)
				mosquitto_destroy(clients[i].mosq);
			if (clients[i].seen) {
				for (int p = 0; p < clients[i].local_pubs; p++)
					free(clients[i].seen[p]);
				free(clients[i].seen);
			}
		}
	}
	if (workers)
		for (int t = 0; t < opt.threads; t++)
			free(workers[t].clients);
	free(workers);
	free(clients);
	free(body_text);
	mosquitto_lib_cleanup();
	return rc;
}
