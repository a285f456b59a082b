/* tokenbench.c: microbenchmark of a login check on the broker's thread
 * (docs/BENCHMARKS.md, "Token logins"): what the plugin spends per login
 *   - with a token: token_login_check (parse, one SHA-256, a lookup by id,
 *     a constant-time compare, expiry), auth-plugin/token_login.c;
 *   - with a password whose login is cached: snapshot_user then
 *     login_cache_hit (one HMAC-SHA256), what backend_mariadb's cached path
 *     does;
 *   - with a password not cached: pwhash_verify at --iterations (PBKDF2),
 *     what every first login after a broker restart costs.
 * Links the plugin's snapshot.c, login_cache.c, token_conns.c and
 * token_login.c built with -DPLUGIN_ALLOC_LIBC, on a snapshot of --users
 * users each holding one token.
 *   tokenbench [--users N] [--rounds K] [--seconds S] [--iterations I]
 * Prints one JSON line: ns per check (median of K rounds of S seconds, with
 * the minimum and maximum round) for each kind (PBKDF2: 3 rounds), the
 * token / cached ratio (median and range of the per-round ratios: the two
 * alternate round by round) and PBKDF2 / token. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../auth-plugin/login_cache.h"
#include "../../auth-plugin/snapshot.h"
#include "../../auth-plugin/token_login.h"
#include "pwhash.h"
#include "token.h"

#define QUERIES 4096

struct account {
	char user[NAME_USER_MAX + 1];
	char password[32];
	char token[TOKEN_LEN + 1];
};

struct stat3 {
	double median, min, max;
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

enum kind { KIND_TOKEN, KIND_CACHED, KIND_PBKDF2 };

struct world {
	struct snapshot *snap;
	struct login_cache *cache;
	struct account *accounts;
	long users;
	long *order; /* QUERIES random account indexes */
};

/* One check of kind for account a; returns 1 when it passed. */
static int check(const struct world *w, enum kind kind, const struct account *a)
{
	const struct snapshot_user *user;

	switch(kind){
	case KIND_TOKEN:
		return token_login_check(w->snap, a->user, a->token, 1000) != NULL;
	case KIND_CACHED:
		user = snapshot_user(w->snap, a->user);
		return user && login_cache_hit(w->cache, user->name, a->password, user->pw_hash, 10);
	default:
		user = snapshot_user(w->snap, a->user);
		return user && pwhash_verify(a->password, user->pw_hash) == 1;
	}
}

/* ns per check over about seconds; adds the passes to *passed. */
static double time_round(const struct world *w, enum kind kind, double seconds, long *passed)
{
	long done = 0;
	double start = now_s(), elapsed = 0;

	while(elapsed < seconds){
		long batch = kind == KIND_PBKDF2 ? 1 : QUERIES;

		for(long i = 0; i < batch; i++) *passed += check(w, kind, &w->accounts[w->order[(done + i) % QUERIES]]);
		done += batch;
		elapsed = now_s() - start;
	}
	return elapsed * 1e9 / (double)done;
}

static struct stat3 stat_of(double *results, int rounds)
{
	struct stat3 s;

	qsort(results, (size_t)rounds, sizeof(results[0]), cmp_double);
	s.median = results[rounds / 2];
	s.min = results[0];
	s.max = results[rounds - 1];
	return s;
}

/* Builds the users, their hashes (one PBKDF2 hash shared by all but
 * checked per user: hashing a million passwords would take hours), their
 * tokens and cached logins. Returns 0, or -1. */
static int build(struct world *w, long users, long iterations)
{
	char hash[PWHASH_MAX_LEN];
	int rc = -1;

	w->snap = snapshot_new(1);
	w->cache = login_cache_new(3600, (size_t)users);
	w->accounts = calloc((size_t)users, sizeof(*w->accounts));
	w->order = calloc(QUERIES, sizeof(*w->order));
	w->users = users;
	if(!w->snap || !w->cache || !w->accounts || !w->order) goto out;
	if(pwhash_create("bench-password", iterations, hash, sizeof(hash))) goto out;
	for(long u = 0; u < users; u++){
		struct account *a = &w->accounts[u];
		struct token_new t;

		snprintf(a->user, sizeof(a->user), "user%ld", u);
		snprintf(a->password, sizeof(a->password), "bench-password");
		if(snapshot_add_user(w->snap, a->user, hash, "user", false) || token_create(&t)) goto out;
		if(snapshot_add_token(w->snap, t.id, a->user, t.hash_hex, 0, NULL, "full")) goto out;
		memcpy(a->token, t.token, sizeof(a->token));
		login_cache_put(w->cache, a->user, a->password, hash, 1);
	}
	for(long i = 0; i < QUERIES; i++) w->order[i] = random() % users;
	rc = 0;
out:
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"users", 1, 0, 'u'}, {"rounds", 1, 0, 'r'}, {"seconds", 1, 0, 's'}, {"iterations", 1, 0, 'i'}, {0, 0, 0, 0}};
	struct world w = { 0 };
	long users = 100000, iterations = PWHASH_ITER_DEFAULT, passed = 0, expected;
	int rounds = 5, ch, rc = 1;
	double seconds = 0.5;
	struct stat3 tok, cached, pbkdf2, ratio;
	double tok_ns[64], cached_ns[64], pbkdf2_ns[3], ratios[64];

	while((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1){
		if(ch == 'u' && atol(optarg) > 0) users = atol(optarg);
		else if(ch == 'r' && atoi(optarg) > 0 && atoi(optarg) <= 64) rounds = atoi(optarg);
		else if(ch == 's' && atof(optarg) > 0 && atof(optarg) <= 60) seconds = atof(optarg);
		else if(ch == 'i' && atol(optarg) >= PWHASH_ITER_MIN && atol(optarg) <= PWHASH_ITER_MAX) iterations = atol(optarg);
		else{
			fprintf(stderr, "usage: tokenbench [--users N (100000)] [--rounds K (5)] [--seconds S (0.5)] [--iterations I (%d)]\n",
					PWHASH_ITER_DEFAULT);
			rc = 2;
			goto out;
		}
	}
	srandom(42);
	fprintf(stderr, "tokenbench: %ld users with a token and a cached login each\n", users);
	if(build(&w, users, iterations)){
		fprintf(stderr, "tokenbench: cannot build the snapshot\n");
		goto out;
	}
	/* Rounds interleaved (token, cached, token, ...) and the ratio taken
	 * per round, so that the load of a shared machine cancels out. */
	for(int r = 0; r < rounds; r++){
		tok_ns[r] = time_round(&w, KIND_TOKEN, seconds, &passed);
		cached_ns[r] = time_round(&w, KIND_CACHED, seconds, &passed);
		ratios[r] = tok_ns[r] / cached_ns[r];
	}
	for(int r = 0; r < 3; r++) pbkdf2_ns[r] = time_round(&w, KIND_PBKDF2, seconds, &passed);
	tok = stat_of(tok_ns, rounds);
	cached = stat_of(cached_ns, rounds);
	pbkdf2 = stat_of(pbkdf2_ns, 3);
	ratio = stat_of(ratios, rounds);
	/* Every check must pass: a failing check would be cheaper and lie. */
	expected = 0;
	for(long i = 0; i < QUERIES; i++){
		const struct account *a = &w.accounts[w.order[i]];

		expected += check(&w, KIND_TOKEN, a) + check(&w, KIND_CACHED, a);
	}
	printf("{\"users\":%ld,\"rounds\":%d,\"iterations\":%ld,"
			"\"token_ns\":%.1f,\"token_min\":%.1f,\"token_max\":%.1f,"
			"\"cached_password_ns\":%.1f,\"cached_min\":%.1f,\"cached_max\":%.1f,"
			"\"pbkdf2_ns\":%.0f,\"pbkdf2_min\":%.0f,\"pbkdf2_max\":%.0f,"
			"\"token_vs_cached\":%.2f,\"token_vs_cached_min\":%.2f,\"token_vs_cached_max\":%.2f,"
			"\"pbkdf2_vs_token\":%.0f,\"all_passed\":%s}\n",
			users, rounds, iterations, tok.median, tok.min, tok.max, cached.median, cached.min, cached.max,
			pbkdf2.median, pbkdf2.min, pbkdf2.max, ratio.median, ratio.min, ratio.max, pbkdf2.median / tok.median,
			expected == 2 * QUERIES ? "true" : "false");
	rc = expected == 2 * QUERIES ? 0 : 1;
out:
	snapshot_free(w.snap);
	login_cache_free(w.cache);
	free(w.accounts);
	free(w.order);
	return rc;
}
