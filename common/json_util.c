/* json_util.c: typed cJSON accessors; see json_util.h. */
#include "json_util.h"

#include <math.h>
#include <string.h>

const char *json_get_str(const cJSON *obj, const char *key, size_t max_len)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);

	if(!cJSON_IsString(item) || !item->valuestring) return NULL;
	if(strlen(item->valuestring) > max_len) return NULL;
	return item->valuestring;
}

int json_get_long(const cJSON *obj, const char *key, long def, long min, long max, long *out)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
	double value;

	if(!item){
		*out = def;
		return 0;
	}
	if(!cJSON_IsNumber(item)) return -1;
	value = item->valuedouble;
	/* Range-check as a double first: (double)LONG_MAX rounds up to 2^63, and
	 * converting a double outside long's range is undefined. */
	if(value != floor(value) || value < -9223372036854775808.0 || value >= 9223372036854775808.0) return -1;
	if((long)value < min || (long)value > max) return -1;
	*out = (long)value;
	return 0;
}

cJSON *json_parse_object(const void *payload, size_t len)
{
	const char *text = payload;
	const char *end = NULL;
	cJSON *obj = cJSON_ParseWithLengthOpts(text, len, &end, 0);

	if(!obj) return NULL;
	/* Only white space may follow the object: "{...} junk" is not JSON. */
	while(end && end < text + len && (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r')) end++;
	if(!cJSON_IsObject(obj) || !end || end != text + len){
		cJSON_Delete(obj);
		obj = NULL;
	}
	return obj;
}

char *json_print(const cJSON *obj)
{
	return cJSON_PrintUnformatted(obj);
}

cJSON *json_reply_new(const char *op, const char *req_id, bool ok)
{
	cJSON *reply = cJSON_CreateObject();

	if(!reply) return NULL;
	cJSON_AddStringToObject(reply, "type", "reply");
	if(req_id) cJSON_AddStringToObject(reply, "req_id", req_id);
	else cJSON_AddNullToObject(reply, "req_id");
	if(op) cJSON_AddStringToObject(reply, "op", op);
	else cJSON_AddNullToObject(reply, "op");
	cJSON_AddBoolToObject(reply, "ok", ok);
	return reply;
}

int json_reply_set_error(cJSON *reply, const char *code, const char *message)
{
	cJSON *error = reply ? cJSON_AddObjectToObject(reply, "error") : NULL;

	if(!error) return -1;
	if(!cJSON_AddStringToObject(error, "code", code) || !cJSON_AddStringToObject(error, "message", message)) return -1;
	return 0;
}
