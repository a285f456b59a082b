/* plugin_opts.c: reading plugin_opt_* options; see plugin_opts.h. */
#include "plugin_opts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "names.h"

static int read_long(struct mosquitto_opt *opts, int opt_count, const char *key, long def,
		long min, long max, long *out, char *err, size_t errlen)
{
	const char *text = backend_opt(opts, opt_count, key);
	char *end = NULL;

	*out = def;
	if(!text) return 0;
	*out = strtol(text, &end, 10);
	if(!end || end == text || *end || *out < min || *out > max){
		snprintf(err, errlen, "plugin_opt_%s must be a whole number from %ld to %ld", key, min, max);
		return -1;
	}
	return 0;
}

int plugin_opts_read(struct mosquitto_opt *opts, int opt_count, struct plugin_opts *out,
		char *names_buf, size_t names_len, char *err, size_t errlen)
{
	static const char *const required[] = { "node", "db_user", "db_name" };
	const char *backends;
	char *save = NULL;
	long port;
	long max_users;

	memset(out, 0, sizeof(*out));
	for(size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++){
		if(!backend_opt(opts, opt_count, required[i])){
			snprintf(err, errlen, "required option plugin_opt_%s is missing", required[i]);
			return -1;
		}
	}
	out->node = backend_opt(opts, opt_count, "node");
	if(!name_node_valid(out->node)){
		snprintf(err, errlen, "plugin_opt_node \"%s\" must be 1-32 of a-z, 0-9, '_', '-'", out->node);
		return -1;
	}
	out->db.hosts = backend_opt(opts, opt_count, "db_hosts");
	out->db.host = backend_opt(opts, opt_count, "db_host");
	out->db.socket = backend_opt(opts, opt_count, "db_socket");
	out->db.user = backend_opt(opts, opt_count, "db_user");
	out->db.password = backend_opt(opts, opt_count, "db_password");
	out->db.name = backend_opt(opts, opt_count, "db_name");
	if(!out->db.hosts && !out->db.host && !out->db.socket){
		snprintf(err, errlen, "set plugin_opt_db_hosts, plugin_opt_db_host (with plugin_opt_db_port) or plugin_opt_db_socket");
		return -1;
	}
	if(read_long(opts, opt_count, "db_port", 3306, 1, 65535, &port, err, errlen)) return -1;
	out->db.port = (unsigned int)port;
	if(read_long(opts, opt_count, "refresh_ms", 500, 50, 60000, &out->refresh_ms, err, errlen)
			|| read_long(opts, opt_count, "cache_ttl_s", 300, 0, 86400, &out->cache_ttl_s, err, errlen)
			|| read_long(opts, opt_count, "cache_max", 100000, 1, 10000000, &out->cache_max, err, errlen)
			|| read_long(opts, opt_count, "flood_user_threshold", 5, 1, 1000000, &out->flood.user_threshold, err, errlen)
			|| read_long(opts, opt_count, "flood_address_threshold", 50, 1, 1000000, &out->flood.address_threshold, err, errlen)
			|| read_long(opts, opt_count, "flood_delay_s", 1, 1, 3600, &out->flood.base_delay_s, err, errlen)
			|| read_long(opts, opt_count, "flood_lockout_s", 300, 1, 86400, &out->flood.lockout_s, err, errlen)
			|| read_long(opts, opt_count, "flood_window_s", 600, 1, 86400, &out->flood.window_s, err, errlen)
			|| read_long(opts, opt_count, "flood_slow_interval_ms", 2000, 0, 3600000, &out->flood.slow_interval_ms, err, errlen)
			|| read_long(opts, opt_count, "flood_verify_budget", 3, 1, 1000000, &out->flood.verify_budget, err, errlen)
			|| read_long(opts, opt_count, "flood_verify_window_ms", 1000, 100, 3600000, &out->flood.verify_window_ms, err, errlen)
			|| read_long(opts, opt_count, "clientid_hold_s", 30L * 86400, 0, 3650L * 86400, &out->clientid_hold_s, err, errlen)
			|| read_long(opts, opt_count, "clientid_max_idle", 100000, 1, 100000000, &out->clientid_max_idle, err, errlen)
			|| read_long(opts, opt_count, "clientid_per_user", 100, 1, 1000000, &out->clientid_per_user, err, errlen)
			|| read_long(opts, opt_count, "metrics_port", 0, 0, 65535, &out->metrics_port, err, errlen)){
		return -1;
	}
	/* Send rates: far above what a person typing (or a client catching up
	 * after a reconnect) does, far below what floods a room or the bridge. */
	if(read_long(opts, opt_count, "send_rate", 20, 0, 1000000, &out->send_rate.rate[SEND_ROOM_MSG], err, errlen)
			|| read_long(opts, opt_count, "send_burst", 60, 1, 10000000, &out->send_rate.burst[SEND_ROOM_MSG], err, errlen)
			|| read_long(opts, opt_count, "request_rate", 50, 0, 1000000, &out->send_rate.rate[SEND_REQUEST], err, errlen)
			|| read_long(opts, opt_count, "request_burst", 300, 1, 10000000, &out->send_rate.burst[SEND_REQUEST], err, errlen)
			|| read_long(opts, opt_count, "send_rate_users", 100000, 1, 100000000, &max_users, err, errlen)){
		return -1;
	}
	out->send_rate.max_users = (size_t)max_users;
	/* Slowing starts before locking, but not at the first failure: a typo
	 * and the client retrying it once by itself must not slow the name, and
	 * several people behind one NAT may mistype. The address default
	 * follows its threshold, so a node whose address limit was switched off
	 * (behind HAProxy every client has the proxy's address) does not slow
	 * that address either. */
	if(read_long(opts, opt_count, "flood_user_slow_after", out->flood.user_threshold < 3 ? out->flood.user_threshold : 3,
				1, 1000000, &out->flood.user_slow_after, err, errlen)
			|| read_long(opts, opt_count, "flood_address_slow_after",
				out->flood.address_threshold / 2 > 1 ? out->flood.address_threshold / 2 : 1,
				1, 1000000, &out->flood.address_slow_after, err, errlen)){
		return -1;
	}
	out->flood.max_entries = 100000;
	out->acl_file = backend_opt(opts, opt_count, "acl_file");
	out->clientid_file = backend_opt(opts, opt_count, "clientid_file");
	out->metrics_bind = backend_opt(opts, opt_count, "metrics_bind");

	backends = backend_opt(opts, opt_count, "backends");
	snprintf(names_buf, names_len, "%s", backends ? backends : "mariadb");
	for(char *name = strtok_r(names_buf, " ,", &save); name; name = strtok_r(NULL, " ,", &save)){
		if(!backend_find(name)){
			snprintf(err, errlen, "plugin_opt_backends names an unknown back-end \"%s\" (known: mariadb, file, http)", name);
			return -1;
		}
		if(out->backend_count == PLUGIN_MAX_BACKENDS){
			snprintf(err, errlen, "plugin_opt_backends lists more than %d back-ends", PLUGIN_MAX_BACKENDS);
			return -1;
		}
		out->backend_names[out->backend_count++] = name;
	}
	if(out->backend_count == 0){
		snprintf(err, errlen, "plugin_opt_backends is empty");
		return -1;
	}
	return 0;
}
