/* intake_log.c: the append-only intake log; see intake_log.h.
 * File layout: DIR/intake.GEN.log holds records, each a header of six
 * little-endian 32-bit words (magic, then the lengths of room, sender, id,
 * body and meta) followed by the strings, each with its NUL. A plain
 * message has magic CHI1, meta length 0 and four strings (the format
 * before events); an event has magic CHI2 and a fifth string, its meta. DIR/intake.ckpt holds "GEN OFFSET" of the end of the last committed
 * record, rewritten in place. */
#include "intake_log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

#define INTAKE_MAGIC 0x31494843u /* "CHI1": four strings */
#define INTAKE_MAGIC_META 0x32494843u /* "CHI2": five, the last the meta */
#define HEADER_WORDS 6
#define HEADER_BYTES (HEADER_WORDS * 4)
#define FIELD_MAX (1u << 24)

struct intake_log {
	char *dir;
	long rotate_bytes;
	int fd;                      /* current generation, O_APPEND */
	int ckpt_fd;
	unsigned long long gen;      /* current generation */
	long long size;              /* bytes in the current generation */
	unsigned long long oldest;   /* oldest generation still on disk */
	unsigned long long ckpt_gen; /* checkpoint read at open */
	long long ckpt_off;
};

static void put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

static uint32_t get32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void gen_path(const struct intake_log *log, unsigned long long gen, char *path, size_t len)
{
	snprintf(path, len, "%s/intake.%llu.log", log->dir, gen);
}

/* Finds the oldest and newest generation on disk; 0/0 when there is none. */
static int scan_generations(const char *dir, unsigned long long *oldest, unsigned long long *newest)
{
	DIR *d = opendir(dir);
	struct dirent *ent;

	*oldest = 0;
	*newest = 0;
	if(!d) return -1;
	while((ent = readdir(d))){
		unsigned long long gen;
		char tail[8];

		if(sscanf(ent->d_name, "intake.%llu.%7s", &gen, tail) != 2 || strcmp(tail, "log")) continue;
		if(*oldest == 0 || gen < *oldest) *oldest = gen;
		if(gen > *newest) *newest = gen;
	}
	closedir(d);
	return 0;
}

static int open_generation(struct intake_log *log, unsigned long long gen, char *err, size_t errlen)
{
	char path[4096];
	int fd;

	gen_path(log, gen, path, sizeof(path));
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if(fd < 0){
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	if(log->fd >= 0) close(log->fd);
	log->fd = fd;
	log->gen = gen;
	log->size = lseek(fd, 0, SEEK_END);
	return 0;
}

struct intake_log *intake_log_open(const char *dir, long rotate_bytes, char *err, size_t errlen)
{
	struct intake_log *log = calloc(1, sizeof(*log));
	char path[4096], text[64];
	unsigned long long newest = 0;
	ssize_t n;

	if(!log || !(log->dir = strdup(dir))){
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	log->fd = -1;
	log->rotate_bytes = rotate_bytes;
	if(mkdir(dir, 0700) && errno != EEXIST){
		snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
		goto fail;
	}
	snprintf(path, sizeof(path), "%s/intake.ckpt", dir);
	log->ckpt_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if(log->ckpt_fd < 0){
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
		goto fail;
	}
	n = pread(log->ckpt_fd, text, sizeof(text) - 1, 0);
	text[n > 0 ? n : 0] = '\0';
	if(sscanf(text, "%llu %lld", &log->ckpt_gen, &log->ckpt_off) != 2){
		log->ckpt_gen = 0;
		log->ckpt_off = 0;
	}
	if(scan_generations(dir, &log->oldest, &newest)){
		snprintf(err, errlen, "cannot list %s: %s", dir, strerror(errno));
		goto fail;
	}
	/* Appends always go to a fresh generation: the ones replayed stay as they are. */
	if(open_generation(log, newest + 1, err, errlen)) goto fail;
	if(log->oldest == 0) log->oldest = log->gen;
	return log;
fail:
	intake_log_close(log);
	return NULL;
}

/* Parses the record at buf (avail bytes). Returns its length, 0 when it is
 * torn or damaged. */
static size_t record_parse(const unsigned char *buf, size_t avail, uint32_t lens[5])
{
	size_t total = HEADER_BYTES;
	int strings;

	if(avail < HEADER_BYTES) return 0;
	if(get32(buf) == INTAKE_MAGIC) strings = 4;
	else if(get32(buf) == INTAKE_MAGIC_META) strings = 5;
	else return 0;
	lens[4] = 0;
	for(int i = 0; i < strings; i++){
		lens[i] = get32(buf + 4 + 4 * i);
		if(lens[i] >= FIELD_MAX) return 0;
		total += lens[i] + 1;
	}
	if(total > avail) return 0;
	/* Each string must end where its length says. */
	for(size_t i = 0, at = HEADER_BYTES; i < (size_t)strings; at += lens[i] + 1, i++){
		if(buf[at + lens[i]] != '\0') return 0;
	}
	return total;
}

/* Builds a record in one allocation from the strings of a logged record. */
static struct intake_msg *record_new(const unsigned char *strings, const uint32_t lens[5])
{
	/* The record's strings, then (for a plain record) one NUL: its empty meta. */
	size_t copied = lens[0] + lens[1] + lens[2] + lens[3] + 4 + (lens[4] ? lens[4] + 1 : 0);
	struct intake_msg *msg = malloc(sizeof(*msg) + copied + 1);
	char *p;

	if(!msg) return NULL;
	memset(msg, 0, sizeof(*msg));
	p = (char *)(msg + 1);
	memcpy(p, strings, copied);
	p[copied] = '\0';
	msg->room = p;
	msg->sender = msg->room + lens[0] + 1;
	msg->msg_id = msg->sender + lens[1] + 1;
	msg->body = msg->msg_id + lens[2] + 1;
	msg->body_len = lens[3];
	msg->meta = msg->body + lens[3] + 1;
	msg->meta_len = lens[4];
	return msg;
}

static long replay_file(struct intake_log *log, unsigned long long gen, long long from,
		void (*fn)(void *ud, struct intake_msg *msg), void *ud, char *err, size_t errlen)
{
	char path[4096];
	unsigned char *data = NULL;
	struct stat st;
	long count = -1;
	size_t at = (size_t)from;
	int fd;

	gen_path(log, gen, path, sizeof(path));
	fd = open(path, O_RDWR | O_CLOEXEC);
	if(fd < 0){
		if(errno == ENOENT) return 0;
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	if(fstat(fd, &st)){
		snprintf(err, errlen, "cannot stat %s: %s", path, strerror(errno));
		goto out;
	}
	data = malloc((size_t)st.st_size + 1);
	if(!data || pread(fd, data, (size_t)st.st_size, 0) != st.st_size){
		snprintf(err, errlen, "cannot read %s", path);
		goto out;
	}
	count = 0;
	while(at < (size_t)st.st_size){
		uint32_t lens[5];
		size_t len = record_parse(data + at, (size_t)st.st_size - at, lens);
		struct intake_msg *msg;

		if(len == 0){
			log_warn("%s: cutting off %lld damaged bytes at offset %zu (a write cut short by a crash)",
					path, (long long)st.st_size - (long long)at, at);
			if(ftruncate(fd, (off_t)at)) log_warn("cannot truncate %s: %s", path, strerror(errno));
			break;
		}
		msg = record_new(data + at + HEADER_BYTES, lens);
		if(!msg){
			snprintf(err, errlen, "out of memory replaying %s", path);
			count = -1;
			goto out;
		}
		at += len;
		msg->gen = gen;
		msg->end = (long long)at;
		fn(ud, msg);
		count++;
	}
out:
	free(data);
	close(fd);
	return count;
}

long intake_log_replay(struct intake_log *log, void (*fn)(void *ud, struct intake_msg *msg), void *ud,
		char *err, size_t errlen)
{
	long total = 0;

	for(unsigned long long gen = log->oldest; gen < log->gen; gen++){
		long long from = 0;
		long n;

		if(gen < log->ckpt_gen) continue;
		if(gen == log->ckpt_gen) from = log->ckpt_off;
		n = replay_file(log, gen, from, fn, ud, err, errlen);
		if(n < 0) return -1;
		total += n;
	}
	return total;
}

struct intake_msg *intake_log_append(struct intake_log *log, const char *room, const char *sender,
		const char *msg_id, const char *body, size_t body_len, char *err, size_t errlen)
{
	return intake_log_append_meta(log, room, sender, msg_id, body, body_len, NULL, 0, err, errlen);
}

struct intake_msg *intake_log_append_meta(struct intake_log *log, const char *room, const char *sender,
		const char *msg_id, const char *body, size_t body_len, const char *meta, size_t meta_len,
		char *err, size_t errlen)
{
	uint32_t lens[5] = { (uint32_t)strlen(room), (uint32_t)strlen(sender), (uint32_t)strlen(msg_id),
		(uint32_t)body_len, (uint32_t)meta_len };
	int strings = meta_len ? 5 : 4;
	size_t total = HEADER_BYTES + lens[0] + lens[1] + lens[2] + lens[3] + lens[4] + (size_t)strings;
	unsigned char *buf = NULL;
	struct intake_msg *msg = NULL;
	const char *parts[5] = { room, sender, msg_id, body, meta };
	size_t at = HEADER_BYTES;
	ssize_t written;

	if(body_len >= FIELD_MAX || meta_len >= FIELD_MAX){
		snprintf(err, errlen, "message too large for the intake log");
		goto out;
	}
	if(log->size >= log->rotate_bytes && open_generation(log, log->gen + 1, err, errlen)) goto out;
	buf = malloc(total);
	if(!buf){
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	put32(buf, meta_len ? INTAKE_MAGIC_META : INTAKE_MAGIC);
	for(int i = 0; i < strings; i++){
		put32(buf + 4 + 4 * i, lens[i]);
		memcpy(buf + at, parts[i], lens[i]);
		buf[at + lens[i]] = '\0';
		at += lens[i] + 1;
	}
	if(strings == 4) put32(buf + 20, 0);
	msg = record_new(buf + HEADER_BYTES, lens);
	if(!msg){
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	written = write(log->fd, buf, total);
	if(written != (ssize_t)total){
		snprintf(err, errlen, "cannot write the intake log: %s", written < 0 ? strerror(errno) : "short write");
		/* A short write leaves a torn record: start a clean file after it. */
		if(written > 0) open_generation(log, log->gen + 1, err + strlen(err), errlen - strlen(err));
		free(msg);
		msg = NULL;
		goto out;
	}
	log->size += (long long)total;
	msg->gen = log->gen;
	msg->end = log->size;
out:
	free(buf);
	return msg;
}

int intake_log_checkpoint(struct intake_log *log, const struct intake_msg *msg)
{
	char text[64];
	int len = snprintf(text, sizeof(text), "%020llu %020lld\n", msg->gen, msg->end);

	if(pwrite(log->ckpt_fd, text, (size_t)len, 0) != len){
		log_warn("cannot write the intake checkpoint: %s", strerror(errno));
		return -1;
	}
	while(log->oldest < msg->gen){
		char path[4096];

		gen_path(log, log->oldest, path, sizeof(path));
		if(unlink(path) && errno != ENOENT) log_warn("cannot delete %s: %s", path, strerror(errno));
		log->oldest++;
	}
	return 0;
}

void intake_log_close(struct intake_log *log)
{
	if(!log) return;
	if(log->fd >= 0) close(log->fd);
	if(log->ckpt_fd > 0) close(log->ckpt_fd);
	free(log->dir);
	free(log);
}
