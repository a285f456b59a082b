/* history_metrics.c: history-svc's metrics; see history_metrics.h. */
#include "history_metrics.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "metrics.h"
#include "proto.h"

static const char *const error_codes[] = {
	PROTO_ERR_BAD_JSON, PROTO_ERR_TOO_DEEP, PROTO_ERR_TOO_LARGE, PROTO_ERR_BAD_REQUEST, PROTO_ERR_UNKNOWN_OP,
	PROTO_ERR_UNAVAILABLE, PROTO_ERR_NOT_MEMBER, PROTO_ERR_ROOM_EXISTS, PROTO_ERR_NOT_FOUND, PROTO_ERR_FORBIDDEN,
	PROTO_ERR_UNKNOWN_USER, PROTO_ERR_NOT_ONLINE, PROTO_ERR_BAD_MESSAGE, PROTO_ERR_BAD_UTF8, PROTO_ERR_BAD_BODY,
	PROTO_ERR_UNKNOWN_ROOM, PROTO_ERR_BAD_PASSWORD, "other",
};
#define ERROR_CODE_COUNT (sizeof(error_codes) / sizeof(error_codes[0]))

struct history_metrics {
	struct metrics *registry;
	struct metric *taken, *stored, *duplicates, *requests;
	struct metric *message_errors[ERROR_CODE_COUNT];
	struct metric *request_errors[ERROR_CODE_COUNT];
	struct metric *batch_size, *commit_seconds, *backlog;
	_Atomic long long oldest_taken_ms; /* 0: nothing waits */
};

/* Seconds the oldest message taken but not yet stored has waited. On the
 * server's thread. */
static double oldest_age(void *arg)
{
	struct history_metrics *hm = arg;
	long long oldest = atomic_load_explicit(&hm->oldest_taken_ms, memory_order_relaxed);

	return oldest > 0 ? (double)(clock_mono_ms() - oldest) / 1000.0 : 0;
}

struct history_metrics *history_metrics_start(const char *bind, long port, char *err, size_t errlen)
{
	static const double sizes[] = { 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000 };
	static const double seconds[] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30 };
	struct history_metrics *hm = NULL;
	struct history_metrics *rc = NULL;
	struct metrics *r;

	if(errlen) err[0] = '\0';
	if(port <= 0) goto out;
	hm = calloc(1, sizeof(*hm));
	if(!hm || !(hm->registry = metrics_new())){
		snprintf(err, errlen, "metrics: out of memory");
		goto out;
	}
	atomic_init(&hm->oldest_taken_ms, 0);
	r = hm->registry;
	hm->taken = metrics_counter(r, "chat_history_messages_taken_total",
			"Room messages that passed the check and were written to the intake log (the broker may then drop them).", NULL, NULL);
	hm->stored = metrics_counter(r, "chat_history_messages_stored_total",
			"Room messages stored with a new seq.", NULL, NULL);
	hm->duplicates = metrics_counter(r, "chat_history_messages_duplicate_total",
			"Room messages already stored (client resend, QoS 1 redelivery, bridge copy, replayed log): receipt with the first seq.",
			NULL, NULL);
	for(size_t i = 0; i < ERROR_CODE_COUNT; i++){
		hm->message_errors[i] = metrics_counter(r, "chat_history_message_errors_total",
				"Room messages refused (error sent to the sender's inbox), by error code.", "code", error_codes[i]);
	}
	hm->requests = metrics_counter(r, "chat_history_requests_total", "Requests received.", NULL, NULL);
	for(size_t i = 0; i < ERROR_CODE_COUNT; i++){
		hm->request_errors[i] = metrics_counter(r, "chat_history_request_errors_total",
				"Requests answered with an error, by error code.", "code", error_codes[i]);
	}
	hm->batch_size = metrics_histogram(r, "chat_history_batch_size",
			"Messages per storage transaction.", NULL, NULL, sizes, sizeof(sizes) / sizeof(sizes[0]));
	hm->commit_seconds = metrics_histogram(r, "chat_history_commit_seconds",
			"Time to store one batch, retries included.", NULL, NULL, seconds, sizeof(seconds) / sizeof(seconds[0]));
	hm->backlog = metrics_gauge(r, "chat_history_intake_backlog",
			"Messages taken and queued for the committer, not in the batch being stored.", NULL, NULL);
	metrics_gauge_fn(r, "chat_history_oldest_unstored_age_seconds",
			"Seconds the oldest message taken but not yet stored has waited (0: none waits).", NULL, NULL, oldest_age, hm);
	if(!hm->taken || !hm->backlog || !hm->commit_seconds){
		snprintf(err, errlen, "metrics: out of memory");
		goto out;
	}
	if(metrics_serve(r, bind, (int)port, err, errlen)) goto out;
	rc = hm;
	hm = NULL;
out:
	history_metrics_stop(hm);
	return rc;
}

void history_metrics_taken(struct history_metrics *hm)
{
	if(hm) metric_inc(hm->taken);
}

void history_metrics_request(struct history_metrics *hm)
{
	if(hm) metric_inc(hm->requests);
}

void history_metrics_stored(struct history_metrics *hm, enum store_status status)
{
	if(!hm) return;
	if(status == STORE_STORED) metric_inc(hm->stored);
	else if(status == STORE_DUPLICATE) metric_inc(hm->duplicates);
}

static size_t code_index(const char *code)
{
	for(size_t i = 0; i + 1 < ERROR_CODE_COUNT; i++){
		if(code && !strcmp(code, error_codes[i])) return i;
	}
	return ERROR_CODE_COUNT - 1;
}

void history_metrics_message_error(struct history_metrics *hm, const char *code)
{
	if(hm) metric_inc(hm->message_errors[code_index(code)]);
}

void history_metrics_request_error(struct history_metrics *hm, const char *code)
{
	if(hm) metric_inc(hm->request_errors[code_index(code)]);
}

void history_metrics_backlog(struct history_metrics *hm, long pending)
{
	if(hm) metric_set(hm->backlog, (double)pending);
}

void history_metrics_batch_begin(struct history_metrics *hm, long long oldest_taken_ms)
{
	if(hm) atomic_store_explicit(&hm->oldest_taken_ms, oldest_taken_ms, memory_order_relaxed);
}

void history_metrics_batch_end(struct history_metrics *hm, int n, long long elapsed_us, long long next_oldest_ms)
{
	if(!hm) return;
	metric_observe(hm->batch_size, n);
	metric_observe(hm->commit_seconds, (double)elapsed_us / 1e6);
	atomic_store_explicit(&hm->oldest_taken_ms, next_oldest_ms, memory_order_relaxed);
}

void history_metrics_stop(struct history_metrics *hm)
{
	if(!hm) return;
	metrics_free(hm->registry);
	free(hm);
}
