/* chat_proto.c: building and parsing chat/v1 payloads for the chat client;
 * see chat_proto.h. */
#include "chat_proto.h"
#include "chat_proto_ops.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cJSON.h>

#include "chat_ops.h"
#include "json_payload.h"
#include "json_util.h"
#include "names.h"
#include "proto.h"
#include "room_msg.h"
#include "topics.h"

#define TEXT_MAX 65536 /* longest free text taken from a payload */

static void emit(const struct chat_proto_sink *sink, const struct chat_event *ev)
{
	sink->emit(sink->ctx, ev);
}

static void bad_payload(const struct chat_proto_sink *sink, const char *topic, const char *why)
{
	struct chat_event ev = { .kind = CHAT_EV_BAD_PAYLOAD, .topic = topic, .text = why };

	emit(sink, &ev);
}

/* A room message that breaks the rule of PROTOCOL 3.1 (room_msg.h): the
 * archive will not hold it, so it is not shown; a note says why. */
static void ignored(const struct chat_proto_sink *sink, const char *what, const char *room, const char *user,
		const char *why)
{
	char note[512];
	struct chat_event ev = { .kind = CHAT_EV_NOTE, .text = note };

	snprintf(note, sizeof(note), "ignored %s from %s in %s (PROTOCOL 3.1): %s", what, user, room, why);
	emit(sink, &ev);
}

/* Parses a payload with json_payload_parse, so that a NUL in a string does
 * not end its text early (it becomes U+0001, which the text rules refuse).
 * Returns the object (the caller frees it with cJSON_Delete), or NULL with
 * *why set. */
static cJSON *parse(const void *payload, size_t len, const char **why)
{
	cJSON *obj = NULL;

	switch(json_payload_parse(payload, len, PROTO_MAX_DEPTH, &obj)){
	case JSON_PAYLOAD_OK:
		break;
	case JSON_PAYLOAD_TOO_DEEP:
		*why = "nested too deep";
		break;
	case JSON_PAYLOAD_NOT_OBJECT:
		*why = "not a JSON object";
		break;
	case JSON_PAYLOAD_NO_MEMORY:
		*why = "out of memory";
		break;
	}
	return obj;
}

/* True when s is 1-max bytes of printable ASCII without spaces. */
static int token_ok(const char *s, size_t max)
{
	size_t len;

	if(!s) return 0;
	len = strlen(s);
	if(len == 0 || len > max) return 0;
	for(size_t i = 0; i < len; i++){
		if(s[i] <= ' ' || s[i] > '~') return 0;
	}
	return 1;
}

/* Builds a history request; returns text the caller frees with cJSON_free,
 * or NULL. */
char *chat_proto_history(const char *req_id, const char *room, long limit, long before, long after)
{
	cJSON *obj = NULL;
	char *out = NULL;

	obj = cJSON_CreateObject();
	if(!obj) goto out;
	if(!cJSON_AddStringToObject(obj, "op", "history")) goto out;
	if(!cJSON_AddStringToObject(obj, "req_id", req_id)) goto out;
	if(!cJSON_AddStringToObject(obj, "room", room)) goto out;
	if(!cJSON_AddNumberToObject(obj, "limit", (double)limit)) goto out;
	if(after >= 0){
		if(!cJSON_AddNumberToObject(obj, "after", (double)after)) goto out;
	}else if(before > 0 && !cJSON_AddNumberToObject(obj, "before", (double)before)){
		goto out;
	}
	out = json_print(obj);
out:
	cJSON_Delete(obj);
	return out;
}

/* Builds a rooms request; returns text the caller frees with cJSON_free,
 * or NULL. */
char *chat_proto_rooms(const char *req_id)
{
	cJSON *obj = NULL;
	char *out = NULL;

	obj = cJSON_CreateObject();
	if(!obj) goto out;
	if(!cJSON_AddStringToObject(obj, "op", "rooms")) goto out;
	if(!cJSON_AddStringToObject(obj, "req_id", req_id)) goto out;
	out = json_print(obj);
out:
	cJSON_Delete(obj);
	return out;
}

/* Builds a request with the optional string fields that are not NULL;
 * returns text the caller frees with cJSON_free, or NULL. */
char *chat_proto_request(const char *op, const char *req_id, const char *room, const char *user,
		const char *visibility)
{
	cJSON *obj = NULL;
	char *out = NULL;

	obj = cJSON_CreateObject();
	if(!obj) goto out;
	if(!cJSON_AddStringToObject(obj, "op", op)) goto out;
	if(!cJSON_AddStringToObject(obj, "req_id", req_id)) goto out;
	if(room && !cJSON_AddStringToObject(obj, "room", room)) goto out;
	if(user && !cJSON_AddStringToObject(obj, "user", user)) goto out;
	if(visibility && !cJSON_AddStringToObject(obj, "visibility", visibility)) goto out;
	out = json_print(obj);
out:
	cJSON_Delete(obj);
	return out;
}

/* Builds a read-marker request; returns text the caller frees with
 * cJSON_free, or NULL. */
char *chat_proto_read(const char *req_id, const char *room, long seq)
{
	cJSON *obj = NULL;
	char *out = NULL;

	obj = cJSON_CreateObject();
	if(!obj) goto out;
	if(!cJSON_AddStringToObject(obj, "op", "read")) goto out;
	if(!cJSON_AddStringToObject(obj, "req_id", req_id)) goto out;
	if(!cJSON_AddStringToObject(obj, "room", room)) goto out;
	if(!cJSON_AddNumberToObject(obj, "seq", (double)seq)) goto out;
	out = json_print(obj);
out:
	cJSON_Delete(obj);
	return out;
}

/* Builds a presence status request (text NULL or "" for none); returns
 * text the caller frees with cJSON_free, or NULL. */
char *chat_proto_status(const char *req_id, const char *state, const char *text)
{
	cJSON *obj = NULL;
	char *out = NULL;

	obj = cJSON_CreateObject();
	if(!obj) goto out;
	if(!cJSON_AddStringToObject(obj, "op", "status")) goto out;
	if(!cJSON_AddStringToObject(obj, "req_id", req_id)) goto out;
	if(!cJSON_AddStringToObject(obj, "state", state)) goto out;
	if(text && *text){
		if(!cJSON_AddStringToObject(obj, "text", text)) goto out;
	}else if(!cJSON_AddNullToObject(obj, "text")){
		goto out;
	}
	out = json_print(obj);
out:
	cJSON_Delete(obj);
	return out;
}

/* Builds a typing indicator; returns text the caller frees with
 * cJSON_free, or NULL. */
char *chat_proto_typing(int on)
{
	cJSON *obj = NULL;
	char *out = NULL;

	obj = cJSON_CreateObject();
	if(!obj) goto out;
	if(!cJSON_AddBoolToObject(obj, "typing", on)) goto out;
	out = json_print(obj);
out:
	cJSON_Delete(obj);
	return out;
}

/* chat/v1/rooms/{room}/typing/{user}: {"typing": true|false}. */
static void typing(const struct chat_proto_sink *sink, const char *topic, const struct topic_parts *parts,
		const void *payload, size_t len)
{
	struct chat_event ev = { .kind = CHAT_EV_TYPING };
	const cJSON *flag = NULL;
	const char *why = NULL;
	cJSON *obj = NULL;

	obj = parse(payload, len, &why);
	if(!obj){
		bad_payload(sink, topic, why);
		goto out;
	}
	flag = cJSON_GetObjectItemCaseSensitive(obj, "typing");
	if(!cJSON_IsBool(flag)){
		bad_payload(sink, topic, "typing indicator without a boolean \"typing\"");
		goto out;
	}
	ev.room = parts->room;
	ev.user = parts->user;
	ev.state = cJSON_IsTrue(flag) ? "on" : "off";
	emit(sink, &ev);
out:
	cJSON_Delete(obj);
}

/* chat/v1/rooms/{room}/msg/{sender}: {"id":..., "body":...}, shown only
 * when it meets the rule history-svc applies (room_msg.h): what the client
 * shows live is what the archive will hold. */
static void room_msg(const struct chat_proto_sink *sink, const struct topic_parts *parts,
		const void *payload, size_t len)
{
	struct chat_event ev = { .kind = CHAT_EV_MSG, .op_kind = "message" };
	char mentions[PROTO_MENTIONS_MAX * (NAME_USER_MAX + 1)] = "";
	struct room_msg msg;
	struct room_msg_refusal why;
	size_t used = 0;

	if(room_msg_check(&room_msg_protocol_limits, payload, len, &msg, &why)){
		ignored(sink, "a message", parts->room, parts->user, why.message);
		return;
	}
	ev.id = msg.msg_id;
	ev.room = parts->room;
	ev.user = parts->user; /* the broker checked this one, not the payload */
	if(msg.kind != ROOM_MSG_MESSAGE){
		/* An event (edit, delete, reaction): the live rule decides (chat_net_sync.c). */
		ev.kind = CHAT_EV_OP;
		ev.op_kind = room_msg_kind_name(msg.kind);
		ev.ref = msg.ref <= LONG_MAX ? (long)msg.ref : 0;
		ev.text = msg.text;
		ev.reaction = msg.reaction;
		emit(sink, &ev);
		room_msg_free(&msg);
		return;
	}
	ev.body = msg.body;
	ev.reply_to = msg.reply_to <= LONG_MAX ? (long)msg.reply_to : 0;
	ev.thread = msg.thread <= LONG_MAX ? (long)msg.thread : 0;
	for(int i = 0; i < msg.mention_count; i++){
		int n = snprintf(mentions + used, sizeof(mentions) - used, "%s%s", used ? "," : "", msg.mentions[i]);

		if(n < 0 || (size_t)n >= sizeof(mentions) - used) break;
		used += (size_t)n;
	}
	if(used) ev.mentions = mentions;
	emit(sink, &ev);
	room_msg_free(&msg);
}

/* chat/v1/presence/{user}: {"user":..., "state":"online"|"offline", ...}. */
static void presence(const struct chat_proto_sink *sink, const char *topic, const struct topic_parts *parts,
		const void *payload, size_t len)
{
	struct chat_event ev = { .kind = CHAT_EV_PRESENCE };
	const char *why = NULL;
	cJSON *obj = NULL;

	if(len == 0) goto out; /* a retained message being cleared */
	obj = parse(payload, len, &why);
	if(!obj){
		bad_payload(sink, topic, why);
		goto out;
	}
	ev.state = json_get_str(obj, "state", CHAT_TOKEN_MAX);
	if(!token_ok(ev.state, CHAT_TOKEN_MAX)){
		bad_payload(sink, topic, "\"state\" is missing or not a word");
		goto out;
	}
	ev.text = json_get_str(obj, "text", TEXT_MAX);
	if(ev.text && !*ev.text) ev.text = NULL;
	ev.user = parts->user;
	ev.retained = sink->retained;
	emit(sink, &ev);
out:
	cJSON_Delete(obj);
}

/* {"type":"receipt","room":R,"id":ID,"seq":N,"ts":TS} */
static void receipt(const struct chat_proto_sink *sink, const char *topic, const cJSON *obj)
{
	struct chat_event ev = { .kind = CHAT_EV_RECEIPT };
	long seq = 0;

	ev.room = json_get_str(obj, "room", NAME_ROOM_MAX);
	ev.id = json_get_str(obj, "id", NAME_MSGID_MAX);
	if(!name_room_valid(ev.room) || !name_msgid_valid(ev.id)
			|| json_get_long(obj, "seq", 0, 1, LONG_MAX, &seq) || seq < 1){
		bad_payload(sink, topic, "receipt without a valid \"room\", \"id\" or \"seq\"");
		return;
	}
	ev.seq = seq;
	ev.ts = json_get_str(obj, "ts", CHAT_TOKEN_MAX);
	if(!token_ok(ev.ts, CHAT_TOKEN_MAX)) ev.ts = NULL;
	ev.op_kind = json_get_str(obj, "kind", CHAT_TOKEN_MAX);
	if(!token_ok(ev.op_kind, CHAT_TOKEN_MAX)) ev.op_kind = NULL;
	emit(sink, &ev);
}

/* {"type":"error","code":C,"message":M,"room":R,"id":ID} */
static void inbox_error(const struct chat_proto_sink *sink, const char *topic, const cJSON *obj)
{
	struct chat_event ev = { .kind = CHAT_EV_ERROR };

	ev.code = json_get_str(obj, "code", CHAT_TOKEN_MAX);
	if(!token_ok(ev.code, CHAT_TOKEN_MAX)){
		bad_payload(sink, topic, "error without a valid \"code\"");
		return;
	}
	ev.text = json_get_str(obj, "message", TEXT_MAX);
	if(!ev.text) ev.text = "";
	ev.room = json_get_str(obj, "room", NAME_ROOM_MAX);
	if(!name_room_valid(ev.room)) ev.room = NULL;
	ev.id = json_get_str(obj, "id", NAME_MSGID_MAX);
	if(!name_msgid_valid(ev.id)) ev.id = NULL;
	emit(sink, &ev);
}

/* One entry of a history reply: a CHAT_EV_HISTORY of room with tag;
 * returns 1 when emitted, 0 when malformed or breaking the body rule. */
static int history_entry(const struct chat_proto_sink *sink, const char *topic, const char *room, const cJSON *item,
		long tag)
{
	struct chat_event ev = { .kind = CHAT_EV_HISTORY, .room = room, .tag = tag };
	struct proto_ops_scratch scratch;
	struct room_msg_refusal why;
	long seq = 0;

	ev.user = json_get_str(item, "sender", NAME_USER_MAX);
	ev.body = json_get_str(item, "body", SIZE_MAX);
	ev.ts = json_get_str(item, "ts", CHAT_TOKEN_MAX);
	ev.id = json_get_str(item, "id", NAME_MSGID_MAX);
	if(!cJSON_IsObject(item) || proto_ops_fields(item, &ev, &scratch)) ev.op_kind = NULL;
	if(ev.op_kind && strcmp(ev.op_kind, "message")) ev.body = ""; /* an event: no body */
	if(!ev.op_kind || json_get_long(item, "seq", 0, 1, LONG_MAX, &seq) || seq < 1
			|| !name_user_valid(ev.user) || !ev.body || !token_ok(ev.ts, CHAT_TOKEN_MAX)){
		bad_payload(sink, topic, "history message without a valid \"seq\", \"sender\", \"ts\" or \"body\"; skipped");
		return 0;
	}
	/* Stored messages met the rule; a reply that breaks it is not
	 * shown either. A deleted one's body is "", an event has none. */
	if(!strcmp(ev.op_kind, "message") && !ev.deleted_by
			&& room_msg_body_check(PROTO_MSG_BODY_MAX, ev.body, strlen(ev.body), &why)){
		ignored(sink, "a stored message", room, ev.user, why.message);
		return 0;
	}
	ev.seq = seq;
	emit(sink, &ev);
	return 1;
}

static void history_reply(const struct chat_proto_sink *sink, const char *topic, const cJSON *obj,
		const char *asked_room, long tag)
{
	struct chat_event end = { .kind = CHAT_EV_HISTORY_END };
	const cJSON *messages = cJSON_GetObjectItemCaseSensitive(obj, "messages");
	const cJSON *root = cJSON_GetObjectItemCaseSensitive(obj, "root");
	const cJSON *item = NULL;
	const char *room = json_get_str(obj, "room", NAME_ROOM_MAX);
	long count = 0;
	long last_seq = 0;

	if(!name_room_valid(room)) room = asked_room;
	if(json_get_long(obj, "last_seq", 0, 0, LONG_MAX, &last_seq)) last_seq = 0;
	if(!name_room_valid(room) || !cJSON_IsArray(messages)){
		bad_payload(sink, topic, "history reply without a valid \"room\" or \"messages\" array");
		return;
	}
	/* A thread's page: its root first. */
	if(cJSON_IsObject(root)) count += history_entry(sink, topic, room, root, tag);
	cJSON_ArrayForEach(item, messages){
		count += history_entry(sink, topic, room, item, tag);
	}
	end.room = room;
	end.count = count;
	end.seq = last_seq;
	end.tag = tag;
	emit(sink, &end);
}

static void rooms_reply(const struct chat_proto_sink *sink, const char *topic, const cJSON *obj, long tag)
{
	struct chat_event end = { .kind = CHAT_EV_ROOMS_END, .tag = tag };
	const cJSON *rooms = cJSON_GetObjectItemCaseSensitive(obj, "rooms");
	const cJSON *item = NULL;
	long count = 0;

	if(!cJSON_IsArray(rooms)){
		bad_payload(sink, topic, "rooms reply without a \"rooms\" array");
		return;
	}
	cJSON_ArrayForEach(item, rooms){
		struct chat_event ev = { .kind = CHAT_EV_ROOM, .tag = tag };
		long last = 0;
		long unread = 0;

		ev.room = json_get_str(item, "name", NAME_ROOM_MAX);
		if(!cJSON_IsObject(item) || !name_room_valid(ev.room)
				|| json_get_long(item, "last_seq", 0, 0, LONG_MAX, &last)){
			bad_payload(sink, topic, "room without a valid \"name\" or \"last_seq\"; skipped");
			continue;
		}
		if(json_get_long(item, "unread", 0, 0, LONG_MAX, &unread)) unread = 0;
		ev.seq = last;
		ev.unread = unread;
		ev.visibility = json_get_str(item, "visibility", CHAT_TOKEN_MAX);
		if(!token_ok(ev.visibility, CHAT_TOKEN_MAX)) ev.visibility = "public";
		ev.state = json_get_str(item, "role", CHAT_TOKEN_MAX);
		if(!token_ok(ev.state, CHAT_TOKEN_MAX)) ev.state = "member";
		ev.user = json_get_str(item, "with", NAME_USER_MAX);
		if(!name_user_valid(ev.user)) ev.user = NULL;
		ev.text = json_get_str(item, "topic", TEXT_MAX); /* NULL: none */
		if(json_get_long(item, "mentions", 0, 0, LONG_MAX, &ev.count)) ev.count = 0;
		emit(sink, &ev);
		count++;
	}
	end.count = count;
	emit(sink, &end);
}

static void public_rooms_reply(const struct chat_proto_sink *sink, const char *topic, const cJSON *obj, long tag)
{
	struct chat_event end = { .kind = CHAT_EV_PUBLIC_ROOMS_END, .tag = tag };
	const cJSON *rooms = cJSON_GetObjectItemCaseSensitive(obj, "rooms");
	const cJSON *item = NULL;

	if(!cJSON_IsArray(rooms)){
		bad_payload(sink, topic, "public_rooms reply without a \"rooms\" array");
		return;
	}
	cJSON_ArrayForEach(item, rooms){
		struct chat_event ev = { .kind = CHAT_EV_PUBLIC_ROOM, .tag = tag };
		long members = 0;
		long last = 0;

		ev.room = json_get_str(item, "name", NAME_ROOM_MAX);
		if(!cJSON_IsObject(item) || !name_room_valid(ev.room)){
			bad_payload(sink, topic, "public room without a valid \"name\"; skipped");
			continue;
		}
		if(json_get_long(item, "members", 0, 0, LONG_MAX, &members)) members = 0;
		if(json_get_long(item, "last_seq", 0, 0, LONG_MAX, &last)) last = 0;
		ev.count = members;
		ev.seq = last;
		emit(sink, &ev);
		end.count++;
	}
	emit(sink, &end);
}

/* {"tokens":[{"id","label","created","last_used","expires","scope"}]}: one
 * CHAT_EV_TOKEN each (never a secret: the reply holds none), then the end. */
static void tokens_reply(const struct chat_proto_sink *sink, const char *topic, const cJSON *obj, long tag)
{
	struct chat_event end = { .kind = CHAT_EV_TOKENS_END, .tag = tag };
	const cJSON *tokens = cJSON_GetObjectItemCaseSensitive(obj, "tokens");
	const cJSON *item = NULL;

	if(!cJSON_IsArray(tokens)){
		bad_payload(sink, topic, "tokens reply without a \"tokens\" array");
		return;
	}
	cJSON_ArrayForEach(item, tokens){
		struct chat_event ev = { .kind = CHAT_EV_TOKEN, .tag = tag };
		const cJSON *scope = cJSON_GetObjectItemCaseSensitive(item, "scope");
		const cJSON *room = NULL;
		char scope_text[TEXT_MAX + 1] = "all";
		size_t used;

		ev.id = json_get_str(item, "id", 16);
		ev.text = json_get_str(item, "label", TEXT_MAX);
		ev.ts = json_get_str(item, "created", CHAT_TOKEN_MAX);
		if(!token_ok(ev.id, 16) || !ev.text || !token_ok(ev.ts, CHAT_TOKEN_MAX)){
			bad_payload(sink, topic, "token without a valid \"id\", \"label\" or \"created\"; skipped");
			continue;
		}
		ev.state = json_get_str(item, "last_used", CHAT_TOKEN_MAX);
		if(!token_ok(ev.state, CHAT_TOKEN_MAX)) ev.state = "-";
		ev.code = json_get_str(item, "expires", CHAT_TOKEN_MAX);
		if(!token_ok(ev.code, CHAT_TOKEN_MAX)) ev.code = "never";
		if(cJSON_IsObject(scope)){
			const char *mode = json_get_str(scope, "mode", 16);

			used = (size_t)snprintf(scope_text, sizeof(scope_text), "%s:", token_ok(mode, 16) ? mode : "?");
			cJSON_ArrayForEach(room, cJSON_GetObjectItemCaseSensitive(scope, "rooms")){
				if(!cJSON_IsString(room) || !name_room_valid(room->valuestring) || used >= sizeof(scope_text)) continue;
				used += (size_t)snprintf(scope_text + used, sizeof(scope_text) - used, "%s%s",
						scope_text[used - 1] == ':' ? "" : ",", room->valuestring);
			}
		}
		ev.body = scope_text;
		emit(sink, &ev);
		end.count++;
	}
	emit(sink, &end);
}

static void roster_reply(const struct chat_proto_sink *sink, const char *topic, const cJSON *obj,
		const char *asked_room, long tag)
{
	struct chat_event end = { .kind = CHAT_EV_MEMBERS_END, .tag = tag };
	const cJSON *members = cJSON_GetObjectItemCaseSensitive(obj, "members");
	const cJSON *item = NULL;
	const char *room = json_get_str(obj, "room", NAME_ROOM_MAX);

	if(!name_room_valid(room)) room = asked_room;
	if(!name_room_valid(room) || !cJSON_IsArray(members)){
		bad_payload(sink, topic, "roster reply without a valid \"room\" or \"members\" array");
		return;
	}
	cJSON_ArrayForEach(item, members){
		struct chat_event ev = { .kind = CHAT_EV_MEMBER, .room = room, .tag = tag };

		ev.user = json_get_str(item, "user", NAME_USER_MAX);
		ev.state = json_get_str(item, "state", CHAT_TOKEN_MAX);
		if(!cJSON_IsObject(item) || !name_user_valid(ev.user) || !token_ok(ev.state, CHAT_TOKEN_MAX)){
			bad_payload(sink, topic, "roster member without a valid \"user\" or \"state\"; skipped");
			continue;
		}
		ev.text = json_get_str(item, "text", TEXT_MAX);
		if(ev.text && !*ev.text) ev.text = NULL;
		emit(sink, &ev);
		end.count++;
	}
	end.room = room;
	emit(sink, &end);
}

/* {"type":"reply","req_id":R,"op":OP,"ok":true|false,...} */
static void reply(const struct chat_proto_sink *sink, const char *topic, const cJSON *obj)
{
	char asked_room[NAME_ROOM_MAX + 1] = "";
	char note[160];
	const char *req_id = json_get_str(obj, "req_id", NAME_MSGID_MAX);
	const char *op = json_get_str(obj, "op", CHAT_TOKEN_MAX);
	const cJSON *ok = cJSON_GetObjectItemCaseSensitive(obj, "ok");
	long tag = 0;

	if(!name_msgid_valid(req_id) || !token_ok(op, CHAT_TOKEN_MAX) || !cJSON_IsBool(ok)){
		bad_payload(sink, topic, "reply without a valid \"req_id\", \"op\" or \"ok\"");
		return;
	}
	if(!sink->match(sink->ctx, req_id, asked_room, sizeof(asked_room), &tag)){
		struct chat_event ev = { .kind = CHAT_EV_NOTE, .text = note };

		/* Another device of the same user shares the inbox. */
		snprintf(note, sizeof(note), "ignoring the reply to request %s, which this client did not send", req_id);
		emit(sink, &ev);
		return;
	}
	if(cJSON_IsFalse(ok)){
		struct chat_event ev = { .kind = CHAT_EV_ERROR, .op = op, .tag = tag };
		const cJSON *err = cJSON_GetObjectItemCaseSensitive(obj, "error");

		ev.code = json_get_str(err, "code", CHAT_TOKEN_MAX);
		if(!token_ok(ev.code, CHAT_TOKEN_MAX)) ev.code = "unknown";
		ev.text = json_get_str(err, "message", TEXT_MAX);
		if(!ev.text) ev.text = "";
		ev.room = asked_room[0] ? asked_room : NULL;
		emit(sink, &ev);
		return;
	}
	if(proto_ops_reply(sink, topic, obj, op, asked_room, tag)){
		/* topic, role, ban, unban, bans, receipts, prefs, search */
	}else if(!strcmp(op, "history")){
		history_reply(sink, topic, obj, asked_room, tag);
	}else if(!strcmp(op, "rooms")){
		rooms_reply(sink, topic, obj, tag);
	}else if(!strcmp(op, "public_rooms")){
		public_rooms_reply(sink, topic, obj, tag);
	}else if(!strcmp(op, "roster")){
		roster_reply(sink, topic, obj, asked_room, tag);
	}else if(!strcmp(op, "tokens")){
		tokens_reply(sink, topic, obj, tag);
	}else{
		/* join, leave, create, invite, kick, dm, read, status, and ops
		 * of a later version: the front end knows what it asked. */
		struct chat_event ev = { .kind = CHAT_EV_REPLY, .op = op, .tag = tag };

		ev.room = json_get_str(obj, "room", NAME_ROOM_MAX);
		if(!name_room_valid(ev.room)) ev.room = asked_room[0] ? asked_room : NULL;
		ev.user = json_get_str(obj, "user", NAME_USER_MAX);
		if(!name_user_valid(ev.user)) ev.user = NULL;
		ev.state = json_get_str(obj, "state", CHAT_TOKEN_MAX);
		if(!token_ok(ev.state, CHAT_TOKEN_MAX)) ev.state = NULL;
		ev.text = json_get_str(obj, "text", TEXT_MAX);
		if(json_get_long(obj, "seq", 0, 0, LONG_MAX, &ev.seq)) ev.seq = 0; /* a read reply's */
		ev.id = json_get_str(obj, "id", 16); /* revoke_token's */
		if(!token_ok(ev.id, 16)) ev.id = NULL;
		if(json_get_long(obj, "revoked_tokens", 0, 0, LONG_MAX, &ev.count)) ev.count = 0; /* password's */
		emit(sink, &ev);
	}
}

static void inbox(const struct chat_proto_sink *sink, const char *topic, const void *payload, size_t len)
{
	cJSON *obj = NULL;
	const char *type = NULL;
	const char *why = NULL;

	obj = parse(payload, len, &why);
	if(!obj){
		bad_payload(sink, topic, why);
		goto out;
	}
	type = json_get_str(obj, "type", CHAT_TOKEN_MAX);
	if(!type){
		bad_payload(sink, topic, "no \"type\"");
		goto out;
	}
	if(!strcmp(type, "receipt")) receipt(sink, topic, obj);
	else if(!strcmp(type, "error")) inbox_error(sink, topic, obj);
	else if(!strcmp(type, "reply")) reply(sink, topic, obj);
	else if(!strcmp(type, "mention")) proto_ops_mention(sink, topic, obj);
	/* other types: a later protocol version; ignored */
out:
	cJSON_Delete(obj);
}

/* Turns one incoming publish into events sent to sink; the payload stays
 * the caller's, nothing to free. */
void chat_proto_incoming(const struct chat_proto_sink *sink, const char *topic,
		const void *payload, size_t len)
{
	struct topic_parts parts;
	char room[NAME_ROOM_MAX + 1];

	if(proto_ops_meta_topic(topic, room)){
		proto_ops_meta(sink, topic, room, payload, len);
		return;
	}
	switch(topic_parse(topic, &parts)){
	case TOPIC_ROOM_MSG:
		room_msg(sink, &parts, payload, len);
		break;
	case TOPIC_USER_INBOX:
		if(strcmp(parts.user, sink->self)) bad_payload(sink, topic, "not our inbox");
		else inbox(sink, topic, payload, len);
		break;
	case TOPIC_PRESENCE:
		presence(sink, topic, &parts, payload, len);
		break;
	case TOPIC_ROOM_TYPING:
		typing(sink, topic, &parts, payload, len);
		break;
	default:
		bad_payload(sink, topic, "a topic this client does not read");
		break;
	}
}
