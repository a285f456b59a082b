/* chat_net.c: the MQTT session of the chat client (Paho MQTTAsync); see
 * chat_net.h. This file creates, starts, stops and frees it; the parts
 * are listed in chat_net_int.h. */
#include "chat_net_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "random_id.h"

static void on_disconnect_success(void *context, MQTTAsync_successData *resp)
{
	(void)resp;
	net__emit_kind(context, CHAT_EV_CLOSED, NULL);
}

static void on_disconnect_failure(void *context, MQTTAsync_failureData *resp)
{
	(void)resp;
	net__emit_kind(context, CHAT_EV_CLOSED, NULL);
}

static int on_ssl_error(const char *str, size_t len, void *u)
{
	char text[NET_TEXT_MAX];

	while(len > 0 && (str[len - 1] == '\n' || str[len - 1] == '\r')) len--;
	snprintf(text, sizeof(text), "TLS: %.*s", (int)(len < sizeof(text) ? len : sizeof(text)), str);
	net__emit_kind(u, CHAT_EV_NOTE, text);
	return 0;
}

/* The lock and the reconnect thread's condition variable (on the
 * monotonic clock); returns 0, or -1 after a message on stderr. */
static int sync_init(struct chat_net *net)
{
	pthread_condattr_t ca;
	int r;

	if(pthread_mutex_init(&net->lock, NULL)){
		fprintf(stderr, "chat: cannot create a mutex\n");
		return -1;
	}
	net->have_lock = 1;
	if(pthread_condattr_init(&ca)){
		fprintf(stderr, "chat: cannot create a condition variable\n");
		return -1;
	}
	r = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) || pthread_cond_init(&net->wakeup, &ca);
	pthread_condattr_destroy(&ca);
	if(r){
		fprintf(stderr, "chat: cannot create a condition variable\n");
		return -1;
	}
	net->have_wakeup = 1;
	return 0;
}

/* Creates the Paho client (the URI and a random client id first);
 * returns 0, or -1 after a message on stderr. */
static int client_init(struct chat_net *net, const struct chat_net_opts *opts)
{
	MQTTAsync_createOptions co = MQTTAsync_createOptions_initializer;
	char rnd[9];
	int r;

	/* An IPv6 address goes in brackets in a URI. */
	r = snprintf(net->uri, sizeof(net->uri), strchr(opts->host, ':') ? "%s://[%s]:%d" : "%s://%s:%d",
			opts->cafile ? "ssl" : "tcp", opts->host, opts->port);
	if(r < 0 || (size_t)r >= sizeof(net->uri)){
		fprintf(stderr, "chat: host name too long\n");
		return -1;
	}
	if(random_hex(rnd, sizeof(rnd), 4)){
		fprintf(stderr, "chat: no random numbers\n");
		return -1;
	}
	snprintf(net->client_id, sizeof(net->client_id), "chat-%s-%s", net->user, rnd);
	co.sendWhileDisconnected = 1;
	co.maxBufferedMessages = NET_MAX_BUFFERED;
	co.MQTTVersion = MQTTVERSION_3_1_1;
	r = MQTTAsync_createWithOptions(&net->client, net->uri, net->client_id, MQTTCLIENT_PERSISTENCE_NONE, NULL, &co);
	if(r != MQTTASYNC_SUCCESS){
		fprintf(stderr, "chat: cannot create the MQTT client for %s: %s\n", net->uri, net__strerror(r));
		return -1;
	}
	net->have_client = 1;
	r = MQTTAsync_setCallbacks(net->client, net, reconnect__on_lost, incoming__on_message, NULL);
	if(r == MQTTASYNC_SUCCESS) r = MQTTAsync_setConnected(net->client, net, reconnect__on_connected);
	if(r != MQTTASYNC_SUCCESS){
		fprintf(stderr, "chat: cannot set the MQTT callbacks: %s\n", net__strerror(r));
		return -1;
	}
	return 0;
}

/* Creates the session and its Paho client for opts (not connected yet);
 * returns it, freed by the caller with chat_net_free, or NULL after a
 * message on stderr. opts->password must outlive the session. */
struct chat_net *chat_net_new(const struct chat_net_opts *opts, chat_emit_fn emit, void *ctx)
{
	struct chat_net *net = NULL;
	struct chat_net *ret = NULL;

	if(!name_user_valid(opts->user) || !name_room_valid(opts->room)){
		fprintf(stderr, "chat: invalid user or room name\n");
		goto out;
	}
	net = calloc(1, sizeof(*net));
	if(!net){
		fprintf(stderr, "chat: out of memory\n");
		goto out;
	}
	if(sync_init(net)) goto out;
	net->retry_min_ms = opts->retry_min_ms > 0 ? opts->retry_min_ms : CHAT_RETRY_MIN_MS;
	net->retry_max_ms = opts->retry_max_ms > 0 ? opts->retry_max_ms : CHAT_RETRY_MAX_MS;
	if(net->retry_max_ms < net->retry_min_ms) net->retry_max_ms = net->retry_min_ms;
	net->emit = emit;
	net->ctx = ctx;
	net->password = opts->password;
	net->cafile = opts->cafile;
	net->state = NET_CONNECTING;
	if(opts->trace){
		net->trace = fopen(opts->trace, "ae");
		if(!net->trace){
			fprintf(stderr, "chat: --trace %s: %s\n", opts->trace, strerror(errno));
			goto out;
		}
		net__trace(net, "start: user %s, room %s", opts->user, opts->room);
	}
	snprintf(net->user, sizeof(net->user), "%s", opts->user);
	if(!rooms__add(net, opts->room)){
		fprintf(stderr, "chat: out of memory\n");
		goto out;
	}
	snprintf(net->current, sizeof(net->current), "%s", opts->room);
	if(client_init(net, opts)) goto out;
	ret = net;
	net = NULL;
out:
	chat_net_free(net);
	return ret;
}

/* Starts the reconnect thread and the first connect attempt (MQTT 3.1.1,
 * clean session); returns 0, or -1 after a message on stderr. */
int chat_net_start(struct chat_net *net)
{
	MQTTAsync_SSLOptions ssl = MQTTAsync_SSLOptions_initializer;
	int rc = -1;
	int r;

	if(net->cafile){
		net->ssl = ssl;
		net->ssl.trustStore = net->cafile;
		net->ssl.enableServerCertAuth = 1;
		net->ssl.verify = 1;
		net->ssl.ssl_error_cb = on_ssl_error;
		net->ssl.ssl_error_context = net;
	}
	r = pthread_create(&net->reconnector, NULL, reconnect__thread, net);
	if(r){
		fprintf(stderr, "chat: cannot start the reconnect thread: %s\n", strerror(r));
		goto out;
	}
	net->have_reconnector = 1;
	r = reconnect__connect_now(net);
	if(r != MQTTASYNC_SUCCESS){
		fprintf(stderr, "chat: cannot connect to %s: %s\n", net->uri, net__strerror(r));
		goto out;
	}
	rc = 0;
out:
	return rc;
}

/* Returns our user name, owned by the session. */
const char *chat_net_user(struct chat_net *net)
{
	return net->user;
}

/* Stops reconnecting and disconnects, allowing timeout_ms for in-flight
 * publishes; CHAT_EV_CLOSED follows. */
void chat_net_stop(struct chat_net *net, int timeout_ms)
{
	MQTTAsync_disconnectOptions dis = MQTTAsync_disconnectOptions_initializer;
	int r;

	net__lock(net);
	net->stopping = 1;
	net->reconnect_at = 0;
	pthread_cond_signal(&net->wakeup);
	net__unlock(net);
	dis.timeout = timeout_ms;
	dis.onSuccess = on_disconnect_success;
	dis.onFailure = on_disconnect_failure;
	dis.context = net;
	r = MQTTAsync_disconnect(net->client, &dis);
	if(r != MQTTASYNC_SUCCESS) net__emit_kind(net, CHAT_EV_CLOSED, NULL); /* not connected */
}

/* Destroys the Paho client and frees the session and what it still holds;
 * NULL is fine. */
void chat_net_free(struct chat_net *net)
{
	struct op *op = NULL;

	if(!net) return;
	if(net->have_lock){
		net__lock(net);
		net->stopping = 1;
		if(net->have_wakeup) pthread_cond_signal(&net->wakeup);
		net__unlock(net);
	}
	/* Before Paho goes: the thread may be calling MQTTAsync_connect. */
	if(net->have_reconnector) pthread_join(net->reconnector, NULL);
	/* Fails what Paho still holds (our callbacks free those ops). */
	if(net->have_client) MQTTAsync_destroy(&net->client);
	/* No callbacks from here on: free what is left (publishes waiting to be
	 * sent again, anything Paho did not call back for). */
	while((op = net->ops) != NULL){
		net->ops = op->next;
		ops__free(op);
	}
	outbox__free_all(net);
	requests__free_all(net);
	rooms__free_all(net);
	if(net->have_wakeup) pthread_cond_destroy(&net->wakeup);
	if(net->have_lock) pthread_mutex_destroy(&net->lock);
	if(net->trace) fclose(net->trace);
	free(net);
}
