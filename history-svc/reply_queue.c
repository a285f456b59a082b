/* reply_queue.c: delayed replies; see reply_queue.h. */
#include "reply_queue.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cJSON.h>

#include "json_util.h"
#include "log.h"
#include "topics.h"
#include "clock.h"

struct queued_reply {
	long long due_ms;
	char topic[TOPIC_MAX];
	char *payload;
	struct queued_reply *next;
};

void reply_queue_push(struct history_svc *svc, const char *user, const void *obj, long delay_ms)
{
	struct queued_reply *item = calloc(1, sizeof(*item));
	struct queued_reply **tail;

	if(!item) goto fail;
	if(topic_user_inbox(item->topic, sizeof(item->topic), user)) goto fail;
	item->payload = json_print(obj);
	if(!item->payload) goto fail;
	item->due_ms = clock_mono_ms() + delay_ms;
	/* Same delay for everything, so appending keeps the list in due order. */
	for(tail = &svc->replies; *tail; tail = &(*tail)->next);
	*tail = item;
	return;
fail:
	log_warn("could not queue a reply to %s", user);
	if(item) cJSON_free(item->payload);
	free(item);
}

void reply_queue_flush(struct history_svc *svc)
{
	long long now = clock_mono_ms();

	while(svc->replies && svc->replies->due_ms <= now){
		struct queued_reply *item = svc->replies;

		svc->replies = item->next;
		mqtt_pub_send(svc->out, item->topic, item->payload, strlen(item->payload), 1, false);
		cJSON_free(item->payload);
		free(item);
	}
}

void reply_queue_clear(struct history_svc *svc)
{
	while(svc->replies){
		struct queued_reply *item = svc->replies;

		svc->replies = item->next;
		cJSON_free(item->payload);
		free(item);
	}
}
