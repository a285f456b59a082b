/* topics.c: build and parse chat/v1 topics; see topics.h. */
#include "topics.h"

#include <stdio.h>
#include <string.h>

#define MAX_LEVELS 8

int topic_split(const char *topic, char *copy, size_t copy_len, char **levels, int max_levels)
{
	size_t len = strlen(topic);
	int count = 0;
	char *p;

	if(len >= copy_len) return -1;
	memcpy(copy, topic, len + 1);
	p = copy;
	for(;;){
		if(count == max_levels) return -1;
		levels[count++] = p;
		p = strchr(p, '/');
		if(!p) break;
		*p++ = '\0';
	}
	return count;
}

static int copy_name(char *dst, size_t dstlen, const char *src)
{
	size_t len = strlen(src);

	if(len >= dstlen) return -1;
	memcpy(dst, src, len + 1);
	return 0;
}

enum topic_kind topic_parse(const char *topic, struct topic_parts *parts)
{
	char copy[TOPIC_MAX + 1];
	char *lv[MAX_LEVELS];
	enum topic_kind kind = TOPIC_OTHER;
	int n;

	memset(parts, 0, sizeof(*parts));
	if(!topic) goto out;
	n = topic_split(topic, copy, sizeof(copy), lv, MAX_LEVELS);
	if(n < 4 || strcmp(lv[0], "chat") || strcmp(lv[1], "v1")) goto out;

	if(n == 6 && !strcmp(lv[2], "rooms") && !strcmp(lv[4], "msg")){
		if(!name_room_valid(lv[3]) || !name_user_valid(lv[5])) goto out;
		copy_name(parts->room, sizeof(parts->room), lv[3]);
		copy_name(parts->user, sizeof(parts->user), lv[5]);
		kind = TOPIC_ROOM_MSG;
	}else if(n == 6 && !strcmp(lv[2], "rooms") && !strcmp(lv[4], "typing")){
		if(!name_room_valid(lv[3]) || !name_user_valid(lv[5])) goto out;
		copy_name(parts->room, sizeof(parts->room), lv[3]);
		copy_name(parts->user, sizeof(parts->user), lv[5]);
		kind = TOPIC_ROOM_TYPING;
	}else if(n == 6 && !strcmp(lv[2], "users") && !strcmp(lv[4], "req")){
		if(!name_user_valid(lv[3]) || !name_node_valid(lv[5])) goto out;
		copy_name(parts->user, sizeof(parts->user), lv[3]);
		copy_name(parts->service, sizeof(parts->service), lv[5]);
		kind = TOPIC_USER_REQ;
	}else if(n == 5 && !strcmp(lv[2], "users") && !strcmp(lv[4], "inbox")){
		if(!name_user_valid(lv[3])) goto out;
		copy_name(parts->user, sizeof(parts->user), lv[3]);
		kind = TOPIC_USER_INBOX;
	}else if(n == 4 && !strcmp(lv[2], "presence")){
		if(!name_user_valid(lv[3])) goto out;
		copy_name(parts->user, sizeof(parts->user), lv[3]);
		kind = TOPIC_PRESENCE;
	}else if(n == 5 && !strcmp(lv[2], "sys") && !strcmp(lv[3], "conn")){
		if(!name_node_valid(lv[4])) goto out;
		copy_name(parts->node, sizeof(parts->node), lv[4]);
		kind = TOPIC_SYS_CONN;
	}else if(n == 5 && !strcmp(lv[2], "sys") && !strcmp(lv[3], "sync")){
		if(!name_node_valid(lv[4])) goto out;
		copy_name(parts->node, sizeof(parts->node), lv[4]);
		kind = TOPIC_SYS_SYNC;
	}
out:
	parts->kind = kind;
	return kind;
}

int topic_in_chat_tree(const char *topic)
{
	return topic && (!strcmp(topic, "chat/v1") || !strncmp(topic, "chat/v1/", 8));
}

static int build(size_t len, int n)
{
	return (n < 0 || (size_t)n >= len) ? -1 : 0;
}

int topic_room_msg(char *buf, size_t len, const char *room, const char *user)
{
	if(!name_room_valid(room) || !name_user_valid(user)) return -1;
	return build(len, snprintf(buf, len, TOPIC_PREFIX "/rooms/%s/msg/%s", room, user));
}

int topic_room_msg_filter(char *buf, size_t len, const char *room)
{
	if(!name_room_valid(room)) return -1;
	return build(len, snprintf(buf, len, TOPIC_PREFIX "/rooms/%s/msg/+", room));
}

int topic_room_meta(char *buf, size_t len, const char *room)
{
	if(!name_room_valid(room)) return -1;
	return build(len, snprintf(buf, len, TOPIC_PREFIX "/rooms/%s/meta", room));
}

int topic_user_req(char *buf, size_t len, const char *user, const char *service)
{
	if(!name_user_valid(user) || !name_node_valid(service)) return -1;
	return build(len, snprintf(buf, len, TOPIC_PREFIX "/users/%s/req/%s", user, service));
}

int topic_user_inbox(char *buf, size_t len, const char *user)
{
	if(!name_user_valid(user)) return -1;
	return build(len, snprintf(buf, len, TOPIC_PREFIX "/users/%s/inbox", user));
}

int topic_presence(char *buf, size_t len, const char *user)
{
	if(!name_user_valid(user)) return -1;
	return build(len, snprintf(buf, len, TOPIC_PREFIX "/presence/%s", user));
}

int topic_sys_conn(char *buf, size_t len, const char *node)
{
	if(!name_node_valid(node)) return -1;
	return build(len, snprintf(buf, len, TOPIC_PREFIX "/sys/conn/%s", node));
}

int topic_room_typing(char *buf, size_t len, const char *room, const char *user)
{
	if(!name_room_valid(room) || !name_user_valid(user)) return -1;
	return build(len, snprintf(buf, len, TOPIC_PREFIX "/rooms/%s/typing/%s", room, user));
}

int topic_sys_sync(char *buf, size_t len, const char *node)
{
	if(!name_node_valid(node)) return -1;
	return build(len, snprintf(buf, len, TOPIC_PREFIX "/sys/sync/%s", node));
}
