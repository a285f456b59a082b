/* fnv.h: 64-bit FNV-1a (http://www.isthe.com/chongo/tech/comp/fnv/), the
 * hash docs/PROTOCOL.md names for connection ids in heartbeat digests.
 * Both ends of that wire (the plugin and presence-svc) use this one copy;
 * tests/unit checks it against the published test vectors. */
#ifndef CHAT_FNV_H
#define CHAT_FNV_H

#include <stddef.h>
#include <stdint.h>

#define FNV1A64_OFFSET_BASIS 14695981039346656037ULL
#define FNV1A64_PRIME 1099511628211ULL

/* Folds len bytes of data into the running hash h (start from
 * FNV1A64_OFFSET_BASIS) and returns the new hash. */
uint64_t fnv1a64_update(uint64_t h, const void *data, size_t len);

/* The hash of a NUL-terminated string (its bytes, not the NUL). */
uint64_t fnv1a64_str(const char *s);

#endif
