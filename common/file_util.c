/* file_util.c: whole-file reads; see file_util.h. */
#include "file_util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int file_read_all(const char *path, size_t max_bytes, const char *what, char **out,
		char *err, size_t errlen)
{
	FILE *fp = NULL;
	char *text = NULL;
	long size;
	int rc = -1;

	*out = NULL;
	fp = fopen(path, "r");
	if(!fp){
		snprintf(err, errlen, "cannot read %s %s: %s", what, path, strerror(errno));
		goto out;
	}
	if(fseek(fp, 0, SEEK_END) || (size = ftell(fp)) < 0 || fseek(fp, 0, SEEK_SET)){
		snprintf(err, errlen, "cannot read %s %s: %s", what, path, strerror(errno));
		goto out;
	}
	if((size_t)size > max_bytes){
		snprintf(err, errlen, "%s %s is larger than %zu bytes; refusing to read it", what, path, max_bytes);
		goto out;
	}
	text = malloc((size_t)size + 1);
	if(!text){
		snprintf(err, errlen, "out of memory reading %s %s", what, path);
		goto out;
	}
	if(fread(text, 1, (size_t)size, fp) != (size_t)size){
		snprintf(err, errlen, "short read of %s %s", what, path);
		goto out;
	}
	text[size] = '\0';
	*out = text;
	text = NULL;
	rc = 0;
out:
	if(fp) fclose(fp);
	free(text);
	return rc;
}
