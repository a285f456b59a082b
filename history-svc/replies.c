/* replies.c: request replies; see replies.h. */
#include "replies.h"

#include "history_metrics.h"
#include "json_util.h"
#include "log.h"
#include "outbox.h"

cJSON *reply_new(const char *op, const char *req_id, int ok)
{
	return json_reply_new(op, req_id, ok != 0);
}

void reply_error(struct history_svc *svc, const char *user, const char *op,
		const char *req_id, const char *code, const char *message)
{
	cJSON *reply = json_reply_new(op, req_id, false);

	svc->counters.request_errors++;
	history_metrics_request_error(svc->metrics, code);
	log_info("request %s from %s refused: %s (%s)", op ? op : "?", user, code, message);
	if(!reply) return;
	json_reply_set_error(reply, code, message);
	outbox_send(svc, user, reply);
	cJSON_Delete(reply);
}

int reply_list(struct history_svc *svc, const char *user, const char *op, const char *req_id,
		const char *key, const char *sql, const struct db_param *params, int nparams, db_row_fn row_fn)
{
	cJSON *reply = reply_new(op, req_id, 1);
	cJSON *items;
	int rc = -1;

	if(!reply) goto out;
	items = cJSON_AddArrayToObject(reply, key);
	if(!items) goto out;
	if(db_exec(svc->db, sql, params, nparams, row_fn, items, NULL, NULL) != DB_OK) goto out;
	outbox_send(svc, user, reply);
	rc = 0;
out:
	cJSON_Delete(reply);
	return rc;
}
