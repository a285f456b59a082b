/* chat_net_reconnect.c: connecting and staying connected. Reconnecting is
 * ours, not Paho's (whose automatic reconnect doubles its delay without
 * jitter, so that every client a broker restart dropped comes back in the
 * same instant, again and again). After a lost connection or a failed
 * attempt, net->reconnect_at is set to a delay from chat_backoff_ms
 * (exponential, capped, with full jitter) and the reconnect thread calls
 * MQTTAsync_connect when it is due. The attempt count starts again only
 * after a connection has stayed up for STABLE_MS, so a broker that accepts
 * and at once drops us does not get a tight loop. The same thread checks
 * the kept messages' receipt timeouts while connected.
 *
 * Every connect subscribes to the followed rooms, the inbox and presence
 * at once, then reports CHAT_EV_CONNECTED, starts the catch-ups and sends
 * again what the lost connection left unacknowledged. */
#include "chat_net_int.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "chat_backoff.h"
#include "clock.h"

#define KEEPALIVE_S 30
#define CONNECT_TIMEOUT_S 10
#define STABLE_MS 10000         /* up this long: the next loss starts the backoff again */
#define TIMER_TICK_MS 500       /* the reconnect thread checks receipt timeouts this often */

/* Plans the next connect attempt (lock held); returns its delay in ms and
 * its number (1 for the first after a loss) in *number. */
static long schedule(struct chat_net *net, unsigned *number)
{
	uint32_t rnd = 0;
	long delay;

	/* Without random bytes: the ceiling, still capped, without jitter.
	 * getrandom, not OpenSSL: see common/random_id.c. */
	if(getrandom(&rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) rnd = UINT32_MAX;
	delay = chat_backoff_ms(net->attempt, net->retry_min_ms, net->retry_max_ms, rnd);
	if(net->attempt < 64) net->attempt++;
	*number = net->attempt;
	net->reconnect_at = clock_mono_ms() + delay;
	pthread_cond_signal(&net->wakeup);
	return delay;
}

/* The connection is down (lost, or an attempt failed): plans the next
 * attempt and tells the front end; reason (when not NULL) is reported
 * first as CHAT_EV_DISCONNECTED. */
static void reconnect_later(struct chat_net *net, const char *reason)
{
	struct chat_event ev = { .kind = CHAT_EV_RECONNECTING };
	unsigned number = 0;
	long delay;

	net__lock(net);
	if(net->stopping){
		net__unlock(net);
		return;
	}
	net->state = NET_DOWN;
	delay = schedule(net, &number);
	net__unlock(net);
	net__trace(net, "reconnect: attempt %u in %ld ms (between %ld and %ld ms)", number, delay, net->retry_min_ms / 2,
			net->retry_max_ms);
	if(reason) net__emit_kind(net, CHAT_EV_DISCONNECTED, reason);
	ev.count = delay;
	ev.seq = number;
	chat_net_emit(net, &ev);
}

static void on_connect_failure(void *context, MQTTAsync_failureData *resp)
{
	struct chat_net *net = context;
	int code = resp ? resp->code : MQTTASYNC_FAILURE;
	const char *message = resp && resp->message ? resp->message : net__strerror(code);
	char text[NET_TEXT_MAX];
	int first;

	/* MQTT 3.1.1 CONNACK return codes 1-5. */
	if(code == 5){
		net__fatal(net, 2, "auth", "the broker refused the login: not authorised "
				"(wrong user name or password, or the account is disabled; CONNACK 5)");
		return;
	}
	if(code == 4){
		net__fatal(net, 2, "auth", "the broker refused the login: bad user name or password (CONNACK 4)");
		return;
	}
	if(code == 1 || code == 2){
		net__fatal(net, 1, "refused", "the broker refused the connection: %s (CONNACK %d)",
				code == 1 ? "unacceptable protocol version" : "client identifier rejected", code);
		return;
	}
	if(code == 3) snprintf(text, sizeof(text), "server unavailable (CONNACK 3)");
	else snprintf(text, sizeof(text), "cannot connect to %s: %s", net->uri, message);
	net__trace(net, "connect failed: %s", text);
	/* The reason is news only the first time of an outage. */
	net__lock(net);
	first = net->state != NET_DOWN;
	net__unlock(net);
	reconnect_later(net, first ? text : NULL);
}

/* MQTT 3.1.1, clean session, no automatic reconnect; the work of a
 * successful connect is done by reconnect__on_connected. */
int reconnect__connect_now(struct chat_net *net)
{
	MQTTAsync_connectOptions co = MQTTAsync_connectOptions_initializer;

	co.keepAliveInterval = KEEPALIVE_S;
	co.connectTimeout = CONNECT_TIMEOUT_S;
	co.cleansession = 1;
	co.username = net->user;
	co.password = net->password;
	co.MQTTVersion = MQTTVERSION_3_1_1;
	co.automaticReconnect = 0;
	co.onFailure = on_connect_failure;
	co.context = net;
	if(net->cafile) co.ssl = &net->ssl;
	net__trace(net, "connect: %s as %s", net->uri, net->client_id);
	return MQTTAsync_connect(net->client, &co);
}

/* Sleeps until net->reconnect_at, then connects; while connected with
 * messages kept, checks their receipt timeouts every TIMER_TICK_MS. Ends
 * when the session stops. */
void *reconnect__thread(void *arg)
{
	struct chat_net *net = arg;
	long long next_check = 0;

	net__lock(net);
	while(!net->stopping){
		long long now, wake_at, sync_at;

		net__unlock(net);
		sync__check_due(net);
		net__lock(net);
		if(net->stopping) break;
		/* All read under the lock from here to the wait, so that nothing
		 * planned meanwhile (its signal came while this thread was not
		 * waiting) is slept through. */
		now = clock_mono_ms();
		wake_at = net->reconnect_at;
		sync_at = sync__next_due(net);
		if(sync_at && (wake_at == 0 || sync_at < wake_at)) wake_at = sync_at;

		if(net->state == NET_UP && net->npend > 0){
			if(now >= next_check){
				next_check = now + TIMER_TICK_MS;
				net__unlock(net);
				outbox__check_overdue(net);
				net__lock(net);
				continue;
			}
			if(wake_at == 0 || next_check < wake_at) wake_at = next_check;
		}
		if(net->reconnect_at != 0 && now >= net->reconnect_at){
			int r;

			net->reconnect_at = 0;
			net__unlock(net);
			r = reconnect__connect_now(net);
			if(r != MQTTASYNC_SUCCESS){
				char text[NET_TEXT_MAX];

				snprintf(text, sizeof(text), "cannot connect to %s: %s", net->uri, net__strerror(r));
				reconnect_later(net, text);
			}
			net__lock(net);
		}else if(wake_at == 0){
			pthread_cond_wait(&net->wakeup, &net->lock);
		}else{
			struct timespec until;

			until.tv_sec = (time_t)(wake_at / 1000);
			until.tv_nsec = (long)(wake_at % 1000) * 1000000;
			pthread_cond_timedwait(&net->wakeup, &net->lock, &until);
		}
	}
	net__unlock(net);
	return NULL;
}

void reconnect__on_lost(void *context, char *cause)
{
	struct chat_net *net = context;

	net__lock(net);
	/* Up long enough: this is a new outage, not the same one flapping. */
	if(net->up_since && clock_mono_ms() - net->up_since >= STABLE_MS) net->attempt = 0;
	net->up_since = 0;
	net__unlock(net);
	reconnect_later(net, cause && *cause ? cause : "connection lost");
}

static void on_suball_success(void *context, MQTTAsync_successData *resp)
{
	struct op *op = context;
	struct chat_net *net = op->net;
	size_t count = op->nrooms + 2;

	for(size_t i = 0; resp && i < count; i++){
		int qos;

		if(count == 1) qos = resp->alt.qos;
		else if(resp->alt.qosList) qos = resp->alt.qosList[i];
		else break;
		if(qos != MQTT_BAD_SUBSCRIBE) continue;
		if(i < op->nrooms){
			chat_net_error(net, "not_member", "cannot read room %s: no such room, or you are not a member of it",
					op->rooms[i]);
		}else if(i == op->nrooms){
			chat_net_error(net, "subscribe_refused", "the broker refused the subscription to your inbox: "
					"receipts and replies will not arrive");
		}else{
			chat_net_error(net, "subscribe_refused", "the broker refused the subscription to presence");
		}
	}
	if(!ops__retire(net, op)){
		net__emit_kind(net, CHAT_EV_CONNECTED, NULL);
		catchup__start(net);
	}
}

static void on_suball_failure(void *context, MQTTAsync_failureData *resp)
{
	struct op *op = context;
	struct chat_net *net = op->net;
	int code = resp ? resp->code : MQTTASYNC_FAILURE;

	/* Interrupted: the connection is gone and connectionLost says so. */
	if(ops__retire(net, op) || code == MQTTASYNC_OPERATION_INCOMPLETE) return;
	chat_net_error(net, "subscribe_failed", "subscribing failed: %s", net__strerror(code));
	net__emit_kind(net, CHAT_EV_CONNECTED, NULL);
	catchup__start(net);
}

/* Marks the session up and fills op with the rooms to subscribe to (lock
 * held); live messages are held from now until each room's catch-up is
 * done. Returns 0, or -1 when out of memory. */
static int came_up(struct chat_net *net, struct op *op)
{
	size_t i = 0;

	net->state = NET_UP;
	net->reconnect_at = 0;
	net->up_since = clock_mono_ms();
	pthread_cond_signal(&net->wakeup); /* receipt timeouts run while up */
	if(op) op->rooms = calloc(rooms__count(net) + 1, sizeof(*op->rooms));
	if(!op || !op->rooms) return -1;
	for(struct net_room *r = net->rooms; r; r = r->hh.next){
		snprintf(op->rooms[i++], sizeof(op->rooms[0]), "%s", r->name);
		if(r->known){
			r->catching_up = 1;
			r->catchup_gen = ++net->catchup_gen;
			r->live_shown = 0; /* the catch-up sets last_seq from here */
		}
	}
	op->nrooms = i;
	return 0;
}

void reconnect__on_connected(void *context, char *cause)
{
	struct chat_net *net = context;
	MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
	char topics[CHAT_ROOMS_MAX + 2][TOPIC_MAX + 1];
	char *names[CHAT_ROOMS_MAX + 2];
	int qos[CHAT_ROOMS_MAX + 2];
	struct op *op = NULL;
	size_t n = 0;
	int r;

	(void)cause;
	op = ops__new(net, OP_SUBSCRIBE_ALL);
	net__lock(net);
	if(net->stopping){
		net__unlock(net);
		goto out;
	}
	if(came_up(net, op)){
		net__unlock(net);
		chat_net_error(net, "nomem", "out of memory: not subscribed");
		net__emit_kind(net, CHAT_EV_CONNECTED, NULL);
		goto out;
	}
	ops__link(net, op);
	net__unlock(net);

	for(size_t i = 0; i < op->nrooms; i++) rooms__filter(topics[n++], sizeof(topics[0]), op->rooms[i]);
	topic_user_inbox(topics[n++], sizeof(topics[0]), net->user);
	snprintf(topics[n++], sizeof(topics[0]), "%s", TOPIC_PREFIX "/presence/+");
	for(size_t i = 0; i < n; i++){
		names[i] = topics[i];
		qos[i] = 1;
	}
	ro.onSuccess = on_suball_success;
	ro.onFailure = on_suball_failure;
	ro.context = op;
	r = MQTTAsync_subscribeMany(net->client, (int)n, names, qos, &ro);
	if(r != MQTTASYNC_SUCCESS){
		net__lock(net);
		ops__unlink(net, op);
		net__unlock(net);
		if(r != MQTTASYNC_DISCONNECTED){
			chat_net_error(net, "subscribe_failed", "subscribing failed: %s", net__strerror(r));
			net__emit_kind(net, CHAT_EV_CONNECTED, NULL);
		}
		goto out;
	}
	op = NULL; /* Paho's until a callback */
	ops__resend_waiting(net);
	outbox__resend_all(net);
out:
	ops__free(op);
}
