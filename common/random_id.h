/* random_id.h: random identifiers (message ids, request ids, client ids). */
#ifndef CHAT_RANDOM_ID_H
#define CHAT_RANDOM_ID_H

#include <stddef.h>

/* Writes 2*bytes lowercase hex digits of OpenSSL randomness and a NUL into
 * out (len >= 2*bytes+1). Returns 0, or -1 when len is too small or the
 * random generator fails. */
int random_hex(char *out, size_t len, size_t bytes);

#endif
