/* fuzz_message_check.c: libFuzzer target for the check of a room message
 * (common/room_msg.c), which history-svc's intake applies before it takes
 * a message and the chat client before it shows one live. The input is a
 * message payload.
 * Invariants, under ASan and UBSan: a message taken has a valid id and a
 * body of 1-4000 bytes of UTF-8 without control characters other than \n
 * and \t; its body is exactly what a live reader's cJSON decodes from the
 * same payload (live text and archived text never differ); a refused one
 * has a code and echoes only a valid id.
 *   make fuzz            (60 s)     make test runs it for 10 s */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "json_util.h"
#include "names.h"
#include "proto.h"
#include "room_msg.h"

static const struct room_msg_limits limits = { .max_payload_bytes = PROTO_MSG_PAYLOAD_MAX, .max_body_bytes = PROTO_MSG_BODY_MAX };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct room_msg msg;
	struct room_msg_refusal why;
	cJSON *live = NULL;
	const cJSON *live_body;

	if(room_msg_check(&limits, data, size, &msg, &why)){
		if(!why.code || msg.json || msg.body) abort();
		if(why.msg_id[0] && !name_msgid_valid(why.msg_id)) abort();
		return 0;
	}
	if(!msg.msg_id || !name_msgid_valid(msg.msg_id)) abort();
	if(msg.kind != ROOM_MSG_MESSAGE){
		/* An event: no body (a reader that knows no kinds shows nothing), a ref. */
		if(msg.body || msg.ref < 1) abort();
		if(msg.kind == ROOM_MSG_EDIT && (!msg.text || msg.text_len < 1 || msg.text_len > PROTO_MSG_BODY_MAX
					|| !utf8_valid(msg.text, msg.text_len))) abort();
		if((msg.kind == ROOM_MSG_REACT || msg.kind == ROOM_MSG_UNREACT)
				&& (!msg.reaction || strlen(msg.reaction) > PROTO_REACTION_MAX)) abort();
		room_msg_free(&msg);
		return 0;
	}
	if(msg.mention_count > PROTO_MENTIONS_MAX) abort();
	if(msg.body_len < 1 || msg.body_len > PROTO_MSG_BODY_MAX || strlen(msg.body) != msg.body_len) abort();
	if(!utf8_valid(msg.body, msg.body_len)) abort();
	for(size_t i = 0; i < msg.body_len; i++){
		unsigned char c = (unsigned char)msg.body[i];
		if((c < 0x20 && c != '\n' && c != '\t') || c == 0x7F) abort();
	}
	live = json_parse_object(data, size);
	if(live){
		live_body = cJSON_GetObjectItemCaseSensitive(live, "body");
		if(!cJSON_IsString(live_body) || strcmp(live_body->valuestring, msg.body)) abort();
	}
	cJSON_Delete(live);
	room_msg_free(&msg);
	return 0;
}
