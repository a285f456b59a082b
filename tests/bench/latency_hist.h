/* latency_hist.h: a fixed-size log-linear histogram of durations in
 * nanoseconds (64 sub-buckets per power of two, so any percentile read back
 * is within 1.6% of the true value; the maximum is kept exactly). Used by
 * the load generator so that millions of samples cost a few kilobytes and no
 * allocation on the hot path. Not thread-safe: one histogram per thread,
 * merged at the end. */
#ifndef BENCH_LATENCY_HIST_H
#define BENCH_LATENCY_HIST_H

#include <stdint.h>

#define LAT_SUB_BITS 6
#define LAT_BUCKETS ((64 - LAT_SUB_BITS + 1) << LAT_SUB_BITS)

struct latency_hist {
	uint64_t count;
	uint64_t sum_ns;
	uint64_t max_ns;
	uint64_t min_ns;
	uint64_t buckets[LAT_BUCKETS];
};

/* Empties h. */
void lat_reset(struct latency_hist *h);

/* Records one duration of ns nanoseconds. */
void lat_add(struct latency_hist *h, uint64_t ns);

/* Adds all samples of from into into. */
void lat_merge(struct latency_hist *into, const struct latency_hist *from);

/* Returns the duration below which fraction q (0..1) of the samples lie
 * (the midpoint of its bucket, the exact maximum for q = 1), or 0 when h is
 * empty. */
uint64_t lat_quantile(const struct latency_hist *h, double q);

#endif
