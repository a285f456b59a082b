/* store_meta.c: an event's fields in the intake log; see store_meta.h. */
#include "store_meta.h"

#include <stdio.h>
#include <string.h>

#include <cJSON.h>

#include "json_util.h"

char *store_meta_encode(const struct room_msg *msg, int *failed)
{
	cJSON *obj = NULL;
	cJSON *names;
	char *text = NULL;

	*failed = 0;
	if(msg->kind == ROOM_MSG_MESSAGE && !msg->reply_to && !msg->thread && !msg->mention_count) return NULL;
	*failed = 1;
	obj = cJSON_CreateObject();
	if(!obj) goto out;
	if(!cJSON_AddStringToObject(obj, "kind", room_msg_kind_name(msg->kind))) goto out;
	if(msg->ref && !cJSON_AddNumberToObject(obj, "ref", (double)msg->ref)) goto out;
	if(msg->reply_to && !cJSON_AddNumberToObject(obj, "reply_to", (double)msg->reply_to)) goto out;
	if(msg->thread && !cJSON_AddNumberToObject(obj, "thread", (double)msg->thread)) goto out;
	if(msg->reaction && !cJSON_AddStringToObject(obj, "reaction", msg->reaction)) goto out;
	if(msg->mention_count){
		names = cJSON_AddArrayToObject(obj, "mentions");
		if(!names) goto out;
		for(int i = 0; i < msg->mention_count; i++){
			cJSON *name = cJSON_CreateString(msg->mentions[i]);

			if(!name) goto out;
			cJSON_AddItemToArray(names, name);
		}
	}
	text = json_print(obj);
	if(text) *failed = 0;
out:
	cJSON_Delete(obj);
	return text;
}

static unsigned long long get_seq(const cJSON *obj, const char *key)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsNumber(item) && item->valuedouble >= 1 ? (unsigned long long)item->valuedouble : 0;
}

int store_meta_decode(const char *meta, size_t len, struct store_meta *out)
{
	cJSON *obj = NULL;
	const cJSON *item;
	const char *kind, *reaction;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if(len == 0) return 0;
	obj = json_parse_object(meta, len);
	if(!obj) goto out;
	kind = json_get_str(obj, "kind", 16);
	if(!kind) goto out;
	for(out->kind = ROOM_MSG_MESSAGE; out->kind <= ROOM_MSG_UNREACT; out->kind++){
		if(!strcmp(room_msg_kind_name(out->kind), kind)) break;
	}
	if(out->kind > ROOM_MSG_UNREACT) goto out;
	out->ref = get_seq(obj, "ref");
	out->reply_to = get_seq(obj, "reply_to");
	out->thread = get_seq(obj, "thread");
	reaction = json_get_str(obj, "reaction", PROTO_REACTION_MAX);
	if(reaction) snprintf(out->reaction, sizeof(out->reaction), "%s", reaction);
	cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(obj, "mentions")){
		if(out->mention_count == PROTO_MENTIONS_MAX) break;
		if(!cJSON_IsString(item) || !name_user_valid(item->valuestring)) continue;
		snprintf(out->mentions[out->mention_count++], NAME_USER_MAX + 1, "%s", item->valuestring);
	}
	if(out->kind != ROOM_MSG_MESSAGE && !out->ref) goto out;
	rc = 0;
out:
	cJSON_Delete(obj);
	return rc;
}
