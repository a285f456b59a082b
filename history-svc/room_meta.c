/* room_meta.c: publishing on chat/v1/rooms/{room}/meta; see room_meta.h. */
#include "room_meta.h"

#include <string.h>

#include <cJSON.h>

#include "json_util.h"
#include "topics.h"

int room_meta_publish(struct history_svc *svc, const char *room, const void *obj)
{
	char topic[TOPIC_MAX];
	char *text = NULL;
	int rc = -1;

	if(topic_room_meta(topic, sizeof(topic), room)) goto out;
	text = json_print(obj);
	if(!text) goto out;
	mqtt_pub_send(svc->out, topic, text, strlen(text), 1, false);
	rc = 0;
out:
	cJSON_free(text);
	return rc;
}
