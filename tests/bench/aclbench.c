/* aclbench.c: microbenchmark of the auth plugin's ACL decision (scenario 8
 * of docs/BENCHMARKS.md). Links auth-plugin/acl.c and snapshot.c built with
 * -DPLUGIN_ALLOC_LIBC, builds a snapshot of a given number of memberships
 * with snapshot_new/snapshot_add_user/snapshot_add_member, and times what the
 * plugin's ACL callback does per check: snapshot_user() then
 * acl_chat_decide(), for READ (every subscriber of every delivery) and
 * WRITE (every publish) on room topics, member and non-member alike.
 *   aclbench [--memberships M]... [--rounds K] [--seconds S]
 * For each size it prints one JSON line: ns per decision, the median of K
 * rounds of S seconds each, with the minimum and maximum round. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../auth-plugin/acl.h"
#include "../../auth-plugin/snapshot.h"

#define QUERIES 65536
#define ROOMS_PER_USER 10
#define MAX_SIZES 8

struct query {
	char user[NAME_USER_MAX + 1];
	char topic[128];
	int access;
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Builds a snapshot with memberships entries: users of ROOMS_PER_USER rooms
 * each (of one room each below 100 memberships, so that the small snapshot
 * still has non-members and other senders to deny), rooms shared by about
 * 100 members, at least 10 rooms. Returns it (caller frees) or NULL. */
static struct snapshot *build_snapshot(long memberships, long *users_out, long *rooms_out, long *per_user_out)
{
	struct snapshot *snap = snapshot_new(1);
	long per_user = memberships < 100 ? 1 : ROOMS_PER_USER;
	long users = memberships / per_user;
	long rooms = users * per_user / 100;
	char name[NAME_USER_MAX + 1], room[NAME_ROOM_MAX + 1];
	if (rooms < 10)
		rooms = 10;
	if (!snap)
		goto fail;
	for (long u = 0; u < users; u++) {
		snprintf(name, sizeof name, "user%ld", u);
		if (snapshot_add_user(snap, name, "$7$1000$c2FsdA==$aGFzaA==", "user", false) != 0)
			goto fail;
		for (long k = 0; k < per_user; k++) {
			snprintf(room, sizeof room, "room%ld", (u + k * (rooms / per_user)) % rooms);
			if (snapshot_add_member(snap, room, name) != 0)
				goto fail;
		}
	}
	*users_out = users;
	*rooms_out = rooms;
	*per_user_out = per_user;
	return snap;
fail:
	snapshot_free(snap);
	return NULL;
}

/* Fills queries: a quarter each of READ as member, READ as non-member, WRITE
 * as member on one's own topic, WRITE impersonating someone else. */
static void make_queries(struct query *q, long users, long rooms, long per_user)
{
	for (long i = 0; i < QUERIES; i++) {
		long u = random() % users;
		long member_room = (u + (random() % per_user) * (rooms / per_user)) % rooms;
		long other_room = (member_room + 1 + random() % (rooms > 1 ? rooms - 1 : 1)) % rooms;
		snprintf(q[i].user, sizeof q[i].user, "user%ld", u);
		switch (i % 4) {
		case 0:
			snprintf(q[i].topic, sizeof q[i].topic, "chat/v1/rooms/room%ld/msg/user%ld", member_room, (u + 1) % users);
			q[i].access = ACL_READ;
			break;
		case 1:
			snprintf(q[i].topic, sizeof q[i].topic, "chat/v1/rooms/room%ld/msg/user%ld", other_room, (u + 1) % users);
			q[i].access = ACL_READ;
			break;
		case 2:
			snprintf(q[i].topic, sizeof q[i].topic, "chat/v1/rooms/room%ld/msg/user%ld", member_room, u);
			q[i].access = ACL_WRITE;
			break;
		default:
			snprintf(q[i].topic, sizeof q[i].topic, "chat/v1/rooms/room%ld/msg/user%ld", member_room, (u + 1) % users);
			q[i].access = ACL_WRITE;
			break;
		}
	}
}

/* Runs the decisions for about seconds; returns ns per decision and adds the
 * allowed count to *allowed (so the work cannot be optimised away). */
static double time_round(const struct snapshot *snap, const struct query *q, double seconds, long *allowed)
{
	long done = 0;
	double start = now_s(), elapsed = 0;
	while (elapsed < seconds) {
		for (long i = 0; i < QUERIES; i++) {
			const struct snapshot_user *user = snapshot_user(snap, q[i].user);
			*allowed += acl_chat_decide(user, q[i].access, q[i].topic, false) == ACL_ALLOW;
		}
		done += QUERIES;
		elapsed = now_s() - start;
	}
	return elapsed * 1e9 / (double)done;
}

/* Prints one JSON line per size. Exit status 0, or 1 when a snapshot cannot
 * be built, 2 on usage. */
int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"memberships", 1, 0, 'm'}, {"rounds", 1, 0, 'r'}, {"seconds", 1, 0, 's'}, {0, 0, 0, 0}};
	long sizes[MAX_SIZES];
	int n_sizes = 0, rounds = 5, rc = 1, ch;
	double seconds = 0.5;
	struct query *queries = calloc(QUERIES, sizeof *queries);
	struct snapshot *snap = NULL;
	double results[64];

	if (!queries)
		goto out;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (ch == 'm' && n_sizes < MAX_SIZES && atol(optarg) > 0) {
			sizes[n_sizes++] = atol(optarg);
		} else if (ch == 'r' && atoi(optarg) > 0 && atoi(optarg) <= 64) {
			rounds = atoi(optarg);
		} else if (ch == 's' && atof(optarg) > 0 && atof(optarg) <= 60) {
			seconds = atof(optarg);
		} else {
			fprintf(stderr, "usage: aclbench [--memberships M]... [--rounds K (5)] [--seconds S (0.5)]\n");
			rc = 2;
			goto out;
		}
	}
	if (n_sizes == 0) {
		sizes[n_sizes++] = 10;
		sizes[n_sizes++] = 1000000;
	}
	srandom(42);
	for (int s = 0; s < n_sizes; s++) {
		long users = 0, rooms = 0, per_user = 0, allowed = 0;
		double t0 = now_s();
		fprintf(stderr, "aclbench: building a snapshot of %ld memberships\n", sizes[s]);
		snap = build_snapshot(sizes[s], &users, &rooms, &per_user);
		if (!snap)
			goto out;
		double build_s = now_s() - t0;
		make_queries(queries, users, rooms, per_user);
		for (int r = 0; r < rounds; r++) {
			results[r] = time_round(snap, queries, seconds, &allowed);
			fprintf(stderr, "aclbench: %ld memberships, round %d: %.1f ns/decision\n", sizes[s], r + 1, results[r]);
		}
		/* One checked pass: half the queries must be allowed (cases 0 and 2). */
		long pass_allowed = 0;
		for (long i = 0; i < QUERIES; i++)
			pass_allowed += acl_chat_decide(snapshot_user(snap, queries[i].user), queries[i].access,
				queries[i].topic, false) == ACL_ALLOW;
		qsort(results, (size_t)rounds, sizeof results[0], cmp_double);
		printf("{\"memberships\":%lu,\"users\":%ld,\"rooms\":%ld,\"build_s\":%.3f,\"rounds\":%d,"
			"\"ns_per_decision\":%.1f,\"min\":%.1f,\"max\":%.1f,\"allowed_fraction\":%.3f}\n",
			snap->membership_count, users, rooms, build_s, rounds, results[rounds / 2], results[0],
			results[rounds - 1], (double)pass_allowed / QUERIES);
		fflush(stdout);
		snapshot_free(snap);
		snap = NULL;
	}
	rc = 0;
out:
	snapshot_free(snap);
	free(queries);
	return rc;
}
