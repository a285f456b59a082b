/* test_acl.c: unit tests of the auth plugin's in-memory snapshot and of the
 * chat authorization rules (acl_chat_decide), run against a fixed snapshot:
 *   alice  user, member of lobby
 *   bob    user, member of lobby and dev
 *   eve    user, member of no room
 *   svc    service role
 *   dis    user, disabled, member of lobby
 *   dsvc   service role, disabled
 *   health health role (the health agents' account), member of lobby
 * A failed CHECK_EQ prints answers as numbers: 0 ALLOW, 1 DENY, 2 DEFER. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "../../auth-plugin/acl.h"
#include "../../auth-plugin/snapshot.h"
#include "topics.h"
#include "test.h"

/* A real hash ("password", 101 iterations); the ACL never reads it. */
#define HASH "$7$101$AAECAwQFBgcICQoL$DEO14ViPofBJRJpN8uZINnuFUWj8eUeWhlyZ2QOQ+5LgiM0kGXMwv2HwhIvlBQTsHkd+uve2/GFOr/KZ8Y/8Hw=="

static struct snapshot *fixture(void)
{
	struct snapshot *snap = snapshot_new(7);
	int rc = 0;

	if(!snap) return NULL;
	rc |= snapshot_add_user(snap, "alice", HASH, "user", false);
	rc |= snapshot_add_user(snap, "bob", HASH, "user", false);
	rc |= snapshot_add_user(snap, "eve", HASH, "user", false);
	rc |= snapshot_add_user(snap, "svc", HASH, "service", false);
	rc |= snapshot_add_user(snap, "dis", HASH, "user", true);
	rc |= snapshot_add_user(snap, "dsvc", HASH, "service", true);
	rc |= snapshot_add_user(snap, "health", HASH, "health", false);
	rc |= snapshot_add_member(snap, "lobby", "alice");
	rc |= snapshot_add_member(snap, "lobby", "bob");
	rc |= snapshot_add_member(snap, "dev", "bob");
	rc |= snapshot_add_member(snap, "lobby", "dis");
	/* Even a membership row gives the health account no chat access. */
	rc |= snapshot_add_member(snap, "lobby", "health");
	if(!CHECK(rc == 0)){
		snapshot_free(snap);
		return NULL;
	}
	return snap;
}

/* Shorthands: decide for a user of the fixture by name (NULL: unknown client). */
static struct snapshot *snap_now;

static enum acl_answer decide(const char *name, int access, const char *topic, bool retain)
{
	const struct snapshot_user *user = name ? snapshot_user(snap_now, name) : NULL;

	if(name && !user){
		CHECK(!"fixture user missing");
		return ACL_DEFER;
	}
	return acl_chat_decide(user, access, topic, retain);
}

#define RD(u, t) decide((u), ACL_READ, (t), false)
#define WR(u, t) decide((u), ACL_WRITE, (t), false)
#define WR_RETAIN(u, t) decide((u), ACL_WRITE, (t), true)
#define SUB(u, f) decide((u), ACL_SUBSCRIBE, (f), false)
#define UNSUB(u, f) decide((u), ACL_UNSUBSCRIBE, (f), false)

static bool setup(void)
{
	snap_now = fixture();
	return CHECK(snap_now != NULL);
}

static void teardown(void)
{
	snapshot_free(snap_now);
	snap_now = NULL;
}

/* ---- snapshot -------------------------------------------------------- */

static void snapshot_lookup_and_membership(void)
{
	const struct snapshot_user *alice, *bob, *svc, *dis;

	if(!setup()) return;
	CHECK_EQ(snap_now->version, 7);
	CHECK_EQ(snap_now->user_count, 7);
	CHECK_EQ(snap_now->membership_count, 5);
	alice = snapshot_user(snap_now, "alice");
	bob = snapshot_user(snap_now, "bob");
	svc = snapshot_user(snap_now, "svc");
	dis = snapshot_user(snap_now, "dis");
	if(!CHECK(alice && bob && svc && dis)){
		teardown();
		return;
	}
	CHECK_STR(alice->name, "alice");
	CHECK_STR(alice->pw_hash, HASH);
	CHECK_EQ(alice->role, ROLE_USER);
	CHECK(!alice->disabled);
	CHECK_EQ(svc->role, ROLE_SERVICE);
	CHECK(dis->disabled);
	CHECK(snapshot_is_member(alice, "lobby"));
	CHECK(!snapshot_is_member(alice, "dev"));
	CHECK(snapshot_is_member(bob, "dev"));
	CHECK(!snapshot_is_member(NULL, "lobby"));
	CHECK(snapshot_user(snap_now, "mallory") == NULL);
	CHECK(snapshot_user(snap_now, "Alice") == NULL);
	CHECK(snapshot_user(snap_now, NULL) == NULL);
	CHECK(snapshot_user(NULL, "alice") == NULL);
	teardown();
}

static void snapshot_add_refuses_bad_input(void)
{
	char long_hash[PWHASH_MAX_LEN + 1];

	if(!setup()) return;
	memset(long_hash, 'h', PWHASH_MAX_LEN);
	long_hash[PWHASH_MAX_LEN] = '\0';
	CHECK(snapshot_add_user(snap_now, "-bad", HASH, "user", false) == -1);
	CHECK(snapshot_add_user(snap_now, "a/b", HASH, "user", false) == -1);
	CHECK(snapshot_add_user(snap_now, "", HASH, "user", false) == -1);
	CHECK(snapshot_add_user(snap_now, "frank", HASH, "root", false) == -1);
	CHECK(snapshot_add_user(snap_now, "frank", HASH, "User", false) == -1);
	CHECK(snapshot_add_user(snap_now, "frank", NULL, "user", false) == -1);
	CHECK(snapshot_add_user(snap_now, "frank", long_hash, "user", false) == -1);
	CHECK(snapshot_user(snap_now, "frank") == NULL);
	CHECK(snapshot_add_member(snap_now, "lobby", "mallory") == -1);
	CHECK(snapshot_add_member(snap_now, "Lobby", "alice") == -1);
	CHECK(snapshot_add_member(snap_now, "a/b", "alice") == -1);
	CHECK_EQ(snap_now->user_count, 7);
	CHECK_EQ(snap_now->membership_count, 5);
	teardown();
}

static void snapshot_add_is_idempotent(void)
{
	const struct snapshot_user *alice;

	if(!setup()) return;
	CHECK(snapshot_add_member(snap_now, "lobby", "alice") == 0);
	CHECK_EQ(snap_now->membership_count, 5);
	CHECK(snapshot_add_user(snap_now, "alice", "$7$1$x$y", "admin", true) == 0);
	CHECK_EQ(snap_now->user_count, 7);
	alice = snapshot_user(snap_now, "alice");
	if(CHECK(alice != NULL)){
		CHECK_STR(alice->pw_hash, "$7$1$x$y");
		CHECK_EQ(alice->role, ROLE_ADMIN);
		CHECK(alice->disabled);
	}
	teardown();
}

static void snapshot_roles(void)
{
	CHECK(!role_is_privileged(ROLE_USER));
	CHECK(role_is_privileged(ROLE_SERVICE));
	CHECK(role_is_privileged(ROLE_BRIDGE));
	CHECK(role_is_privileged(ROLE_ADMIN));
	CHECK(!role_is_privileged(ROLE_HEALTH));
	snapshot_free(NULL);
}

/* ---- acl: the health role -------------------------------------------- */

/* The health account round-trips probes on chat/v1/sys/health/{node}/{own
 * name} and nothing else: no chat, no presence, no other topics at all. */
static void acl_health_role(void)
{
	if(!setup()) return;
	CHECK_EQ(SUB("health", "chat/v1/sys/health/leaf1/health"), ACL_ALLOW);
	CHECK_EQ(WR("health", "chat/v1/sys/health/leaf1/health"), ACL_ALLOW);
	CHECK_EQ(RD("health", "chat/v1/sys/health/leaf1/health"), ACL_ALLOW);
	CHECK_EQ(UNSUB("health", "chat/v1/sys/health/leaf1/health"), ACL_ALLOW);
	CHECK_EQ(WR_RETAIN("health", "chat/v1/sys/health/leaf1/health"), ACL_DENY);
	CHECK_EQ(SUB("health", "chat/v1/sys/health/leaf1/alice"), ACL_DENY);   /* not its own */
	CHECK_EQ(SUB("health", "chat/v1/sys/health/+/health"), ACL_DENY);
	CHECK_EQ(SUB("health", "chat/v1/sys/health/leaf1/#"), ACL_DENY);
	CHECK_EQ(SUB("health", "chat/v1/sys/health/leaf1/health/x"), ACL_DENY);
	CHECK_EQ(SUB("health", "chat/v1/rooms/lobby/#"), ACL_DENY);
	CHECK_EQ(SUB("health", "chat/v1/rooms/lobby/msg/+"), ACL_DENY);
	CHECK_EQ(SUB("health", "chat/v1/presence/+"), ACL_DENY);
	CHECK_EQ(SUB("health", "#"), ACL_DENY);
	CHECK_EQ(SUB("health", "+/v1/rooms/lobby/msg/+"), ACL_DENY);
	CHECK_EQ(SUB("health", "other/topic"), ACL_DENY);
	CHECK_EQ(RD("health", "chat/v1/rooms/lobby/msg/alice"), ACL_DENY);
	CHECK_EQ(RD("health", "chat/v1/presence/alice"), ACL_DENY);
	CHECK_EQ(RD("health", "chat/v1/sys/conn/leaf1"), ACL_DENY);
	CHECK_EQ(WR("health", "chat/v1/rooms/lobby/msg/health"), ACL_DENY);
	CHECK_EQ(WR("health", "chat/v1/users/health/req/x"), ACL_DENY);
	CHECK_EQ(WR("health", "other/topic"), ACL_DENY);
	/* Other users cannot use the health tree. */
	CHECK_EQ(WR("alice", "chat/v1/sys/health/leaf1/alice"), ACL_DENY);
	CHECK_EQ(SUB("alice", "chat/v1/sys/health/leaf1/health"), ACL_DENY);
	teardown();
}

/* ---- acl: rooms ------------------------------------------------------ */

static void acl_room_write(void)
{
	if(!setup()) return;
	CHECK_EQ(WR("alice", "chat/v1/rooms/lobby/msg/alice"), ACL_ALLOW);
	CHECK_EQ(WR("bob", "chat/v1/rooms/dev/msg/bob"), ACL_ALLOW);
	CHECK_EQ(WR("alice", "chat/v1/rooms/lobby/msg/bob"), ACL_DENY);    /* impersonation */
	CHECK_EQ(WR("alice", "chat/v1/rooms/lobby/msg/Alice"), ACL_DENY);
	CHECK_EQ(WR_RETAIN("alice", "chat/v1/rooms/lobby/msg/alice"), ACL_DENY);
	CHECK_EQ(WR("eve", "chat/v1/rooms/lobby/msg/eve"), ACL_DENY);      /* not a member */
	CHECK_EQ(WR("alice", "chat/v1/rooms/dev/msg/alice"), ACL_DENY);
	CHECK_EQ(WR("alice", "chat/v1/rooms/lobby/msg/+"), ACL_DENY);
	CHECK_EQ(WR("alice", "chat/v1/rooms/lobby/msg/alice/x"), ACL_DENY);
	CHECK_EQ(WR("alice", "chat/v1/rooms/lobby"), ACL_DENY);
	CHECK_EQ(WR("alice", "chat/v1"), ACL_DENY);
	teardown();
}

static void acl_room_read(void)
{
	if(!setup()) return;
	CHECK_EQ(RD("alice", "chat/v1/rooms/lobby/msg/bob"), ACL_ALLOW);
	CHECK_EQ(RD("alice", "chat/v1/rooms/lobby/msg/alice"), ACL_ALLOW);
	CHECK_EQ(RD("alice", "chat/v1/rooms/dev/msg/bob"), ACL_DENY);
	CHECK_EQ(RD("bob", "chat/v1/rooms/dev/msg/bob"), ACL_ALLOW);
	CHECK_EQ(RD("eve", "chat/v1/rooms/lobby/msg/alice"), ACL_DENY);
	CHECK_EQ(RD("alice", "chat/v1/rooms/Lobby/msg/bob"), ACL_DENY);
	teardown();
}

/* ---- acl: users, presence, sys --------------------------------------- */

static void acl_inbox_and_requests(void)
{
	if(!setup()) return;
	CHECK_EQ(RD("alice", "chat/v1/users/alice/inbox"), ACL_ALLOW);
	CHECK_EQ(RD("alice", "chat/v1/users/bob/inbox"), ACL_DENY);
	CHECK_EQ(WR("alice", "chat/v1/users/alice/inbox"), ACL_DENY);     /* only services write inboxes */
	CHECK_EQ(WR("alice", "chat/v1/users/bob/inbox"), ACL_DENY);
	CHECK_EQ(WR("alice", "chat/v1/users/alice/req/history"), ACL_ALLOW);
	CHECK_EQ(WR("eve", "chat/v1/users/eve/req/presence"), ACL_ALLOW);
	CHECK_EQ(WR("alice", "chat/v1/users/bob/req/history"), ACL_DENY);
	CHECK_EQ(WR_RETAIN("alice", "chat/v1/users/alice/req/history"), ACL_DENY);
	CHECK_EQ(RD("alice", "chat/v1/users/alice/req/history"), ACL_DENY);
	teardown();
}

static void acl_presence(void)
{
	if(!setup()) return;
	CHECK_EQ(RD("alice", "chat/v1/presence/bob"), ACL_ALLOW);
	CHECK_EQ(RD("eve", "chat/v1/presence/bob"), ACL_ALLOW);
	CHECK_EQ(RD("bob", "chat/v1/presence/bob"), ACL_ALLOW);
	CHECK_EQ(WR("alice", "chat/v1/presence/alice"), ACL_DENY);
	CHECK_EQ(WR_RETAIN("alice", "chat/v1/presence/alice"), ACL_DENY);
	CHECK_EQ(RD(NULL, "chat/v1/presence/bob"), ACL_DENY);
	teardown();
}

/* Typing indicators: members only, own name only, never retained; the
 * sync topic (presence-svc asking a node for its connections) is for
 * services only. */
static void acl_typing_and_sync(void)
{
	if(!setup()) return;
	CHECK_EQ(WR("alice", "chat/v1/rooms/lobby/typing/alice"), ACL_ALLOW);
	CHECK_EQ(WR("alice", "chat/v1/rooms/lobby/typing/bob"), ACL_DENY);     /* someone else's name */
	CHECK_EQ(WR_RETAIN("alice", "chat/v1/rooms/lobby/typing/alice"), ACL_DENY);
	CHECK_EQ(WR("alice", "chat/v1/rooms/dev/typing/alice"), ACL_DENY);     /* not a member */
	CHECK_EQ(WR("eve", "chat/v1/rooms/lobby/typing/eve"), ACL_DENY);
	CHECK_EQ(WR("dis", "chat/v1/rooms/lobby/typing/dis"), ACL_DENY);       /* disabled */
	CHECK_EQ(RD("bob", "chat/v1/rooms/lobby/typing/alice"), ACL_ALLOW);
	CHECK_EQ(RD("bob", "chat/v1/rooms/dev/typing/bob"), ACL_ALLOW);
	CHECK_EQ(RD("alice", "chat/v1/rooms/dev/typing/bob"), ACL_DENY);
	CHECK_EQ(RD("eve", "chat/v1/rooms/lobby/typing/alice"), ACL_DENY);
	CHECK_EQ(SUB("alice", "chat/v1/rooms/lobby/typing/+"), ACL_ALLOW);
	CHECK_EQ(SUB("alice", "chat/v1/rooms/lobby/typing/bob"), ACL_ALLOW);
	CHECK_EQ(SUB("alice", "chat/v1/rooms/lobby/typing/#"), ACL_ALLOW);
	CHECK_EQ(SUB("alice", "chat/v1/rooms/dev/typing/+"), ACL_DENY);
	CHECK_EQ(SUB("alice", "chat/v1/rooms/+/typing/+"), ACL_DENY);
	CHECK_EQ(SUB("eve", "chat/v1/rooms/lobby/typing/+"), ACL_DENY);
	CHECK_EQ(SUB("alice", "chat/v1/rooms/lobby/typing/-x"), ACL_DENY);
	CHECK_EQ(WR("alice", "chat/v1/rooms/lobby/typing/alice/x"), ACL_DENY);
	CHECK_EQ(WR("alice", "chat/v1/sys/sync/leaf"), ACL_DENY);
	CHECK_EQ(RD("alice", "chat/v1/sys/sync/leaf"), ACL_DENY);
	CHECK_EQ(SUB("alice", "chat/v1/sys/sync/+"), ACL_DENY);
	CHECK_EQ(WR("svc", "chat/v1/sys/sync/leaf"), ACL_ALLOW);
	CHECK_EQ(WR("svc", "chat/v1/rooms/lobby/typing/alice"), ACL_ALLOW);
	CHECK_EQ(SUB("svc", "chat/v1/rooms/+/typing/+"), ACL_ALLOW);
	teardown();
}

/* The two topic kinds added for presence, parsed and built by topics.c. */
static void topics_typing_and_sync(void)
{
	struct topic_parts p;
	char buf[TOPIC_MAX];

	CHECK_EQ(topic_parse("chat/v1/rooms/lobby/typing/alice", &p), TOPIC_ROOM_TYPING);
	CHECK_STR(p.room, "lobby");
	CHECK_STR(p.user, "alice");
	CHECK_EQ(topic_parse("chat/v1/sys/sync/leaf-1", &p), TOPIC_SYS_SYNC);
	CHECK_STR(p.node, "leaf-1");
	CHECK_EQ(topic_parse("chat/v1/rooms/lobby/typing/+", &p), TOPIC_OTHER);
	CHECK_EQ(topic_parse("chat/v1/rooms/Lobby/typing/alice", &p), TOPIC_OTHER);
	CHECK_EQ(topic_parse("chat/v1/sys/sync/Leaf", &p), TOPIC_OTHER);
	CHECK_EQ(topic_parse("chat/v1/sys/sync", &p), TOPIC_OTHER);
	CHECK(topic_room_typing(buf, sizeof(buf), "lobby", "bob") == 0);
	CHECK_STR(buf, "chat/v1/rooms/lobby/typing/bob");
	CHECK(topic_sys_sync(buf, sizeof(buf), "hub") == 0);
	CHECK_STR(buf, "chat/v1/sys/sync/hub");
	CHECK(topic_room_typing(buf, sizeof(buf), "lobby", "a+b") == -1);
	CHECK(topic_sys_sync(buf, sizeof(buf), "a/b") == -1);
	CHECK(topic_sys_sync(buf, 10, "hub") == -1);
}

/* The room meta topic (history-svc's deletes, topic changes and read
 * markers): members subscribe to and read it, alone or through
 * .../{room}/#; only services publish on it. */
static void acl_room_meta(void)
{
	if(!setup()) return;
	CHECK_EQ(SUB("alice", "chat/v1/rooms/lobby/meta"), ACL_ALLOW);
	CHECK_EQ(SUB("alice", "chat/v1/rooms/lobby/#"), ACL_ALLOW);
	CHECK_EQ(RD("alice", "chat/v1/rooms/lobby/meta"), ACL_ALLOW);
	CHECK_EQ(RD("bob", "chat/v1/rooms/dev/meta"), ACL_ALLOW);
	CHECK_EQ(SUB("alice", "chat/v1/rooms/dev/meta"), ACL_DENY);    /* not a member */
	CHECK_EQ(RD("alice", "chat/v1/rooms/dev/meta"), ACL_DENY);
	CHECK_EQ(RD("eve", "chat/v1/rooms/lobby/meta"), ACL_DENY);
	CHECK_EQ(SUB("eve", "chat/v1/rooms/lobby/meta"), ACL_DENY);
	CHECK_EQ(RD("dis", "chat/v1/rooms/lobby/meta"), ACL_DENY);     /* disabled */
	CHECK_EQ(SUB("alice", "chat/v1/rooms/+/meta"), ACL_DENY);
	CHECK_EQ(SUB("alice", "chat/v1/rooms/lobby/meta/#"), ACL_DENY);
	CHECK_EQ(SUB("alice", "chat/v1/rooms/lobby/meta/x"), ACL_DENY);
	CHECK_EQ(SUB("alice", "chat/v1/rooms/lobby/+"), ACL_DENY);
	/* Nobody but services publishes there: not a member, not under any name. */
	CHECK_EQ(WR("alice", "chat/v1/rooms/lobby/meta"), ACL_DENY);
	CHECK_EQ(WR("bob", "chat/v1/rooms/dev/meta"), ACL_DENY);
	CHECK_EQ(WR("eve", "chat/v1/rooms/lobby/meta"), ACL_DENY);
	CHECK_EQ(WR("health", "chat/v1/rooms/lobby/meta"), ACL_DENY);
	CHECK_EQ(RD("health", "chat/v1/rooms/lobby/meta"), ACL_DENY);
	CHECK_EQ(WR("svc", "chat/v1/rooms/lobby/meta"), ACL_ALLOW);
	CHECK_EQ(WR("dsvc", "chat/v1/rooms/lobby/meta"), ACL_DENY);    /* disabled service */
	teardown();
}

/* The meta topic in topics.c: parsed, built, and the member filter rule. */
static void topics_room_meta(void)
{
	struct topic_parts p;
	char buf[TOPIC_MAX];
	char copy[TOPIC_MAX];
	char *lv[8];
	int n;

	CHECK_EQ(topic_parse("chat/v1/rooms/lobby/meta", &p), TOPIC_ROOM_META);
	CHECK_STR(p.room, "lobby");
	CHECK_EQ(topic_parse("chat/v1/rooms/+/meta", &p), TOPIC_OTHER);
	CHECK_EQ(topic_parse("chat/v1/rooms/Lobby/meta", &p), TOPIC_OTHER);
	CHECK_EQ(topic_parse("chat/v1/rooms/lobby/meta/x", &p), TOPIC_OTHER);
	CHECK_EQ(topic_parse("chat/v1/rooms/lobby/Meta", &p), TOPIC_OTHER);
	CHECK(topic_room_meta(buf, sizeof(buf), "team-ops") == 0);
	CHECK_STR(buf, "chat/v1/rooms/team-ops/meta");
	CHECK(topic_room_meta(buf, sizeof(buf), "+") == -1);
	CHECK(topic_room_meta(buf, 10, "lobby") == -1);
	n = topic_split("meta", copy, sizeof(copy), lv, 8);
	CHECK(topic_room_filter_allowed(lv, n));
	n = topic_split("msg/+", copy, sizeof(copy), lv, 8);
	CHECK(topic_room_filter_allowed(lv, n));
	n = topic_split("typing/bob", copy, sizeof(copy), lv, 8);
	CHECK(topic_room_filter_allowed(lv, n));
	n = topic_split("meta/+", copy, sizeof(copy), lv, 8);
	CHECK(!topic_room_filter_allowed(lv, n));
	n = topic_split("+", copy, sizeof(copy), lv, 8);
	CHECK(!topic_room_filter_allowed(lv, n));
}

static void acl_sys_conn(void)
{
	if(!setup()) return;
	CHECK_EQ(RD("alice", "chat/v1/sys/conn/leaf"), ACL_DENY);
	CHECK_EQ(WR("alice", "chat/v1/sys/conn/leaf"), ACL_DENY);
	CHECK_EQ(RD("svc", "chat/v1/sys/conn/leaf"), ACL_ALLOW);
	CHECK_EQ(WR("svc", "chat/v1/sys/conn/leaf"), ACL_ALLOW);
	teardown();
}

static void acl_service_may_do_anything_in_tree(void)
{
	if(!setup()) return;
	CHECK_EQ(WR("svc", "chat/v1/users/bob/inbox"), ACL_ALLOW);
	CHECK_EQ(RD("svc", "chat/v1/users/bob/req/history"), ACL_ALLOW);
	CHECK_EQ(RD("svc", "chat/v1/rooms/dev/msg/bob"), ACL_ALLOW);
	CHECK_EQ(WR("svc", "chat/v1/rooms/dev/msg/bob"), ACL_ALLOW);
	CHECK_EQ(WR_RETAIN("svc", "chat/v1/presence/alice"), ACL_ALLOW);
	CHECK_EQ(SUB("svc", "chat/v1/#"), ACL_ALLOW);
	CHECK_EQ(SUB("svc", "chat/v1/users/+/req/history"), ACL_ALLOW);
	CHECK_EQ(SUB("svc", "chat/v1/sys/conn/+"), ACL_ALLOW);
	CHECK_EQ(SUB("svc", "sensors/x"), ACL_ALLOW);
	teardown();
}

/* ---- acl: subscriptions ---------------------------------------------- */

static void acl_subscribe_rooms(void)
{
	if(!setup()) return;
	CHECK_EQ(SUB("alice", "chat/v1/rooms/lobby/msg/+"), ACL_ALLOW);
	CHECK_EQ(SUB("alice", "chat/v1/rooms/lobby/msg/#"), ACL_ALLOW);
	CHECK_EQ(SUB("alice", "chat/v1/rooms/lobby/#"), ACL_ALLOW);
	CHECK_EQ(SUB("alice", "chat/v1/rooms/lobby/msg/bob"), ACL_ALLOW);
	CHECK_EQ(SUB("alice", "chat/v1/rooms/dev/#"), ACL_DENY);
	CHECK_EQ(SUB("alice", "chat/v1/rooms/dev/msg/+"), ACL_DENY);
	CHECK_EQ(SUB("bob", "chat/v1/rooms/dev/#"), ACL_ALLOW);
	CHECK_EQ(SUB("eve", "chat/v1/rooms/lobby/msg/+"), ACL_DENY);
	CHECK_EQ(SUB("alice", "chat/v1/rooms/+/msg/+"), ACL_DENY);
	CHECK_EQ(SUB("alice", "chat/v1/rooms/#"), ACL_DENY);
	CHECK_EQ(SUB("alice", "chat/v1/rooms/+/#"), ACL_DENY);
	CHECK_EQ(SUB("alice", "chat/v1/rooms/lobby/msg/+/x"), ACL_DENY);
	teardown();
}

static void acl_subscribe_users_presence_sys(void)
{
	if(!setup()) return;
	CHECK_EQ(SUB("alice", "chat/v1/users/alice/inbox"), ACL_ALLOW);
	CHECK_EQ(SUB("alice", "chat/v1/users/bob/inbox"), ACL_DENY);
	CHECK_EQ(SUB("alice", "chat/v1/users/+/inbox"), ACL_DENY);
	CHECK_EQ(SUB("alice", "chat/v1/users/alice/#"), ACL_DENY);
	CHECK_EQ(SUB("alice", "chat/v1/users/#"), ACL_DENY);
	CHECK_EQ(SUB("alice", "chat/v1/presence/+"), ACL_ALLOW);
	CHECK_EQ(SUB("alice", "chat/v1/presence/#"), ACL_ALLOW);
	CHECK_EQ(SUB("eve", "chat/v1/presence/bob"), ACL_ALLOW);
	CHECK_EQ(SUB("alice", "chat/v1/presence/-bad"), ACL_DENY);
	CHECK_EQ(SUB("alice", "chat/v1/sys/conn/+"), ACL_DENY);
	CHECK_EQ(SUB("alice", "chat/#"), ACL_DENY);
	CHECK_EQ(SUB("alice", "chat/v1/#"), ACL_DENY);
	CHECK_EQ(SUB("alice", "chat/+/rooms/lobby/msg/+"), ACL_DENY);
	teardown();
}

/* ---- acl: outside the tree, unknown and disabled clients ------------- */

static void acl_outside_chat_tree_defers(void)
{
	if(!setup()) return;
	CHECK_EQ(RD("alice", "sensors/x"), ACL_DEFER);
	CHECK_EQ(WR("alice", "sensors/x"), ACL_DEFER);
	CHECK_EQ(WR_RETAIN("alice", "sensors/x"), ACL_DEFER);
	CHECK_EQ(SUB("alice", "sensors/x"), ACL_DEFER);
	CHECK_EQ(SUB("alice", "sensors/#"), ACL_DEFER);
	CHECK_EQ(RD("alice", "chat/v2/rooms/lobby/msg/alice"), ACL_DEFER);
	CHECK_EQ(WR("alice", "chat/v1x"), ACL_DEFER);
	CHECK_EQ(RD(NULL, "sensors/x"), ACL_DEFER);
	CHECK_EQ(WR(NULL, "sensors/x"), ACL_DEFER);
	CHECK_EQ(SUB(NULL, "sensors/x"), ACL_DEFER);
	CHECK_EQ(RD("dis", "sensors/x"), ACL_DEFER);
	teardown();
}

/* acl.h: ACL_DEFER for every topic outside chat/v1, filters included, so the
 * operator's own rules decide them whatever their depth, length or prefix. */
static void acl_subscribe_outside_tree_defers_any_shape(void)
{
	char deep_long[400];

	if(!setup()) return;
	memset(deep_long, 'a', sizeof(deep_long) - 1);
	deep_long[sizeof(deep_long) - 1] = '\0';
	deep_long[7] = '/';
	CHECK_EQ(RD("alice", deep_long), ACL_DEFER);
	CHECK_EQ(SUB("alice", deep_long), ACL_DEFER);                   /* > TOPIC_MAX */
	CHECK_EQ(RD("alice", "a/b/c/d/e/f/g/h/i"), ACL_DEFER);
	CHECK_EQ(SUB("alice", "a/b/c/d/e/f/g/h/i"), ACL_DEFER);         /* > 8 levels */
	CHECK_EQ(RD("alice", "chat/v2/rooms/x"), ACL_DEFER);
	CHECK_EQ(SUB("alice", "chat/v2/#"), ACL_DEFER);
	CHECK_EQ(SUB(NULL, "chatter/x"), ACL_DEFER);
	teardown();
}

static void acl_unsubscribe_always_allowed(void)
{
	if(!setup()) return;
	CHECK_EQ(UNSUB("alice", "chat/#"), ACL_ALLOW);
	CHECK_EQ(UNSUB("alice", "chat/v1/rooms/dev/#"), ACL_ALLOW);
	CHECK_EQ(UNSUB("dis", "chat/v1/rooms/lobby/msg/+"), ACL_ALLOW);
	CHECK_EQ(UNSUB(NULL, "chat/v1/presence/+"), ACL_ALLOW);
	CHECK_EQ(UNSUB(NULL, "sensors/x"), ACL_ALLOW);
	teardown();
}

static void acl_unknown_user_denied_in_tree(void)
{
	if(!setup()) return;
	CHECK_EQ(RD(NULL, "chat/v1/rooms/lobby/msg/alice"), ACL_DENY);
	CHECK_EQ(WR(NULL, "chat/v1/rooms/lobby/msg/alice"), ACL_DENY);
	CHECK_EQ(SUB(NULL, "chat/v1/presence/+"), ACL_DENY);
	CHECK_EQ(SUB(NULL, "chat/v1/rooms/lobby/msg/+"), ACL_DENY);
	CHECK_EQ(acl_chat_decide(snapshot_user(snap_now, "alice"), ACL_READ, NULL, false), ACL_DENY);
	teardown();
}

static void acl_disabled_user_denied_read_write(void)
{
	if(!setup()) return;
	CHECK_EQ(RD("dis", "chat/v1/rooms/lobby/msg/alice"), ACL_DENY);
	CHECK_EQ(WR("dis", "chat/v1/rooms/lobby/msg/dis"), ACL_DENY);
	CHECK_EQ(RD("dis", "chat/v1/users/dis/inbox"), ACL_DENY);
	CHECK_EQ(RD("dis", "chat/v1/presence/bob"), ACL_DENY);
	CHECK_EQ(WR("dis", "chat/v1/users/dis/req/history"), ACL_DENY);
	CHECK_EQ(RD("dsvc", "chat/v1/sys/conn/leaf"), ACL_DENY);
	CHECK_EQ(WR("dsvc", "chat/v1/users/bob/inbox"), ACL_DENY);
	teardown();
}

/* A disabled account may not subscribe in the chat tree either, whatever
 * its role or room memberships. */
static void acl_disabled_user_denied_subscribe(void)
{
	if(!setup()) return;
	CHECK_EQ(SUB("dis", "chat/v1/rooms/lobby/msg/+"), ACL_DENY);
	CHECK_EQ(SUB("dis", "chat/v1/users/dis/inbox"), ACL_DENY);
	CHECK_EQ(SUB("dis", "chat/v1/presence/+"), ACL_DENY);
	CHECK_EQ(SUB("dsvc", "chat/v1/presence/+"), ACL_DENY);
	CHECK_EQ(SUB("dsvc", "chat/v1/#"), ACL_DENY);
	teardown();
}

/* Memberships are kept sorted by hash with interned names: many rooms in
 * any order, duplicates, and rooms of other users all come out right. */
static void snapshot_many_memberships_any_order(void)
{
	struct snapshot *snap = snapshot_new(1);
	const struct snapshot_user *user;
	char room[32];
	int rc = 0;

	if(!CHECK(snap != NULL)) return;
	rc |= snapshot_add_user(snap, "many", HASH, "user", false);
	rc |= snapshot_add_user(snap, "other", HASH, "user", false);
	for(int i = 0; i < 300; i++){
		snprintf(room, sizeof(room), "r%d", (i * 7919) % 300);
		rc |= snapshot_add_member(snap, room, "many");
		rc |= snapshot_add_member(snap, room, "many");   /* again: no effect */
	}
	rc |= snapshot_add_member(snap, "elsewhere", "other");
	CHECK_EQ(rc, 0);
	CHECK_EQ(snap->membership_count, 301);
	user = snapshot_user(snap, "many");
	for(int i = 0; i < 300; i++){
		snprintf(room, sizeof(room), "r%d", i);
		if(!CHECK(snapshot_is_member(user, room))) break;
	}
	CHECK(!snapshot_is_member(user, "r300"));
	CHECK(!snapshot_is_member(user, "elsewhere"));
	CHECK(!snapshot_is_member(user, "r1 "));
	CHECK(!snapshot_is_member(user, ""));
	CHECK(snapshot_is_member(snapshot_user(snap, "other"), "elsewhere"));
	CHECK(!snapshot_is_member(snapshot_user(snap, "other"), "r1"));
	CHECK(!snapshot_is_member(NULL, "r1"));
	snapshot_free(snap);
}

/* The users' lookup index (open addressing, snapshot.h): it grows while
 * users and memberships are added in turn, and every user is still found
 * with its own rooms; the index stays at most half full and each slot
 * points at its user's current membership block (which moved as it grew). */
static void snapshot_user_index_grows(void)
{
	struct snapshot *snap = snapshot_new(1);
	char name[NAME_USER_MAX + 1], room[32];
	unsigned long used = 0;
	int rc = 0, found = 0, own_rooms = 0;

	if(!CHECK(snap != NULL)) return;
	CHECK(snapshot_user(snap, "nobody") == NULL);   /* empty: no index yet */
	for(int i = 0; i < 5000; i++){
		snprintf(name, sizeof(name), "u%d", i);
		rc |= snapshot_add_user(snap, name, HASH, "user", false);
		for(int k = 0; k < 1 + i % 9; k++){
			snprintf(room, sizeof(room), "room%d", (i + k * 37) % 500);
			rc |= snapshot_add_member(snap, room, name);
		}
	}
	rc |= snapshot_add_user(snap, "u42", HASH, "admin", false);   /* again: replaced, not added */
	CHECK_EQ(rc, 0);
	CHECK_EQ(snap->user_count, 5000);
	for(int i = 0; i < 5000; i++){
		const struct snapshot_user *user;

		snprintf(name, sizeof(name), "u%d", i);
		user = snapshot_user(snap, name);
		found += user && !strcmp(user->name, name);
		snprintf(room, sizeof(room), "room%d", (i + (i % 9) * 37) % 500);
		own_rooms += user && (unsigned)user->room_count == (unsigned)(1 + i % 9) && snapshot_is_member(user, room)
				&& !snapshot_is_member(user, "room999");
	}
	CHECK_EQ(found, 5000);
	CHECK_EQ(own_rooms, 5000);
	CHECK_EQ(snapshot_user(snap, "u42")->role, ROLE_ADMIN);
	CHECK(snapshot_user(snap, "u5000") == NULL);
	CHECK(snapshot_user(snap, "u") == NULL);
	for(unsigned long i = 0; i <= snap->index_mask; i++){
		const struct snapshot_user_slot *slot = &snap->user_index[i];

		if(!slot->user) continue;
		used++;
		CHECK(slot->room_hashes == slot->user->room_hashes);
	}
	CHECK_EQ(used, 5000);
	CHECK(used * 2 <= snap->index_mask + 1);
	CHECK_EQ((uintptr_t)snapshot_user(snap, "u7") % 64, 0);   /* the ACL's fields: one cache line */
	snapshot_free(snap);
}

static const struct test_case cases[] = {
	TEST_ENTRY(snapshot_user_index_grows),
	TEST_ENTRY(snapshot_many_memberships_any_order),
	TEST_ENTRY(snapshot_lookup_and_membership),
	TEST_ENTRY(snapshot_add_refuses_bad_input),
	TEST_ENTRY(snapshot_add_is_idempotent),
	TEST_ENTRY(snapshot_roles),
	TEST_ENTRY(acl_health_role),
	TEST_ENTRY(acl_room_write),
	TEST_ENTRY(acl_room_read),
	TEST_ENTRY(acl_inbox_and_requests),
	TEST_ENTRY(acl_presence),
	TEST_ENTRY(acl_sys_conn),
	TEST_ENTRY(acl_typing_and_sync),
	TEST_ENTRY(topics_typing_and_sync),
	TEST_ENTRY(acl_room_meta),
	TEST_ENTRY(topics_room_meta),
	TEST_ENTRY(acl_service_may_do_anything_in_tree),
	TEST_ENTRY(acl_subscribe_rooms),
	TEST_ENTRY(acl_subscribe_users_presence_sys),
	TEST_ENTRY(acl_outside_chat_tree_defers),
	TEST_ENTRY(acl_subscribe_outside_tree_defers_any_shape),
	TEST_ENTRY(acl_unsubscribe_always_allowed),
	TEST_ENTRY(acl_unknown_user_denied_in_tree),
	TEST_ENTRY(acl_disabled_user_denied_read_write),
	TEST_ENTRY(acl_disabled_user_denied_subscribe),
};

const struct test_suite acl_suite = { "acl", cases, TEST_COUNT(cases) };
