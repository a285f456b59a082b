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

static const char *const kind_names[] = {
	[ROOM_MSG_MESSAGE] = "message",
	[ROOM_MSG_EDIT] = "edit",
	[ROOM_MSG_DELETE] = "delete",
	[ROOM_MSG_REACT] = "react",
	[ROOM_MSG_UNREACT] = "unreact",
};
#define KIND_COUNT ((int)(sizeof(kind_names) / sizeof(kind_names[0])))

/* The kind's name; see room_msg.h. Static storage. */
const char *room_msg_kind_name(enum room_msg_kind kind)
{
	return (int)kind >= 0 && (int)kind < KIND_COUNT ? kind_names[kind] : "message";
}

/* The body rule said of field (the message's "body" or an edit's "text"). */
static int text_check(const char *field, long max_bytes, const char *text, size_t len, struct room_msg_refusal *why)
{
	char detail[128];

	if(len == 0 || len > (size_t)max_bytes){
		snprintf(detail, sizeof(detail), "\"%s\" must be 1 to %ld bytes", field, max_bytes);
		return refuse(why, PROTO_ERR_TOO_LARGE, detail);
	}
	/* cJSON passes invalid UTF-8 through; the archive only holds valid text. */
	if(!utf8_valid(text, len)){
		snprintf(detail, sizeof(detail), "\"%s\" is not valid UTF-8", field);
		return refuse(why, PROTO_ERR_BAD_UTF8, detail);
	}
	if(has_control(text, len)){
		snprintf(detail, sizeof(detail), "\"%s\" holds a control character (only newline and tab are allowed)", field);
		return refuse(why, PROTO_ERR_BAD_BODY, detail);
	}
	return 0;
}

/* The body rule; see room_msg.h. Nothing to free. */
int room_msg_body_check(long max_body_bytes, const char *body, size_t len, struct room_msg_refusal *why)
{
	return text_check("body", max_body_bytes, body, len, why);
}

/* True when the valid UTF-8 text holds a control character (C0, DEL, C1)
 * or a whitespace character (ASCII, or Unicode White_Space: U+00A0,
 * U+1680, U+2000-U+200A, U+2028, U+2029, U+202F, U+205F, U+3000). */
static bool has_space_or_control(const unsigned char *s, size_t len)
{
	for(size_t i = 0; i < len; i++){
		if(s[i] <= 0x20 || s[i] == 0x7F) return true;
		if(i + 1 < len && s[i] == 0xC2 && (s[i + 1] <= 0x9F || s[i + 1] == 0xA0)) return true;
		if(i + 2 < len && s[i] == 0xE1 && s[i + 1] == 0x9A && s[i + 2] == 0x80) return true;
		if(i + 2 < len && s[i] == 0xE2 && s[i + 1] == 0x80
				&& (s[i + 2] <= 0x8A || s[i + 2] == 0xA8 || s[i + 2] == 0xA9 || s[i + 2] == 0xAF)) return true;
		if(i + 2 < len && s[i] == 0xE2 && s[i + 1] == 0x81 && s[i + 2] == 0x9F) return true;
		if(i + 2 < len && s[i] == 0xE3 && s[i + 1] == 0x80 && s[i + 2] == 0x80) return true;
	}
	return false;
}

/* The reaction rule; see room_msg.h. Nothing to free. */
int room_msg_reaction_check(const char *reaction, size_t len, struct room_msg_refusal *why)
{
	if(len == 0) return refuse(why, PROTO_ERR_BAD_REACTION, "\"reaction\" is empty");
	if(len > PROTO_REACTION_MAX) return refuse(why, PROTO_ERR_TOO_LARGE, "\"reaction\" must be 1 to 32 bytes");
	if(!utf8_valid(reaction, len)) return refuse(why, PROTO_ERR_BAD_REACTION, "\"reaction\" is not valid UTF-8");
	if(has_space_or_control((const unsigned char *)reaction, len)){
		return refuse(why, PROTO_ERR_BAD_REACTION, "\"reaction\" holds whitespace or a control character");
	}
	return 0;
}

/* Reads the seq member key (once at most). Returns 0 with *out (0 when
 * absent and optional), or -1 with *why filled. */
static int get_seq(const cJSON *msg, const char *key, bool required, unsigned long long *out,
		struct room_msg_refusal *why)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(msg, key);
	char detail[128];
	double v;

	*out = 0;
	if(!item && !required) return 0;
	if(member_count(msg, key) > 1){
		snprintf(detail, sizeof(detail), "\"%s\" must appear once", key);
		return refuse(why, PROTO_ERR_BAD_MESSAGE, detail);
	}
	v = item && cJSON_IsNumber(item) ? item->valuedouble : 0.5;
	/* Any double beyond 2^53 is whole; within, the cast is exact. NaN and
	 * infinities (1e999) are not numbers to the protocol. */
	if(v != v || (v >= -9007199254740992.0 && v <= 9007199254740992.0 && v != (double)(long long)v)
			|| v - v != 0){
		snprintf(detail, sizeof(detail), "\"%s\" must be a message's seq (a whole number)", key);
		return refuse(why, PROTO_ERR_BAD_MESSAGE, detail);
	}
	if(v < 1 || v > 9007199254740991.0){
		snprintf(detail, sizeof(detail), "\"%s\" must be a seq from 1 to 2^53-1", key);
		return refuse(why, PROTO_ERR_BAD_REF, detail);
	}
	*out = (unsigned long long)v;
	return 0;
}

/* Reads the string member key, required and once. Returns it, or NULL
 * with *why filled. */
static const char *get_text(const cJSON *msg, const char *key, struct room_msg_refusal *why)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(msg, key);
	char detail[128];

	if(member_count(msg, key) > 1 || !cJSON_IsString(item) || !item->valuestring){
		snprintf(detail, sizeof(detail), "\"%s\" must appear once, as a string", key);
		refuse(why, PROTO_ERR_BAD_MESSAGE, detail);
		return NULL;
	}
	return item->valuestring;
}

/* Reads "mentions" (optional) into out, duplicates dropped. */
static int get_mentions(const cJSON *msg, struct room_msg *out, struct room_msg_refusal *why)
{
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(msg, "mentions");
	const cJSON *item;

	if(!list) return 0;
	if(member_count(msg, "mentions") > 1 || !cJSON_IsArray(list)){
		return refuse(why, PROTO_ERR_BAD_MESSAGE, "\"mentions\" must appear once, as an array of user names");
	}
	if(cJSON_GetArraySize(list) > PROTO_MENTIONS_MAX){
		return refuse(why, PROTO_ERR_TOO_LARGE, "\"mentions\" holds more than 20 names");
	}
	cJSON_ArrayForEach(item, list){
		bool seen = false;

		if(!cJSON_IsString(item) || !item->valuestring || !name_user_valid(item->valuestring)){
			return refuse(why, PROTO_ERR_BAD_MESSAGE, "\"mentions\" must hold user names only");
		}
		for(int i = 0; i < out->mention_count; i++){
			if(!strcmp(out->mentions[i], item->valuestring)) seen = true;
		}
		if(!seen) out->mentions[out->mention_count++] = item->valuestring;
	}
	return 0;
}

/* The checks of one kind on a parsed payload; fills out's kind fields. */
static int check_kind(const struct room_msg_limits *limits, const cJSON *msg, struct room_msg *out,
		struct room_msg_refusal *why)
{
	const cJSON *kind = cJSON_GetObjectItemCaseSensitive(msg, "kind");
	const cJSON *body_item;

	out->kind = ROOM_MSG_MESSAGE;
	if(kind){
		int k;

		if(member_count(msg, "kind") > 1 || !cJSON_IsString(kind) || !kind->valuestring){
			return refuse(why, PROTO_ERR_BAD_MESSAGE, "\"kind\" must appear once, as a string");
		}
		for(k = 0; k < KIND_COUNT && strcmp(kind_names[k], kind->valuestring); k++);
		if(k == KIND_COUNT){
			return refuse(why, PROTO_ERR_BAD_MESSAGE,
					"unknown \"kind\" (message, edit, delete, react or unreact)");
		}
		out->kind = (enum room_msg_kind)k;
	}
	if(member_count(msg, "body") > 1) return refuse(why, PROTO_ERR_BAD_MESSAGE, "\"body\" must appear once");
	body_item = cJSON_GetObjectItemCaseSensitive(msg, "body");
	if(out->kind != ROOM_MSG_MESSAGE){
		/* An event with a body would show as a new message to a reader that
		 * knows no kinds. */
		if(body_item) return refuse(why, PROTO_ERR_BAD_MESSAGE, "an event carries no \"body\"");
		if(get_seq(msg, "ref", true, &out->ref, why)) return -1;
	}
	switch(out->kind){
	case ROOM_MSG_MESSAGE:
		if(!cJSON_IsString(body_item) || !body_item->valuestring){
			return refuse(why, PROTO_ERR_BAD_MESSAGE, "\"body\" must be a string");
		}
		/* json_payload_parse leaves no NUL inside a string: strlen is the length. */
		out->body = body_item->valuestring;
		out->body_len = strlen(out->body);
		if(text_check("body", limits->max_body_bytes, out->body, out->body_len, why)) return -1;
		if(get_seq(msg, "reply_to", false, &out->reply_to, why)) return -1;
		if(get_seq(msg, "thread", false, &out->thread, why)) return -1;
		return get_mentions(msg, out, why);
	case ROOM_MSG_EDIT:
		if(!(out->text = get_text(msg, "text", why))) return -1;
		out->text_len = strlen(out->text);
		return text_check("text", limits->max_body_bytes, out->text, out->text_len, why);
	case ROOM_MSG_DELETE:
		return 0;
	case ROOM_MSG_REACT:
	case ROOM_MSG_UNREACT:
		if(!(out->reaction = get_text(msg, "reaction", why))) return -1;
		return room_msg_reaction_check(out->reaction, strlen(out->reaction), why);
	}
	return refuse(why, PROTO_ERR_BAD_MESSAGE, "unknown \"kind\"");
}

/* Checks a room message payload; see room_msg.h. On success the caller
 * frees *out with room_msg_free. */
int room_msg_check(const struct room_msg_limits *limits, const void *payload, size_t len,
		struct room_msg *out, struct room_msg_refusal *why)
{
	cJSON *msg = NULL;
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
	if(check_kind(limits, msg, out, why)) goto out;
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
