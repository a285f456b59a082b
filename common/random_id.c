/* random_id.c: random hex identifiers; see random_id.h. */
#include "random_id.h"

#include <openssl/rand.h>

int random_hex(char *out, size_t len, size_t bytes)
{
	static const char digits[] = "0123456789abcdef";
	unsigned char raw[64];

	if(bytes > sizeof(raw) || len < bytes * 2 + 1) return -1;
	if(RAND_bytes(raw, (int)bytes) != 1) return -1;
	for(size_t i = 0; i < bytes; i++){
		out[2 * i] = digits[raw[i] >> 4];
		out[2 * i + 1] = digits[raw[i] & 0x0F];
	}
	out[bytes * 2] = '\0';
	return 0;
}
