/* presence.c: the presence state machine's entry points: creation, the
 * timers (presence_tick) and the counters. The pieces it drives are listed
 * in presence_int.h; the rules are in presence.h. */
#include "presence.h"

#include <stdlib.h>

#include "clock.h"
#include "presence_int.h"

void presence_opts_default(struct presence_opts *opts)
{
	opts->coalesce_ms = 500;
	opts->min_interval_ms = 2000;
	opts->node_timeout_ms = 8000;
	opts->startup_hold_ms = 4000;
	opts->typing_ttl_ms = 6000;
	opts->mono_ms = clock_mono_ms;
	opts->wall_ms = clock_wall_ms;
}

struct presence *presence_new(const struct presence_opts *opts, const struct presence_sink *sink)
{
	struct presence *p = calloc(1, sizeof(*p));

	if(!p) return NULL;
	p->opts = *opts;
	if(!p->opts.mono_ms) p->opts.mono_ms = clock_mono_ms;
	if(!p->opts.wall_ms) p->opts.wall_ms = clock_wall_ms;
	p->sink = *sink;
	p->holding = opts->startup_hold_ms > 0;
	p->started = presence_mono(p);
	return p;
}

/* The hold ends startup_hold_ms after the start, once no snapshot is
 * pending; a snapshot that never completes holds it at most three times
 * as long. */
static bool hold_may_end(const struct presence *p, long long now)
{
	if(now - p->started < p->opts.startup_hold_ms) return false;
	if(now - p->started >= 3 * p->opts.startup_hold_ms) return true;
	return !presence_nodes__sync_pending(p);
}

void presence_tick(struct presence *p, bool connected)
{
	long long now = presence_mono(p);

	if(connected && !p->connected) p->connected_since = now;
	p->connected = connected;
	if(p->holding && hold_may_end(p, now)) presence_publish__end_hold(p);
	if(connected && now - p->connected_since >= p->opts.node_timeout_ms) presence_nodes__lose_silent(p, now);
	presence_typing__expire(p, now);
	if(p->holding || !connected) return;
	presence_publish__due(p, now);
}

void presence_get_stats(const struct presence *p, struct presence_stats *stats)
{
	*stats = p->stats;
}

void presence_free(struct presence *p)
{
	if(!p) return;
	presence_table__free(p);
	presence_nodes__free(p);
	presence_typing__free(p);
	free(p);
}
