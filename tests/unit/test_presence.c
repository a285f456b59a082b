/* test_presence.c: presence-svc's state machine (presence-svc/presence*.c)
 * driven through presence.h as the service drives it: connection events
 * from the nodes, retained presence read back, typing indicators, status
 * requests and presence_tick, on a fake clock that moves only when a test
 * says. What is asserted is what subscribers would see: the retained
 * presence published (state, devices, last_seen, text), when it goes out,
 * the snapshot requests sent to nodes, and the replies' view of a user;
 * plus the connection-event parser's refusals. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "../../presence-svc/conn_event.h"
#include "../../presence-svc/presence.h"
#include "conn_event_fields.h"
#include "fnv.h"
#include "log.h"
#include "test.h"
#include "timefmt.h"

/* ---- a fake clock and a recording sink -------------------------------- */

#define WALL_START 1795000000000LL /* 2026-11-18, any fixed time will do */

static long long fake_mono, fake_wall;

static long long mono_now(void) { return fake_mono; }
static long long wall_now(void) { return fake_wall; }

#define PUB_MAX 64

struct pub {
	char topic[128];
	char payload[512];
	int qos;
	bool retain;
};

static struct {
	struct pub pubs[PUB_MAX];
	int npubs;
	char seen_user[64];
	long long seen_ms;
	int nseen;
} rec;

static void rec_publish(void *ud, const char *topic, const char *payload, int qos, bool retain)
{
	(void)ud;
	if(rec.npubs >= PUB_MAX) return;
	snprintf(rec.pubs[rec.npubs].topic, sizeof(rec.pubs[0].topic), "%s", topic);
	snprintf(rec.pubs[rec.npubs].payload, sizeof(rec.pubs[0].payload), "%s", payload);
	rec.pubs[rec.npubs].qos = qos;
	rec.pubs[rec.npubs].retain = retain;
	rec.npubs++;
}

static void rec_last_seen(void *ud, const char *user, long long seen_ms)
{
	(void)ud;
	snprintf(rec.seen_user, sizeof(rec.seen_user), "%s", user);
	rec.seen_ms = seen_ms;
	rec.nseen++;
}

/* A table with the documented defaults, no startup hold (unless hold_ms),
 * on the fake clock, recording into rec (emptied). */
static struct presence *fresh(long hold_ms)
{
	struct presence_opts opts;
	struct presence_sink sink = { .publish = rec_publish, .last_seen = rec_last_seen, .ud = NULL };

	log_setup("unit", LOG_ERROR); /* the state machine's info lines are noise here */
	memset(&rec, 0, sizeof(rec));
	fake_mono = 1000000;
	fake_wall = WALL_START;
	presence_opts_default(&opts);
	opts.startup_hold_ms = hold_ms;
	opts.mono_ms = mono_now;
	opts.wall_ms = wall_now;
	return presence_new(&opts, &sink);
}

/* Moves both clocks by ms and runs the timers, as the service loop does. */
static void advance(struct presence *p, long long ms)
{
	fake_mono += ms;
	fake_wall += ms;
	presence_tick(p, true);
}

/* The i-th publication on topic (0 first), or NULL. */
static const struct pub *pub_on(const char *topic, int i)
{
	for(int n = 0; n < rec.npubs; n++){
		if(!strcmp(rec.pubs[n].topic, topic) && i-- == 0) return &rec.pubs[n];
	}
	return NULL;
}

static int pubs_on(const char *topic)
{
	int count = 0;

	for(int n = 0; n < rec.npubs; n++) count += !strcmp(rec.pubs[n].topic, topic);
	return count;
}

/* The last presence published for user, parsed (caller deletes), or NULL. */
static cJSON *last_presence(const char *user)
{
	char topic[128];
	const struct pub *last = NULL;

	snprintf(topic, sizeof(topic), "chat/v1/presence/%s", user);
	for(int i = 0; pub_on(topic, i); i++) last = pub_on(topic, i);
	return last ? cJSON_Parse(last->payload) : NULL;
}

static const char *str_of(const cJSON *obj, const char *key)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsString(item) ? item->valuestring : NULL;
}

static bool is_null(const cJSON *obj, const char *key)
{
	return cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(obj, key));
}

static long long num_of(const cJSON *obj, const char *key)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsNumber(item) ? (long long)item->valuedouble : -1;
}

/* ---- connection events, built as the plugin builds them --------------- */

static cJSON *event_new(const char *kind, const char *node, const char *boot, long long seq)
{
	cJSON *ev = cJSON_CreateObject();

	cJSON_AddStringToObject(ev, CONN_EV_EVENT, kind);
	cJSON_AddStringToObject(ev, CONN_EV_NODE, node);
	cJSON_AddStringToObject(ev, CONN_EV_BOOT, boot);
	cJSON_AddNumberToObject(ev, CONN_EV_SEQ, (double)seq);
	cJSON_AddNumberToObject(ev, CONN_EV_TS, (double)fake_wall);
	return ev;
}

/* Hands ev (deleted here) to p as a message on node's topic. */
static int deliver(struct presence *p, const char *node, cJSON *ev)
{
	char *text = cJSON_PrintUnformatted(ev);
	int rc = presence_conn_message(p, node, text, strlen(text));

	cJSON_free(text);
	cJSON_Delete(ev);
	return rc;
}

static int change(struct presence *p, const char *kind, const char *node, long long seq, const char *conn,
		const char *user, const char *client)
{
	cJSON *ev = event_new(kind, node, "1a2b", seq);

	cJSON_AddStringToObject(ev, CONN_EV_CONN, conn);
	cJSON_AddStringToObject(ev, CONN_EV_USER, user);
	cJSON_AddStringToObject(ev, CONN_EV_CLIENT, client);
	return deliver(p, node, ev);
}

static int connect_ev(struct presence *p, const char *node, long long seq, const char *conn, const char *user)
{
	return change(p, CONN_EV_KIND_CONNECT, node, seq, conn, user, "phone");
}

static int disconnect_ev(struct presence *p, const char *node, long long seq, const char *conn, const char *user)
{
	return change(p, CONN_EV_KIND_DISCONNECT, node, seq, conn, user, "phone");
}

/* A heartbeat of node at seq listing the connection ids conns (NULL-ended). */
static int heartbeat(struct presence *p, const char *node, long long seq, const char *const *conns)
{
	cJSON *ev = event_new(CONN_EV_KIND_HEARTBEAT, node, "1a2b", seq);
	unsigned long long digest = 0;
	int count = 0;
	char hex[17];

	for(; conns && conns[count]; count++) digest ^= fnv1a64_str(conns[count]);
	snprintf(hex, sizeof(hex), "%016llx", digest);
	cJSON_AddNumberToObject(ev, CONN_EV_CONNS, count);
	cJSON_AddStringToObject(ev, CONN_EV_DIGEST, hex);
	cJSON_AddNumberToObject(ev, CONN_EV_INTERVAL_MS, 2000);
	return deliver(p, node, ev);
}

/* A one-part snapshot of node at seq: pairs of connection id and user. */
static int snapshot(struct presence *p, const char *node, long long seq, const char *const *pairs)
{
	cJSON *ev = event_new(CONN_EV_KIND_SNAPSHOT, node, "1a2b", seq);
	cJSON *list;

	cJSON_AddStringToObject(ev, CONN_EV_SYNC, "s1");
	cJSON_AddNumberToObject(ev, CONN_EV_PART, 1);
	cJSON_AddNumberToObject(ev, CONN_EV_PARTS, 1);
	list = cJSON_AddArrayToObject(ev, CONN_EV_CONNS);
	for(int i = 0; pairs && pairs[i]; i += 2){
		cJSON *item = cJSON_CreateObject();

		cJSON_AddStringToObject(item, CONN_EV_CONN, pairs[i]);
		cJSON_AddStringToObject(item, CONN_EV_USER, pairs[i + 1]);
		cJSON_AddStringToObject(item, CONN_EV_CLIENT, "laptop");
		cJSON_AddNumberToObject(item, CONN_EV_SINCE, (double)(fake_wall - 60000));
		cJSON_AddItemToArray(list, item);
	}
	return deliver(p, node, ev);
}

static bool iso_is(const char *iso, long long ms)
{
	char want[TIMEFMT_LEN];

	timefmt_iso(ms, want);
	return iso && !strcmp(iso, want);
}

/* ---- connect, disconnect, takeover ------------------------------------ */

static void test_connect_published_online_after_coalescing(void)
{
	struct presence *p = fresh(0);
	cJSON *got;

	CHECK_EQ(connect_ev(p, "leaf", 1, "leaf-1a2b-1", "alice"), 0);
	advance(p, 499);
	CHECK_EQ(pubs_on("chat/v1/presence/alice"), 0);
	advance(p, 1);
	CHECK_EQ(pubs_on("chat/v1/presence/alice"), 1);
	got = last_presence("alice");
	CHECK_STR(str_of(got, "state"), "online");
	CHECK_EQ(num_of(got, "devices"), 1);
	CHECK(is_null(got, "last_seen"));
	CHECK(is_null(got, "text"));
	CHECK(iso_is(str_of(got, "since"), WALL_START));
	CHECK(pub_on("chat/v1/presence/alice", 0)->retain);
	CHECK_EQ(pub_on("chat/v1/presence/alice", 0)->qos, 1);
	cJSON_Delete(got);
	presence_free(p);
}

static void test_disconnect_published_offline_with_last_seen_stored(void)
{
	struct presence *p = fresh(0);
	long long gone;
	cJSON *got;

	connect_ev(p, "leaf", 1, "leaf-1a2b-1", "alice");
	advance(p, 3000);
	gone = fake_wall;
	disconnect_ev(p, "leaf", 2, "leaf-1a2b-1", "alice");
	/* Published 2 s after the online state went out (min_interval_ms). */
	advance(p, 1999);
	CHECK_EQ(pubs_on("chat/v1/presence/alice"), 1);
	advance(p, 1);
	got = last_presence("alice");
	CHECK_STR(str_of(got, "state"), "offline");
	CHECK_EQ(num_of(got, "devices"), 0);
	CHECK(iso_is(str_of(got, "last_seen"), gone));
	CHECK(iso_is(str_of(got, "since"), gone));
	CHECK_EQ(rec.nseen, 1);
	CHECK_STR(rec.seen_user, "alice");
	CHECK_EQ(rec.seen_ms, gone);
	cJSON_Delete(got);
	presence_free(p);
}

/* Issue 12 A3: a connected user's last_seen is null in the replies
 * (presence_get + presence_reported_last_seen, used by roster and devices)
 * as in the retained presence, even after an earlier disconnect and
 * whatever MariaDB stored; once offline, all say the same time. */
static void test_last_seen_null_while_connected_everywhere(void)
{
	struct presence *p = fresh(0);
	struct presence_view view;
	long long first_gone, stored = WALL_START - 86400000LL, second_gone;
	cJSON *got;

	connect_ev(p, "leaf", 1, "leaf-1a2b-1", "alice");
	advance(p, 3000);
	first_gone = fake_wall;
	disconnect_ev(p, "leaf", 2, "leaf-1a2b-1", "alice");
	advance(p, 3000);
	CHECK(presence_get(p, "alice", &view));
	CHECK_EQ(presence_reported_last_seen(&view, stored), first_gone);

	connect_ev(p, "hub", 1, "hub-1a2b-1", "alice");
	advance(p, 3000);
	got = last_presence("alice");
	CHECK_STR(str_of(got, "state"), "online");
	CHECK(is_null(got, "last_seen"));
	cJSON_Delete(got);
	CHECK(presence_get(p, "alice", &view));
	CHECK_STR(view.state, "online");
	CHECK_EQ(view.last_seen_ms, 0);
	CHECK_EQ(presence_reported_last_seen(&view, stored), 0);
	CHECK_EQ(presence_reported_last_seen(&view, 0), 0);

	second_gone = fake_wall;
	disconnect_ev(p, "hub", 2, "hub-1a2b-1", "alice");
	advance(p, 3000);
	got = last_presence("alice");
	CHECK(iso_is(str_of(got, "last_seen"), second_gone));
	cJSON_Delete(got);
	CHECK(presence_get(p, "alice", &view));
	CHECK_EQ(presence_reported_last_seen(&view, stored), second_gone);
	/* Unknown to presence (not seen since start): what MariaDB stored. */
	CHECK(!presence_get(p, "bob", &view));
	CHECK_STR(view.state, "offline");
	CHECK_EQ(presence_reported_last_seen(&view, stored), stored);
	CHECK_EQ(presence_reported_last_seen(&view, 0), 0);
	presence_free(p);
}

/* A client id taken over by a new connection (the broker authenticates the
 * new one, then ends the old): the user never shows offline. */
static void test_takeover_keeps_user_online(void)
{
	struct presence *p = fresh(0);
	struct presence_view view;
	cJSON *got;

	change(p, CONN_EV_KIND_CONNECT, "leaf", 1, "leaf-1a2b-1", "alice", "alice-phone");
	advance(p, 3000);
	change(p, CONN_EV_KIND_CONNECT, "hub", 1, "hub-1a2b-1", "alice", "alice-phone");
	change(p, CONN_EV_KIND_DISCONNECT, "leaf", 2, "leaf-1a2b-1", "alice", "alice-phone");
	advance(p, 3000);
	CHECK_EQ(pubs_on("chat/v1/presence/alice"), 1); /* same state, same devices: nothing new */
	got = last_presence("alice");
	CHECK_STR(str_of(got, "state"), "online");
	cJSON_Delete(got);
	CHECK(presence_get(p, "alice", &view));
	CHECK_EQ(view.devices, 1);
	CHECK_EQ(presence_connections(p), 1);
	CHECK_EQ(rec.nseen, 0);
	presence_free(p);
}

static int first_device(void *ud, const char *client, const char *node, long long since_ms)
{
	char *out = ud;

	snprintf(out, 64, "%s@%s:%lld", client, node, since_ms);
	return 1;
}

static void test_two_devices_then_one_then_none(void)
{
	struct presence *p = fresh(0);
	char device[64] = "";
	cJSON *got;

	connect_ev(p, "leaf", 1, "leaf-1a2b-1", "alice");
	connect_ev(p, "hub", 1, "hub-1a2b-1", "alice");
	advance(p, 500);
	got = last_presence("alice");
	CHECK_EQ(num_of(got, "devices"), 2);
	cJSON_Delete(got);
	disconnect_ev(p, "leaf", 2, "leaf-1a2b-1", "alice");
	advance(p, 2000);
	got = last_presence("alice");
	CHECK_STR(str_of(got, "state"), "online");
	CHECK_EQ(num_of(got, "devices"), 1);
	CHECK(is_null(got, "last_seen"));
	cJSON_Delete(got);
	CHECK_EQ(presence_devices(p, "alice", 10, first_device, device), 1);
	CHECK(!strncmp(device, "phone@hub:", 10));
	disconnect_ev(p, "hub", 2, "hub-1a2b-1", "alice");
	advance(p, 2000);
	got = last_presence("alice");
	CHECK_STR(str_of(got, "state"), "offline");
	cJSON_Delete(got);
	CHECK_EQ(presence_users_online(p), 0);
	presence_free(p);
}

/* ---- coalescing -------------------------------------------------------- */

static void test_flapping_is_coalesced(void)
{
	struct presence *p = fresh(0);

	connect_ev(p, "leaf", 1, "leaf-1a2b-1", "alice");
	advance(p, 500);
	CHECK_EQ(pubs_on("chat/v1/presence/alice"), 1);
	/* Gone and back within the coalescing time: nothing to say. */
	disconnect_ev(p, "leaf", 2, "leaf-1a2b-1", "alice");
	advance(p, 100);
	connect_ev(p, "leaf", 3, "leaf-1a2b-2", "alice");
	advance(p, 5000);
	CHECK_EQ(pubs_on("chat/v1/presence/alice"), 1);
	/* A real change soon after a publication waits for min_interval_ms. */
	disconnect_ev(p, "leaf", 4, "leaf-1a2b-2", "alice");
	advance(p, 500);
	CHECK_EQ(pubs_on("chat/v1/presence/alice"), 2);
	connect_ev(p, "leaf", 5, "leaf-1a2b-3", "alice");
	advance(p, 1000);
	CHECK_EQ(pubs_on("chat/v1/presence/alice"), 2);
	advance(p, 999);
	CHECK_EQ(pubs_on("chat/v1/presence/alice"), 2);
	advance(p, 1);
	CHECK_EQ(pubs_on("chat/v1/presence/alice"), 3);
	presence_free(p);
}

static void test_redelivered_event_is_not_applied_again(void)
{
	struct presence *p = fresh(0);
	struct presence_view view;

	connect_ev(p, "leaf", 1, "leaf-1a2b-1", "alice");
	disconnect_ev(p, "leaf", 2, "leaf-1a2b-1", "alice");
	CHECK_EQ(connect_ev(p, "leaf", 1, "leaf-1a2b-1", "alice"), 0); /* QoS 1 redelivery */
	presence_get(p, "alice", &view);
	CHECK_STR(view.state, "offline");
	CHECK_EQ(presence_connections(p), 0);
	presence_free(p);
}

/* ---- nodes: lost, back, restarted, disagreeing ------------------------- */

static void test_silent_node_lost_then_back_by_snapshot(void)
{
	struct presence *p = fresh(0);
	const char *const conns[] = { "leaf-1a2b-1", NULL };
	const char *const pairs[] = { "leaf-1a2b-1", "alice", NULL };
	struct presence_stats stats;
	long long last_heartbeat;
	cJSON *got;

	presence_tick(p, true);
	connect_ev(p, "leaf", 1, "leaf-1a2b-1", "alice");
	advance(p, 2000);
	last_heartbeat = fake_wall;
	CHECK_EQ(heartbeat(p, "leaf", 1, conns), 0);
	CHECK_EQ(pubs_on("chat/v1/sys/sync/leaf"), 0); /* agrees: nothing to ask */
	advance(p, 8000);
	CHECK_EQ(presence_connections(p), 1); /* 8 s: not yet */
	advance(p, 1);
	CHECK_EQ(presence_connections(p), 0);
	advance(p, 2000);
	got = last_presence("alice");
	CHECK_STR(str_of(got, "state"), "offline");
	CHECK(iso_is(str_of(got, "last_seen"), last_heartbeat));
	cJSON_Delete(got);
	presence_get_stats(p, &stats);
	CHECK_EQ(stats.nodes_lost, 1);

	/* Heard again: asked for its connections, which replace our view. */
	heartbeat(p, "leaf", 1, conns);
	CHECK_EQ(pubs_on("chat/v1/sys/sync/leaf"), 1);
	CHECK_EQ(pub_on("chat/v1/sys/sync/leaf", 0)->qos, 1);
	got = cJSON_Parse(pub_on("chat/v1/sys/sync/leaf", 0)->payload);
	CHECK(str_of(got, CONN_EV_SYNC) != NULL);
	cJSON_Delete(got);
	CHECK_EQ(snapshot(p, "leaf", 1, pairs), 0);
	advance(p, 2000);
	got = last_presence("alice");
	CHECK_STR(str_of(got, "state"), "online");
	CHECK(is_null(got, "last_seen"));
	cJSON_Delete(got);
	presence_free(p);
}

static void test_no_node_lost_while_broker_connection_down(void)
{
	struct presence *p = fresh(0);

	presence_tick(p, true);
	connect_ev(p, "leaf", 1, "leaf-1a2b-1", "alice");
	fake_mono += 20000;
	presence_tick(p, false);
	CHECK_EQ(presence_connections(p), 1);
	/* Back up: the node gets a full timeout from now. */
	advance(p, 7000);
	CHECK_EQ(presence_connections(p), 1);
	presence_free(p);
}

static void test_digest_mismatch_asks_snapshot_which_replaces_view(void)
{
	struct presence *p = fresh(0);
	const char *const theirs[] = { "leaf-1a2b-2", NULL };
	const char *const pairs[] = { "leaf-1a2b-2", "bob", NULL };
	struct presence_view view;

	connect_ev(p, "leaf", 1, "leaf-1a2b-1", "alice");
	/* Same seq, same count, another connection: our view is wrong. */
	heartbeat(p, "leaf", 1, theirs);
	CHECK_EQ(pubs_on("chat/v1/sys/sync/leaf"), 1);
	snapshot(p, "leaf", 1, pairs);
	presence_get(p, "alice", &view);
	CHECK_STR(view.state, "offline");
	presence_get(p, "bob", &view);
	CHECK_STR(view.state, "online");
	/* Now in agreement: no more requests. */
	advance(p, 2000);
	heartbeat(p, "leaf", 1, theirs);
	advance(p, 2000);
	heartbeat(p, "leaf", 1, theirs);
	CHECK_EQ(pubs_on("chat/v1/sys/sync/leaf"), 1);
	presence_free(p);
}

static void test_changes_missing_over_two_heartbeats_ask_snapshot(void)
{
	struct presence *p = fresh(0);
	const char *const conns[] = { "leaf-1a2b-1", NULL };
	const char *const both[] = { "leaf-1a2b-1", "leaf-1a2b-2", NULL };

	connect_ev(p, "leaf", 1, "leaf-1a2b-1", "alice");
	heartbeat(p, "leaf", 1, conns);
	/* The node says 2 changes; change 2 is still on its way: fine once. */
	advance(p, 2000);
	heartbeat(p, "leaf", 2, both);
	CHECK_EQ(pubs_on("chat/v1/sys/sync/leaf"), 0);
	advance(p, 2000);
	heartbeat(p, "leaf", 2, both);
	CHECK_EQ(pubs_on("chat/v1/sys/sync/leaf"), 1);
	presence_free(p);
}

static void test_restarted_node_drops_old_connections_and_stale_boot_ignored(void)
{
	struct presence *p = fresh(0);
	cJSON *ev;

	connect_ev(p, "leaf", 1, "leaf-1a2b-1", "alice");
	ev = event_new(CONN_EV_KIND_HEARTBEAT, "leaf", "1a2c", 0);
	cJSON_AddNumberToObject(ev, CONN_EV_CONNS, 0);
	cJSON_AddStringToObject(ev, CONN_EV_DIGEST, "0000000000000000");
	CHECK_EQ(deliver(p, "leaf", ev), 0);
	CHECK_EQ(presence_connections(p), 0);
	/* An event of the old boot arriving late changes nothing. */
	CHECK_EQ(connect_ev(p, "leaf", 2, "leaf-1a2b-2", "alice"), 0);
	CHECK_EQ(presence_connections(p), 0);
	presence_free(p);
}

static void test_snapshot_with_missing_part_is_dropped(void)
{
	struct presence *p = fresh(0);
	cJSON *ev = event_new(CONN_EV_KIND_SNAPSHOT, "leaf", "1a2b", 0);

	connect_ev(p, "leaf", 1, "leaf-1a2b-1", "alice");
	cJSON_AddNumberToObject(ev, CONN_EV_PART, 2);
	cJSON_AddNumberToObject(ev, CONN_EV_PARTS, 2);
	cJSON_AddArrayToObject(ev, CONN_EV_CONNS);
	CHECK_EQ(deliver(p, "leaf", ev), -1);
	CHECK_EQ(presence_connections(p), 1);
	presence_free(p);
}

/* ---- startup hold, status, typing -------------------------------------- */

static void test_startup_hold_publishes_only_real_changes(void)
{
	struct presence *p = fresh(4000);
	char since[TIMEFMT_LEN], seen[TIMEFMT_LEN], payload[256];
	cJSON *got;

	timefmt_iso(WALL_START - 3600000, since);
	timefmt_iso(WALL_START - 7200000, seen);
	/* Before the restart: alice online (away, "lunch"), bob offline. */
	snprintf(payload, sizeof(payload), "{\"user\":\"alice\",\"state\":\"away\",\"devices\":1,\"since\":\"%s\","
			"\"last_seen\":null,\"text\":\"lunch\"}", since);
	CHECK_EQ(presence_retained(p, "alice", payload, strlen(payload)), 0);
	snprintf(payload, sizeof(payload), "{\"user\":\"bob\",\"state\":\"offline\",\"devices\":0,\"since\":\"%s\","
			"\"last_seen\":\"%s\",\"text\":null}", seen, seen);
	CHECK_EQ(presence_retained(p, "bob", payload, strlen(payload)), 0);
	connect_ev(p, "leaf", 1, "leaf-1a2b-1", "alice");
	advance(p, 3999);
	CHECK_EQ(rec.npubs, 0);
	advance(p, 1);
	advance(p, 1);
	/* alice is still what was published; bob too: nothing goes out. */
	CHECK_EQ(pubs_on("chat/v1/presence/alice"), 0);
	CHECK_EQ(pubs_on("chat/v1/presence/bob"), 0);
	/* Her chosen status and its start carried over; a later change shows it. */
	connect_ev(p, "hub", 1, "hub-1a2b-1", "alice");
	advance(p, 500);
	got = last_presence("alice");
	CHECK_STR(str_of(got, "state"), "away");
	CHECK_STR(str_of(got, "text"), "lunch");
	CHECK_STR(str_of(got, "since"), since);
	CHECK_EQ(num_of(got, "devices"), 2);
	cJSON_Delete(got);
	presence_free(p);
}

static void test_status_lasts_while_connected(void)
{
	struct presence *p = fresh(0);
	cJSON *got;

	CHECK_EQ(presence_set_status(p, "alice", "away", "lunch"), -1); /* not connected */
	connect_ev(p, "leaf", 1, "leaf-1a2b-1", "alice");
	CHECK_EQ(presence_set_status(p, "alice", "dnd", "focus"), 0);
	CHECK_EQ(presence_set_status(p, "alice", "offline", NULL), -1);
	advance(p, 500);
	got = last_presence("alice");
	CHECK_STR(str_of(got, "state"), "dnd");
	CHECK_STR(str_of(got, "text"), "focus");
	cJSON_Delete(got);
	disconnect_ev(p, "leaf", 2, "leaf-1a2b-1", "alice");
	advance(p, 2000);
	connect_ev(p, "leaf", 3, "leaf-1a2b-2", "alice");
	advance(p, 2000);
	got = last_presence("alice");
	CHECK_STR(str_of(got, "state"), "online");
	CHECK(is_null(got, "text"));
	cJSON_Delete(got);
	presence_free(p);
}

static void test_typing_expires_unless_stopped_or_renewed(void)
{
	struct presence *p = fresh(0);
	const char *typing = "chat/v1/rooms/lobby/typing/alice";
	const struct pub *expired;
	cJSON *got;

	CHECK_EQ(presence_typing(p, "lobby", "alice", "{\"typing\":true}", 15), 0);
	advance(p, 5999);
	CHECK_EQ(pubs_on(typing), 0);
	advance(p, 1);
	expired = pub_on(typing, 0);
	if(!CHECK(expired != NULL)) goto out;
	got = cJSON_Parse(expired->payload);
	CHECK(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(got, "typing")));
	CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(got, "expired")));
	cJSON_Delete(got);
	CHECK(!expired->retain);
	/* Our own notice coming back is not a new indicator. */
	CHECK_EQ(presence_typing(p, "lobby", "alice", expired->payload, strlen(expired->payload)), 0);
	advance(p, 7000);
	CHECK_EQ(pubs_on(typing), 1);
	/* Renewed at 4 s: expires 6 s after the renewal. */
	presence_typing(p, "lobby", "alice", "{\"typing\":true}", 15);
	advance(p, 4000);
	presence_typing(p, "lobby", "alice", "{\"typing\":true}", 15);
	advance(p, 5000);
	CHECK_EQ(pubs_on(typing), 1);
	advance(p, 1000);
	CHECK_EQ(pubs_on(typing), 2);
	/* Stopped explicitly: no "expired" follows. */
	presence_typing(p, "lobby", "alice", "{\"typing\":true}", 15);
	presence_typing(p, "lobby", "alice", "{\"typing\":false}", 16);
	advance(p, 10000);
	CHECK_EQ(pubs_on(typing), 2);
	CHECK_EQ(presence_typing(p, "lobby", "alice", "{\"typing\":\"yes\"}", 16), -1);
out:
	presence_free(p);
}

/* ---- the connection-event parser --------------------------------------- */

static void test_event_parser_reads_every_kind(void)
{
	struct conn_event ev;
	const char *connect = "{\"event\":\"connect\",\"node\":\"leaf\",\"boot\":\"19c3a\",\"seq\":7,\"ts\":1,"
		"\"conn\":\"leaf-19c3a-7\",\"user\":\"alice\",\"client\":\"ph\\u00f6ne\"}";
	const char *hb = "{\"event\":\"heartbeat\",\"node\":\"leaf\",\"boot\":\"19c3a\",\"seq\":7,"
		"\"conns\":2,\"digest\":\"00ff00ff00ff00ff\",\"interval_ms\":2000}";
	const char *snap = "{\"event\":\"snapshot\",\"node\":\"leaf\",\"boot\":\"19c3a\",\"seq\":7,\"sync\":\"s1\","
		"\"part\":1,\"parts\":1,\"conns\":[{\"conn\":\"leaf-19c3a-1\",\"user\":\"alice\",\"client\":\"x\","
		"\"since\":5},{\"conn\":\"bad+id\",\"user\":\"bob\"},{\"conn\":\"leaf-19c3a-2\",\"user\":\"bad/name\"},"
		"{\"conn\":\"leaf-19c3a-3\",\"user\":\"carol\"}]}";

	if(CHECK_EQ(conn_event_parse("leaf", connect, strlen(connect), &ev), 0)){
		CHECK_EQ(ev.kind, CONN_EVENT_CONNECT);
		CHECK_EQ(ev.boot, 0x19c3a);
		CHECK_EQ(ev.seq, 7);
		CHECK_STR(ev.conn.conn, "leaf-19c3a-7");
		CHECK_STR(ev.conn.user, "alice");
		CHECK_STR(ev.conn.client, "ph\xc3\xb6ne");
		conn_event_clear(&ev);
	}
	if(CHECK_EQ(conn_event_parse("leaf", hb, strlen(hb), &ev), 0)){
		CHECK_EQ(ev.kind, CONN_EVENT_HEARTBEAT);
		CHECK_EQ(ev.conns, 2);
		CHECK(ev.digest == 0x00ff00ff00ff00ffULL);
		conn_event_clear(&ev);
	}
	if(CHECK_EQ(conn_event_parse("leaf", snap, strlen(snap), &ev), 0)){
		CHECK_EQ(ev.kind, CONN_EVENT_SNAPSHOT);
		CHECK_EQ(ev.part, 1);
		CHECK_EQ(ev.parts, 1);
		/* The entries with a bad id or name are left out. */
		if(CHECK_EQ(ev.list_len, 2)){
			CHECK_STR(ev.list[0].conn, "leaf-19c3a-1");
			CHECK_EQ(ev.list[0].since_ms, 5);
			CHECK_STR(ev.list[1].user, "carol");
		}
		conn_event_clear(&ev);
	}
}

static void test_event_parser_refuses_bad_input(void)
{
	static const char *const bad[] = {
		"",
		"[]",
		"{\"event\":\"connect\"",
		"{\"event\":\"connect\",\"node\":\"leaf\",\"boot\":\"1\",\"conn\":\"c1\",\"user\":\"alice\"} junk",
		/* the node of the topic is leaf */
		"{\"event\":\"connect\",\"node\":\"hub\",\"boot\":\"1\",\"conn\":\"c1\",\"user\":\"alice\"}",
		/* names breaking the rules */
		"{\"event\":\"connect\",\"node\":\"leaf\",\"boot\":\"1\",\"conn\":\"c1\",\"user\":\"al/ice\"}",
		"{\"event\":\"connect\",\"node\":\"leaf\",\"boot\":\"1\",\"conn\":\"c1\",\"user\":\"+\"}",
		"{\"event\":\"connect\",\"node\":\"leaf\",\"boot\":\"1\",\"conn\":\"c1\",\"user\":\"\"}",
		"{\"event\":\"connect\",\"node\":\"leaf\",\"boot\":\"1\",\"conn\":\"c1\","
			"\"user\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}",
		"{\"event\":\"connect\",\"node\":\"leaf\",\"boot\":\"1\",\"conn\":\"c#1\",\"user\":\"alice\"}",
		"{\"event\":\"connect\",\"node\":\"leaf\",\"boot\":\"1\",\"conn\":\"\",\"user\":\"alice\"}",
		"{\"event\":\"connect\",\"node\":\"leaf\",\"boot\":\"1\",\"user\":\"alice\"}",
		/* boot, seq */
		"{\"event\":\"connect\",\"node\":\"leaf\",\"boot\":\"0\",\"conn\":\"c1\",\"user\":\"alice\"}",
		"{\"event\":\"connect\",\"node\":\"leaf\",\"boot\":\"-1\",\"conn\":\"c1\",\"user\":\"alice\"}",
		"{\"event\":\"connect\",\"node\":\"leaf\",\"boot\":\"0x1\",\"conn\":\"c1\",\"user\":\"alice\"}",
		"{\"event\":\"connect\",\"node\":\"leaf\",\"boot\":\"11111111111111111\",\"conn\":\"c1\",\"user\":\"alice\"}",
		"{\"event\":\"connect\",\"node\":\"leaf\",\"conn\":\"c1\",\"user\":\"alice\"}",
		"{\"event\":\"connect\",\"node\":\"leaf\",\"boot\":\"1\",\"seq\":-1,\"conn\":\"c1\",\"user\":\"alice\"}",
		"{\"event\":\"connect\",\"node\":\"leaf\",\"boot\":\"1\",\"seq\":1.5,\"conn\":\"c1\",\"user\":\"alice\"}",
		"{\"event\":\"login\",\"node\":\"leaf\",\"boot\":\"1\",\"conn\":\"c1\",\"user\":\"alice\"}",
		/* a NUL must not cut a name down to a valid one */
		"{\"event\":\"connect\",\"node\":\"leaf\",\"boot\":\"1\",\"conn\":\"c1\",\"user\":\"alice\\u0000x\"}",
		"{\"event\":\"connect\",\"node\":\"leaf\\u0000x\",\"boot\":\"1\",\"conn\":\"c1\",\"user\":\"alice\"}",
		/* heartbeat, snapshot */
		"{\"event\":\"heartbeat\",\"node\":\"leaf\",\"boot\":\"1\",\"digest\":\"00\"}",
		"{\"event\":\"heartbeat\",\"node\":\"leaf\",\"boot\":\"1\",\"conns\":1,\"digest\":\" 1\"}",
		"{\"event\":\"heartbeat\",\"node\":\"leaf\",\"boot\":\"1\",\"conns\":-1,\"digest\":\"1\"}",
		"{\"event\":\"snapshot\",\"node\":\"leaf\",\"boot\":\"1\",\"part\":2,\"parts\":1,\"conns\":[]}",
		"{\"event\":\"snapshot\",\"node\":\"leaf\",\"boot\":\"1\",\"part\":1,\"parts\":1}",
	};
	struct presence *p = fresh(0);
	struct presence_stats stats;
	struct conn_event ev;

	for(size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++){
		if(conn_event_parse("leaf", bad[i], strlen(bad[i]), &ev) == 0){
			CHECK(!"accepted a bad event");
			printf("    accepted: %s\n", bad[i]);
			conn_event_clear(&ev);
		}
		CHECK_EQ(presence_conn_message(p, "leaf", bad[i], strlen(bad[i])), -1);
	}
	presence_get_stats(p, &stats);
	CHECK_EQ(stats.bad_input, sizeof(bad) / sizeof(bad[0]));
	CHECK_EQ(presence_connections(p), 0);
	CHECK_EQ(presence_users_online(p), 0);
	CHECK_EQ(conn_event_parse("bad+node", "{}", 2, &ev), -1);
	presence_free(p);
}

static const struct test_case cases[] = {
	TEST_ENTRY(test_connect_published_online_after_coalescing),
	TEST_ENTRY(test_disconnect_published_offline_with_last_seen_stored),
	TEST_ENTRY(test_last_seen_null_while_connected_everywhere),
	TEST_ENTRY(test_takeover_keeps_user_online),
	TEST_ENTRY(test_two_devices_then_one_then_none),
	TEST_ENTRY(test_flapping_is_coalesced),
	TEST_ENTRY(test_redelivered_event_is_not_applied_again),
	TEST_ENTRY(test_silent_node_lost_then_back_by_snapshot),
	TEST_ENTRY(test_no_node_lost_while_broker_connection_down),
	TEST_ENTRY(test_digest_mismatch_asks_snapshot_which_replaces_view),
	TEST_ENTRY(test_changes_missing_over_two_heartbeats_ask_snapshot),
	TEST_ENTRY(test_restarted_node_drops_old_connections_and_stale_boot_ignored),
	TEST_ENTRY(test_snapshot_with_missing_part_is_dropped),
	TEST_ENTRY(test_startup_hold_publishes_only_real_changes),
	TEST_ENTRY(test_status_lasts_while_connected),
	TEST_ENTRY(test_typing_expires_unless_stopped_or_renewed),
	TEST_ENTRY(test_event_parser_reads_every_kind),
	TEST_ENTRY(test_event_parser_refuses_bad_input),
};

const struct test_suite presence_suite = { "presence", cases, TEST_COUNT(cases) };
