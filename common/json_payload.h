/* json_payload.h: reading a payload from the wire into cJSON so that every
 * string a service looks at is exactly what the sender sent, or is refused.
 *
 * Why not cJSON_Parse alone: cJSON 1.7.15 (a) decodes "\u0000" (and copies a
 * raw NUL byte) into a C string that then ends early, so a check and the
 * archive would see less text than live readers; (b) refuses the whole
 * payload for a lone UTF-16 surrogate escape such as "\ud800", which JSON's
 * grammar allows, so a bad string in one field looked like bad JSON; (c)
 * refuses anything nested over 1000 levels with the same NULL. Here the
 * text is scanned first: nesting over max_depth is reported as such; a NUL
 * in a string becomes U+0001 and a lone surrogate escape becomes the three
 * bytes it stands for (ED A0 80 for \ud800), which is not UTF-8. Every rule
 * on a string the services read (names, ids, bodies, status texts) refuses
 * control characters and invalid UTF-8, so such a field is refused with its
 * own error, and a field nobody reads is ignored as PROTOCOL.md promises.
 * A member name holding a NUL makes the payload not an object: a cJSON
 * reader would see "body\u0000x" as a second "body". So does a \u escape
 * that is not four hex digits, which is not JSON (cJSON reads it as NUL). */
#ifndef CHAT_JSON_PAYLOAD_H
#define CHAT_JSON_PAYLOAD_H

#include <stddef.h>

#include <cJSON.h>

enum json_payload_status {
	JSON_PAYLOAD_OK,
	JSON_PAYLOAD_NOT_OBJECT, /* not JSON, not one object, or a NUL in a member name */
	JSON_PAYLOAD_TOO_DEEP,   /* objects and arrays nested over max_depth */
	JSON_PAYLOAD_NO_MEMORY
};

/* Parses len bytes (not NUL-terminated) as one JSON object nested at most
 * max_depth levels (the object itself is level 1; max_depth at most
 * CJSON_NESTING_LIMIT), followed only by white space. Returns
 * JSON_PAYLOAD_OK with *out set (caller frees with cJSON_Delete), or
 * another status with *out NULL. */
enum json_payload_status json_payload_parse(const void *payload, size_t len, int max_depth, cJSON **out);

#endif
