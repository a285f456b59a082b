/* metrics.c: the metrics registry, its Prometheus text exposition and the
 * libmicrohttpd server that answers scrapes on its own thread (metrics.h).
 * Bumps are relaxed atomics: counters fetch_add, gauges and histogram sums
 * a compare-exchange loop on a double (lock-free on the platforms we build
 * for). A scrape may see one histogram's buckets a few observations apart
 * from its sum: the count it prints is the sum of the buckets it read, so
 * the +Inf bucket and _count always agree. */
#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "metrics.h"

enum metric_kind { METRIC_COUNTER, METRIC_GAUGE, METRIC_GAUGE_FN, METRIC_HISTOGRAM };

struct metric {
	enum metric_kind kind;
	char *name;
	char *help;
	char *label; /* NULL: no label */
	char *value;
	_Atomic unsigned long long count; /* counters */
	_Atomic double gauge;             /* gauges; histograms: the sum */
	double (*fn)(void *arg);
	void *fn_arg;
	double *bounds;
	size_t nbounds;
	_Atomic unsigned long long *buckets; /* nbounds + 1, not cumulative */
};

struct metrics {
	struct metric **items;
	size_t count, cap;
	struct MHD_Daemon *daemon;
};

static const char content_type[] = "text/plain; version=0.0.4; charset=utf-8";

struct metrics *metrics_new(void)
{
	return calloc(1, sizeof(struct metrics));
}

static void metric_free(struct metric *metric)
{
	if(!metric) return;
	free(metric->name);
	free(metric->help);
	free(metric->label);
	free(metric->value);
	free(metric->bounds);
	free((void *)metric->buckets);
	free(metric);
}

static char *dup_or_null(const char *s, bool *failed)
{
	char *copy;

	if(!s) return NULL;
	copy = strdup(s);
	if(!copy) *failed = true;
	return copy;
}

/* Allocates a metric and appends it to the registry; NULL on any failure. */
static struct metric *add_metric(struct metrics *m, enum metric_kind kind, const char *name, const char *help,
		const char *label, const char *value)
{
	struct metric *metric = NULL;
	struct metric *rc = NULL;
	bool failed = false;

	if(!m || m->daemon || !name || !help || (!label) != (!value)) goto out;
	if(m->count == m->cap){
		size_t cap = m->cap ? m->cap * 2 : 32;
		struct metric **items = realloc(m->items, cap * sizeof(*items));

		if(!items) goto out;
		m->items = items;
		m->cap = cap;
	}
	metric = calloc(1, sizeof(*metric));
	if(!metric) goto out;
	metric->kind = kind;
	atomic_init(&metric->count, 0);
	atomic_init(&metric->gauge, 0.0);
	metric->name = dup_or_null(name, &failed);
	metric->help = dup_or_null(help, &failed);
	metric->label = dup_or_null(label, &failed);
	metric->value = dup_or_null(value, &failed);
	if(failed) goto out;
	m->items[m->count++] = metric;
	rc = metric;
	metric = NULL;
out:
	metric_free(metric);
	return rc;
}

struct metric *metrics_counter(struct metrics *m, const char *name, const char *help,
		const char *label, const char *value)
{
	return add_metric(m, METRIC_COUNTER, name, help, label, value);
}

struct metric *metrics_gauge(struct metrics *m, const char *name, const char *help,
		const char *label, const char *value)
{
	return add_metric(m, METRIC_GAUGE, name, help, label, value);
}

struct metric *metrics_gauge_fn(struct metrics *m, const char *name, const char *help,
		const char *label, const char *value, double (*fn)(void *arg), void *arg)
{
	struct metric *metric = NULL;

	if(!fn) goto out;
	metric = add_metric(m, METRIC_GAUGE_FN, name, help, label, value);
	if(!metric) goto out;
	metric->fn = fn;
	metric->fn_arg = arg;
out:
	return metric;
}

struct metric *metrics_histogram(struct metrics *m, const char *name, const char *help,
		const char *label, const char *value, const double *bounds, size_t nbounds)
{
	struct metric *metric = NULL;

	if(!bounds || !nbounds) goto out;
	metric = add_metric(m, METRIC_HISTOGRAM, name, help, label, value);
	if(!metric) goto out;
	metric->bounds = malloc(nbounds * sizeof(*bounds));
	metric->buckets = calloc(nbounds + 1, sizeof(*metric->buckets));
	if(!metric->bounds || !metric->buckets){
		/* The registry keeps it (freed with it); the caller gets nothing to bump. */
		metric->kind = METRIC_GAUGE;
		metric = NULL;
		goto out;
	}
	memcpy(metric->bounds, bounds, nbounds * sizeof(*bounds));
	metric->nbounds = nbounds;
	for(size_t i = 0; i <= nbounds; i++) atomic_init(&metric->buckets[i], 0);
out:
	return metric;
}

void metric_add(struct metric *metric, unsigned long long n)
{
	if(!metric) return;
	if(metric->kind == METRIC_GAUGE){
		metric_gauge_add(metric, (double)n);
		return;
	}
	if(metric->kind == METRIC_COUNTER) atomic_fetch_add_explicit(&metric->count, n, memory_order_relaxed);
}

void metric_inc(struct metric *metric)
{
	metric_add(metric, 1);
}

void metric_set(struct metric *metric, double value)
{
	if(!metric) return;
	if(metric->kind == METRIC_COUNTER && value >= 0){
		atomic_store_explicit(&metric->count, (unsigned long long)value, memory_order_relaxed);
	}else if(metric->kind == METRIC_GAUGE){
		atomic_store_explicit(&metric->gauge, value, memory_order_relaxed);
	}
}

static void double_add(_Atomic double *target, double delta)
{
	double seen = atomic_load_explicit(target, memory_order_relaxed);

	while(!atomic_compare_exchange_weak_explicit(target, &seen, seen + delta,
				memory_order_relaxed, memory_order_relaxed)){
		/* seen now holds the current value: try again with it */
	}
}

void metric_gauge_add(struct metric *metric, double delta)
{
	if(!metric || metric->kind != METRIC_GAUGE) return;
	double_add(&metric->gauge, delta);
}

void metric_observe(struct metric *metric, double value)
{
	size_t i = 0;

	if(!metric || metric->kind != METRIC_HISTOGRAM) return;
	while(i < metric->nbounds && value > metric->bounds[i]) i++;
	atomic_fetch_add_explicit(&metric->buckets[i], 1, memory_order_relaxed);
	double_add(&metric->gauge, value);
}

double metric_value(const struct metric *metric)
{
	if(!metric) return 0;
	switch(metric->kind){
	case METRIC_COUNTER:
		return (double)atomic_load_explicit(&metric->count, memory_order_relaxed);
	case METRIC_GAUGE:
		return atomic_load_explicit(&metric->gauge, memory_order_relaxed);
	case METRIC_GAUGE_FN:
		return metric->fn(metric->fn_arg);
	case METRIC_HISTOGRAM:
		break;
	}
	return 0;
}

/* Writes v as Prometheus reads it, as short as it round-trips (0.0025, not
 * 0.0025000000000000001), into buf. */
static void format_number(char *buf, size_t len, double v)
{
	if(isnan(v)) snprintf(buf, len, "NaN");
	else if(isinf(v)) snprintf(buf, len, v > 0 ? "+Inf" : "-Inf");
	else if(fabs(v) < 9e15 && v == (double)(long long)v) snprintf(buf, len, "%lld", (long long)v);
	else{
		snprintf(buf, len, "%.15g", v);
		if(strtod(buf, NULL) != v) snprintf(buf, len, "%.17g", v);
	}
}

static void print_number(FILE *out, double v)
{
	char buf[64];

	format_number(buf, sizeof(buf), v);
	fputs(buf, out);
}

/* name{label="value",extra} value: extra is an already formatted pair or NULL. */
static void print_sample(FILE *out, const struct metric *metric, const char *suffix, const char *extra, double v)
{
	fprintf(out, "%s%s", metric->name, suffix);
	if(metric->label || extra){
		fputc('{', out);
		if(metric->label) fprintf(out, "%s=\"%s\"", metric->label, metric->value);
		if(metric->label && extra) fputc(',', out);
		if(extra) fputs(extra, out);
		fputc('}', out);
	}
	fputc(' ', out);
	print_number(out, v);
	fputc('\n', out);
}

static void render_histogram(FILE *out, const struct metric *metric)
{
	unsigned long long cumulative = 0;
	char le[80], bound[64];

	for(size_t i = 0; i <= metric->nbounds; i++){
		cumulative += atomic_load_explicit(&metric->buckets[i], memory_order_relaxed);
		format_number(bound, sizeof(bound), i < metric->nbounds ? metric->bounds[i] : INFINITY);
		snprintf(le, sizeof(le), "le=\"%s\"", bound);
		print_sample(out, metric, "_bucket", le, (double)cumulative);
	}
	print_sample(out, metric, "_sum", NULL, atomic_load_explicit(&metric->gauge, memory_order_relaxed));
	print_sample(out, metric, "_count", NULL, (double)cumulative);
}

static const char *type_name(enum metric_kind kind)
{
	switch(kind){
	case METRIC_COUNTER: return "counter";
	case METRIC_HISTOGRAM: return "histogram";
	case METRIC_GAUGE:
	case METRIC_GAUGE_FN: break;
	}
	return "gauge";
}

static void render_one(FILE *out, const struct metric *metric)
{
	if(metric->kind == METRIC_HISTOGRAM) render_histogram(out, metric);
	else print_sample(out, metric, "", NULL, metric_value(metric));
}

char *metrics_render(struct metrics *m, size_t *len)
{
	char *text = NULL;
	size_t size = 0;
	FILE *out = NULL;
	char *rc = NULL;

	if(!m) goto out;
	out = open_memstream(&text, &size);
	if(!out) goto out;
	/* One HELP/TYPE header per family, then all its samples, in the order
	 * the family was first registered. */
	for(size_t i = 0; i < m->count; i++){
		bool seen = false;

		for(size_t j = 0; j < i && !seen; j++) seen = !strcmp(m->items[j]->name, m->items[i]->name);
		if(seen) continue;
		fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", m->items[i]->name, m->items[i]->help,
				m->items[i]->name, type_name(m->items[i]->kind));
		for(size_t k = i; k < m->count; k++){
			if(!strcmp(m->items[k]->name, m->items[i]->name)) render_one(out, m->items[k]);
		}
	}
	if(fclose(out)){
		out = NULL;
		goto out;
	}
	out = NULL;
	if(len) *len = size;
	rc = text;
	text = NULL;
out:
	if(out) fclose(out);
	free(text);
	return rc;
}

static enum MHD_Result queue_text(struct MHD_Connection *connection, unsigned status, char *text, size_t len,
		enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response *response = MHD_create_response_from_buffer(len, text, mode);
	enum MHD_Result rc = MHD_NO;

	if(!response){
		if(mode == MHD_RESPMEM_MUST_FREE) free(text);
		goto out;
	}
	MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
	rc = MHD_queue_response(connection, status, response);
	MHD_destroy_response(response);
out:
	return rc;
}

/* Runs on the server's thread for each request. */
static enum MHD_Result answer(void *cls, struct MHD_Connection *connection, const char *url, const char *method,
		const char *version, const char *upload_data, size_t *upload_data_size, void **req_cls)
{
	static const char not_found[] = "not found: metrics are at /metrics\n";
	static const char bad_method[] = "only GET\n";
	static const char no_memory[] = "out of memory\n";
	struct metrics *m = cls;
	size_t len = 0;
	char *text;

	(void)version;
	(void)upload_data;
	(void)upload_data_size;
	if(!*req_cls){
		/* The first call only announces the headers. */
		*req_cls = m;
		return MHD_YES;
	}
	if(strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD)){
		return queue_text(connection, MHD_HTTP_METHOD_NOT_ALLOWED, (char *)bad_method, strlen(bad_method),
				MHD_RESPMEM_PERSISTENT);
	}
	if(strcmp(url, "/metrics")){
		return queue_text(connection, MHD_HTTP_NOT_FOUND, (char *)not_found, strlen(not_found), MHD_RESPMEM_PERSISTENT);
	}
	text = metrics_render(m, &len);
	if(!text){
		return queue_text(connection, MHD_HTTP_INTERNAL_SERVER_ERROR, (char *)no_memory, strlen(no_memory),
				MHD_RESPMEM_PERSISTENT);
	}
	return queue_text(connection, MHD_HTTP_OK, text, len, MHD_RESPMEM_MUST_FREE);
}

int metrics_serve(struct metrics *m, const char *bind_address, int port, char *err, size_t errlen)
{
	struct sockaddr_in6 addr6;
	struct sockaddr_in addr4;
	struct sockaddr *addr;
	/* MHD_USE_ERROR_LOG: why a bind failed goes to stderr (the service's
	 * log, the broker's stderr). */
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG;
	int rc = -1;

	if(!m || m->daemon){
		snprintf(err, errlen, "metrics: no registry, or already serving");
		goto out;
	}
	if(port <= 0 || port > 65535){
		snprintf(err, errlen, "metrics: port %d out of range", port);
		goto out;
	}
	if(!bind_address) bind_address = "127.0.0.1";
	memset(&addr4, 0, sizeof(addr4));
	memset(&addr6, 0, sizeof(addr6));
	if(inet_pton(AF_INET, bind_address, &addr4.sin_addr) == 1){
		addr4.sin_family = AF_INET;
		addr4.sin_port = htons((unsigned short)port);
		addr = (struct sockaddr *)&addr4;
	}else if(inet_pton(AF_INET6, bind_address, &addr6.sin6_addr) == 1){
		addr6.sin6_family = AF_INET6;
		addr6.sin6_port = htons((unsigned short)port);
		addr = (struct sockaddr *)&addr6;
		flags |= MHD_USE_IPv6;
	}else{
		snprintf(err, errlen, "metrics: bind address %s is not an IP address", bind_address);
		goto out;
	}
	/* A slow or stuck client holds one of the limited connections until the
	 * timeout; the polling thread serves the others meanwhile. */
	m->daemon = MHD_start_daemon(flags, (unsigned short)port, NULL, NULL, answer, m,
			MHD_OPTION_SOCK_ADDR, addr,
			MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10,
			MHD_OPTION_CONNECTION_LIMIT, (unsigned)64,
			MHD_OPTION_END);
	if(!m->daemon){
		snprintf(err, errlen, "metrics: cannot serve on %s port %d (port taken?)", bind_address, port);
		goto out;
	}
	rc = 0;
out:
	return rc;
}

void metrics_free(struct metrics *m)
{
	if(!m) return;
	if(m->daemon) MHD_stop_daemon(m->daemon);
	for(size_t i = 0; i < m->count; i++) metric_free(m->items[i]);
	free(m->items);
	free(m);
}
