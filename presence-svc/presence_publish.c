/* presence_publish.c: retained presence out (chat/v1/presence/{user}),
 * only what differs from what was last published, and the startup hold
 * that reads our own retained messages back first. Reads the table
 * (presence_table.c); calls nothing else of presence-svc. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>
#include <utlist.h>

#include "json_util.h"
#include "log.h"
#include "presence_int.h"
#include "timefmt.h"
#include "topics.h"

/* The retained payload of docs/PROTOCOL.md 3.4 for u: a string the caller
 * frees with cJSON_free, or NULL when out of memory. */
static char *presence_payload(const struct presence *p, const struct user_entry *u)
{
	struct presence_view view;
	char since[TIMEFMT_LEN], seen[TIMEFMT_LEN];
	long long last_seen;
	cJSON *obj = NULL;
	char *text = NULL;

	presence_get(p, u->user, &view);
	/* The state's start doubles as last_seen when no disconnect is known
	 * (a user offline since before a restart). */
	last_seen = presence_reported_last_seen(&view, u->since_ms);
	timefmt_iso(u->since_ms, since);
	obj = cJSON_CreateObject();
	if(!obj) goto out;
	cJSON_AddStringToObject(obj, "user", u->user);
	cJSON_AddStringToObject(obj, "state", view.state);
	cJSON_AddNumberToObject(obj, "devices", view.devices);
	cJSON_AddStringToObject(obj, "since", since);
	if(last_seen){
		timefmt_iso(last_seen, seen);
		cJSON_AddStringToObject(obj, "last_seen", seen);
	}else{
		cJSON_AddNullToObject(obj, "last_seen");
	}
	if(view.text[0]) cJSON_AddStringToObject(obj, "text", view.text);
	else cJSON_AddNullToObject(obj, "text");
	text = json_print(obj);
out:
	cJSON_Delete(obj);
	return text;
}

static void publish_user(struct presence *p, struct user_entry *u)
{
	enum pstate state = presence_table__effective(u);
	bool went_offline = state == ST_OFFLINE && (!u->pub_valid || u->pub_state != ST_OFFLINE);
	char topic[TOPIC_MAX];
	char *text = NULL;

	if(u->pub_valid && u->pub_state == state && u->pub_devices == u->devices && !strcmp(u->pub_text, u->text)){
		p->stats.suppressed++;
		goto out;
	}
	if(topic_presence(topic, sizeof(topic), u->user)) goto out;
	if(!u->since_ms) u->since_ms = presence_wall(p);
	if(state == ST_OFFLINE && !u->last_seen_ms) u->last_seen_ms = u->since_ms;
	text = presence_payload(p, u);
	if(!text) goto out;
	p->sink.publish(p->sink.ud, topic, text, 1, true);
	p->stats.published++;
	if(!u->pub_valid || u->pub_state != state){
		log_info("%s is %s (%u devices)", u->user, presence_state_names[state], u->devices);
	}
	u->pub_valid = true;
	u->pub_state = state;
	u->pub_devices = u->devices;
	snprintf(u->pub_text, sizeof(u->pub_text), "%s", u->text);
	u->pub_since_ms = u->since_ms;
	u->pub_last_seen_ms = u->last_seen_ms;
	u->last_pub = presence_mono(p);
	if(went_offline) p->sink.last_seen(p->sink.ud, u->user, u->last_seen_ms);
out:
	cJSON_free(text);
}

void presence_publish__due(struct presence *p, long long now)
{
	struct user_entry *u, *tmp;

	DL_FOREACH_SAFE(p->dirty, u, tmp){
		if(u->due > now) continue;
		DL_DELETE(p->dirty, u);
		u->dirty = false;
		u->prev = u->next = NULL;
		publish_user(p, u);
	}
}

int presence_retained(struct presence *p, const char *user, const void *payload, size_t len)
{
	cJSON *obj = NULL;
	struct user_entry *u;
	const char *text;
	long devices = 0;
	enum pstate state;
	int rc = -1;

	obj = json_parse_object(payload, len);
	if(!obj || !name_user_valid(user)) goto out;
	state = presence_table__state_parse(json_get_str(obj, "state", 16));
	if((int)state < 0 || json_get_long(obj, "devices", 0, 0, 100000000L, &devices)) goto out;
	u = presence_table__user(p, user);
	if(!u) goto out;
	text = json_get_str(obj, "text", STATUS_TEXT_MAX);
	if(!p->holding){
		/* Normally our own publication coming back. Anything else is a
		 * state we did not publish last: a hub restarted from an older
		 * save hands out stale retained presence. Publish ours again. */
		if(!u->pub_valid || u->pub_state != state || u->pub_devices != (unsigned int)devices
				|| strcmp(u->pub_text, text ? text : "")){
			p->stats.corrected++;
			u->pub_valid = false;
			presence_table__mark_dirty(p, u);
		}
		rc = 0;
		goto out;
	}
	u->pub_valid = true;
	u->pub_state = state;
	u->pub_devices = (unsigned int)devices;
	snprintf(u->pub_text, sizeof(u->pub_text), "%s", text ? text : "");
	u->pub_since_ms = timefmt_parse_iso(json_get_str(obj, "since", TIMEFMT_LEN));
	u->pub_last_seen_ms = timefmt_parse_iso(json_get_str(obj, "last_seen", TIMEFMT_LEN));
	rc = 0;
out:
	if(rc) p->stats.bad_input++;
	cJSON_Delete(obj);
	return rc;
}

/* The hold is over: carry over what the retained states said where it
 * still holds (since, chosen status, last seen), then look at every user
 * once; only differences get published. */
void presence_publish__end_hold(struct presence *p)
{
	struct user_entry *u, *tmp;
	unsigned int users = 0;

	p->holding = false;
	HASH_ITER(hh, p->users, u, tmp){
		enum pstate state = presence_table__effective(u);

		users++;
		if(u->pub_valid){
			if(u->devices > 0 && u->status == ST_ONLINE && (u->pub_state == ST_AWAY || u->pub_state == ST_DND)){
				u->status = u->pub_state;
				snprintf(u->text, sizeof(u->text), "%s", u->pub_text);
				state = u->pub_state;
			}
			if(state == u->pub_state && u->pub_since_ms) u->since_ms = u->pub_since_ms;
			if(!u->last_seen_ms || (state == ST_OFFLINE && u->pub_state == ST_OFFLINE)){
				if(u->pub_last_seen_ms) u->last_seen_ms = u->pub_last_seen_ms;
			}
		}
		if(!u->dirty){
			u->dirty = true;
			DL_APPEND(p->dirty, u);
		}
		u->due = 0;
	}
	log_info("startup hold over after %lld ms: %u users known, %u connections on %u nodes",
			presence_mono(p) - p->started, users, HASH_COUNT(p->conns), HASH_COUNT(p->nodes));
}
