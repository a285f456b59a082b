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
	if(value != floor(value) || value < (double)min || value > (double)max) return -1;
	*out = (long)value;
	return 0;
}

cJSON *json_parse_object(const void *payload, size_t len)
{
	cJSON *obj = cJSON_ParseWithLength((const char *)payload, len);

	if(obj && !cJSON_IsObject(obj)){
		cJSON_Delete(obj);
		obj = NULL;
	}
	return obj;
}

char *json_print(const cJSON *obj)
{
	return cJSON_PrintUnformatted(obj);
}
