/* topics.h: the chat/v1 topic tree of docs/PROTOCOL.md, built and parsed in
 * one place. Parsing validates every name level with names.h, so a parsed
 * topic never carries '+', '#' or an invalid name. */
#ifndef CHAT_TOPICS_H
#define CHAT_TOPICS_H

#include <stddef.h>

#include "names.h"

#define TOPIC_PREFIX "chat/v1"
/* history-svc's hint after each commit, read by push-svc (PROTOCOL 3.6). */
#define TOPIC_SYS_STORED TOPIC_PREFIX "/sys/stored"
#define TOPIC_MAX 256

enum topic_kind {
	TOPIC_OTHER = 0,     /* outside the chat tree, or malformed inside it */
	TOPIC_ROOM_MSG,      /* chat/v1/rooms/{room}/msg/{user} */
	TOPIC_USER_REQ,      /* chat/v1/users/{user}/req/{service} */
	TOPIC_USER_INBOX,    /* chat/v1/users/{user}/inbox */
	TOPIC_PRESENCE,      /* chat/v1/presence/{user} */
	TOPIC_SYS_CONN,      /* chat/v1/sys/conn/{node} */
	TOPIC_ROOM_TYPING,   /* chat/v1/rooms/{room}/typing/{user} */
	TOPIC_SYS_SYNC,      /* chat/v1/sys/sync/{node} */
	TOPIC_ROOM_META,     /* chat/v1/rooms/{room}/meta: history-svc's room events */
};

struct topic_parts {
	enum topic_kind kind;
	char room[NAME_ROOM_MAX + 1];
	char user[NAME_USER_MAX + 1];
	char service[NAME_NODE_MAX + 1];
	char node[NAME_NODE_MAX + 1];
};

/* Splits a concrete topic (no wildcards) into its kind and names.
 * Returns the kind (also stored in parts->kind); TOPIC_OTHER when the topic
 * is not one of the chat kinds or a name in it is invalid. */
enum topic_kind topic_parse(const char *topic, struct topic_parts *parts);

/* Copies topic (or filter) into copy (copy_len bytes) and splits the copy
 * in place at '/' into at most max_levels levels. Returns the number of
 * levels, or -1 when it does not fit. */
int topic_split(const char *topic, char *copy, size_t copy_len, char **levels, int max_levels);

/* True when topic starts with "chat/v1/" or equals "chat/v1". */
int topic_in_chat_tree(const char *topic);

/* Builders: write a NUL-terminated topic into buf; return 0, or -1 when a
 * name is invalid or buf is too small. */
int topic_room_msg(char *buf, size_t len, const char *room, const char *user);
int topic_room_msg_filter(char *buf, size_t len, const char *room);
/* chat/v1/rooms/{room}/meta: history-svc's announcements about the room
 * (deletes, topic, read markers; docs/PROTOCOL.md). Returns 0, or -1 when
 * room is not a valid name or buf (len bytes) is too small. */
int topic_room_meta(char *buf, size_t len, const char *room);
int topic_user_req(char *buf, size_t len, const char *user, const char *service);
int topic_user_inbox(char *buf, size_t len, const char *user);
int topic_presence(char *buf, size_t len, const char *user);
int topic_sys_conn(char *buf, size_t len, const char *node);
int topic_room_typing(char *buf, size_t len, const char *room, const char *user);
int topic_sys_sync(char *buf, size_t len, const char *node);

/* The one rule for the room-level topics a member may subscribe to: given
 * the levels after chat/v1/rooms/{room}/ of a subscription filter (count
 * levels in rest), returns 1 when a member of that room may hold it:
 * "#", "meta", and "msg" or "typing" followed by "+", "#" or a user name.
 * The plugin applies it to SUBSCRIBE; clients subscribe only to these. */
int topic_room_filter_allowed(char *const *rest, int count);

#endif
