/* presence_nodes.c: connection events in. Each node's boot, heartbeats
 * and snapshots decide which of its connections we believe in; the changes
 * go to the table (presence_table.c). See docs/PROTOCOL.md section 3.6. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "presence_int.h"
#include "topics.h"

static void staging_clear(struct node_entry *node)
{
	struct staged_conn *s, *tmp;

	HASH_ITER(hh, node->staging, s, tmp){
		HASH_DEL(node->staging, s);
		free(s);
	}
	node->staging_next = 0;
}

static void request_sync(struct presence *p, struct node_entry *node)
{
	char topic[TOPIC_MAX], payload[64];
	long long now = presence_mono(p);

	if(node->sync_pending && now - node->sync_sent < SYNC_RETRY_MS) return;
	if(topic_sys_sync(topic, sizeof(topic), node->name)) return;
	snprintf(payload, sizeof(payload), "{\"" CONN_EV_SYNC "\":\"s%llu\"}", ++p->next_sync_id);
	node->sync_pending = true;
	node->sync_sent = now;
	p->stats.syncs_requested++;
	log_debug("asking node %s for a snapshot", node->name);
	p->sink.publish(p->sink.ud, topic, payload, 1, false);
}

/* Finds or creates the node of event and checks its boot. Returns the
 * node, or NULL when the event comes from an older boot than the one we
 * know (a stale event: ignore it) or when out of memory. A newer boot
 * means the node restarted: every connection we had on it is gone. */
static struct node_entry *node_heard(struct presence *p, const struct conn_event *event)
{
	struct node_entry *node = NULL;

	HASH_FIND_STR(p->nodes, event->node, node);
	if(!node){
		node = calloc(1, sizeof(*node));
		if(!node) return NULL;
		snprintf(node->name, sizeof(node->name), "%s", event->node);
		node->boot = event->boot;
		HASH_ADD_STR(p->nodes, name, node);
		log_info("node %s first heard", node->name);
		p->stats.nodes_heard++;
	}else if(event->boot < node->boot){
		return NULL;
	}else if(event->boot > node->boot){
		log_info("node %s restarted; dropping its %u connections", node->name, node->conns);
		p->stats.nodes_heard++;
		presence_table__drop_node(p, node, presence_wall(p));
		staging_clear(node);
		node->boot = event->boot;
		node->synced = false;
		node->sync_pending = false;
		node->lost = false;
		node->applied_seq = 0;
		node->seq_at_prev_hb = 0;
	}
	node->last_heard = presence_mono(p);
	node->last_heard_wall = presence_wall(p);
	if(node->lost){
		log_info("node %s is back; asking for its connections", node->name);
		p->stats.nodes_heard++;
		node->lost = false;
		node->synced = false;
		node->sync_pending = false;
		request_sync(p, node);
	}
	return node;
}

static void node_lose(struct presence *p, struct node_entry *node)
{
	log_warn("node %s silent for %lld ms: its %u connections count as closed", node->name,
			presence_mono(p) - node->last_heard, node->conns);
	presence_table__drop_node(p, node, node->last_heard_wall);
	staging_clear(node);
	node->lost = true;
	node->synced = false;
	node->sync_pending = false;
	p->stats.nodes_lost++;
}

static void on_heartbeat(struct presence *p, struct node_entry *node, const struct conn_event *event)
{
	bool progressed = node->applied_seq != node->seq_at_prev_hb;

	node->seq_at_prev_hb = node->applied_seq;
	if(event->seq == node->applied_seq){
		/* We have applied every change the node made before this heartbeat:
		 * our view must agree exactly. */
		if(event->conns == node->conns && event->digest == node->digest){
			node->synced = true;
			node->mismatches = 0;
		}else{
			node->mismatches = 2;
			request_sync(p, node);
		}
		return;
	}
	if(!node->synced){
		/* First heard, back after being lost, or restarted: ask at once. */
		request_sync(p, node);
		return;
	}
	/* The heartbeat (QoS 0) overtook changes (QoS 1) still on their way:
	 * fine while they keep arriving; two heartbeats without progress mean
	 * some were lost. */
	if(progressed || event->seq < node->applied_seq){
		node->mismatches = 0;
		return;
	}
	if(++node->mismatches >= 2) request_sync(p, node);
}

/* Replaces our connections of node with the staged snapshot. */
static void reconcile(struct presence *p, struct node_entry *node)
{
	struct conn_entry *c, *ctmp;
	struct staged_conn *s, *stmp, *found;
	long long now = presence_wall(p);
	unsigned int before = node->conns;

	HASH_ITER(hh, p->conns, c, ctmp){
		if(c->node != node) continue;
		found = NULL;
		HASH_FIND_STR(node->staging, c->conn_id, found);
		if(!found) presence_table__conn_remove(p, c, now);
	}
	HASH_ITER(hh, node->staging, s, stmp){
		presence_table__conn_add(p, node, &s->conn);
	}
	log_info("node %s synced: %u connections (had %u)", node->name, node->conns, before);
	staging_clear(node);
	node->synced = true;
	node->sync_pending = false;
	node->mismatches = 0;
}

static int on_snapshot(struct presence *p, struct node_entry *node, const struct conn_event *event)
{
	if(event->part == 1){
		staging_clear(node);
		node->staging_next = 1;
	}
	if(event->part != node->staging_next){
		/* A part is missing: drop this snapshot; the next heartbeat asks again. */
		staging_clear(node);
		node->sync_pending = false;
		return -1;
	}
	for(size_t i = 0; i < event->list_len; i++){
		struct staged_conn *s = NULL;

		HASH_FIND_STR(node->staging, event->list[i].conn, s);
		if(s) continue;
		s = calloc(1, sizeof(*s));
		if(!s) continue;
		s->conn = event->list[i];
		HASH_ADD_STR(node->staging, conn.conn, s);
	}
	node->staging_next++;
	if(event->part == event->parts){
		reconcile(p, node);
		node->applied_seq = event->seq;
	}
	return 0;
}

/* A connect or disconnect. */
static void on_change(struct presence *p, struct node_entry *node, const struct conn_event *event)
{
	struct conn_entry *c;

	/* A change at or before one already applied (or in an applied
	 * snapshot) is a redelivered duplicate: applying it again could bring
	 * back a connection that has ended. */
	if(event->seq && event->seq <= node->applied_seq) return;
	if(event->seq) node->applied_seq = event->seq;
	if(event->kind == CONN_EVENT_CONNECT){
		presence_table__conn_add(p, node, &event->conn);
		return;
	}
	c = presence_table__conn_find(p, event->conn.conn);
	if(c) presence_table__conn_remove(p, c, presence_wall(p));
}

int presence_conn_message(struct presence *p, const char *node_name, const void *payload, size_t len)
{
	struct conn_event event;
	struct node_entry *node;
	int rc = -1;

	if(conn_event_parse(node_name, payload, len, &event)) goto out;
	node = node_heard(p, &event);
	rc = 0;
	/* Stale (an older boot): nothing to apply. */
	if(!node) goto out;
	switch(event.kind){
	case CONN_EVENT_HEARTBEAT:
		p->stats.heartbeats++;
		on_heartbeat(p, node, &event);
		break;
	case CONN_EVENT_SNAPSHOT:
		p->stats.snapshot_parts++;
		rc = on_snapshot(p, node, &event);
		break;
	case CONN_EVENT_CONNECT:
	case CONN_EVENT_DISCONNECT:
		p->stats.events++;
		on_change(p, node, &event);
		break;
	}
out:
	if(rc) p->stats.bad_input++;
	conn_event_clear(&event);
	return rc;
}

void presence_nodes__lose_silent(struct presence *p, long long now)
{
	struct node_entry *node, *tmp;

	HASH_ITER(hh, p->nodes, node, tmp){
		long long heard = node->last_heard > p->connected_since ? node->last_heard : p->connected_since;

		if(!node->lost && now - heard > p->opts.node_timeout_ms) node_lose(p, node);
	}
}

bool presence_nodes__sync_pending(const struct presence *p)
{
	const struct node_entry *node, *tmp;

	HASH_ITER(hh, p->nodes, node, tmp){
		if(node->sync_pending) return true;
	}
	return false;
}

void presence_nodes__free(struct presence *p)
{
	struct node_entry *n, *tmp;

	HASH_ITER(hh, p->nodes, n, tmp){
		staging_clear(n);
		HASH_DEL(p->nodes, n);
		free(n);
	}
}
