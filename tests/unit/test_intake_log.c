/* test_intake_log.c: history-svc's intake log (history-svc/intake_log.c):
 * what is appended and not checkpointed comes back after a "crash" (the
 * log closed without a checkpoint), in order and byte for byte; a
 * checkpoint hides what it covers and deletes old generations; a torn
 * record at the end is cut off and the records before it survive. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../history-svc/intake_log.h"
#include "test.h"

struct collected {
	struct intake_msg *msgs[64];
	int n;
};

static void collect(void *ud, struct intake_msg *msg)
{
	struct collected *c = ud;

	if(c->n < 64) c->msgs[c->n++] = msg;
	else free(msg);
}

static void collected_free(struct collected *c)
{
	for(int i = 0; i < c->n; i++) free(c->msgs[i]);
	c->n = 0;
}

static void make_dir(char *dir, size_t len)
{
	snprintf(dir, len, "/tmp/chat-intake-XXXXXX");
	if(!mkdtemp(dir)) dir[0] = '\0';
}

static void remove_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *ent;
	char path[512];

	if(!d) return;
	while((ent = readdir(d))){
		if(ent->d_name[0] == '.') continue;
		snprintf(path, sizeof(path), "%s/%s", dir, ent->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

static int count_logs(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *ent;
	int n = 0;

	if(!d) return -1;
	while((ent = readdir(d))){
		if(!strncmp(ent->d_name, "intake.", 7) && strstr(ent->d_name, ".log")) n++;
	}
	closedir(d);
	return n;
}

static void intake_replays_what_was_not_checkpointed(void)
{
	char dir[64], err[256];
	struct collected got = { .n = 0 };
	struct intake_log *log;
	struct intake_msg *msg;
	/* A body with a NUL-free but binary-looking UTF-8 and SQL metacharacters. */
	const char *body = "it's \"quoted\"; DROP TABLE messages; -- \xc3\xa9\xf0\x9f\x98\x80";

	make_dir(dir, sizeof(dir));
	if(!CHECK(dir[0])) return;
	log = intake_log_open(dir, 1 << 20, err, sizeof(err));
	if(!CHECK(log)) goto out;
	CHECK_EQ(intake_log_replay(log, collect, &got, err, sizeof(err)), 0);
	for(int i = 0; i < 5; i++){
		char id[16];

		snprintf(id, sizeof(id), "m%d", i);
		msg = intake_log_append(log, "lobby", "alice", id, body, strlen(body), err, sizeof(err));
		if(!CHECK(msg)) goto out;
		if(i == 1) CHECK_EQ(intake_log_checkpoint(log, msg), 0);
		free(msg);
	}
	intake_log_close(log); /* a crash: m2..m4 are not stored yet */
	log = intake_log_open(dir, 1 << 20, err, sizeof(err));
	if(!CHECK(log)) goto out;
	CHECK_EQ(intake_log_replay(log, collect, &got, err, sizeof(err)), 3);
	if(CHECK_EQ(got.n, 3)){
		CHECK_STR(got.msgs[0]->msg_id, "m2");
		CHECK_STR(got.msgs[2]->msg_id, "m4");
		CHECK_STR(got.msgs[1]->room, "lobby");
		CHECK_STR(got.msgs[1]->sender, "alice");
		CHECK_EQ(got.msgs[1]->body_len, strlen(body));
		CHECK(!memcmp(got.msgs[1]->body, body, strlen(body)));
		/* Checkpointing the replayed records (in the old generation) and a
		 * new one deletes the old file; a further replay finds nothing. */
		msg = intake_log_append(log, "lobby", "bob", "m5", "x", 1, err, sizeof(err));
		if(CHECK(msg)){
			CHECK_EQ(intake_log_checkpoint(log, got.msgs[2]), 0);
			CHECK_EQ(intake_log_checkpoint(log, msg), 0);
			CHECK_EQ(count_logs(dir), 1);
			free(msg);
		}
	}
	collected_free(&got);
	intake_log_close(log);
	log = intake_log_open(dir, 1 << 20, err, sizeof(err));
	if(!CHECK(log)) goto out;
	CHECK_EQ(intake_log_replay(log, collect, &got, err, sizeof(err)), 0);
out:
	collected_free(&got);
	intake_log_close(log);
	remove_dir(dir);
}

static void intake_cuts_a_torn_record(void)
{
	char dir[64], err[256], path[256];
	struct collected got = { .n = 0 };
	struct intake_log *log;
	struct intake_msg *msg;
	unsigned long long gen = 0;
	long long end = 0;
	int fd;

	make_dir(dir, sizeof(dir));
	if(!CHECK(dir[0])) return;
	log = intake_log_open(dir, 1 << 20, err, sizeof(err));
	if(!CHECK(log)) goto out;
	for(int i = 0; i < 2; i++){
		msg = intake_log_append(log, "r", "s", i ? "second" : "first", "body", 4, err, sizeof(err));
		if(!CHECK(msg)) goto out;
		gen = msg->gen;
		end = msg->end;
		free(msg);
	}
	intake_log_close(log);
	log = NULL;
	/* Cut the second record in the middle, as a crash during write(2) would. */
	snprintf(path, sizeof(path), "%s/intake.%llu.log", dir, gen);
	fd = open(path, O_WRONLY);
	if(!CHECK(fd >= 0)) goto out;
	CHECK_EQ(ftruncate(fd, end - 5), 0);
	close(fd);
	log = intake_log_open(dir, 1 << 20, err, sizeof(err));
	if(!CHECK(log)) goto out;
	CHECK_EQ(intake_log_replay(log, collect, &got, err, sizeof(err)), 1);
	if(CHECK_EQ(got.n, 1)) CHECK_STR(got.msgs[0]->msg_id, "first");
out:
	collected_free(&got);
	intake_log_close(log);
	remove_dir(dir);
}

static void intake_rotates_by_size(void)
{
	char dir[64], err[256], body[300];
	struct collected got = { .n = 0 };
	struct intake_log *log;
	struct intake_msg *last = NULL;

	make_dir(dir, sizeof(dir));
	if(!CHECK(dir[0])) return;
	memset(body, 'b', sizeof(body));
	log = intake_log_open(dir, 1000, err, sizeof(err));
	if(!CHECK(log)) goto out;
	for(int i = 0; i < 10; i++){
		char id[16];

		snprintf(id, sizeof(id), "r%d", i);
		free(last);
		last = intake_log_append(log, "r", "s", id, body, sizeof(body), err, sizeof(err));
		if(!CHECK(last)) goto out;
	}
	CHECK(count_logs(dir) >= 3);
	intake_log_close(log);
	log = intake_log_open(dir, 1000, err, sizeof(err));
	if(!CHECK(log)) goto out;
	/* Every record comes back, across the generations, in order. */
	CHECK_EQ(intake_log_replay(log, collect, &got, err, sizeof(err)), 10);
	if(CHECK_EQ(got.n, 10)){
		CHECK_STR(got.msgs[0]->msg_id, "r0");
		CHECK_STR(got.msgs[9]->msg_id, "r9");
		CHECK_EQ(intake_log_checkpoint(log, got.msgs[9]), 0);
		/* Left: the generation holding r9 (deleted at the next checkpoint
		 * past it) and the empty one being written. */
		CHECK_EQ(count_logs(dir), 2);
	}
out:
	free(last);
	collected_free(&got);
	intake_log_close(log);
	remove_dir(dir);
}

/* An event's record (with its meta) and a plain one side by side come back
 * as they went in; a plain one has an empty meta. */
static void intake_keeps_event_meta(void)
{
	char dir[64], err[256];
	struct collected got = { .n = 0 };
	struct intake_log *log;
	struct intake_msg *msg;
	const char *meta = "{\"kind\":\"edit\",\"ref\":7}";
	const char *del = "{\"kind\":\"delete\",\"ref\":7}";

	make_dir(dir, sizeof(dir));
	if(!CHECK(dir[0])) return;
	log = intake_log_open(dir, 1 << 20, err, sizeof(err));
	if(!CHECK(log)) goto out;
	CHECK_EQ(intake_log_replay(log, collect, &got, err, sizeof(err)), 0);
	msg = intake_log_append_meta(log, "lobby", "alice", "e1", "new text", 8, meta, strlen(meta), err, sizeof(err));
	if(CHECK(msg)){
		CHECK_STR(msg->meta, meta);
		free(msg);
	}
	msg = intake_log_append(log, "lobby", "alice", "m1", "plain", 5, err, sizeof(err));
	if(CHECK(msg)){
		CHECK_EQ(msg->meta_len, 0);
		CHECK_STR(msg->meta, "");
		free(msg);
	}
	msg = intake_log_append_meta(log, "lobby", "bob", "d1", "", 0, del, strlen(del), err, sizeof(err));
	if(CHECK(msg)) free(msg);
	intake_log_close(log);
	log = intake_log_open(dir, 1 << 20, err, sizeof(err));
	if(!CHECK(log)) goto out;
	if(CHECK_EQ(intake_log_replay(log, collect, &got, err, sizeof(err)), 3)){
		CHECK_STR(got.msgs[0]->body, "new text");
		CHECK_EQ(got.msgs[0]->meta_len, strlen(meta));
		CHECK_STR(got.msgs[0]->meta, meta);
		CHECK_STR(got.msgs[1]->msg_id, "m1");
		CHECK_STR(got.msgs[1]->body, "plain");
		CHECK_STR(got.msgs[1]->meta, "");
		CHECK_EQ(got.msgs[2]->body_len, 0);
		CHECK_STR(got.msgs[2]->meta, del);
	}
out:
	collected_free(&got);
	intake_log_close(log);
	remove_dir(dir);
}

static const struct test_case cases[] = {
	TEST_ENTRY(intake_replays_what_was_not_checkpointed),
	TEST_ENTRY(intake_cuts_a_torn_record),
	TEST_ENTRY(intake_rotates_by_size),
	TEST_ENTRY(intake_keeps_event_meta),
};

const struct test_suite intake_log_suite = { "intake_log", cases, TEST_COUNT(cases) };
