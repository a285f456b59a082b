/* presence_typing.c: typing indicators seen on
 * chat/v1/rooms/{room}/typing/{user}; one not renewed within typing_ttl_ms
 * gets {"typing":false,"expired":true} on its topic. One stopped with
 * {"typing":false} is simply forgotten: no "expired" follows it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "json_util.h"
#include "presence_int.h"
#include "topics.h"

int presence_typing(struct presence *p, const char *room, const char *user, const void *payload, size_t len)
{
	cJSON *obj = json_parse_object(payload, len);
	const cJSON *typing = cJSON_GetObjectItemCaseSensitive(obj, "typing");
	struct typing_entry *t = NULL;
	char key[sizeof(t->key)];
	int rc = -1;

	if(!cJSON_IsBool(typing)) goto out;
	rc = 0;
	/* Our own "expired" notice coming back: nothing to do. */
	if(cJSON_GetObjectItemCaseSensitive(obj, "expired")) goto out;
	snprintf(key, sizeof(key), "%s/%s", room, user);
	HASH_FIND_STR(p->typing, key, t);
	if(cJSON_IsFalse(typing)){
		if(t){
			HASH_DEL(p->typing, t);
			free(t);
		}
		goto out;
	}
	if(!t){
		t = calloc(1, sizeof(*t));
		if(!t) goto out;
		snprintf(t->key, sizeof(t->key), "%s", key);
		snprintf(t->room, sizeof(t->room), "%s", room);
		snprintf(t->user, sizeof(t->user), "%s", user);
		HASH_ADD_STR(p->typing, key, t);
	}
	t->expires = presence_mono(p) + p->opts.typing_ttl_ms;
out:
	if(rc) p->stats.bad_input++;
	cJSON_Delete(obj);
	return rc;
}

void presence_typing__expire(struct presence *p, long long now)
{
	struct typing_entry *t, *tmp;
	char topic[TOPIC_MAX];

	HASH_ITER(hh, p->typing, t, tmp){
		if(t->expires > now) continue;
		if(!topic_room_typing(topic, sizeof(topic), t->room, t->user)){
			p->sink.publish(p->sink.ud, topic, "{\"typing\":false,\"expired\":true}", 0, false);
			p->stats.typing_expired++;
		}
		HASH_DEL(p->typing, t);
		free(t);
	}
}

void presence_typing__free(struct presence *p)
{
	struct typing_entry *t, *tmp;

	HASH_ITER(hh, p->typing, t, tmp){
		HASH_DEL(p->typing, t);
		free(t);
	}
}
