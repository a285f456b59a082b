/* history_metrics.h: history-svc's Prometheus metrics (docs/ADMIN.md,
 * "Metrics"), served by common/metrics.c on a thread of its own when
 * metrics_port is set. Every call is a few relaxed atomic operations, safe
 * from any thread (Paho's, the committer's, the main one), and a no-op on a
 * NULL handle (metrics off). */
#ifndef HISTORY_METRICS_H
#define HISTORY_METRICS_H

#include <stddef.h>

#include "store.h"

struct history_metrics;

/* Registers the metrics and serves them on bind (NULL: 127.0.0.1) and
 * port. Returns NULL with err empty when port is 0 (off), NULL with a
 * message in err on failure, or the metrics (free with
 * history_metrics_stop). */
struct history_metrics *history_metrics_start(const char *bind, long port, char *err, size_t errlen);

/* A room message passed the check and was taken (logged and queued). */
void history_metrics_taken(struct history_metrics *hm);

/* A request arrived. */
void history_metrics_request(struct history_metrics *hm);

/* A taken message's storage ended with status (stored or duplicate are
 * counted here; errors through history_metrics_message_error). */
void history_metrics_stored(struct history_metrics *hm, enum store_status status);

/* A room message, or a request, was answered with an error code
 * (PROTO_ERR_*; an unknown code counts as "other"). */
void history_metrics_message_error(struct history_metrics *hm, const char *code);
void history_metrics_request_error(struct history_metrics *hm, const char *code);

/* The committer's queue now holds pending messages. */
void history_metrics_backlog(struct history_metrics *hm, long pending);

/* The committer took a batch whose oldest message was taken at
 * oldest_taken_ms (monotonic). */
void history_metrics_batch_begin(struct history_metrics *hm, long long oldest_taken_ms);

/* That batch of n messages is stored after elapsed_us; next_oldest_ms is
 * when the oldest message still queued was taken (0: none). */
void history_metrics_batch_end(struct history_metrics *hm, int n, long long elapsed_us, long long next_oldest_ms);

/* Stops the server and frees; NULL allowed. Call after the threads that
 * bump the metrics have stopped. */
void history_metrics_stop(struct history_metrics *hm);

#endif
