/* test_metrics.c: common/metrics.c: the text exposition Prometheus reads,
 * exact counts under concurrent bumps, and the HTTP server. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "metrics.h"
#include "test.h"

static double forty_two(void *arg)
{
	(void)arg;
	return 42.5;
}

static void metrics_render_families_and_histogram(void)
{
	static const double bounds[] = { 0.0025, 5 };
	struct metrics *m = metrics_new();
	struct metric *bad, *good, *gauge, *hist;
	char *text;

	if(!CHECK(m != NULL)) return;
	bad = metrics_counter(m, "t_logins_total", "Logins by result.", "result", "bad");
	gauge = metrics_gauge(m, "t_open", "Open things.", NULL, NULL);
	good = metrics_counter(m, "t_logins_total", "Logins by result.", "result", "good");
	hist = metrics_histogram(m, "t_size", "Sizes.", NULL, NULL, bounds, 2);
	CHECK(metrics_gauge_fn(m, "t_fn", "Computed.", NULL, NULL, forty_two, NULL) != NULL);
	metric_add(good, 3);
	metric_inc(bad);
	metric_set(gauge, 7);
	metric_gauge_add(gauge, -2);
	metric_observe(hist, 0.5);
	metric_observe(hist, 0.002);
	metric_observe(hist, 5);
	metric_observe(hist, 100);
	CHECK_EQ(metric_value(good), 3);
	CHECK_EQ(metric_value(gauge), 5);
	text = metrics_render(m, NULL);
	if(!CHECK(text != NULL)) goto out;
	/* One header per family, its samples together, in registration order. */
	CHECK_STR(text,
		"# HELP t_logins_total Logins by result.\n"
		"# TYPE t_logins_total counter\n"
		"t_logins_total{result=\"bad\"} 1\n"
		"t_logins_total{result=\"good\"} 3\n"
		"# HELP t_open Open things.\n"
		"# TYPE t_open gauge\n"
		"t_open 5\n"
		"# HELP t_size Sizes.\n"
		"# TYPE t_size histogram\n"
		"t_size_bucket{le=\"0.0025\"} 1\n"
		"t_size_bucket{le=\"5\"} 3\n"
		"t_size_bucket{le=\"+Inf\"} 4\n"
		"t_size_sum 105.502\n"
		"t_size_count 4\n"
		"# HELP t_fn Computed.\n"
		"# TYPE t_fn gauge\n"
		"t_fn 42.5\n");
out:
	free(text);
	metrics_free(m);
}

static void metrics_null_registry_is_a_no_op(void)
{
	struct metric *c = metrics_counter(NULL, "x_total", "x", NULL, NULL);

	CHECK(c == NULL);
	metric_inc(c);
	metric_observe(c, 1);
	metric_set(c, 1);
	CHECK_EQ(metric_value(c), 0);
	CHECK(metrics_render(NULL, NULL) == NULL);
	metrics_free(NULL);
}

struct bump_arg {
	struct metric *counter, *hist;
};

static void *bump(void *arg)
{
	struct bump_arg *b = arg;

	for(int i = 0; i < 100000; i++){
		metric_inc(b->counter);
		metric_observe(b->hist, 1);
	}
	return NULL;
}

static void metrics_concurrent_bumps_are_exact(void)
{
	static const double bounds[] = { 10 };
	struct metrics *m = metrics_new();
	struct bump_arg b;
	pthread_t threads[4];
	char *text;

	if(!CHECK(m != NULL)) return;
	b.counter = metrics_counter(m, "c_total", "c", NULL, NULL);
	b.hist = metrics_histogram(m, "h", "h", NULL, NULL, bounds, 1);
	for(int i = 0; i < 4; i++) pthread_create(&threads[i], NULL, bump, &b);
	for(int i = 0; i < 4; i++) pthread_join(threads[i], NULL);
	CHECK_EQ(metric_value(b.counter), 400000);
	text = metrics_render(m, NULL);
	CHECK(text && strstr(text, "\nh_sum 400000\nh_count 400000\n"));
	free(text);
	metrics_free(m);
}

/* Sends request to 127.0.0.1:port and returns the whole answer (malloc'ed). */
static char *http_get(int port, const char *request)
{
	struct sockaddr_in addr;
	char *buf = calloc(1, 65536);
	size_t used = 0;
	ssize_t got;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if(!buf || fd < 0) goto out;
	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_port = htons((unsigned short)port);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if(connect(fd, (struct sockaddr *)&addr, sizeof(addr))) goto out;
	if(write(fd, request, strlen(request)) < 0) goto out;
	while(used < 65535 && (got = read(fd, buf + used, 65535 - used)) > 0) used += (size_t)got;
out:
	if(fd >= 0) close(fd);
	return buf;
}

/* A free loopback port (the kernel's pick, released again). */
static int free_port(void)
{
	struct sockaddr_in addr;
	socklen_t len = sizeof(addr);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	int port = -1;

	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if(fd >= 0 && !bind(fd, (struct sockaddr *)&addr, sizeof(addr))
			&& !getsockname(fd, (struct sockaddr *)&addr, &len)){
		port = ntohs(addr.sin_port);
	}
	if(fd >= 0) close(fd);
	return port;
}

static void metrics_server_answers_scrapes(void)
{
	struct metrics *m = metrics_new();
	struct metrics *other = metrics_new();
	struct metric *c;
	char err[256];
	char *answer = NULL;
	int port = free_port();

	if(!CHECK(m && other && port > 0)) goto out;
	c = metrics_counter(m, "served_total", "s", NULL, NULL);
	metric_add(c, 9);
	if(!CHECK_EQ(metrics_serve(m, "127.0.0.1", port, err, sizeof(err)), 0)) goto out;
	/* Registration ends when serving starts: the list is read unlocked. */
	CHECK(metrics_counter(m, "late_total", "l", NULL, NULL) == NULL);
	answer = http_get(port, "GET /metrics HTTP/1.0\r\n\r\n");
	CHECK(answer && !strncmp(answer, "HTTP/1.1 200 OK\r\n", 17));
	CHECK(answer && strstr(answer, "text/plain; version=0.0.4"));
	CHECK(answer && strstr(answer, "\r\n\r\n# HELP served_total s\n# TYPE served_total counter\nserved_total 9\n"));
	free(answer);
	answer = http_get(port, "GET /other HTTP/1.0\r\n\r\n");
	CHECK(answer && strstr(answer, " 404 "));
	/* A port already taken is an error, not a silent no-metrics. */
	CHECK_EQ(metrics_serve(other, "127.0.0.1", port, err, sizeof(err)), -1);
	CHECK(strstr(err, "port") != NULL);
	CHECK_EQ(metrics_serve(other, "localhost", port, err, sizeof(err)), -1);
out:
	free(answer);
	metrics_free(m);
	metrics_free(other);
}

static const struct test_case cases[] = {
	TEST_ENTRY(metrics_render_families_and_histogram),
	TEST_ENTRY(metrics_null_registry_is_a_no_op),
	TEST_ENTRY(metrics_concurrent_bumps_are_exact),
	TEST_ENTRY(metrics_server_answers_scrapes),
};

const struct test_suite metrics_suite = { "metrics", cases, TEST_COUNT(cases) };
