/* metrics.h: Prometheus metrics for the daemons and the broker plugin.
 *
 * A registry of counters, gauges and histograms, all registered at start
 * (before metrics_serve) and then only bumped: a bump is one relaxed C11
 * atomic operation, never a lock, so the broker's thread can count without
 * ever waiting for a scrape. metrics_serve starts an HTTP server
 * (libmicrohttpd) on a thread of its own that answers GET /metrics in the
 * Prometheus text format (version 0.0.4); the registry's list is fixed by
 * then, so the server reads it without locks.
 *
 * Metrics are optional: every function takes a NULL registry or metric and
 * then does nothing (registration returns NULL), so a component whose
 * metrics_port is unset holds NULL handles and pays one branch per bump.
 * Label values are the caller's constants (no escaping is done). */
#ifndef CHAT_METRICS_H
#define CHAT_METRICS_H

#include <stddef.h>

struct metrics;
struct metric;

/* Returns an empty registry (free with metrics_free) or NULL when out of
 * memory. */
struct metrics *metrics_new(void);

/* Registers a counter called name (with help text) and one optional label
 * pair (label and value both NULL for none). Metrics sharing a name form one
 * family (register them with the same help text). Strings are copied.
 * Returns the handle (owned by the registry), or NULL when m is NULL, out
 * of memory, or the server already runs. */
struct metric *metrics_counter(struct metrics *m, const char *name, const char *help,
		const char *label, const char *value);

/* Same for a gauge (a value that goes up and down). */
struct metric *metrics_gauge(struct metrics *m, const char *name, const char *help,
		const char *label, const char *value);

/* A gauge whose value fn(arg) computes at each scrape, on the server's
 * thread: fn must be safe to call from there (read atomics only). */
struct metric *metrics_gauge_fn(struct metrics *m, const char *name, const char *help,
		const char *label, const char *value, double (*fn)(void *arg), void *arg);

/* A histogram with nbounds increasing upper bounds (the +Inf bucket is
 * added); bounds are copied. */
struct metric *metrics_histogram(struct metrics *m, const char *name, const char *help,
		const char *label, const char *value, const double *bounds, size_t nbounds);

/* Adds n to a counter (or a gauge). NULL allowed. Any thread. */
void metric_add(struct metric *metric, unsigned long long n);

/* Adds one to a counter (or a gauge). NULL allowed. Any thread. */
void metric_inc(struct metric *metric);

/* Sets a gauge, or a counter to a total kept elsewhere (which must never
 * go down); metric_gauge_add moves a gauge by delta (negative to lower it).
 * NULL allowed. Any thread. */
void metric_set(struct metric *metric, double value);
void metric_gauge_add(struct metric *metric, double delta);

/* Records one observation in a histogram. NULL allowed. Any thread. */
void metric_observe(struct metric *metric, double value);

/* The current value of a counter or gauge (0 for NULL), for tests. */
double metric_value(const struct metric *metric);

/* Renders every metric in the text format into a malloc'ed,
 * NUL-terminated string (caller frees with free), its length in *len
 * (may be NULL). Returns NULL when m is NULL or out of memory. */
char *metrics_render(struct metrics *m, size_t *len);

/* Starts the HTTP server on bind_address (IPv4 or IPv6 literal; NULL:
 * 127.0.0.1) and port, on a thread of its own. Registration ends here.
 * Returns 0, or -1 with a message in err (port taken, bad address). */
int metrics_serve(struct metrics *m, const char *bind_address, int port, char *err, size_t errlen);

/* Stops the server (if any), then frees the registry and its metrics;
 * NULL allowed. No bump may run after or during this call. */
void metrics_free(struct metrics *m);

#endif
