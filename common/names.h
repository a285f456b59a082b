/* names.h: what counts as a valid user name, room name, message id and text.
 * These rules are the ones docs/PROTOCOL.md states; the broker plugin, the
 * services and the tools all check names with these functions, so that a
 * name valid in one place is valid everywhere. Names never contain '/', '+',
 * '#', spaces or control characters, so they are safe inside MQTT topics. */
#ifndef CHAT_NAMES_H
#define CHAT_NAMES_H

#include <stdbool.h>
#include <stddef.h>

#define NAME_USER_MAX 32
#define NAME_ROOM_MAX 64
#define NAME_MSGID_MAX 64
#define NAME_NODE_MAX 32

/* 1-32 bytes of [A-Za-z0-9_.-], starting with a letter or digit. */
bool name_user_valid(const char *name);

/* 1-64 bytes of [a-z0-9_-], starting with a letter or digit. */
bool name_room_valid(const char *name);

/* 1-64 bytes of [A-Za-z0-9_-]: client-generated message and request ids. */
bool name_msgid_valid(const char *id);

/* 1-32 bytes of [a-z0-9_-]: broker node names. */
bool name_node_valid(const char *name);

/* True when buf[0..len) is well-formed UTF-8 (no overlong forms, no
 * surrogates, nothing above U+10FFFF) and holds no NUL byte. */
bool utf8_valid(const char *buf, size_t len);

/* True when a client id is safe to use: 1-128 bytes of valid UTF-8 with no
 * control characters and none of '/', '+', '#'. */
bool name_clientid_valid(const char *id);

#endif
