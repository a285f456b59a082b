/* clientid_store.c: the client id bindings on disk; see clientid_store.h. */
#include "clientid_store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file_util.h"

/* 100,000,000 bindings of at most 200 bytes would not fit anyway. */
#define STORE_MAX_BYTES (256UL * 1024 * 1024)

long clientid_store_load(const char *path, struct clientid_owners *owners, long long now_mono_ms,
		long long now_wall_ms, size_t *skipped, char *err, size_t errlen)
{
	char *text = NULL, *line, *save = NULL;
	long restored = -1;

	*skipped = 0;
	if(access(path, F_OK) != 0 && errno == ENOENT) return 0;
	if(file_read_all(path, STORE_MAX_BYTES, "client id file", &text, err, errlen)) goto out;
	restored = 0;
	for(line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)){
		char *user = strchr(line, '\t');
		char *wall = user ? strchr(user + 1, '\t') : NULL;
		char *end = NULL;
		long long idle_wall_ms;

		if(!wall){
			(*skipped)++;
			continue;
		}
		*user++ = '\0';
		*wall++ = '\0';
		idle_wall_ms = strtoll(wall, &end, 10);
		if(!end || end == wall || *end || idle_wall_ms > now_wall_ms
				|| clientid_owners_restore(owners, line, user, now_mono_ms - (now_wall_ms - idle_wall_ms))){
			(*skipped)++;
			continue;
		}
		restored++;
	}
out:
	free(text);
	return restored;
}

struct saved_binding {
	const char *client_id;
	const char *user;
	long long idle_since_ms;
};

struct save_list {
	struct saved_binding *items;
	size_t count;
	long long now_mono_ms;
};

static void collect(void *arg, const char *client_id, const char *user, long long idle_since_ms)
{
	struct save_list *list = arg;

	list->items[list->count].client_id = client_id;
	list->items[list->count].user = user;
	list->items[list->count].idle_since_ms = idle_since_ms < 0 ? list->now_mono_ms : idle_since_ms;
	list->count++;
}

static int by_idle_since(const void *a, const void *b)
{
	long long x = ((const struct saved_binding *)a)->idle_since_ms;
	long long y = ((const struct saved_binding *)b)->idle_since_ms;

	return (x > y) - (x < y);
}

int clientid_store_save(const char *path, const struct clientid_owners *owners, long long now_mono_ms,
		long long now_wall_ms, char *err, size_t errlen)
{
	struct save_list list = { .items = NULL, .count = 0, .now_mono_ms = now_mono_ms };
	char tmp[4096];
	FILE *fp = NULL;
	int fd = -1;
	int rc = -1;

	if(snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)){
		snprintf(err, errlen, "client id file path too long");
		goto out;
	}
	list.items = calloc(clientid_owners_size(owners) + 1, sizeof(*list.items));
	if(!list.items){
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	clientid_owners_each(owners, collect, &list);
	/* Oldest first: restored in this order, they expire in it too. */
	qsort(list.items, list.count, sizeof(*list.items), by_idle_since);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if(fd < 0 || !(fp = fdopen(fd, "w"))){
		snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
		goto out;
	}
	fd = -1;
	for(size_t i = 0; i < list.count; i++){
		fprintf(fp, "%s\t%s\t%lld\n", list.items[i].client_id, list.items[i].user,
				now_wall_ms - (now_mono_ms - list.items[i].idle_since_ms));
	}
	if(fflush(fp) || ferror(fp)){
		snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
		goto out;
	}
	if(fclose(fp)){
		fp = NULL;
		snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
		goto out;
	}
	fp = NULL;
	if(rename(tmp, path)){
		snprintf(err, errlen, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if(fp) fclose(fp);
	if(fd >= 0) close(fd);
	if(rc) unlink(tmp);
	free(list.items);
	return rc;
}
