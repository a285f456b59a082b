/* online.c: the set of users online; see online.h. */
#include "online.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>
#include <uthash.h>

#include "json_payload.h"
#include "names.h"
#include "proto.h"

struct online_user {
	char name[NAME_USER_MAX + 1];
	UT_hash_handle hh;
};

struct online {
	struct online_user *users;
};

struct online *online_new(void)
{
	return calloc(1, sizeof(struct online));
}

int online_update(struct online *o, const char *user, const void *payload, size_t len)
{
	struct online_user *u = NULL;
	cJSON *json = NULL;
	const cJSON *devices;
	int rc = -1;

	if(!name_user_valid(user)) goto out;
	HASH_FIND_STR(o->users, user, u);
	if(len == 0){
		/* A cleared retained message: nothing known, so not online. */
		rc = 0;
		if(u){
			HASH_DEL(o->users, u);
			free(u);
		}
		goto out;
	}
	if(json_payload_parse(payload, len, PROTO_MAX_DEPTH, &json) != JSON_PAYLOAD_OK) goto out;
	devices = cJSON_GetObjectItemCaseSensitive(json, "devices");
	if(!cJSON_IsNumber(devices)) goto out;
	rc = 0;
	if(devices->valuedouble > 0 && !u){
		u = calloc(1, sizeof(*u));
		if(!u) goto out;
		snprintf(u->name, sizeof(u->name), "%s", user);
		HASH_ADD_STR(o->users, name, u);
		rc = 1;
	}else if(devices->valuedouble <= 0 && u){
		HASH_DEL(o->users, u);
		free(u);
	}
out:
	cJSON_Delete(json);
	return rc;
}

bool online_is(const struct online *o, const char *user)
{
	struct online_user *u = NULL;

	HASH_FIND_STR(o->users, user, u);
	return u != NULL;
}

size_t online_count(const struct online *o)
{
	return HASH_COUNT(o->users);
}

void online_free(struct online *o)
{
	struct online_user *u, *tmp;

	if(!o) return;
	HASH_ITER(hh, o->users, u, tmp){
		HASH_DEL(o->users, u);
		free(u);
	}
	free(o);
}
