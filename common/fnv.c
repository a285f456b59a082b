/* fnv.c: 64-bit FNV-1a. */
#include "fnv.h"

#include <string.h>

uint64_t fnv1a64_update(uint64_t h, const void *data, size_t len)
{
	const unsigned char *p = data;

	for(size_t i = 0; i < len; i++){
		h ^= p[i];
		h *= FNV1A64_PRIME;
	}
	return h;
}

uint64_t fnv1a64_str(const char *s)
{
	return fnv1a64_update(FNV1A64_OFFSET_BASIS, s, strlen(s));
}
