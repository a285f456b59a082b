/* test_tokens.c: login tokens: the string's shape (common/token.c), tokens
 * in the snapshot, a scoped token's ACL (acl_token_scope) and the
 * connections kicked when a token goes (auth-plugin/token_conns.c). */
#include <stdio.h>
#include <string.h>

#include <openssl/sha.h>

#include "../../auth-plugin/acl.h"
#include "../../auth-plugin/snapshot.h"
#include "test.h"
#include "token.h"
#include "../../auth-plugin/token_conns.h"

static void token_create_and_parse_round_trip(void)
{
	struct token_new a, b;
	char id[TOKEN_ID_LEN + 1];
	unsigned char hash[TOKEN_HASH_LEN], stored[TOKEN_HASH_LEN];

	CHECK_EQ(token_create(&a), 0);
	CHECK_EQ(token_create(&b), 0);
	CHECK_EQ(strlen(a.token), TOKEN_LEN);
	CHECK(token_is_token(a.token));
	CHECK(strcmp(a.token, b.token) != 0);
	CHECK(!strncmp(a.token + 4, a.id, TOKEN_ID_LEN));
	CHECK_EQ(token_parse(a.token, id, hash), 0);
	CHECK_STR(id, a.id);
	CHECK_EQ(token_hash_from_hex(a.hash_hex, stored), 0);
	CHECK(!memcmp(hash, stored, TOKEN_HASH_LEN));
	/* the stored hash is SHA-256 of the secret text */
	SHA256((const unsigned char *)a.token + TOKEN_PREFIX_LEN + TOKEN_ID_LEN + 1, TOKEN_SECRET_LEN, stored);
	CHECK(!memcmp(hash, stored, TOKEN_HASH_LEN));
}

static void token_parse_refuses_wrong_shapes(void)
{
	struct token_new t;
	char id[TOKEN_ID_LEN + 1];
	unsigned char hash[TOKEN_HASH_LEN];
	char bad[TOKEN_LEN + 2];

	CHECK_EQ(token_create(&t), 0);
	CHECK_EQ(token_parse("secret", id, hash), -1);
	CHECK_EQ(token_parse("ct1.", id, hash), -1);
	memcpy(bad, t.token, TOKEN_LEN - 1);
	bad[TOKEN_LEN - 1] = '\0';
	CHECK_EQ(token_parse(bad, id, hash), -1);          /* short */
	snprintf(bad, sizeof(bad), "%sA", t.token);
	CHECK_EQ(token_parse(bad, id, hash), -1);          /* long */
	memcpy(bad, t.token, TOKEN_LEN + 1);
	bad[5] = 'G';
	CHECK_EQ(token_parse(bad, id, hash), -1);          /* id not hex */
	memcpy(bad, t.token, TOKEN_LEN + 1);
	bad[TOKEN_LEN - 1] = '=';
	CHECK_EQ(token_parse(bad, id, hash), -1);          /* not base64url */
	memcpy(bad, t.token, TOKEN_LEN + 1);
	bad[TOKEN_PREFIX_LEN + TOKEN_ID_LEN] = '-';
	CHECK_EQ(token_parse(bad, id, hash), -1);          /* no dot */
	CHECK(token_label_valid("alice's phone"));
	CHECK(!token_label_valid(""));
	CHECK(!token_label_valid("a\tb"));
	CHECK(!token_label_valid("\xff"));
}

static const char hash_hex[] = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

static struct snapshot *snap_with_tokens(void)
{
	struct snapshot *snap = snapshot_new(1);

	snapshot_add_user(snap, "alice", "$7$x", "user", false);
	snapshot_add_member(snap, "floor", "alice");
	snapshot_add_member(snap, "office", "alice");
	CHECK_EQ(snapshot_add_token(snap, "0000000000000001", "alice", hash_hex, 0, NULL, "full"), 0);
	CHECK_EQ(snapshot_add_token(snap, "0000000000000002", "alice", hash_hex, 0, "floor", "publish"), 0);
	CHECK_EQ(snapshot_add_token(snap, "0000000000000003", "alice", hash_hex, 0, "floor,lab", "read"), 0);
	CHECK_EQ(snapshot_add_token(snap, "0000000000000004", "alice", hash_hex, 5000, NULL, "full"), 0);
	return snap;
}

static void snapshot_tokens_load_and_refuse_bad_rows(void)
{
	struct snapshot *snap = snap_with_tokens();
	const struct snapshot_token *tok = snapshot_token(snap, "0000000000000003");

	CHECK_EQ(snap->token_count, 4);
	CHECK(tok && tok->scope == TOKEN_SCOPE_READ && tok->room_count == 2);
	CHECK(snapshot_token_has_room(tok, "lab") && !snapshot_token_has_room(tok, "office"));
	CHECK_EQ(snapshot_add_token(snap, "0000000000000005", "bob", hash_hex, 0, NULL, "full"), -1);
	CHECK_EQ(snapshot_add_token(snap, "000000000000000Z", "alice", hash_hex, 0, NULL, "full"), -1);
	CHECK_EQ(snapshot_add_token(snap, "0000000000000006", "alice", "abc", 0, NULL, "full"), -1);
	CHECK_EQ(snapshot_add_token(snap, "0000000000000007", "alice", hash_hex, 0, "Bad Room", "full"), -1);
	CHECK_EQ(snapshot_add_token(snap, "0000000000000008", "alice", hash_hex, 0, "floor", "write"), -1);
	CHECK_EQ(snapshot_add_token(snap, "0000000000000001", "alice", hash_hex, 0, NULL, "full"), -1);
	CHECK_EQ(snap->token_count, 4);
	CHECK(!snapshot_token(snap, "0000000000000007"));
	CHECK(token_usable(snapshot_token(snap, "0000000000000004"), 4999));
	CHECK(!token_usable(snapshot_token(snap, "0000000000000004"), 5000));
	snapshot_free(snap);
}

static void scoped_token_acl_is_the_intersection(void)
{
	struct snapshot *snap = snap_with_tokens();
	const struct snapshot_user *alice = snapshot_user(snap, "alice");
	const struct snapshot_token *full = snapshot_token(snap, "0000000000000001");
	const struct snapshot_token *pub = snapshot_token(snap, "0000000000000002");
	const struct snapshot_token *rd = snapshot_token(snap, "0000000000000003");
	const char *floor_msg = "chat/v1/rooms/floor/msg/alice", *office_msg = "chat/v1/rooms/office/msg/alice";
	const char *lab_msg = "chat/v1/rooms/lab/msg/alice";
#define SCOPED(tok, access, topic) acl_token_scope((tok), (access), (topic), acl_chat_decide(alice, (access), (topic), false))

	/* no scope: the user's rights */
	CHECK_EQ(SCOPED(full, ACL_WRITE, office_msg), ACL_ALLOW);
	CHECK_EQ(SCOPED(full, ACL_READ, "chat/v1/users/alice/inbox"), ACL_ALLOW);
	CHECK_EQ(SCOPED(full, ACL_SUBSCRIBE, "other/topic"), ACL_DEFER);
	/* publish-only on floor */
	CHECK_EQ(SCOPED(pub, ACL_WRITE, floor_msg), ACL_ALLOW);
	CHECK_EQ(SCOPED(pub, ACL_WRITE, "chat/v1/rooms/floor/msg/bob"), ACL_DENY);
	CHECK_EQ(SCOPED(pub, ACL_WRITE, office_msg), ACL_DENY);
	CHECK_EQ(SCOPED(pub, ACL_READ, floor_msg), ACL_DENY);
	CHECK_EQ(SCOPED(pub, ACL_SUBSCRIBE, "chat/v1/rooms/floor/msg/+"), ACL_DENY);
	CHECK_EQ(SCOPED(pub, ACL_READ, "chat/v1/users/alice/inbox"), ACL_DENY);
	CHECK_EQ(SCOPED(pub, ACL_WRITE, "chat/v1/users/alice/req/history"), ACL_DENY);
	CHECK_EQ(SCOPED(pub, ACL_READ, "chat/v1/presence/bob"), ACL_DENY);
	CHECK_EQ(SCOPED(pub, ACL_WRITE, "other/topic"), ACL_DENY);
	CHECK_EQ(SCOPED(pub, ACL_UNSUBSCRIBE, "chat/v1/rooms/floor/msg/+"), ACL_ALLOW);
	/* read-only on floor and lab, but alice is no member of lab */
	CHECK_EQ(SCOPED(rd, ACL_READ, floor_msg), ACL_ALLOW);
	CHECK_EQ(SCOPED(rd, ACL_SUBSCRIBE, "chat/v1/rooms/floor/msg/+"), ACL_ALLOW);
	CHECK_EQ(SCOPED(rd, ACL_SUBSCRIBE, "chat/v1/rooms/floor/#"), ACL_ALLOW);
	CHECK_EQ(SCOPED(rd, ACL_READ, "chat/v1/rooms/floor/typing/bob"), ACL_ALLOW);
	CHECK_EQ(SCOPED(rd, ACL_WRITE, floor_msg), ACL_DENY);
	CHECK_EQ(SCOPED(rd, ACL_READ, office_msg), ACL_DENY);
	CHECK_EQ(SCOPED(rd, ACL_READ, lab_msg), ACL_DENY);
	CHECK_EQ(SCOPED(rd, ACL_SUBSCRIBE, "chat/v1/rooms/+/msg/+"), ACL_DENY);
	/* a token gone: everything refused but unsubscribing */
	CHECK_EQ(SCOPED(NULL, ACL_WRITE, floor_msg), ACL_DENY);
	CHECK_EQ(SCOPED(NULL, ACL_SUBSCRIBE, "other/topic"), ACL_DENY);
#undef SCOPED
	snapshot_free(snap);
}

static char kicked[8][64];
static int kick_count;

static void record_kick(const char *client_id)
{
	if(kick_count < 8) snprintf(kicked[kick_count], sizeof(kicked[0]), "%s", client_id);
	kick_count++;
}

static void token_conns_kick_revoked_expired_and_disabled(void)
{
	struct snapshot *old = snap_with_tokens();
	struct snapshot *fresh = snapshot_new(2);
	struct token_conns *tc = token_conns_new();
	int c1, c2, c4;

	if(!CHECK(tc != NULL)) return;
	CHECK_EQ(token_conns_add(tc, &c1, "phone", snapshot_token(old, "0000000000000001")), 0);
	CHECK_EQ(token_conns_add(tc, &c2, "sensor", snapshot_token(old, "0000000000000002")), 0);
	CHECK_EQ(token_conns_add(tc, &c4, "short", snapshot_token(old, "0000000000000004")), 0);
	CHECK_EQ(token_conns_count(tc), 3);
	CHECK(token_conns_find(tc, &c2)->tok->scope == TOKEN_SCOPE_PUBLISH);
	/* expiry: only the token that expires */
	kick_count = 0;
	CHECK_EQ(token_conns_expire(tc, 4000, record_kick), 0);
	CHECK_EQ(token_conns_expire(tc, 6000, record_kick), 1);
	CHECK_STR(kicked[0], "short");
	CHECK(token_conns_find(tc, &c4)->tok == NULL);
	CHECK_EQ(token_conns_expire(tc, 7000, record_kick), 0); /* once */
	/* a new snapshot without token 2 (revoked): its connection goes */
	snapshot_add_user(fresh, "alice", "$7$x", "user", false);
	snapshot_add_token(fresh, "0000000000000001", "alice", hash_hex, 0, NULL, "full");
	kick_count = 0;
	CHECK_EQ(token_conns_rebind(tc, fresh, 7000, record_kick), 1);
	CHECK_STR(kicked[0], "sensor");
	CHECK(token_conns_find(tc, &c1)->tok == snapshot_token(fresh, "0000000000000001"));
	snapshot_free(old);
	/* the user disabled: the last one goes */
	old = fresh;
	fresh = snapshot_new(3);
	snapshot_add_user(fresh, "alice", "$7$x", "user", true);
	snapshot_add_token(fresh, "0000000000000001", "alice", hash_hex, 0, NULL, "full");
	kick_count = 0;
	CHECK_EQ(token_conns_rebind(tc, fresh, 7000, record_kick), 1);
	CHECK_STR(kicked[0], "phone");
	token_conns_remove(tc, &c1);
	token_conns_remove(tc, &c2);
	CHECK_EQ(token_conns_count(tc), 1);
	CHECK(token_conns_find(tc, &c1) == NULL);
	token_conns_free(tc);
	snapshot_free(old);
	snapshot_free(fresh);
}

static const struct test_case cases[] = {
	TEST_ENTRY(token_create_and_parse_round_trip),
	TEST_ENTRY(token_parse_refuses_wrong_shapes),
	TEST_ENTRY(snapshot_tokens_load_and_refuse_bad_rows),
	TEST_ENTRY(scoped_token_acl_is_the_intersection),
	TEST_ENTRY(token_conns_kick_revoked_expired_and_disabled),
};

const struct test_suite tokens_suite = { "tokens", cases, TEST_COUNT(cases) };
