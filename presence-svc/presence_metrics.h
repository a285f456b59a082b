/* presence_metrics.h: presence-svc's Prometheus metrics (docs/ADMIN.md,
 * "Metrics"). presence-svc is single-threaded and keeps its counters in
 * struct presence_stats; the service loop copies them into atomics here
 * (presence_metrics_update, every idle pass) and common/metrics.c serves
 * those on a thread of its own. NULL handle: metrics off, calls do nothing. */
#ifndef PRESENCE_METRICS_H
#define PRESENCE_METRICS_H

#include <stddef.h>

#include "presence.h"

struct presence_metrics;

/* Registers and serves on bind (NULL: 127.0.0.1) and port. Returns NULL
 * with err empty when port is 0 (off), NULL with a message on failure, or
 * the metrics (free with presence_metrics_stop). */
struct presence_metrics *presence_metrics_start(const char *bind, long port, char *err, size_t errlen);

/* Publishes the current counters and gauges. */
void presence_metrics_update(struct presence_metrics *pm, const struct presence_stats *stats,
		size_t users_online, size_t connections, unsigned long long requests, size_t last_seen_queued);

/* Stops the server and frees; NULL allowed. */
void presence_metrics_stop(struct presence_metrics *pm);

#endif
