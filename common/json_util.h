/* json_util.h: small typed accessors on top of cJSON, so every service
 * validates request fields the same way. */
#ifndef CHAT_JSON_UTIL_H
#define CHAT_JSON_UTIL_H

#include <stdbool.h>
#include <stddef.h>

#include <cJSON.h>

/* Returns the string member key of obj, or NULL when it is missing, not a
 * string, or longer than max_len bytes. The string belongs to obj. */
const char *json_get_str(const cJSON *obj, const char *key, size_t max_len);

/* Reads the integer member key of obj into *out. Returns 0 (def when the
 * member is absent), or -1 when it is present but not a whole number in
 * [min, max]. */
int json_get_long(const cJSON *obj, const char *key, long def, long min, long max, long *out);

/* Parses a payload of len bytes (not NUL-terminated) as a JSON object.
 * Returns the object (caller frees with cJSON_Delete) or NULL. */
cJSON *json_parse_object(const void *payload, size_t len);

/* Prints obj compactly. Returns a string the caller frees with cJSON_free,
 * or NULL when out of memory. */
char *json_print(const cJSON *obj);

/* The protocol's reply envelope (docs/PROTOCOL.md, "Requests and replies"):
 * {"type":"reply","req_id","op","ok"}, with null for a missing req_id or op.
 * Returns an object the caller fills, prints and frees with cJSON_Delete,
 * or NULL when out of memory. */
cJSON *json_reply_new(const char *op, const char *req_id, bool ok);

/* Adds {"code","message"} as "error" to a reply (NULL reply allowed).
 * Returns 0, or -1 when out of memory. */
int json_reply_set_error(cJSON *reply, const char *code, const char *message);

#endif
