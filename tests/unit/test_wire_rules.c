/* test_wire_rules.c: reading payloads from the wire (common/json_payload.c),
 * the request envelope both services use (common/request_envelope.c) and
 * the check of a room message both ends apply (common/room_msg.c):
 * what is taken, what is refused with which code, and that what is taken
 * is exactly the text that was sent. */
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include <cJSON.h>

#include "json_payload.h"
#include "proto.h"
#include "request_envelope.h"
#include "room_msg.h"
#include "test.h"

/* A string literal and its length (without the final NUL). */
#define LIT(s) s, sizeof(s) - 1

struct fake_op {
	const char *name;
	int payload;
};

static const struct fake_op fake_ops[] = { { "history", 1 }, { "rooms", 2 } };

static int read_env(struct request_envelope *env, const char *text)
{
	return request_envelope_read(env, text, strlen(text), REQUEST_OPS(fake_ops));
}

/* The string member key of a payload read with json_payload_parse, copied
 * into out (NUL-terminated); returns its length, or -1. */
static long parsed_string(const char *text, size_t len, const char *key, char *out, size_t outlen)
{
	cJSON *obj = NULL;
	const cJSON *item;
	long n = -1;

	if(json_payload_parse(text, len, PROTO_MAX_DEPTH, &obj) != JSON_PAYLOAD_OK) goto out;
	item = cJSON_GetObjectItemCaseSensitive(obj, key);
	if(!cJSON_IsString(item)) goto out;
	n = (long)strlen(item->valuestring);
	if((size_t)n >= outlen) n = (long)outlen - 1;
	memcpy(out, item->valuestring, (size_t)n);
	out[n] = '\0';
out:
	cJSON_Delete(obj);
	return n;
}

/* text nested depth levels: {"a":[[...[1]...]]} with depth - 1 brackets. */
static char *nested(int depth)
{
	char *text = malloc((size_t)depth * 2 + 16);
	size_t at = 0;

	if(!text) return NULL;
	memcpy(text, "{\"a\":", 5);
	at = 5;
	for(int i = 1; i < depth; i++) text[at++] = '[';
	text[at++] = '1';
	for(int i = 1; i < depth; i++) text[at++] = ']';
	text[at++] = '}';
	text[at] = '\0';
	return text;
}

static void test_payload_nul_becomes_a_control_character_not_an_end(void)
{
	char s[64];
	const char raw[] = "{\"b\":\"ab\0cd\"}";

	CHECK_EQ(parsed_string(LIT("{\"b\":\"ab\\u0000cd\"}"), "b", s, sizeof(s)), 5);
	CHECK_STR(s, "ab\x01" "cd");
	CHECK_EQ(parsed_string(raw, sizeof(raw) - 1, "b", s, sizeof(s)), 5);
	CHECK_STR(s, "ab\x01" "cd");
	/* An escaped backslash before u0000 is text, not an escape. */
	CHECK_EQ(parsed_string(LIT("{\"b\":\"\\\\u0000\"}"), "b", s, sizeof(s)), 6);
	CHECK_STR(s, "\\u0000");
}

static void test_payload_lone_surrogates_become_invalid_utf8(void)
{
	char s[64];

	CHECK_EQ(parsed_string(LIT("{\"b\":\"x\\ud800y\"}"), "b", s, sizeof(s)), 5);
	CHECK_STR(s, "x\xED\xA0\x80y");
	CHECK_EQ(parsed_string(LIT("{\"b\":\"\\udc00\"}"), "b", s, sizeof(s)), 3);
	CHECK_STR(s, "\xED\xB0\x80");
	/* A high surrogate followed by a letter escape: both kept apart. */
	CHECK_EQ(parsed_string(LIT("{\"b\":\"\\ud83d\\u0041\"}"), "b", s, sizeof(s)), 4);
	CHECK_STR(s, "\xED\xA0\xBD" "A");
	/* A pair is one character. */
	CHECK_EQ(parsed_string(LIT("{\"b\":\"\\ud83d\\ude00\"}"), "b", s, sizeof(s)), 4);
	CHECK_STR(s, "\xF0\x9F\x98\x80");
}

static void test_payload_depth_limit_and_shape(void)
{
	char *ok = nested(PROTO_MAX_DEPTH);
	char *deep = nested(PROTO_MAX_DEPTH + 1);
	char *very_deep = nested(7000);
	cJSON *obj = NULL;

	if(!CHECK(ok && deep && very_deep)) goto out;
	CHECK_EQ(json_payload_parse(ok, strlen(ok), PROTO_MAX_DEPTH, &obj), JSON_PAYLOAD_OK);
	cJSON_Delete(obj);
	CHECK_EQ(json_payload_parse(deep, strlen(deep), PROTO_MAX_DEPTH, &obj), JSON_PAYLOAD_TOO_DEEP);
	CHECK(obj == NULL);
	CHECK_EQ(json_payload_parse(very_deep, strlen(very_deep), PROTO_MAX_DEPTH, &obj), JSON_PAYLOAD_TOO_DEEP);
	/* Brackets inside strings are text. */
	CHECK_EQ(json_payload_parse(LIT("{\"a\":\"[[[[[[[[[[\"}"), 2, &obj), JSON_PAYLOAD_OK);
	cJSON_Delete(obj);
	CHECK_EQ(json_payload_parse(LIT("[1]"), PROTO_MAX_DEPTH, &obj), JSON_PAYLOAD_NOT_OBJECT);
	CHECK_EQ(json_payload_parse(LIT("{} x"), PROTO_MAX_DEPTH, &obj), JSON_PAYLOAD_NOT_OBJECT);
	CHECK_EQ(json_payload_parse(LIT("{\"a\":\"\\u12\"}"), PROTO_MAX_DEPTH, &obj), JSON_PAYLOAD_NOT_OBJECT);
	/* cJSON would read "\u\udf5c" as a NUL and "5c". */
	CHECK_EQ(json_payload_parse(LIT("{\"a\":\"?\\u\\udf5c\"}"), PROTO_MAX_DEPTH, &obj), JSON_PAYLOAD_NOT_OBJECT);
	CHECK_EQ(json_payload_parse(LIT("{\"a\":\"\\uzzzz\"}"), PROTO_MAX_DEPTH, &obj), JSON_PAYLOAD_NOT_OBJECT);
	CHECK_EQ(json_payload_parse(LIT("{\"a\":1}\n"), PROTO_MAX_DEPTH, &obj), JSON_PAYLOAD_OK);
	cJSON_Delete(obj);
out:
	free(ok);
	free(deep);
	free(very_deep);
}

static void test_envelope_accepts_a_good_request(void)
{
	struct request_envelope env;

	CHECK_EQ(read_env(&env, "{\"op\":\"rooms\",\"req_id\":\"r-1\",\"x\":{\"y\":[\"\\ud800\"]}}"), 0);
	CHECK(env.code == NULL);
	CHECK_EQ(env.op_index, 1);
	CHECK_STR(env.req_id, "r-1");
	CHECK_STR(env.op, "rooms");
	request_envelope_free(&env);
}

static void test_envelope_requires_req_id_and_echoes_op(void)
{
	struct request_envelope env;

	CHECK_EQ(read_env(&env, "{\"op\":\"rooms\"}"), -1);
	CHECK_STR(env.code, PROTO_ERR_BAD_REQUEST);
	CHECK(env.req_id == NULL);
	CHECK_STR(env.op, "rooms");
	request_envelope_free(&env);
	CHECK_EQ(read_env(&env, "{\"op\":\"rooms\",\"req_id\":\"bad id!\"}"), -1);
	CHECK_STR(env.code, PROTO_ERR_BAD_REQUEST);
	CHECK(env.req_id == NULL);
	request_envelope_free(&env);
	CHECK_EQ(read_env(&env, "{\"op\":\"rooms\",\"req_id\":\"r\\u0000x\"}"), -1);
	CHECK_STR(env.code, PROTO_ERR_BAD_REQUEST);
	request_envelope_free(&env);
}

static void test_envelope_unknown_op(void)
{
	struct request_envelope env;

	CHECK_EQ(read_env(&env, "{\"op\":\"fly\",\"req_id\":\"r2\"}"), -1);
	CHECK_STR(env.code, PROTO_ERR_UNKNOWN_OP);
	CHECK_STR(env.req_id, "r2");
	CHECK_STR(env.op, "fly");
	CHECK(strstr(env.message, "history, rooms") != NULL);
	request_envelope_free(&env);
	/* An op that is not even a name is not echoed. */
	CHECK_EQ(read_env(&env, "{\"op\":\"a b\",\"req_id\":\"r3\"}"), -1);
	CHECK_STR(env.code, PROTO_ERR_UNKNOWN_OP);
	CHECK(env.op == NULL);
	request_envelope_free(&env);
	CHECK_EQ(read_env(&env, "{\"req_id\":\"r4\"}"), -1);
	CHECK_STR(env.code, PROTO_ERR_UNKNOWN_OP);
	request_envelope_free(&env);
}

static void test_envelope_too_large_echoes_when_readable(void)
{
	struct request_envelope env;
	size_t big = PROTO_REQUEST_MAX_BYTES + 100, huge = PROTO_PAYLOAD_READ_MAX + 1;
	char *text = malloc(huge + 1);
	cJSON *reply;
	char *printed;

	if(!CHECK(text)) return;
	memset(text, ' ', huge);
	memcpy(text, "{\"op\":\"history\",\"req_id\":\"big\"}", 31);
	CHECK_EQ(request_envelope_read(&env, text, big, REQUEST_OPS(fake_ops)), -1);
	CHECK_STR(env.code, PROTO_ERR_TOO_LARGE);
	CHECK_STR(env.req_id, "big");
	CHECK_STR(env.op, "history");
	reply = request_envelope_refusal(&env);
	printed = reply ? cJSON_PrintUnformatted(reply) : NULL;
	CHECK_STR(printed, "{\"type\":\"reply\",\"req_id\":\"big\",\"op\":\"history\",\"ok\":false,"
			"\"error\":{\"code\":\"too_large\",\"message\":\"requests are limited to 4096 bytes\"}}");
	cJSON_free(printed);
	cJSON_Delete(reply);
	request_envelope_free(&env);
	/* At the limit it runs. */
	CHECK_EQ(request_envelope_read(&env, text, PROTO_REQUEST_MAX_BYTES, REQUEST_OPS(fake_ops)), 0);
	request_envelope_free(&env);
	/* Over the limit and not JSON: still too large. */
	text[0] = 'x';
	CHECK_EQ(request_envelope_read(&env, text, big, REQUEST_OPS(fake_ops)), -1);
	CHECK_STR(env.code, PROTO_ERR_TOO_LARGE);
	CHECK(env.req_id == NULL && env.op == NULL);
	request_envelope_free(&env);
	text[0] = '{';
	/* Past what is read at all: nothing to echo. */
	CHECK_EQ(request_envelope_read(&env, text, huge, REQUEST_OPS(fake_ops)), -1);
	CHECK_STR(env.code, PROTO_ERR_TOO_LARGE);
	CHECK(env.req_id == NULL && env.op == NULL);
	request_envelope_free(&env);
	free(text);
}

static void test_envelope_bad_json_and_too_deep(void)
{
	struct request_envelope env;
	char *deep = nested(PROTO_MAX_DEPTH + 1);

	CHECK_EQ(read_env(&env, "{\"op\":\"rooms\",\"req_id\":\"r5\""), -1);
	CHECK_STR(env.code, PROTO_ERR_BAD_JSON);
	CHECK(env.req_id == NULL && env.op == NULL);
	request_envelope_free(&env);
	if(!CHECK(deep)) return;
	CHECK_EQ(read_env(&env, deep), -1);
	CHECK_STR(env.code, PROTO_ERR_TOO_DEEP);
	request_envelope_free(&env);
	free(deep);
}

static const struct room_msg_limits limits = { .max_payload_bytes = PROTO_MSG_PAYLOAD_MAX, .max_body_bytes = PROTO_MSG_BODY_MAX };

/* Checks text; returns the refusal code, or "" when taken (body into out). */
static const char *check_msg(const char *text, size_t len, char *body_out, size_t outlen, struct room_msg_refusal *why)
{
	struct room_msg msg;

	if(room_msg_check(&limits, text, len, &msg, why)) return why->code;
	if(body_out){
		size_t n = msg.body_len < outlen - 1 ? msg.body_len : outlen - 1;
		memcpy(body_out, msg.body, n);
		body_out[n] = '\0';
	}
	room_msg_free(&msg);
	return "";
}

#define CHECK_MSG(text, code) do{ \
	struct room_msg_refusal why_; \
	CHECK_STR(check_msg(text, strlen(text), NULL, 0, &why_), code); \
}while(0)

static void test_message_bodies_with_control_characters_are_refused(void)
{
	struct room_msg_refusal why;
	const char raw_nul[] = "{\"id\":\"m1\",\"body\":\"I agree\0 -- NOT\"}";
	const char *escaped = "{\"id\":\"n1\",\"body\":\"I agree\\u0000 -- NOT\"}";

	CHECK_STR(check_msg(escaped, strlen(escaped), NULL, 0, &why), PROTO_ERR_BAD_BODY);
	CHECK_STR(why.msg_id, "n1");
	CHECK_STR(check_msg(raw_nul, sizeof(raw_nul) - 1, NULL, 0, &why), PROTO_ERR_BAD_BODY);
	CHECK_MSG("{\"id\":\"m2\",\"body\":\"bell\\u0007\"}", PROTO_ERR_BAD_BODY);
	CHECK_MSG("{\"id\":\"m3\",\"body\":\"cr\\r\"}", PROTO_ERR_BAD_BODY);
	CHECK_MSG("{\"id\":\"m4\",\"body\":\"\\u001b[2J\"}", PROTO_ERR_BAD_BODY);
	CHECK_MSG("{\"id\":\"m5\",\"body\":\"del\\u007f\"}", PROTO_ERR_BAD_BODY);
	CHECK_MSG("{\"id\":\"m6\",\"body\":\"raw\x1f\"}", PROTO_ERR_BAD_BODY);
}

static void test_message_text_is_taken_exactly(void)
{
	struct room_msg_refusal why;
	char body[64];
	const char *text = "{\"id\":\"ok1\",\"body\":\"a\\nb\\tc \\u0085 \\u00e9 \\ud83d\\ude00\",\"extra\":[\"\\ud800\",\"\\u0000\"]}";

	CHECK_STR(check_msg(text, strlen(text), body, sizeof(body), &why), "");
	CHECK_STR(body, "a\nb\tc \xC2\x85 \xC3\xA9 \xF0\x9F\x98\x80");
}

static void test_message_other_refusals(void)
{
	struct room_msg_refusal why;
	char *deep = nested(PROTO_MAX_DEPTH + 1);
	char big[16500];

	CHECK_MSG("{\"id\":\"s1\",\"body\":\"half \\ud800\"}", PROTO_ERR_BAD_UTF8);
	CHECK_MSG("{\"id\":\"s2\",\"body\":\"\\udc00\"}", PROTO_ERR_BAD_UTF8);
	CHECK_MSG("{\"id\":\"s3\",\"body\":\"\xff\"}", PROTO_ERR_BAD_UTF8);
	CHECK_MSG("{\"id\":\"e1\",\"body\":\"\"}", PROTO_ERR_TOO_LARGE);
	CHECK_MSG("{\"id\":\"n\\u0000x\",\"body\":\"hi\"}", PROTO_ERR_BAD_MESSAGE);
	CHECK_MSG("{\"id\":\"b1\",\"body\":7}", PROTO_ERR_BAD_MESSAGE);
	CHECK_MSG("{\"body\":\"no id\"}", PROTO_ERR_BAD_MESSAGE);
	CHECK_MSG("not json", PROTO_ERR_BAD_JSON);
	CHECK_MSG("{\"id\":\"d1\",\"body\":\"shown\",\"body\":\"stored\"}", PROTO_ERR_BAD_MESSAGE);
	CHECK_MSG("{\"id\":\"d2\",\"id\":\"d3\",\"body\":\"x\"}", PROTO_ERR_BAD_MESSAGE);
	CHECK_MSG("{\"id\":\"k1\",\"body\\u0000x\":\"shown\",\"body\":\"stored\"}", PROTO_ERR_BAD_JSON);
	CHECK_MSG("{\"id\":\"k2\",\"note\":\"a\\u0000\" , \"body\":\"kept\"}", "");
	{
		/* cJSON skips any byte up to 0x20 before the colon (found by fuzzing). */
		const char lax[] = "{\"id\":\"k3\",\"body\0\"\x10\0:\"\",\"body\":\"h\"}";

		CHECK_STR(check_msg(lax, sizeof(lax) - 1, NULL, 0, &why), PROTO_ERR_BAD_JSON);
	}
	if(CHECK(deep)){
		CHECK_STR(check_msg(deep, strlen(deep), NULL, 0, &why), PROTO_ERR_TOO_DEEP);
		CHECK_STR(why.msg_id, "");
	}
	free(deep);
	memset(big, ' ', sizeof(big));
	memcpy(big, "{\"id\":\"l1\",\"body\":\"x\"}", 22);
	CHECK_STR(check_msg(big, sizeof(big), NULL, 0, &why), PROTO_ERR_TOO_LARGE);
}

static void test_message_kinds_are_read(void)
{
	struct room_msg_refusal why;
	struct room_msg msg;
	const char *reply = "{\"id\":\"r1\",\"body\":\"yes @bob\",\"reply_to\":4,\"thread\":2,\"mentions\":[\"bob\",\"carol\",\"bob\"]}";
	const char *edit = "{\"id\":\"e1\",\"kind\":\"edit\",\"ref\":7,\"text\":\"fixed\"}";
	const char *react = "{\"id\":\"x1\",\"kind\":\"react\",\"ref\":9,\"reaction\":\"\\ud83d\\udc4d\"}";
	const char *del = "{\"id\":\"d1\",\"kind\":\"delete\",\"ref\":3}";

	if(CHECK_EQ(room_msg_check(&limits, reply, strlen(reply), &msg, &why), 0)){
		CHECK_EQ(msg.kind, ROOM_MSG_MESSAGE);
		CHECK_EQ(msg.reply_to, 4);
		CHECK_EQ(msg.thread, 2);
		CHECK_EQ(msg.mention_count, 2);
		CHECK_STR(msg.mentions[1], "carol");
		room_msg_free(&msg);
	}
	if(CHECK_EQ(room_msg_check(&limits, edit, strlen(edit), &msg, &why), 0)){
		CHECK_EQ(msg.kind, ROOM_MSG_EDIT);
		CHECK_EQ(msg.ref, 7);
		CHECK_STR(msg.text, "fixed");
		CHECK(msg.body == NULL);
		CHECK_STR(room_msg_kind_name(msg.kind), "edit");
		room_msg_free(&msg);
	}
	if(CHECK_EQ(room_msg_check(&limits, react, strlen(react), &msg, &why), 0)){
		CHECK_EQ(msg.kind, ROOM_MSG_REACT);
		CHECK_STR(msg.reaction, "\xF0\x9F\x91\x8D");
		room_msg_free(&msg);
	}
	if(CHECK_EQ(room_msg_check(&limits, del, strlen(del), &msg, &why), 0)){
		CHECK_EQ(msg.kind, ROOM_MSG_DELETE);
		CHECK_EQ(msg.ref, 3);
		room_msg_free(&msg);
	}
	CHECK_MSG("{\"id\":\"m1\",\"kind\":\"message\",\"body\":\"x\"}", "");
	CHECK_MSG("{\"id\":\"u1\",\"kind\":\"unreact\",\"ref\":1,\"reaction\":\"+1\"}", "");
	CHECK_MSG("{\"id\":\"z1\",\"kind\":\"react\",\"ref\":1,\"reaction\":\"\\ud83d\\udc68\\u200d\\ud83d\\udcbb\"}", "");
}

static void test_message_kind_refusals(void)
{
	char big[4100], msg[4200];

	CHECK_MSG("{\"id\":\"k1\",\"kind\":\"poke\",\"ref\":1}", PROTO_ERR_BAD_MESSAGE);
	CHECK_MSG("{\"id\":\"k2\",\"kind\":3,\"body\":\"x\"}", PROTO_ERR_BAD_MESSAGE);
	CHECK_MSG("{\"id\":\"k3\",\"kind\":\"edit\",\"ref\":1,\"text\":\"a\",\"body\":\"a\"}", PROTO_ERR_BAD_MESSAGE);
	CHECK_MSG("{\"id\":\"k4\",\"kind\":\"edit\",\"text\":\"a\"}", PROTO_ERR_BAD_MESSAGE);
	CHECK_MSG("{\"id\":\"k5\",\"kind\":\"edit\",\"ref\":\"1\",\"text\":\"a\"}", PROTO_ERR_BAD_MESSAGE);
	CHECK_MSG("{\"id\":\"k6\",\"kind\":\"edit\",\"ref\":1.5,\"text\":\"a\"}", PROTO_ERR_BAD_MESSAGE);
	CHECK_MSG("{\"id\":\"k7\",\"kind\":\"edit\",\"ref\":0,\"text\":\"a\"}", PROTO_ERR_BAD_REF);
	CHECK_MSG("{\"id\":\"k8\",\"kind\":\"delete\",\"ref\":-4}", PROTO_ERR_BAD_REF);
	CHECK_MSG("{\"id\":\"k9\",\"kind\":\"edit\",\"ref\":1}", PROTO_ERR_BAD_MESSAGE);
	CHECK_MSG("{\"id\":\"ka\",\"kind\":\"edit\",\"ref\":1,\"text\":\"\"}", PROTO_ERR_TOO_LARGE);
	CHECK_MSG("{\"id\":\"kb\",\"kind\":\"edit\",\"ref\":1,\"text\":\"a\\u001b\"}", PROTO_ERR_BAD_BODY);
	CHECK_MSG("{\"id\":\"kc\",\"kind\":\"react\",\"ref\":1,\"reaction\":\"\"}", PROTO_ERR_BAD_REACTION);
	CHECK_MSG("{\"id\":\"kd\",\"kind\":\"react\",\"ref\":1,\"reaction\":\"a b\"}", PROTO_ERR_BAD_REACTION);
	CHECK_MSG("{\"id\":\"ke\",\"kind\":\"react\",\"ref\":1,\"reaction\":\"a\\u00a0\"}", PROTO_ERR_BAD_REACTION);
	CHECK_MSG("{\"id\":\"kf\",\"kind\":\"react\",\"ref\":1,\"reaction\":\"\\u3000\"}", PROTO_ERR_BAD_REACTION);
	CHECK_MSG("{\"id\":\"kg\",\"kind\":\"react\",\"ref\":1,\"reaction\":\"x\\u0007\"}", PROTO_ERR_BAD_REACTION);
	CHECK_MSG("{\"id\":\"kh\",\"kind\":\"react\",\"ref\":1,\"reaction\":\"123456789012345678901234567890123\"}", PROTO_ERR_TOO_LARGE);
	CHECK_MSG("{\"id\":\"ki\",\"kind\":\"react\",\"ref\":1}", PROTO_ERR_BAD_MESSAGE);
	CHECK_MSG("{\"id\":\"kj\",\"body\":\"x\",\"reply_to\":0}", PROTO_ERR_BAD_REF);
	/* Found by fuzzing: a seq past long long is no crash (UBSan), a ref. */
	CHECK_MSG("{\"id\":\"kq\",\"body\":\"x\",\"thread\":23333333333333333333333333333333333}", PROTO_ERR_BAD_REF);
	CHECK_MSG("{\"id\":\"kr\",\"kind\":\"delete\",\"ref\":1e999}", PROTO_ERR_BAD_MESSAGE);
	CHECK_MSG("{\"id\":\"ks\",\"kind\":\"delete\",\"ref\":9007199254740992}", PROTO_ERR_BAD_REF);
	CHECK_MSG("{\"id\":\"kk\",\"body\":\"x\",\"thread\":null}", PROTO_ERR_BAD_MESSAGE);
	CHECK_MSG("{\"id\":\"kl\",\"body\":\"x\",\"mentions\":\"bob\"}", PROTO_ERR_BAD_MESSAGE);
	CHECK_MSG("{\"id\":\"km\",\"body\":\"x\",\"mentions\":[\"no/such\"]}", PROTO_ERR_BAD_MESSAGE);
	CHECK_MSG("{\"id\":\"kn\",\"body\":\"x\",\"mentions\":[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\",\"i\",\"j\","
			"\"k\",\"l\",\"m\",\"n\",\"o\",\"p\",\"q\",\"r\",\"s\",\"t\",\"u\"]}", PROTO_ERR_TOO_LARGE);
	CHECK_MSG("{\"id\":\"ko\",\"kind\":\"edit\",\"ref\":1,\"ref\":2,\"text\":\"a\"}", PROTO_ERR_BAD_MESSAGE);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	snprintf(msg, sizeof(msg), "{\"id\":\"kp\",\"kind\":\"edit\",\"ref\":1,\"text\":\"%s\"}", big);
	CHECK_MSG(msg, PROTO_ERR_TOO_LARGE);
}

static const struct test_case cases[] = {
	TEST_ENTRY(test_payload_nul_becomes_a_control_character_not_an_end),
	TEST_ENTRY(test_payload_lone_surrogates_become_invalid_utf8),
	TEST_ENTRY(test_payload_depth_limit_and_shape),
	TEST_ENTRY(test_envelope_accepts_a_good_request),
	TEST_ENTRY(test_envelope_requires_req_id_and_echoes_op),
	TEST_ENTRY(test_envelope_unknown_op),
	TEST_ENTRY(test_envelope_too_large_echoes_when_readable),
	TEST_ENTRY(test_envelope_bad_json_and_too_deep),
	TEST_ENTRY(test_message_bodies_with_control_characters_are_refused),
	TEST_ENTRY(test_message_text_is_taken_exactly),
	TEST_ENTRY(test_message_other_refusals),
	TEST_ENTRY(test_message_kinds_are_read),
	TEST_ENTRY(test_message_kind_refusals),
};

const struct test_suite wire_rules_suite = { "wire_rules", cases, TEST_COUNT(cases) };
