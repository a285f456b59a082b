/* outbox.c: receipts, message errors and replies to users' inboxes; see
 * outbox.h. */
#include "outbox.h"

#include <string.h>

#include <cJSON.h>

#include "history_metrics.h"
#include "json_util.h"
#include "log.h"
#include "proto.h"
#include "store_meta.h"
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

/* Tells the room's meta topic about a committed delete (PROTOCOL 3.5), so
 * that readers apply an admin's delete they would not take live. */
static void announce_delete(struct history_svc *svc, const struct intake_msg *msg, const struct store_result *result)
{
	char topic[TOPIC_MAX];
	cJSON *note = cJSON_CreateObject();
	char *text = NULL;

	if(!note || topic_room_meta(topic, sizeof(topic), msg->room)) goto out;
	cJSON_AddStringToObject(note, "type", "delete");
	cJSON_AddStringToObject(note, "room", msg->room);
	cJSON_AddNumberToObject(note, "seq", (double)result->seq);
	cJSON_AddNumberToObject(note, "ref", (double)result->ref);
	cJSON_AddStringToObject(note, "by", msg->sender);
	cJSON_AddStringToObject(note, "ts", result->ts);
	text = json_print(note);
	if(text) mqtt_pub_send(svc->out, topic, text, strlen(text), 1, false);
out:
	cJSON_free(text);
	cJSON_Delete(note);
}

/* Tells each member a stored message mentions, on their inbox (3.6). */
static void notify_mentions(struct history_svc *svc, const struct intake_msg *msg, const struct store_result *result)
{
	cJSON *note;

	if(!result->mentioned || !result->mentioned[0]) return;
	note = cJSON_CreateObject();
	if(!note) return;
	cJSON_AddStringToObject(note, "type", "mention");
	cJSON_AddStringToObject(note, "room", msg->room);
	cJSON_AddNumberToObject(note, "seq", (double)result->seq);
	cJSON_AddStringToObject(note, "id", msg->msg_id);
	cJSON_AddStringToObject(note, "sender", msg->sender);
	cJSON_AddStringToObject(note, "ts", result->ts);
	cJSON_AddStringToObject(note, "body", msg->body);
	for(const char *name = result->mentioned; *name; name += strlen(name) + 1) outbox_send(svc, name, note);
	cJSON_Delete(note);
}

void outbox_report(struct history_svc *svc, const struct intake_msg *msg, const struct store_result *result)
{
	struct store_meta meta;
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
	case STORE_REFUSED:
		outbox_message_error(svc, msg->sender, msg->room, msg->msg_id, result->code, result->message);
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
	/* A duplicate's kind is the one it was sent with (its meta). */
	if(store_meta_decode(msg->meta, msg->meta_len, &meta)) meta.kind = ROOM_MSG_MESSAGE;
	receipt = cJSON_CreateObject();
	if(!receipt) return;
	cJSON_AddStringToObject(receipt, "type", "receipt");
	cJSON_AddStringToObject(receipt, "room", msg->room);
	cJSON_AddStringToObject(receipt, "id", msg->msg_id);
	cJSON_AddNumberToObject(receipt, "seq", (double)result->seq);
	cJSON_AddStringToObject(receipt, "ts", result->ts);
	if(meta.kind != ROOM_MSG_MESSAGE) cJSON_AddStringToObject(receipt, "kind", room_msg_kind_name(meta.kind));
	outbox_send(svc, msg->sender, receipt);
	cJSON_Delete(receipt);
	if(result->status != STORE_STORED) return;
	if(meta.kind == ROOM_MSG_DELETE) announce_delete(svc, msg, result);
	notify_mentions(svc, msg, result);
}
