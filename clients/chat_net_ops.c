/* chat_net_ops.c: the operations the session hands to Paho with callbacks
 * (publishes, subscribes), each kept on net->ops until its callback frees
 * it; publishing a request, and sending again the requests a lost
 * connection dropped (Paho fails in-flight QoS 1 messages of a clean
 * session). Room messages are published by chat_net_outbox.c through
 * ops__send; they are kept there until their receipt, not here. */
#include "chat_net_int.h"

#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#define SEND_ATTEMPTS 5         /* times one request is handed to Paho */

struct op *ops__new(struct chat_net *net, enum op_kind kind)
{
	struct op *op = calloc(1, sizeof(*op));

	if(op){
		op->net = net;
		op->kind = kind;
	}
	return op;
}

void ops__free(struct op *op)
{
	if(!op) return;
	cJSON_free(op->payload);
	free(op->rooms);
	free(op);
}

void ops__link(struct chat_net *net, struct op *op)
{
	op->prev = NULL;
	op->next = net->ops;
	if(net->ops) net->ops->prev = op;
	net->ops = op;
	if(op->kind == OP_PUBLISH && !op->background) net->npublish++;
	if(op->kind == OP_PUBLISH && op->room[0]) net->nmsg_ops++;
}

void ops__unlink(struct chat_net *net, struct op *op)
{
	if(op->prev) op->prev->next = op->next;
	else net->ops = op->next;
	if(op->next) op->next->prev = op->prev;
	op->prev = op->next = NULL;
	if(op->kind == OP_PUBLISH && !op->background) net->npublish--;
	if(op->kind == OP_PUBLISH && op->room[0]) net->nmsg_ops--;
}

int ops__retire(struct chat_net *net, struct op *op)
{
	int stopping;

	net__lock(net);
	ops__unlink(net, op);
	stopping = net->stopping;
	net__unlock(net);
	ops__free(op);
	return stopping;
}

static void on_pub_success(void *context, MQTTAsync_successData *resp)
{
	struct op *op = context;
	struct chat_net *net = op->net;

	(void)resp;
	net__trace(net, "acked %s", op->topic);
	ops__retire(net, op);
	net__emit_kind(net, CHAT_EV_SENT, NULL);
}

static void on_pub_failure(void *context, MQTTAsync_failureData *resp)
{
	struct op *op = context;
	struct chat_net *net = op->net;
	int code = resp ? resp->code : MQTTASYNC_FAILURE;
	int stopping;

	net__lock(net);
	stopping = net->stopping;
	if(op->room[0]){
		/* A room message stays kept until its receipt: sent again after
		 * the reconnect, or when its receipt is overdue. */
		ops__unlink(net, op);
		net__unlock(net);
		net__trace(net, "publish of a message to %s failed (%s): kept for a resend", op->room, net__strerror(code));
		ops__free(op);
		net__emit_kind(net, CHAT_EV_SENT, NULL);
		return;
	}
	if(!stopping && !op->background && code == MQTTASYNC_OPERATION_INCOMPLETE && op->attempts < SEND_ATTEMPTS){
		op->waiting = 1; /* the connection dropped: send it again on reconnect */
		net__unlock(net);
		return;
	}
	ops__unlink(net, op);
	net__unlock(net);
	if(op->background) net__trace(net, "background request not sent (%s): dropped", net__strerror(code));
	else if(!stopping) chat_net_error(net, "not_sent", "a request was not sent: %s", net__strerror(code));
	ops__free(op);
	net__emit_kind(net, CHAT_EV_SENT, NULL);
}

int ops__send(struct chat_net *net, struct op *op)
{
	MQTTAsync_message msg = MQTTAsync_message_initializer;
	MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;

	msg.payload = op->payload;
	msg.payloadlen = op->payload_len;
	msg.qos = 1;
	msg.retained = 0;
	ro.onSuccess = on_pub_success;
	ro.onFailure = on_pub_failure;
	ro.context = op;
	/* A password request is never traced (the trace never holds a password). */
	net__trace(net, "out %s %s", op->topic, strstr(op->payload, "\"op\":\"password\"") ? "(password request)" : op->payload);
	return MQTTAsync_sendMessage(net->client, op->topic, &msg, &ro);
}

static int publish(struct chat_net *net, const char *topic, char *payload, int background)
{
	struct op *op = NULL;
	int rc = -1;
	int r;

	op = ops__new(net, OP_PUBLISH);
	if(!op){
		chat_net_error(net, "nomem", "out of memory: not sent");
		goto out;
	}
	op->background = background;
	snprintf(op->topic, sizeof(op->topic), "%s", topic);
	op->payload = payload;
	payload = NULL;
	op->payload_len = (int)strlen(op->payload);
	op->attempts = 1;
	net__lock(net);
	if(net->stopping){
		net__unlock(net);
		chat_net_error(net, "not_connected", "the session is closing: not sent");
		goto out;
	}
	ops__link(net, op);
	net__unlock(net);
	r = ops__send(net, op);
	if(r != MQTTASYNC_SUCCESS){
		net__lock(net);
		ops__unlink(net, op);
		net__unlock(net);
		if(r == MQTTASYNC_MAX_BUFFERED_MESSAGES){
			chat_net_error(net, "not_connected", "not connected and %d messages are already waiting: not sent",
					NET_MAX_BUFFERED);
		}else if(r == MQTTASYNC_DISCONNECTED){
			chat_net_error(net, "not_connected", "not connected: not sent");
		}else{
			chat_net_error(net, "send_failed", "not sent: %s", net__strerror(r));
		}
		goto out;
	}
	op = NULL; /* Paho's until a callback */
	rc = 0;
out:
	ops__free(op);
	cJSON_free(payload);
	return rc;
}

int ops__publish(struct chat_net *net, const char *topic, char *payload)
{
	return publish(net, topic, payload, 0);
}

int ops__publish_background(struct chat_net *net, const char *topic, char *payload)
{
	return publish(net, topic, payload, 1);
}

void ops__resend_waiting(struct chat_net *net)
{
	for(;;){
		struct op *op = NULL;
		struct op *oldest = NULL;
		int r;

		net__lock(net);
		/* The list is newest first: the last waiting one is the oldest. */
		for(op = net->ops; op; op = op->next){
			if(op->kind == OP_PUBLISH && op->waiting) oldest = op;
		}
		if(oldest){
			oldest->waiting = 0;
			oldest->attempts++;
		}
		net__unlock(net);
		if(!oldest) break;
		r = ops__send(net, oldest);
		if(r != MQTTASYNC_SUCCESS){
			net__lock(net);
			ops__unlink(net, oldest);
			net__unlock(net);
			chat_net_error(net, "not_sent", "a message was not sent again after reconnecting: %s", net__strerror(r));
			ops__free(oldest);
			net__emit_kind(net, CHAT_EV_SENT, NULL);
		}
	}
}
