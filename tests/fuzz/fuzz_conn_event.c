/* fuzz_conn_event.c: libFuzzer target for presence-svc's connection-event
 * parser (presence-svc/conn_event.c) and the state machine it feeds. The
 * input is one or more payloads, one per line, all received on
 * chat/v1/sys/conn/leaf; each is parsed, then applied in order to a fresh
 * presence table, whose timers then run. Besides surviving ASan, UBSan and
 * LeakSanitizer, every answer must keep the rules a node implementer would
 * check:
 *  - an accepted event names node "leaf", a boot other than 0, and for a
 *    connection a valid id ([A-Za-z0-9_-], 1-63 bytes), a valid user name
 *    and a client id that is valid UTF-8; a snapshot's part is in
 *    1..parts and each of its entries obeys the same rules;
 *  - a payload the parser refuses changes nothing in the table;
 *  - the table never counts more users online than open connections.
 *   make fuzz  (every target)      make test runs each for 10 s */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../presence-svc/conn_event.h"
#include "../../presence-svc/presence.h"
#include "log.h"
#include "names.h"

static long long fake_ms;

static long long fake_clock(void) { return fake_ms; }

static void sink_publish(void *ud, const char *topic, const char *payload, int qos, bool retain)
{
	(void)ud; (void)topic; (void)payload; (void)qos; (void)retain;
}

static void sink_last_seen(void *ud, const char *user, long long seen_ms)
{
	(void)ud;
	if(!name_user_valid(user) || seen_ms < 0) abort();
}

static bool conn_id_ok(const char *id)
{
	size_t len = strlen(id);

	if(len == 0 || len > CONN_EV_ID_MAX) return false;
	return strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == len;
}

static void check_conn(const struct conn_event_conn *conn)
{
	if(!conn_id_ok(conn->conn) || !name_user_valid(conn->user) || !utf8_valid(conn->client, strlen(conn->client))
			|| conn->since_ms < 0){
		abort();
	}
}

static void check_event(const struct conn_event *event)
{
	if(strcmp(event->node, "leaf") || event->boot == 0 || event->seq < 0) abort();
	switch(event->kind){
	case CONN_EVENT_CONNECT:
	case CONN_EVENT_DISCONNECT:
		check_conn(&event->conn);
		break;
	case CONN_EVENT_HEARTBEAT:
		break;
	case CONN_EVENT_SNAPSHOT:
		if(event->part < 1 || event->part > event->parts) abort();
		for(size_t i = 0; i < event->list_len; i++) check_conn(&event->list[i]);
		break;
	default:
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct presence_opts opts;
	struct presence_sink sink = { .publish = sink_publish, .last_seen = sink_last_seen, .ud = NULL };
	struct presence *p;
	const uint8_t *line = data, *end = data + size;

	log_setup("fuzz", LOG_ERROR);
	fake_ms = 1000000;
	presence_opts_default(&opts);
	opts.startup_hold_ms = 0;
	opts.mono_ms = fake_clock;
	opts.wall_ms = fake_clock;
	p = presence_new(&opts, &sink);
	if(!p) return 0;
	presence_tick(p, true);
	while(line < end){
		const uint8_t *nl = memchr(line, '\n', (size_t)(end - line));
		size_t len = (size_t)((nl ? nl : end) - line);
		struct conn_event event;
		size_t conns_before = presence_connections(p);
		int parsed = conn_event_parse("leaf", line, len, &event);

		if(parsed == 0){
			check_event(&event);
			conn_event_clear(&event);
		}
		if(presence_conn_message(p, "leaf", line, len) == 0 && parsed != 0) abort();
		if(parsed != 0 && presence_connections(p) != conns_before) abort();
		if(presence_users_online(p) > presence_connections(p)) abort();
		fake_ms += 700;
		presence_tick(p, true);
		line = nl ? nl + 1 : end;
	}
	fake_ms += 60000;
	presence_tick(p, true);
	if(presence_users_online(p) > presence_connections(p)) abort();
	presence_free(p);
	return 0;
}
