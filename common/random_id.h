/* random_id.h: random identifiers (message ids, request ids, client ids). */
#ifndef CHAT_RANDOM_ID_H
#define CHAT_RANDOM_ID_H

#include <stddef.h>

/* Writes 2*bytes (at most 128) lowercase hex digits from the kernel's
 * random generator (getrandom) and a NUL into out (len >= 2*bytes+1).
 * Safe from any thread. Returns 0, or -1 when len is too small or the
 * generator fails. */
int random_hex(char *out, size_t len, size_t bytes);

#endif
