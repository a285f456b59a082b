/* json_payload.c: a payload from the wire into cJSON; see json_payload.h.
 * The scan copies the text, tracking only what it must: whether it is in a
 * string (and after a backslash), and the nesting depth outside strings.
 * The copy is never longer than the text. */
#include "json_payload.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "json_util.h"

/* Reads 4 hex digits at p; returns the value or -1. */
static long hex4(const unsigned char *p)
{
	long value = 0;

	for(int i = 0; i < 4; i++){
		int c = p[i], digit;

		if(c >= '0' && c <= '9') digit = c - '0';
		else if(c >= 'a' && c <= 'f') digit = c - 'a' + 10;
		else if(c >= 'A' && c <= 'F') digit = c - 'A' + 10;
		else return -1;
		value = value * 16 + digit;
	}
	return value;
}

/* Copies the \u escape at in[at] (in[at] is the backslash) to out, mapping
 * U+0000 and lone surrogates (json_payload.h). Returns the bytes of input
 * consumed (*written gets the bytes written), or 0 when it is not four hex
 * digits: not JSON, though cJSON reads it as U+0000. */
static size_t copy_unicode_escape(const unsigned char *in, size_t at, size_t len,
		unsigned char *out, size_t *written)
{
	long code = at + 6 <= len ? hex4(in + at + 2) : -1;

	if(code < 0) return 0;
	if(code == 0){
		memcpy(out, "\\u0001", 6);
		*written = 6;
		return 6;
	}
	if(code >= 0xD800 && code <= 0xDBFF && at + 12 <= len && in[at + 6] == '\\' && in[at + 7] == 'u'){
		long low = hex4(in + at + 8);

		if(low >= 0xDC00 && low <= 0xDFFF){
			memcpy(out, in + at, 12);
			*written = 12;
			return 12;
		}
	}
	if(code >= 0xD800 && code <= 0xDFFF){
		/* A lone surrogate: the bytes it would have in UTF-8, which UTF-8 forbids. */
		out[0] = (unsigned char)(0xE0 | (code >> 12));
		out[1] = (unsigned char)(0x80 | ((code >> 6) & 0x3F));
		out[2] = (unsigned char)(0x80 | (code & 0x3F));
		*written = 3;
		return 6;
	}
	memcpy(out, in + at, 6);
	*written = 6;
	return 6;
}

/* True when the string that ended just before in[at] is a member name:
 * the next character that is not white space is a colon. White space as
 * cJSON skips it: every byte up to 0x20, NUL included. */
static bool is_member_name(const unsigned char *in, size_t at, size_t len)
{
	while(at < len && in[at] <= 0x20) at++;
	return at < len && in[at] == ':';
}

/* Copies text to out (len bytes of room) with the mappings of
 * json_payload.h. Returns the length written, -1 when objects and arrays
 * nest deeper than max_depth, -2 when a member name holds a NUL or a \u
 * escape is not four hex digits. */
static long scan_copy(const unsigned char *in, size_t len, int max_depth, unsigned char *out)
{
	size_t at = 0, n = 0;
	bool in_string = false, string_has_nul = false;
	int depth = 0;

	while(at < len){
		unsigned char c = in[at];

		if(!in_string){
			if(c == '"'){
				in_string = true;
				string_has_nul = false;
			}else if(c == '{' || c == '['){
				if(++depth > max_depth) return -1;
			}else if((c == '}' || c == ']') && depth > 0){
				depth--;
			}
			out[n++] = c;
			at++;
		}else if(c == '"'){
			in_string = false;
			out[n++] = c;
			at++;
			if(string_has_nul && is_member_name(in, at, len)) return -2;
		}else if(c == '\0'){
			out[n++] = 0x01;
			string_has_nul = true;
			at++;
		}else if(c == '\\' && at + 1 < len && in[at + 1] == 'u'){
			size_t written;
			size_t used = copy_unicode_escape(in, at, len, out + n, &written);

			if(used == 0) return -2;
			if(hex4(in + at + 2) == 0) string_has_nul = true;
			at += used;
			n += written;
		}else if(c == '\\' && at + 1 < len){
			out[n++] = c;
			out[n++] = in[at + 1];
			at += 2;
		}else{
			out[n++] = c;
			at++;
		}
	}
	return (long)n;
}

enum json_payload_status json_payload_parse(const void *payload, size_t len, int max_depth, cJSON **out)
{
	enum json_payload_status status = JSON_PAYLOAD_NO_MEMORY;
	unsigned char *copy = malloc(len + 1);
	long copy_len;

	*out = NULL;
	if(!copy) goto out;
	copy_len = scan_copy(payload, len, max_depth, copy);
	if(copy_len < 0){
		status = copy_len == -1 ? JSON_PAYLOAD_TOO_DEEP : JSON_PAYLOAD_NOT_OBJECT;
		goto out;
	}
	*out = json_parse_object(copy, (size_t)copy_len);
	status = *out ? JSON_PAYLOAD_OK : JSON_PAYLOAD_NOT_OBJECT;
out:
	free(copy);
	return status;
}
