/* random_id.c: random hex identifiers; see random_id.h.
 *
 * The kernel's generator (getrandom(2)), not OpenSSL's RAND_bytes: the
 * chat client makes ids on the MQTT library's threads, and OpenSSL 3 gives
 * each such thread a DRBG holding a reference on its global one, released
 * only by a thread-exit handler. A library thread still exiting when the
 * process ends leaves OpenSSL's global DRBG unfreed (LeakSanitizer saw it
 * about once in ten runs). getrandom has no per-thread state. */
#include "random_id.h"

#include <errno.h>
#include <sys/random.h>

int random_hex(char *out, size_t len, size_t bytes)
{
	static const char digits[] = "0123456789abcdef";
	unsigned char raw[64];
	size_t got = 0;

	if(bytes > sizeof(raw) || len < bytes * 2 + 1) return -1;
	while(got < bytes){
		ssize_t n = getrandom(raw + got, bytes - got, 0);

		if(n < 0 && errno == EINTR) continue;
		if(n <= 0) return -1;
		got += (size_t)n;
	}
	for(size_t i = 0; i < bytes; i++){
		out[2 * i] = digits[raw[i] >> 4];
		out[2 * i + 1] = digits[raw[i] & 0x0F];
	}
	out[bytes * 2] = '\0';
	return 0;
}
