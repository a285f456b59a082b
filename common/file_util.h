/* file_util.h: reading a whole small file into memory. */
#ifndef CHAT_FILE_UTIL_H
#define CHAT_FILE_UTIL_H

#include <stddef.h>

/* Reads the file at path (at most max_bytes) into a NUL-terminated buffer
 * that the caller frees with free(). what names the file in messages
 * ("ACL file"). Returns 0 with *out set, or -1 with a message in err. */
int file_read_all(const char *path, size_t max_bytes, const char *what, char **out,
		char *err, size_t errlen);

#endif
