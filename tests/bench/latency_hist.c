/* latency_hist.c: the log-linear latency histogram of latency_hist.h. */
#include "latency_hist.h"

#include <string.h>

static unsigned bucket_of(uint64_t ns)
{
	if (ns < (1u << LAT_SUB_BITS))
		return (unsigned)ns;
	unsigned exp = 63u - (unsigned)__builtin_clzll(ns); /* >= LAT_SUB_BITS */
	unsigned sub = (unsigned)(ns >> (exp - LAT_SUB_BITS)) & ((1u << LAT_SUB_BITS) - 1);
	return ((exp - LAT_SUB_BITS + 1) << LAT_SUB_BITS) + sub;
}

/* Lower bound and width of a bucket. */
static void bucket_range(unsigned idx, uint64_t *low, uint64_t *width)
{
	if (idx < (1u << LAT_SUB_BITS)) {
		*low = idx;
		*width = 1;
		return;
	}
	unsigned exp = (idx >> LAT_SUB_BITS) + LAT_SUB_BITS - 1;
	uint64_t sub = idx & ((1u << LAT_SUB_BITS) - 1);
	*low = ((1ull << LAT_SUB_BITS) + sub) << (exp - LAT_SUB_BITS);
	*width = 1ull << (exp - LAT_SUB_BITS);
}

/* Empties h. */
void lat_reset(struct latency_hist *h)
{
	memset(h, 0, sizeof *h);
}

/* Records one duration of ns nanoseconds. */
void lat_add(struct latency_hist *h, uint64_t ns)
{
	h->buckets[bucket_of(ns)]++;
	if (h->count == 0 || ns < h->min_ns)
		h->min_ns = ns;
	if (ns > h->max_ns)
		h->max_ns = ns;
	h->count++;
	h->sum_ns += ns;
}

/* Adds all samples of from into into. */
void lat_merge(struct latency_hist *into, const struct latency_hist *from)
{
	if (from->count == 0)
		return;
	for (unsigned i = 0; i < LAT_BUCKETS; i++)
		into->buckets[i] += from->buckets[i];
	if (into->count == 0 || from->min_ns < into->min_ns)
		into->min_ns = from->min_ns;
	if (from->max_ns > into->max_ns)
		into->max_ns = from->max_ns;
	into->count += from->count;
	into->sum_ns += from->sum_ns;
}

/* Returns the duration below which fraction q of the samples lie. */
uint64_t lat_quantile(const struct latency_hist *h, double q)
{
	uint64_t result = 0;
	if (h->count == 0)
		goto out;
	if (q >= 1.0) {
		result = h->max_ns;
		goto out;
	}
	uint64_t rank = (uint64_t)(q * (double)h->count);
	if (rank >= h->count)
		rank = h->count - 1;
	uint64_t seen = 0;
	for (unsigned i = 0; i < LAT_BUCKETS; i++) {
		seen += h->buckets[i];
		if (seen > rank) {
			uint64_t low, width;
			bucket_range(i, &low, &width);
			result = low + width / 2;
			break;
		}
	}
	if (result > h->max_ns)
		result = h->max_ns;
	if (result < h->min_ns)
		result = h->min_ns;
out:
	return result;
}
