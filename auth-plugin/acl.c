/* acl.c: chat authorization rules; see acl.h and docs/PROTOCOL.md. */
#include "acl.h"

#include <string.h>

#include "topics.h"

#define MAX_LEVELS 8

static bool is_wild(const char *level)
{
	return !strcmp(level, "+") || !strcmp(level, "#");
}

/* Subscriptions a member may hold on one room: the shapes of
 * topic_room_filter_allowed (topics.h) under chat/v1/rooms/{room}/. */
static enum acl_answer decide_room_filter(const struct snapshot_user *user, char **lv, int n)
{
	if(!name_room_valid(lv[3]) || !snapshot_is_member(user, lv[3])) return ACL_DENY;
	return topic_room_filter_allowed(lv + 4, n - 4) ? ACL_ALLOW : ACL_DENY;
}

/* Whether a subscription filter can match topics of the chat tree:
 * 1 when its first levels are "chat" then "v1" (or a wildcard standing for
 * it), 0 otherwise. Filters starting with a wildcard ("#", "+/v1/...") are
 * left to other rules: the read check, made for every delivered message,
 * still keeps chat topics from anyone not allowed them. */
static int filter_in_chat_tree(const char *filter)
{
	if(strncmp(filter, "chat", 4) || (filter[4] != '/' && filter[4] != '\0')) return 0;
	if(filter[4] == '\0') return 1;
	return !strncmp(filter + 5, "v1", 2) || filter[5] == '+' || filter[5] == '#';
}

static enum acl_answer decide_subscribe(const struct snapshot_user *user, const char *filter)
{
	char copy[TOPIC_MAX + 1];
	char *lv[MAX_LEVELS];
	int n = topic_split(filter, copy, sizeof(copy), lv, MAX_LEVELS);

	if(n < 4 || strcmp(lv[1], "v1")) return ACL_DENY;
	if(!strcmp(lv[2], "rooms")) return decide_room_filter(user, lv, n);
	if(n == 5 && !strcmp(lv[2], "users") && !strcmp(lv[3], user->name) && !strcmp(lv[4], "inbox")){
		return ACL_ALLOW;
	}
	if(n == 4 && !strcmp(lv[2], "presence") && (is_wild(lv[3]) || name_user_valid(lv[3]))){
		return ACL_ALLOW;
	}
	return ACL_DENY;
}

static enum acl_answer decide_read(const struct snapshot_user *user, const char *topic)
{
	struct topic_parts parts;

	switch(topic_parse(topic, &parts)){
	case TOPIC_ROOM_MSG:
	case TOPIC_ROOM_TYPING:
	case TOPIC_ROOM_META:
		return snapshot_is_member(user, parts.room) ? ACL_ALLOW : ACL_DENY;
	case TOPIC_USER_INBOX:
		return !strcmp(parts.user, user->name) ? ACL_ALLOW : ACL_DENY;
	case TOPIC_PRESENCE:
		return ACL_ALLOW;
	default:
		return ACL_DENY;
	}
}

static enum acl_answer decide_write(const struct snapshot_user *user, const char *topic, bool retain)
{
	struct topic_parts parts;

	/* Nothing a user writes in the chat tree may be retained: a retained room
	 * message would be replayed to every future subscriber. */
	if(retain) return ACL_DENY;
	switch(topic_parse(topic, &parts)){
	case TOPIC_ROOM_MSG:
	case TOPIC_ROOM_TYPING:
		if(strcmp(parts.user, user->name)) return ACL_DENY; /* impersonation */
		return snapshot_is_member(user, parts.room) ? ACL_ALLOW : ACL_DENY;
	case TOPIC_USER_REQ:
		return !strcmp(parts.user, user->name) ? ACL_ALLOW : ACL_DENY;
	case TOPIC_ROOM_META: /* history-svc's announcements: services only */
	default:
		return ACL_DENY;
	}
}

/* The health account (ROLE_HEALTH) may subscribe to, read and write (not
 * retained) exactly chat/v1/sys/health/{node}/{its own name}: the topic its
 * agent round-trips probes on. Everything else is denied, outside the chat
 * tree too, so that the account can read no chat whatever other rules say. */
static enum acl_answer decide_health(const struct snapshot_user *user, const char *topic, bool retain)
{
	char copy[TOPIC_MAX + 1];
	char *lv[MAX_LEVELS];
	int n = topic_split(topic, copy, sizeof(copy), lv, MAX_LEVELS);

	if(retain || n != 6) return ACL_DENY;
	if(strcmp(lv[0], "chat") || strcmp(lv[1], "v1") || strcmp(lv[2], "sys") || strcmp(lv[3], "health")){
		return ACL_DENY;
	}
	if(!name_node_valid(lv[4]) || strcmp(lv[5], user->name)) return ACL_DENY;
	return ACL_ALLOW;
}

enum acl_answer acl_chat_decide(const struct snapshot_user *user, int access,
		const char *topic, bool retain)
{
	if(!topic) return ACL_DENY;
	if(access == ACL_UNSUBSCRIBE) return ACL_ALLOW;
	/* Services, bridges and admins may use every topic, in the chat tree or
	 * not: a bridge may carry the operator's own topics too. */
	if(user && !user->disabled && role_is_privileged(user->role)) return ACL_ALLOW;
	if(user && user->role == ROLE_HEALTH){
		return user->disabled ? ACL_DENY : decide_health(user, topic, retain);
	}
	if(access == ACL_SUBSCRIBE){
		if(!filter_in_chat_tree(topic)) return ACL_DEFER;
		if(!user || user->disabled) return ACL_DENY;
		return decide_subscribe(user, topic);
	}
	if(!topic_in_chat_tree(topic)) return ACL_DEFER;
	if(!user || user->disabled) return ACL_DENY;
	if(access == ACL_READ) return decide_read(user, topic);
	if(access == ACL_WRITE) return decide_write(user, topic, retain);
	return ACL_DENY;
}

/* The room of a room topic (messages or typing) or of a subscription filter
 * on one room (.../{room}/#, .../{room}/msg/..., .../{room}/typing/...), or
 * NULL. copy holds the copy the result points into. */
static const char *scoped_room(const char *topic, int access, char *copy, size_t copy_len)
{
	char *lv[MAX_LEVELS];
	int n = topic_split(topic, copy, copy_len, lv, MAX_LEVELS);

	if(n < 5 || strcmp(lv[0], "chat") || strcmp(lv[1], "v1") || strcmp(lv[2], "rooms")) return NULL;
	if(!name_room_valid(lv[3])) return NULL;
	if(access == ACL_SUBSCRIBE && n == 5 && !strcmp(lv[4], "#")) return lv[3];
	if(n != 6 || (strcmp(lv[4], "msg") && strcmp(lv[4], "typing"))) return NULL;
	if(access != ACL_SUBSCRIBE && !name_user_valid(lv[5])) return NULL;
	return lv[3];
}

enum acl_answer acl_token_scope(const struct snapshot_token *tok, int access,
		const char *topic, enum acl_answer chat_answer)
{
	char copy[TOPIC_MAX + 1];
	const char *room;

	if(access == ACL_UNSUBSCRIBE) return chat_answer;
	if(!tok) return ACL_DENY;
	if(tok->scope == TOKEN_SCOPE_NONE) return chat_answer;
	if(chat_answer != ACL_ALLOW || !topic) return ACL_DENY;
	if(tok->scope == TOKEN_SCOPE_PUBLISH && access != ACL_WRITE) return ACL_DENY;
	if(tok->scope == TOKEN_SCOPE_READ && access != ACL_READ && access != ACL_SUBSCRIBE) return ACL_DENY;
	room = scoped_room(topic, access, copy, sizeof(copy));
	return room && snapshot_token_has_room(tok, room) ? ACL_ALLOW : ACL_DENY;
}
