/* fuzz_message_check.c: libFuzzer target for history-svc's check of a
 * room message (history-svc/intake_check.c), the function the intake
 * calls before it takes a message. The input is a message payload.
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

#include "../../history-svc/intake_check.h"
#include "json_util.h"
#include "names.h"

static const struct intake_limits limits = { .max_payload_bytes = 16384, .max_body_bytes = 4000 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct checked_msg msg;
	struct intake_refusal why;
	cJSON *live = NULL;
	const cJSON *live_body;

	if(intake_check(&limits, data, size, &msg, &why)){
		if(!why.code || msg.json || msg.body) abort();
		if(why.msg_id[0] && !name_msgid_valid(why.msg_id)) abort();
		return 0;
	}
	if(!msg.msg_id || !name_msgid_valid(msg.msg_id)) abort();
	if(msg.body_len < 1 || msg.body_len > 4000 || strlen(msg.body) != msg.body_len) abort();
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
	intake_checked_free(&msg);
	return 0;
}
