/* stored_feed.c: push-svc's wake-up hints after a commit; see
 * stored_feed.h. */
#include "stored_feed.h"

#include <string.h>

#include <cJSON.h>

#include "json_util.h"
#include "mqtt_pub.h"
#include "topics.h"


void stored_feed_publish(struct history_svc *svc, struct intake_msg *const *msgs,
		const struct store_result *results, int n)
{
	/* A batch holds few rooms: for each room not yet done, one pass over
	 * the batch finds its seq range. */
	for(int i = 0; i < n; i++){
		unsigned long long from, to;
		bool first = true;
		cJSON *hint = NULL;
		char *text = NULL;

		if(results[i].status != STORE_STORED) continue;
		for(int j = 0; j < i && first; j++){
			if(results[j].status == STORE_STORED && !strcmp(msgs[j]->room, msgs[i]->room)) first = false;
		}
		if(!first) continue;
		from = to = results[i].seq;
		for(int j = i + 1; j < n; j++){
			if(results[j].status != STORE_STORED || strcmp(msgs[j]->room, msgs[i]->room)) continue;
			if(results[j].seq < from) from = results[j].seq;
			if(results[j].seq > to) to = results[j].seq;
		}
		hint = cJSON_CreateObject();
		if(hint && cJSON_AddStringToObject(hint, "room", msgs[i]->room)
				&& cJSON_AddNumberToObject(hint, "from_seq", (double)from)
				&& cJSON_AddNumberToObject(hint, "to_seq", (double)to)){
			text = json_print(hint);
		}
		if(text) mqtt_pub_send(svc->out, TOPIC_SYS_STORED, text, strlen(text), 1, false);
		cJSON_free(text);
		cJSON_Delete(hint);
	}
}
