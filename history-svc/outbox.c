/* outbox.c: receipts, message errors and replies to users' inboxes; see
 * outbox.h. */
#include "outbox.h"

#include <string.h>

#include <cJSON.h>

#include "history_metrics.h"
#include "json_util.h"
#include "log.h"
#include "proto.h"
#include "topics.h"

void outbox_send(struct history_svc *svc, const char *user, const void *obj)
{
	char topic[TOPIC_MAX];
	char *text = json_print(obj);

	if(!text) return;
	if(topic_user_inbox(topic, sizeof(topic), user) == 0){
		mqtt_pub_send(svc->out, topic, text, strlen(text), 1, false);
	}
	cJSON_free(text);
}

void outbox_message_error(struct history_svc *svc, const char *sender, const char *room,
		const char *msg_id, const char *code, const char *message)
{
	cJSON *reply = cJSON_CreateObject();

	svc->counters.rejected++;
	history_metrics_message_error(svc->metrics, code);
	log_warn("refused a message from %s in %s: %s (%s)", sender, room, code, message);
	if(!reply) return;
	cJSON_AddStringToObject(reply, "type", "error");
	cJSON_AddStringToObject(reply, "code", code);
	cJSON_AddStringToObject(reply, "message", message);
	cJSON_AddStringToObject(reply, "room", room);
	if(msg_id) cJSON_AddStringToObject(reply, "id", msg_id);
	outbox_send(svc, sender, reply);
	cJSON_Delete(reply);
}

void outbox_report(struct history_svc *svc, const struct intake_msg *msg, const struct store_result *result)
{
	cJSON *receipt;

	history_metrics_stored(svc->metrics, result->status);
	switch(result->status){
	case STORE_UNKNOWN_ROOM:
		outbox_message_error(svc, msg->sender, msg->room, msg->msg_id, PROTO_ERR_UNKNOWN_ROOM, "no such room");
		return;
	case STORE_UNKNOWN_SENDER:
		outbox_message_error(svc, msg->sender, msg->room, msg->msg_id, PROTO_ERR_UNKNOWN_USER,
				"sender is not a known user");
		return;
	case STORE_RETRY:
		outbox_message_error(svc, msg->sender, msg->room, msg->msg_id, PROTO_ERR_UNAVAILABLE,
				"the message could not be stored; send it again");
		return;
	case STORE_DUPLICATE:
		svc->counters.duplicates++;
		log_debug("duplicate %s/%s from %s (seq %llu)", msg->room, msg->msg_id, msg->sender, result->seq);
		break;
	case STORE_STORED:
		svc->counters.stored++;
		log_debug("stored %s seq %llu from %s", msg->room, result->seq, msg->sender);
		break;
	}
	receipt = cJSON_CreateObject();
	if(!receipt) return;
	cJSON_AddStringToObject(receipt, "type", "receipt");
	cJSON_AddStringToObject(receipt, "room", msg->room);
	cJSON_AddStringToObject(receipt, "id", msg->msg_id);
	cJSON_AddNumberToObject(receipt, "seq", (double)result->seq);
	cJSON_AddStringToObject(receipt, "ts", result->ts);
	outbox_send(svc, msg->sender, receipt);
	cJSON_Delete(receipt);
}
