/* room_msg.c: the rules for a room message; see room_msg.h.
 * Control characters are refused in bodies because the archive, the
 * terminal client and a web page would each show them differently (a NUL
 * ends a C string, ESC drives the terminal, CR overwrites the line); \n and
 * \t are text. C1 controls (U+0080-U+009F) are allowed: terminals in UTF-8
 * mode do not act on their two-byte form. */
#include "room_msg.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <cJSON.h>

#include "json_payload.h"
#include "json_util.h"
#include "proto.h"

const struct room_msg_limits room_msg_protocol_limits = {
	.max_payload_bytes = PROTO_MSG_PAYLOAD_MAX,
	.max_body_bytes = PROTO_MSG_BODY_MAX,
};

static int refuse(struct room_msg_refusal *why, const char *code, const char *message)
{
	why->code = code;
	snprintf(why->message, sizeof(why->message), "%s", message);
	return -1;
}

/* True when text holds a character the body rule refuses. */
static bool has_control(const char *text, size_t len)
{
	for(size_t i = 0; i < len; i++){
		unsigned char c = (unsigned char)text[i];

		if((c < 0x20 && c != '\n' && c != '\t') || c == 0x7F) return true;
	}
	return false;
}

/* How many members of obj are named key. cJSON keeps every duplicate and
 * reads the first; JavaScript's JSON.parse reads the last: a message with
 * two bodies would show one text live and store another. */
static int member_count(const cJSON *obj, const char *key)
{
	int count = 0;

	for(const cJSON *item = obj->child; item; item = item->next){
		if(item->string && !strcmp(item->string, key)) count++;
	}
	return count;
}

/* The body rule; see room_msg.h. Nothing to free. */
int room_msg_body_check(long max_body_bytes, const char *body, size_t len, struct room_msg_refusal *why)
{
	char detail[128];

	if(len == 0 || len > (size_t)max_body_bytes){
		snprintf(detail, sizeof(detail), "\"body\" must be 1 to %ld bytes", max_body_bytes);
		return refuse(why, PROTO_ERR_TOO_LARGE, detail);
	}
	/* cJSON passes invalid UTF-8 through; the archive only holds valid text. */
	if(!utf8_valid(body, len)) return refuse(why, PROTO_ERR_BAD_UTF8, "\"body\" is not valid UTF-8");
	if(has_control(body, len)){
		return refuse(why, PROTO_ERR_BAD_BODY,
				"\"body\" holds a control character (only newline and tab are allowed)");
	}
	return 0;
}

/* Checks a room message payload; see room_msg.h. On success the caller
 * frees *out with room_msg_free. */
int room_msg_check(const struct room_msg_limits *limits, const void *payload, size_t len,
		struct room_msg *out, struct room_msg_refusal *why)
{
	cJSON *msg = NULL;
	const cJSON *body_item;
	const char *msg_id;
	char detail[128];
	int rc = -1;

	memset(out, 0, sizeof(*out));
	memset(why, 0, sizeof(*why));
	if(len > (size_t)limits->max_payload_bytes){
		snprintf(detail, sizeof(detail), "payload of %zu bytes is over the limit of %ld",
				len, limits->max_payload_bytes);
		refuse(why, PROTO_ERR_TOO_LARGE, detail);
		goto out;
	}
	switch(json_payload_parse(payload, len, PROTO_MAX_DEPTH, &msg)){
	case JSON_PAYLOAD_OK:
		break;
	case JSON_PAYLOAD_TOO_DEEP:
		snprintf(detail, sizeof(detail), "objects and arrays nest over %d levels", PROTO_MAX_DEPTH);
		refuse(why, PROTO_ERR_TOO_DEEP, detail);
		goto out;
	case JSON_PAYLOAD_NOT_OBJECT:
		refuse(why, PROTO_ERR_BAD_JSON, "payload is not a JSON object");
		goto out;
	case JSON_PAYLOAD_NO_MEMORY:
		refuse(why, PROTO_ERR_UNAVAILABLE, "out of memory; send it again");
		goto out;
	}
	msg_id = json_get_str(msg, "id", NAME_MSGID_MAX);
	if(!msg_id || !name_msgid_valid(msg_id) || member_count(msg, "id") > 1){
		refuse(why, PROTO_ERR_BAD_MESSAGE, "\"id\" must appear once, as 1-64 characters of A-Z, a-z, 0-9, '_', '-'");
		goto out;
	}
	snprintf(why->msg_id, sizeof(why->msg_id), "%s", msg_id);
	if(member_count(msg, "body") > 1){
		refuse(why, PROTO_ERR_BAD_MESSAGE, "\"body\" must appear once");
		goto out;
	}
	body_item = cJSON_GetObjectItemCaseSensitive(msg, "body");
	if(!cJSON_IsString(body_item) || !body_item->valuestring){
		refuse(why, PROTO_ERR_BAD_MESSAGE, "\"body\" must be a string");
		goto out;
	}
	/* json_payload_parse leaves no NUL inside a string: strlen is the length. */
	out->body = body_item->valuestring;
	out->body_len = strlen(out->body);
	if(room_msg_body_check(limits->max_body_bytes, out->body, out->body_len, why)) goto out;
	out->msg_id = msg_id;
	out->json = msg;
	msg = NULL;
	rc = 0;
out:
	cJSON_Delete(msg);
	if(rc) memset(out, 0, sizeof(*out));
	return rc;
}

/* Frees what room_msg_check kept in msg (not msg itself). */
void room_msg_free(struct room_msg *msg)
{
	cJSON_Delete(msg->json);
	memset(msg, 0, sizeof(*msg));
}
