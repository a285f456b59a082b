/* presence_metrics.c: presence-svc's metrics; see presence_metrics.h. */
#include "presence_metrics.h"

#include <stdio.h>
#include <stdlib.h>

#include "metrics.h"

struct presence_metrics {
	struct metrics *registry;
	struct metric *conn_events, *heartbeats, *snapshot_parts, *bad_input;
	struct metric *published, *suppressed, *corrected, *typing_expired;
	struct metric *nodes_heard, *nodes_lost, *syncs, *requests;
	struct metric *users_online, *connections, *last_seen_queued;
};

struct presence_metrics *presence_metrics_start(const char *bind, long port, char *err, size_t errlen)
{
	static const char input_help[] = "Messages read from the nodes' chat/v1/sys/conn/{node}, by kind"
		" (event: a connect or disconnect; bad: malformed input of any kind, ignored).";
	static const char pub_help[] = "Presence changes: published (retained chat/v1/presence/{user}),"
		" suppressed (no change from the last one), corrected (republished over a stale retained state).";
	struct presence_metrics *pm = NULL;
	struct presence_metrics *rc = NULL;
	struct metrics *r;

	if(errlen) err[0] = '\0';
	if(port <= 0) goto out;
	pm = calloc(1, sizeof(*pm));
	if(!pm || !(pm->registry = metrics_new())){
		snprintf(err, errlen, "metrics: out of memory");
		goto out;
	}
	r = pm->registry;
	pm->conn_events = metrics_counter(r, "chat_presence_input_total", input_help, "kind", "event");
	pm->heartbeats = metrics_counter(r, "chat_presence_input_total", input_help, "kind", "heartbeat");
	pm->snapshot_parts = metrics_counter(r, "chat_presence_input_total", input_help, "kind", "snapshot_part");
	pm->bad_input = metrics_counter(r, "chat_presence_input_total", input_help, "kind", "bad");
	pm->published = metrics_counter(r, "chat_presence_publications_total", pub_help, "result", "published");
	pm->suppressed = metrics_counter(r, "chat_presence_publications_total", pub_help, "result", "suppressed");
	pm->corrected = metrics_counter(r, "chat_presence_publications_total", pub_help, "result", "corrected");
	pm->typing_expired = metrics_counter(r, "chat_presence_typing_expired_total",
			"Typing indicators expired by presence-svc.", NULL, NULL);
	pm->nodes_heard = metrics_counter(r, "chat_presence_nodes_heard_total",
			"Broker nodes heard for the first time, after a restart, or back after being lost.", NULL, NULL);
	pm->nodes_lost = metrics_counter(r, "chat_presence_nodes_lost_total",
			"Broker nodes declared lost (no heartbeat for node_timeout_ms): their connections counted closed.", NULL, NULL);
	pm->syncs = metrics_counter(r, "chat_presence_snapshots_requested_total",
			"Snapshots of a node's connections asked for (chat/v1/sys/sync/{node}).", NULL, NULL);
	pm->requests = metrics_counter(r, "chat_presence_requests_total", "Presence requests received.", NULL, NULL);
	pm->users_online = metrics_gauge(r, "chat_presence_users_online", "Users with at least one open connection.", NULL, NULL);
	pm->connections = metrics_gauge(r, "chat_presence_connections", "Open connections of users, on all nodes.", NULL, NULL);
	pm->last_seen_queued = metrics_gauge(r, "chat_presence_last_seen_queued",
			"Last-seen times waiting to be written to MariaDB.", NULL, NULL);
	if(!pm->last_seen_queued){
		snprintf(err, errlen, "metrics: out of memory");
		goto out;
	}
	if(metrics_serve(r, bind, (int)port, err, errlen)) goto out;
	rc = pm;
	pm = NULL;
out:
	presence_metrics_stop(pm);
	return rc;
}

void presence_metrics_update(struct presence_metrics *pm, const struct presence_stats *stats,
		size_t users_online, size_t connections, unsigned long long requests, size_t last_seen_queued)
{
	if(!pm) return;
	metric_set(pm->conn_events, (double)stats->events);
	metric_set(pm->heartbeats, (double)stats->heartbeats);
	metric_set(pm->snapshot_parts, (double)stats->snapshot_parts);
	metric_set(pm->bad_input, (double)stats->bad_input);
	metric_set(pm->published, (double)stats->published);
	metric_set(pm->suppressed, (double)stats->suppressed);
	metric_set(pm->corrected, (double)stats->corrected);
	metric_set(pm->typing_expired, (double)stats->typing_expired);
	metric_set(pm->nodes_heard, (double)stats->nodes_heard);
	metric_set(pm->nodes_lost, (double)stats->nodes_lost);
	metric_set(pm->syncs, (double)stats->syncs_requested);
	metric_set(pm->requests, (double)requests);
	metric_set(pm->users_online, (double)users_online);
	metric_set(pm->connections, (double)connections);
	metric_set(pm->last_seen_queued, (double)last_seen_queued);
}

void presence_metrics_stop(struct presence_metrics *pm)
{
	if(!pm) return;
	metrics_free(pm->registry);
	free(pm);
}
