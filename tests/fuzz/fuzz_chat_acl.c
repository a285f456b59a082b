/* fuzz_chat_acl.c: libFuzzer target for the chat rules of
 * auth-plugin/acl.c (acl_chat_decide) on a fixed snapshot: alice is a
 * member of "lobby", bob of nothing, disabled dave of "lobby", svc a
 * service. The first input byte picks the user, the access and the retain
 * flag; the rest is the topic. Besides surviving ASan and UBSan, each
 * answer must keep the rules a user would check:
 *  - a disabled or unknown client is never allowed in chat/v1;
 *  - nobody but a privileged role writes a room message as someone else,
 *    writes a retained message in the chat tree, writes on a room's meta
 *    topic, or reads a room (messages or meta) it is not a member of;
 *  - the service is allowed everything.
 *   make fuzz  (both targets)      make test runs each for 10 s */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../auth-plugin/acl.h"
#include "../../auth-plugin/snapshot.h"
#include "topics.h"

static struct snapshot *snap;

static struct snapshot *fixture(void)
{
	if(snap) return snap;
	snap = snapshot_new(1);
	if(!snap) abort();
	if(snapshot_add_user(snap, "alice", "x", "user", false) || snapshot_add_user(snap, "bob", "x", "user", false)
			|| snapshot_add_user(snap, "dave", "x", "user", true)
			|| snapshot_add_user(snap, "svc", "x", "service", false)
			|| snapshot_add_member(snap, "lobby", "alice") || snapshot_add_member(snap, "lobby", "dave")){
		abort();
	}
	return snap;
}

/* The room and sender of a concrete topic chat/v1/rooms/ROOM/msg/SENDER,
 * written into room and sender; false for any other topic. */
static bool room_message(const char *topic, char *room, char *sender, size_t len)
{
	const char *prefix = "chat/v1/rooms/";
	const char *r = topic + strlen(prefix), *slash, *s;

	if(strncmp(topic, prefix, strlen(prefix))) return false;
	slash = strchr(r, '/');
	if(!slash || (size_t)(slash - r) >= len || strncmp(slash, "/msg/", 5)) return false;
	s = slash + 5;
	if(strchr(s, '/') || strlen(s) >= len || strpbrk(topic, "+#")) return false;
	memcpy(room, r, (size_t)(slash - r));
	room[slash - r] = '\0';
	strcpy(sender, s);
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const names[] = { "alice", "bob", "dave", "svc", "nobody" };
	static const int accesses[] = { ACL_READ, ACL_WRITE, ACL_SUBSCRIBE, ACL_UNSUBSCRIBE };
	const struct snapshot_user *user;
	const char *name;
	char *topic, room[256], sender[256];
	enum acl_answer answer;
	bool in_chat, retain;
	int access;

	if(size < 1) return 0;
	name = names[data[0] % 5];
	access = accesses[(data[0] / 5) % 4];
	retain = (data[0] / 20) % 2;
	user = snapshot_user(fixture(), name);
	topic = malloc(size);
	if(!topic) return 0;
	memcpy(topic, data + 1, size - 1);
	topic[size - 1] = '\0';
	answer = acl_chat_decide(user, access, topic, retain);
	if(answer != ACL_ALLOW && answer != ACL_DENY && answer != ACL_DEFER) abort();
	in_chat = !strncmp(topic, "chat/v1/", 8);
	if(!strcmp(name, "svc")){
		if(answer != ACL_ALLOW) abort();
	}else if(access != ACL_UNSUBSCRIBE && in_chat && answer == ACL_ALLOW){
		if(!user || !strcmp(name, "dave")) abort();
		if(access == ACL_WRITE && retain) abort();
		struct topic_parts parts;

		if(topic_parse(topic, &parts) == TOPIC_ROOM_META){
			if(access == ACL_WRITE) abort();
			if(access == ACL_READ && !snapshot_is_member(user, parts.room)) abort();
		}
		if(room_message(topic, room, sender, sizeof(room))){
			if(access == ACL_WRITE && strcmp(sender, name)) abort();
			if(access == ACL_READ && !snapshot_is_member(user, room)) abort();
		}
	}
	free(topic);
	return 0;
}
