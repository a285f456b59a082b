/* chat_ops.c: event payload rules, the seq index and the live rule of the
 * chat client; see chat_ops.h. */
#include "chat_ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "proto.h"
#include "room_msg.h"

/* How many members of obj are named key (a second one is refused, as
 * room_msg.c does for "id" and "body"). */
static int member_count(const cJSON *obj, const char *key)
{
	int count = 0;

	for(const cJSON *item = obj->child; item; item = item->next){
		if(item->string && !strcmp(item->string, key)) count++;
	}
	return count;
}

/* The kind of a room payload; see chat_ops.h. Nothing to free. */
const char *ops_payload_kind(const void *json)
{
	const cJSON *kind = cJSON_GetObjectItemCaseSensitive(json, "kind");

	static const char *const known[] = { "message", "edit", "delete", "react", "unreact", "topic" };

	if(!kind) return "message";
	if(!cJSON_IsString(kind) || !kind->valuestring || member_count(json, "kind") > 1) return NULL;
	/* A kind this client does not know is ignored (PROTOCOL 7), never
	 * shown as something else. */
	for(size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++){
		if(!strcmp(kind->valuestring, known[i])) return known[i];
	}
	return NULL;
}

/* The reaction rule (room_msg.h); nothing to free. */
int ops_reaction_valid(const char *reaction)
{
	struct room_msg_refusal why;

	return reaction && !room_msg_reaction_check(reaction, strlen(reaction), &why);
}

static int name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}

/* Collects @names; see chat_ops.h. Nothing to free. */
size_t ops_mentions_from_body(const char *body, char (*names)[NAME_USER_MAX + 1], size_t max)
{
	size_t n = 0;

	for(const char *p = body; *p && n < max; p++){
		char name[NAME_USER_MAX + 2];
		size_t len = 0;
		int dup = 0;

		if(*p != '@' || (p > body && name_char(p[-1]))) continue;
		while(name_char(p[1 + len]) && len <= NAME_USER_MAX) len++;
		/* "@bob." ends a sentence: the dot is not part of the name. */
		while(len > 0 && (p[len] == '.' || p[len] == '-')) len--;
		if(len == 0 || len > NAME_USER_MAX) continue;
		memcpy(name, p + 1, len);
		name[len] = '\0';
		if(!name_user_valid(name)) continue;
		for(size_t i = 0; i < n; i++) dup |= !strcmp(names[i], name);
		if(!dup) memcpy(names[n++], name, len + 1);
		p += len;
	}
	return n;
}

/* Records a seq; see chat_ops.h. The entry belongs to ix. */
int ops_index_put(struct ops_index *ix, long seq, const char *sender, int is_event, int deleted)
{
	struct ops_entry *e = ops_index_find(ix, seq);

	if(e){
		e->deleted |= deleted;
		return 0;
	}
	e = calloc(1, sizeof(*e));
	if(!e) return -1;
	e->seq = seq;
	snprintf(e->sender, sizeof(e->sender), "%s", sender ? sender : "");
	e->is_event = is_event;
	e->deleted = deleted;
	HASH_ADD(hh, ix->by_seq, seq, sizeof(e->seq), e);
	ix->count++;
	if(ix->count > OPS_INDEX_MAX){
		struct ops_entry *oldest = ix->by_seq; /* uthash keeps insertion order */

		HASH_DEL(ix->by_seq, oldest);
		free(oldest);
		ix->count--;
	}
	return 0;
}

/* The entry of seq, or NULL; it stays ix's. */
struct ops_entry *ops_index_find(const struct ops_index *ix, long seq)
{
	struct ops_entry *e = NULL;

	HASH_FIND(hh, ix->by_seq, &seq, sizeof(seq), e);
	return e;
}

/* Frees every entry of ix. */
void ops_index_free(struct ops_index *ix)
{
	struct ops_entry *e = NULL, *tmp = NULL;

	HASH_ITER(hh, ix->by_seq, e, tmp){
		HASH_DEL(ix->by_seq, e);
		free(e);
	}
	ix->count = 0;
}

/* The live rule; see chat_ops.h. Nothing to free. */
enum ops_verdict ops_live_verdict(const struct ops_index *ix, const char *kind, long ref, const char *sender)
{
	const struct ops_entry *target = ops_index_find(ix, ref);
	int own_only = !strcmp(kind, "edit") || !strcmp(kind, "delete");

	if(strcmp(kind, "edit") && strcmp(kind, "delete") && strcmp(kind, "react") && strcmp(kind, "unreact")){
		return OPS_FORGED; /* "topic" and others come from history-svc only */
	}
	if(!target || target->is_event) return OPS_UNKNOWN;
	/* An admin's delete of someone else's message comes on the meta topic. */
	if(own_only && strcmp(target->sender, sender)) return OPS_FORGED;
	if(target->deleted) return OPS_DELETED;
	return OPS_APPLY;
}

/* A word for v; static. */
const char *ops_verdict_name(enum ops_verdict v)
{
	switch(v){
	case OPS_APPLY: return "apply";
	case OPS_UNKNOWN: return "unknown message";
	case OPS_FORGED: return "not its sender's message";
	case OPS_DELETED: return "message deleted";
	}
	return "?";
}
