/* chat_proto_ops.c: building and parsing the message-operation payloads
 * of chat/v1 for the chat client; see chat_proto_ops.h. */
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

#define TEXT_MAX 65536

static void emit(const struct chat_proto_sink *sink, const struct chat_event *ev)
{
	sink->emit(sink->ctx, ev);
}

static void bad_payload(const struct chat_proto_sink *sink, const char *topic, const char *why)
{
	struct chat_event ev = { .kind = CHAT_EV_BAD_PAYLOAD, .topic = topic, .text = why };

	emit(sink, &ev);
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

static const char *ts_or_null(const cJSON *obj, const char *key)
{
	const char *ts = json_get_str(obj, key, CHAT_TOKEN_MAX);

	return token_ok(ts, CHAT_TOKEN_MAX) ? ts : NULL;
}

/* ---- builders ---- */

/* A message with its optional fields; text for cJSON_free, or NULL. */
char *chat_proto_msg_ext(const char *id, const char *body, long reply_to, long thread,
		const char (*mentions)[NAME_USER_MAX + 1], size_t n)
{
	cJSON *obj = NULL;
	cJSON *list = NULL;
	char *out = NULL;

	obj = cJSON_CreateObject();
	if(!obj) goto out;
	if(!cJSON_AddStringToObject(obj, "id", id)) goto out;
	if(!cJSON_AddStringToObject(obj, "body", body)) goto out;
	if(reply_to > 0 && !cJSON_AddNumberToObject(obj, "reply_to", (double)reply_to)) goto out;
	if(thread > 0 && !cJSON_AddNumberToObject(obj, "thread", (double)thread)) goto out;
	if(n > 0){
		list = cJSON_AddArrayToObject(obj, "mentions");
		if(!list) goto out;
		for(size_t i = 0; i < n; i++){
			cJSON *name = cJSON_CreateString(mentions[i]);

			if(!name || !cJSON_AddItemToArray(list, name)){
				cJSON_Delete(name);
				goto out;
			}
		}
	}
	out = json_print(obj);
out:
	cJSON_Delete(obj);
	return out;
}

/* An event payload; text for cJSON_free, or NULL. */
char *chat_proto_event(const char *id, const char *kind, long ref, const char *text, const char *reaction)
{
	cJSON *obj = NULL;
	char *out = NULL;

	obj = cJSON_CreateObject();
	if(!obj) goto out;
	if(!cJSON_AddStringToObject(obj, "id", id)) goto out;
	if(!cJSON_AddStringToObject(obj, "kind", kind)) goto out;
	if(!cJSON_AddNumberToObject(obj, "ref", (double)ref)) goto out;
	if(text && !cJSON_AddStringToObject(obj, "text", text)) goto out;
	if(reaction && !cJSON_AddStringToObject(obj, "reaction", reaction)) goto out;
	out = json_print(obj);
out:
	cJSON_Delete(obj);
	return out;
}

/* A new request object with op and req_id, or NULL. */
static cJSON *request(const char *op, const char *req_id)
{
	cJSON *obj = cJSON_CreateObject();

	if(obj && cJSON_AddStringToObject(obj, "op", op) && cJSON_AddStringToObject(obj, "req_id", req_id)) return obj;
	cJSON_Delete(obj);
	return NULL;
}

/* Prints obj (NULL: out of memory) and frees it; text for cJSON_free. */
static char *finish(cJSON *obj, int ok)
{
	char *out = ok && obj ? json_print(obj) : NULL;

	cJSON_Delete(obj);
	return out;
}

/* A history request for a thread; text for cJSON_free, or NULL. */
char *chat_proto_history_thread(const char *req_id, const char *room, long limit, long thread)
{
	cJSON *obj = request("history", req_id);

	return finish(obj, obj && cJSON_AddStringToObject(obj, "room", room)
			&& cJSON_AddNumberToObject(obj, "limit", (double)limit)
			&& cJSON_AddNumberToObject(obj, "thread", (double)thread));
}

/* A topic request (topic NULL: clear); text for cJSON_free, or NULL. */
char *chat_proto_topic(const char *req_id, const char *room, const char *topic)
{
	cJSON *obj = request("topic", req_id);

	return finish(obj, obj && cJSON_AddStringToObject(obj, "room", room)
			&& (topic ? cJSON_AddStringToObject(obj, "topic", topic) != NULL
				: cJSON_AddNullToObject(obj, "topic") != NULL));
}

/* A role request; text for cJSON_free, or NULL. */
char *chat_proto_role(const char *req_id, const char *room, const char *user, const char *role)
{
	cJSON *obj = request("role", req_id);

	return finish(obj, obj && cJSON_AddStringToObject(obj, "room", room) && cJSON_AddStringToObject(obj, "user", user)
			&& cJSON_AddStringToObject(obj, "role", role));
}

/* A prefs request; text for cJSON_free, or NULL. */
char *chat_proto_prefs(const char *req_id, int share_read)
{
	cJSON *obj = request("prefs", req_id);

	return finish(obj, obj && (share_read < 0 || cJSON_AddBoolToObject(obj, "share_read", share_read)));
}

/* A search request; text for cJSON_free, or NULL. */
char *chat_proto_search(const char *req_id, const char *query, const char *room, const char *before)
{
	cJSON *obj = request("search", req_id);

	return finish(obj, obj && cJSON_AddStringToObject(obj, "query", query)
			&& (!room || cJSON_AddStringToObject(obj, "room", room))
			&& (!before || cJSON_AddStringToObject(obj, "before", before)));
}

/* ---- parsers ---- */

/* "R:COUNT:u1,u2 ..." from a history entry's "reactions" array. */
static int reactions_text(const cJSON *list, char *buf, size_t len)
{
	const cJSON *item = NULL;
	size_t used = 0;

	buf[0] = '\0';
	cJSON_ArrayForEach(item, list){
		const char *reaction = json_get_str(item, "reaction", OPS_REACTION_MAX + 1);
		const cJSON *users = cJSON_GetObjectItemCaseSensitive(item, "users");
		const cJSON *u = NULL;
		long count = 0;
		int n;

		if(!ops_reaction_valid(reaction) || json_get_long(item, "count", 0, 1, INT_MAX, &count)) return -1;
		n = snprintf(buf + used, len - used, "%s%s:%ld:", used ? " " : "", reaction, count);
		if(n < 0 || (size_t)n >= len - used) return 0; /* the rest does not fit: shown without */
		used += (size_t)n;
		cJSON_ArrayForEach(u, users){
			if(!cJSON_IsString(u) || !name_user_valid(u->valuestring)) continue;
			n = snprintf(buf + used, len - used, "%s%s", buf[used - 1] == ':' ? "" : ",", u->valuestring);
			if(n < 0 || (size_t)n >= len - used) return 0;
			used += (size_t)n;
		}
	}
	return 0;
}

int proto_ops_fields(const void *json, struct chat_event *ev, struct proto_ops_scratch *s)
{
	const cJSON *obj = json;
	const cJSON *deleted = cJSON_GetObjectItemCaseSensitive(obj, "deleted");
	const cJSON *mentions = cJSON_GetObjectItemCaseSensitive(obj, "mentions");
	const cJSON *reactions = cJSON_GetObjectItemCaseSensitive(obj, "reactions");
	const cJSON *m = NULL;
	size_t used = 0;

	ev->op_kind = ops_payload_kind(obj);
	if(!ev->op_kind) return -1;
	if(json_get_long(obj, "reply_to", 0, 1, LONG_MAX, &ev->reply_to)) return -1;
	if(json_get_long(obj, "thread", 0, 1, LONG_MAX, &ev->thread)) return -1;
	if(json_get_long(obj, "ref", 0, 1, LONG_MAX, &ev->ref)) return -1;
	if(json_get_long(obj, "replies", 0, 0, LONG_MAX, &ev->replies)) return -1;
	ev->edited = ts_or_null(obj, "edited");
	ev->last_reply = ts_or_null(obj, "last_reply");
	if(cJSON_IsObject(deleted)){
		ev->deleted_by = json_get_str(deleted, "by", NAME_USER_MAX);
		if(!name_user_valid(ev->deleted_by)) ev->deleted_by = "?";
		ev->deleted_ts = ts_or_null(deleted, "ts");
	}
	if(cJSON_IsArray(mentions)){
		s->mentions[0] = '\0';
		cJSON_ArrayForEach(m, mentions){
			int n;

			if(!cJSON_IsString(m) || !name_user_valid(m->valuestring)) continue;
			n = snprintf(s->mentions + used, sizeof(s->mentions) - used, "%s%s", used ? "," : "", m->valuestring);
			if(n < 0 || (size_t)n >= sizeof(s->mentions) - used) break;
			used += (size_t)n;
		}
		if(used) ev->mentions = s->mentions;
	}
	if(cJSON_IsArray(reactions) && !reactions_text(reactions, s->reactions, sizeof(s->reactions))
			&& s->reactions[0]){
		ev->reactions = s->reactions;
	}
	if(strcmp(ev->op_kind, "message")){
		const char *reaction = json_get_str(obj, "reaction", OPS_REACTION_MAX + 1);

		ev->reaction = ops_reaction_valid(reaction) ? reaction : NULL;
		if(!strcmp(ev->op_kind, "edit")) ev->text = json_get_str(obj, "text", TEXT_MAX);
		if(!strcmp(ev->op_kind, "topic")) ev->text = json_get_str(obj, "topic", TEXT_MAX);
	}
	return 0;
}

int proto_ops_meta_topic(const char *topic, char *room)
{
	static const char prefix[] = "chat/v1/rooms/";
	const char *start = topic, *slash = NULL;
	size_t len;

	if(strncmp(topic, prefix, sizeof(prefix) - 1)) return 0;
	start += sizeof(prefix) - 1;
	slash = strchr(start, '/');
	if(!slash || strcmp(slash, "/meta")) return 0;
	len = (size_t)(slash - start);
	if(len == 0 || len > NAME_ROOM_MAX) return 0;
	memcpy(room, start, len);
	room[len] = '\0';
	return name_room_valid(room) ? 1 : 0;
}

void proto_ops_meta(const struct chat_proto_sink *sink, const char *topic, const char *room,
		const void *payload, size_t len)
{
	struct chat_event ev = { .room = room, .stored = 1 };
	cJSON *obj = NULL;
	const char *type = NULL;

	if(json_payload_parse(payload, len, PROTO_MAX_DEPTH, &obj) != JSON_PAYLOAD_OK){
		bad_payload(sink, topic, "not a JSON object");
		goto out;
	}
	type = json_get_str(obj, "type", CHAT_TOKEN_MAX);
	if(!type) type = "";
	ev.user = json_get_str(obj, !strcmp(type, "read") ? "user" : "by", NAME_USER_MAX);
	if(!name_user_valid(ev.user) || json_get_long(obj, "seq", 0, 1, LONG_MAX, &ev.seq) || ev.seq < 1){
		if(!strcmp(type, "delete") || !strcmp(type, "topic") || !strcmp(type, "read")){
			bad_payload(sink, topic, "meta payload without a valid user or \"seq\"");
		}
		goto out;
	}
	ev.ts = ts_or_null(obj, "ts");
	if(!strcmp(type, "delete")){
		if(json_get_long(obj, "ref", 0, 1, LONG_MAX, &ev.ref) || ev.ref < 1){
			bad_payload(sink, topic, "meta delete without a valid \"ref\"");
			goto out;
		}
		ev.kind = CHAT_EV_OP;
		ev.op_kind = "delete";
	}else if(!strcmp(type, "topic")){
		const cJSON *text = cJSON_GetObjectItemCaseSensitive(obj, "topic");
		struct room_msg_refusal why;

		ev.kind = CHAT_EV_OP;
		ev.op_kind = "topic";
		ev.text = cJSON_IsString(text) && text->valuestring ? text->valuestring : "";
		if(*ev.text && room_msg_body_check(PROTO_MSG_BODY_MAX, ev.text, strlen(ev.text), &why)){
			bad_payload(sink, topic, why.message);
			goto out;
		}
	}else if(!strcmp(type, "read")){
		ev.kind = CHAT_EV_READ;
	}else{
		goto out; /* a later protocol version */
	}
	emit(sink, &ev);
out:
	cJSON_Delete(obj);
}

void proto_ops_mention(const struct chat_proto_sink *sink, const char *topic, const void *obj)
{
	struct chat_event ev = { .kind = CHAT_EV_MENTION };
	struct room_msg_refusal why;

	ev.room = json_get_str(obj, "room", NAME_ROOM_MAX);
	ev.user = json_get_str(obj, "sender", NAME_USER_MAX);
	ev.id = json_get_str(obj, "id", NAME_MSGID_MAX);
	ev.body = json_get_str(obj, "body", TEXT_MAX);
	ev.ts = ts_or_null(obj, "ts");
	if(!name_room_valid(ev.room) || !name_user_valid(ev.user) || json_get_long(obj, "seq", 0, 1, LONG_MAX, &ev.seq)
			|| ev.seq < 1 || !ev.body){
		bad_payload(sink, topic, "mention without a valid \"room\", \"sender\", \"seq\" or \"body\"");
		return;
	}
	if(!name_msgid_valid(ev.id)) ev.id = NULL;
	if(room_msg_body_check(PROTO_MSG_BODY_MAX, ev.body, strlen(ev.body), &why)) ev.body = "";
	emit(sink, &ev);
}

/* The items of a list reply (bans, receipts, search), then the end. */
static void list_reply(const struct chat_proto_sink *sink, const char *topic, const cJSON *obj, const char *op,
		const char *room, long tag)
{
	const char *key = !strcmp(op, "bans") ? "bans" : !strcmp(op, "receipts") ? "markers" : "results";
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(obj, key);
	const cJSON *item = NULL;
	struct chat_event end = { .kind = CHAT_EV_ITEMS_END, .op = op, .room = room, .tag = tag };

	if(!cJSON_IsArray(list)){
		bad_payload(sink, topic, "list reply without its array");
		return;
	}
	cJSON_ArrayForEach(item, list){
		struct chat_event ev = { .kind = CHAT_EV_ITEM, .op = op, .room = room, .tag = tag };

		if(!strcmp(op, "search")){
			ev.room = json_get_str(item, "room", NAME_ROOM_MAX);
			ev.user = json_get_str(item, "sender", NAME_USER_MAX);
			ev.body = json_get_str(item, "snippet", TEXT_MAX);
			if(json_get_long(item, "seq", 0, 1, LONG_MAX, &ev.seq) || !name_room_valid(ev.room)) continue;
			if(!ev.body) ev.body = "";
		}else{
			ev.user = json_get_str(item, "user", NAME_USER_MAX);
			ev.text = json_get_str(item, "by", NAME_USER_MAX);
			if(json_get_long(item, "seq", 0, 0, LONG_MAX, &ev.seq)) ev.seq = 0;
		}
		if(!name_user_valid(ev.user)) continue;
		ev.ts = ts_or_null(item, "ts");
		emit(sink, &ev);
		end.count++;
	}
	end.text = json_get_str(obj, "next", 256);
	if(end.text && !token_ok(end.text, 256)) end.text = NULL;
	emit(sink, &end);
}

int proto_ops_reply(const struct chat_proto_sink *sink, const char *topic, const void *obj, const char *op,
		const char *asked_room, long tag)
{
	struct chat_event ev = { .kind = CHAT_EV_REPLY, .op = op, .tag = tag };
	const cJSON *share = NULL;

	ev.room = json_get_str(obj, "room", NAME_ROOM_MAX);
	if(!name_room_valid(ev.room)) ev.room = asked_room && *asked_room ? asked_room : NULL;
	if(!strcmp(op, "bans") || !strcmp(op, "receipts") || !strcmp(op, "search")){
		list_reply(sink, topic, obj, op, ev.room, tag);
		return 1;
	}
	if(!strcmp(op, "topic")){
		const cJSON *text = cJSON_GetObjectItemCaseSensitive(obj, "topic");

		ev.text = cJSON_IsString(text) ? text->valuestring : "";
		if(json_get_long(obj, "seq", 0, 0, LONG_MAX, &ev.seq)) ev.seq = 0;
	}else if(!strcmp(op, "role") || !strcmp(op, "ban") || !strcmp(op, "unban")){
		ev.user = json_get_str(obj, "user", NAME_USER_MAX);
		if(!name_user_valid(ev.user)) ev.user = NULL;
		ev.state = json_get_str(obj, "role", CHAT_TOKEN_MAX);
		if(!token_ok(ev.state, CHAT_TOKEN_MAX)) ev.state = NULL;
	}else if(!strcmp(op, "prefs")){
		share = cJSON_GetObjectItemCaseSensitive(obj, "share_read");
		ev.state = cJSON_IsFalse(share) ? "off" : "on";
	}else{
		return 0;
	}
	emit(sink, &ev);
	return 1;
}
