/* names.c: validation of names and text; see names.h. */
#include "names.h"

#include <string.h>

static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

bool name_user_valid(const char *name)
{
	size_t len;

	if(!name) return false;
	len = strlen(name);
	if(len == 0 || len > NAME_USER_MAX || !is_alnum(name[0])) return false;
	for(size_t i = 0; i < len; i++){
		char c = name[i];
		if(!is_alnum(c) && c != '_' && c != '.' && c != '-') return false;
	}
	return true;
}

static bool lower_name_valid(const char *name, size_t max)
{
	size_t len;

	if(!name) return false;
	len = strlen(name);
	if(len == 0 || len > max || !is_lower_alnum(name[0])) return false;
	for(size_t i = 0; i < len; i++){
		char c = name[i];
		if(!is_lower_alnum(c) && c != '_' && c != '-') return false;
	}
	return true;
}

bool name_room_valid(const char *name)
{
	return lower_name_valid(name, NAME_ROOM_MAX);
}

bool name_node_valid(const char *name)
{
	return lower_name_valid(name, NAME_NODE_MAX);
}

bool name_msgid_valid(const char *id)
{
	size_t len;

	if(!id) return false;
	len = strlen(id);
	if(len == 0 || len > NAME_MSGID_MAX) return false;
	for(size_t i = 0; i < len; i++){
		if(!is_alnum(id[i]) && id[i] != '_' && id[i] != '-') return false;
	}
	return true;
}

bool utf8_valid(const char *buf, size_t len)
{
	const unsigned char *s = (const unsigned char *)buf;
	size_t i = 0;

	while(i < len){
		unsigned char c = s[i];
		unsigned int cp;
		size_t extra;

		if(c == 0) return false;
		if(c < 0x80){
			i++;
			continue;
		}else if(c >= 0xC2 && c <= 0xDF){
			extra = 1;
			cp = c & 0x1F;
		}else if(c >= 0xE0 && c <= 0xEF){
			extra = 2;
			cp = c & 0x0F;
		}else if(c >= 0xF0 && c <= 0xF4){
			extra = 3;
			cp = c & 0x07;
		}else{
			return false;
		}
		if(len - i <= extra) return false;
		for(size_t k = 1; k <= extra; k++){
			if((s[i + k] & 0xC0) != 0x80) return false;
			cp = (cp << 6) | (s[i + k] & 0x3F);
		}
		if((extra == 2 && cp < 0x800) || (extra == 3 && cp < 0x10000)) return false;
		if(cp >= 0xD800 && cp <= 0xDFFF) return false;
		if(cp > 0x10FFFF) return false;
		i += extra + 1;
	}
	return true;
}

bool name_clientid_valid(const char *id)
{
	size_t len;

	if(!id) return false;
	len = strlen(id);
	if(len == 0 || len > 128 || !utf8_valid(id, len)) return false;
	for(size_t i = 0; i < len; i++){
		unsigned char c = (unsigned char)id[i];
		if(c < 0x20 || c == 0x7F || c == '/' || c == '+' || c == '#') return false;
		/* C1 controls U+0080-U+009F are encoded as C2 80 .. C2 9F. */
		if(c == 0xC2 && i + 1 < len && (unsigned char)id[i + 1] <= 0x9F) return false;
	}
	return true;
}
