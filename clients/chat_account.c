/* chat_account.c: the kept login token of chat; see chat_account.h. */
#include "chat_account.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cJSON.h>
#include <mosquitto.h>
#include <openssl/crypto.h>

#include "clock.h"
#include "json_util.h"
#include "random_id.h"
#include "token.h"
#include "topics.h"

#define PATH_MAX_LEN 1024

/* A short blocking MQTT connection for one request. */
struct account_conn {
	struct mosquitto *mosq;
	int connack;          /* -1 until the CONNACK (or the connection's end) */
	bool subscribed;
	char req_id[33];
	cJSON *reply;         /* the reply to req_id, once here */
	bool inited;          /* mosquitto_lib_init was called */
};

/* The kept token's file: $XDG_CONFIG_HOME/chat/token-USER@HOST:PORT, else
 * $HOME/.config/chat/...; with mkdirs, the directories are made (0700).
 * Returns 0, or -1 when there is no home to keep it in. */
static int token_path(const struct chat_opts *opts, char *path, size_t len, bool mkdirs)
{
	const char *xdg = getenv("XDG_CONFIG_HOME");
	const char *home = getenv("HOME");
	char dir[PATH_MAX_LEN];
	int n;

	if(xdg && *xdg == '/') n = snprintf(dir, sizeof(dir), "%s", xdg);
	else if(home && *home) n = snprintf(dir, sizeof(dir), "%s/.config", home);
	else return -1;
	if(n < 0 || (size_t)n >= sizeof(dir)) return -1;
	if(mkdirs && mkdir(dir, 0700) && errno != EEXIST) return -1;
	if(strlen(dir) + 6 >= sizeof(dir)) return -1;
	strcat(dir, "/chat");
	if(mkdirs && mkdir(dir, 0700) && errno != EEXIST) return -1;
	n = snprintf(path, len, "%s/token-%s@%s:%d", dir, opts->user, opts->host, opts->port);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* Reads the kept token into buf. Returns 0, or -1 when there is none or it
 * is not a private file holding one token (then it is not used). */
static int token_read(const char *path, char *buf, size_t len)
{
	struct stat st;
	FILE *fp = NULL;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	int rc = -1;

	if(fd < 0) goto out;
	if(fstat(fd, &st) || !S_ISREG(st.st_mode) || (st.st_mode & 077) || st.st_uid != geteuid()){
		fprintf(stderr, "chat: %s is not a private file (mode 0600, yours): not used\n", path);
		goto out;
	}
	fp = fdopen(fd, "r");
	if(!fp) goto out;
	fd = -1;
	if(!fgets(buf, (int)len, fp)) goto out;
	buf[strcspn(buf, "\r\n")] = '\0';
	if(!token_is_token(buf) || strlen(buf) != TOKEN_LEN) goto out;
	rc = 0;
out:
	if(fp) fclose(fp);
	if(fd >= 0) close(fd);
	return rc;
}

/* Writes token to path, mode 0600, through a temporary file renamed over
 * it. Returns 0, or -1 after a message. */
static int token_write(const char *path, const char *token)
{
	char tmp[PATH_MAX_LEN + 8];
	int fd = -1;
	int rc = -1;

	snprintf(tmp, sizeof(tmp), "%s.new", path);
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if(fd < 0 || fchmod(fd, 0600) || write(fd, token, strlen(token)) != (ssize_t)strlen(token)
			|| write(fd, "\n", 1) != 1 || fsync(fd)){
		fprintf(stderr, "chat: cannot keep the token in %s: %s\n", path, strerror(errno));
		goto out;
	}
	if(close(fd)){
		fd = -1;
		goto out;
	}
	fd = -1;
	if(rename(tmp, path)){
		fprintf(stderr, "chat: cannot keep the token in %s: %s\n", path, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if(fd >= 0) close(fd);
	if(rc) unlink(tmp);
	return rc;
}

static void on_connect(struct mosquitto *mosq, void *ud, int rc)
{
	(void)mosq;
	((struct account_conn *)ud)->connack = rc;
}

static void on_disconnect(struct mosquitto *mosq, void *ud, int rc)
{
	struct account_conn *c = ud;

	(void)mosq;
	(void)rc;
	if(c->connack < 0) c->connack = 256; /* closed without a CONNACK */
}

static void on_subscribe(struct mosquitto *mosq, void *ud, int mid, int n, const int *granted)
{
	(void)mosq;
	(void)mid;
	((struct account_conn *)ud)->subscribed = n == 1 && granted[0] <= 2;
}

static void on_message(struct mosquitto *mosq, void *ud, const struct mosquitto_message *msg)
{
	struct account_conn *c = ud;
	cJSON *obj;
	const char *rid;

	(void)mosq;
	if(c->reply) return;
	obj = json_parse_object(msg->payload, (size_t)msg->payloadlen);
	rid = json_get_str(obj, "req_id", 64);
	if(rid && !strcmp(rid, c->req_id)) c->reply = obj;
	else cJSON_Delete(obj);
}

/* Runs the connection's loop until done(c) or the wait is over; returns 0
 * when done. */
static int wait_until(struct account_conn *c, bool (*done)(const struct account_conn *c))
{
	long long deadline = clock_mono_ms() + ACCOUNT_WAIT_MS;

	while(!done(c)){
		if(clock_mono_ms() >= deadline) return -1;
		if(mosquitto_loop(c->mosq, 100, 1) != MOSQ_ERR_SUCCESS && !done(c)) return -1;
	}
	return 0;
}

static bool got_connack(const struct account_conn *c)
{
	return c->connack >= 0;
}

static bool got_suback(const struct account_conn *c)
{
	return c->subscribed;
}

static bool got_reply(const struct account_conn *c)
{
	return c->reply != NULL;
}

/* Connects as opts->user with secret. Returns 0 when logged in, 1 when the
 * broker refused the login with a CONNACK (not authorised), -1 when it
 * could not be checked (no answer, no connection). */
static int conn_open(struct account_conn *c, const struct chat_opts *opts, const char *secret)
{
	char client_id[64];
	char hex[17];

	memset(c, 0, sizeof(*c));
	c->connack = -1;
	c->inited = true;
	mosquitto_lib_init();
	if(random_hex(hex, sizeof(hex), 8)) return -1;
	snprintf(client_id, sizeof(client_id), "chat-%s-login-%s", opts->user, hex);
	c->mosq = mosquitto_new(client_id, true, c);
	if(!c->mosq) return -1;
	mosquitto_connect_callback_set(c->mosq, on_connect);
	mosquitto_disconnect_callback_set(c->mosq, on_disconnect);
	mosquitto_subscribe_callback_set(c->mosq, on_subscribe);
	mosquitto_message_callback_set(c->mosq, on_message);
	if(mosquitto_username_pw_set(c->mosq, opts->user, secret)) return -1;
	if(opts->cafile && mosquitto_tls_set(c->mosq, opts->cafile, NULL, NULL, NULL, NULL)) return -1;
	if(mosquitto_connect(c->mosq, opts->host, opts->port, 30) != MOSQ_ERR_SUCCESS) return -1;
	if(wait_until(c, got_connack)) return -1;
	if(c->connack == 0) return 0;
	return c->connack == 5 || c->connack == 0x87 ? 1 : -1;
}

static void conn_close(struct account_conn *c)
{
	if(c->mosq){
		if(c->connack == 0){
			mosquitto_disconnect(c->mosq);
			mosquitto_loop(c->mosq, 100, 1);
		}
		mosquitto_destroy(c->mosq);
	}
	cJSON_Delete(c->reply);
	if(c->inited) mosquitto_lib_cleanup();
	memset(c, 0, sizeof(*c));
}

/* Sends req (its req_id is added here) to history-svc and waits for the
 * reply (in c->reply). Returns 0, or -1 when none came. */
static int conn_request(struct account_conn *c, const char *user, cJSON *req)
{
	char topic[TOPIC_MAX + 1];
	char *text = NULL;
	int rc = -1;

	if(random_hex(c->req_id, sizeof(c->req_id), 16) || topic_user_inbox(topic, sizeof(topic), user)) goto out;
	if(mosquitto_subscribe(c->mosq, NULL, topic, 1) || wait_until(c, got_suback)) goto out;
	if(!cJSON_AddStringToObject(req, "req_id", c->req_id) || !(text = cJSON_PrintUnformatted(req))) goto out;
	if(topic_user_req(topic, sizeof(topic), user, "history")) goto out;
	if(mosquitto_publish(c->mosq, NULL, topic, (int)strlen(text), text, 1, false)) goto out;
	rc = wait_until(c, got_reply);
out:
	if(text) cJSON_free(text);
	return rc;
}

static bool reply_ok(const cJSON *reply)
{
	return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(reply, "ok"));
}

/* Logged in with password: asks for a token labelled after this machine,
 * keeps it at path and copies it into secret. Returns 0, or -1 (then
 * secret still holds the password). */
static int fetch_token(const struct chat_opts *opts, const char *path, char *secret, size_t len)
{
	struct account_conn c = { .mosq = NULL };
	cJSON *req = cJSON_CreateObject();
	char label[TOKEN_LABEL_MAX + 1];
	char host[48] = "";
	const char *token;
	int rc = -1;

	if(!req || conn_open(&c, opts, secret) != 0) goto out;
	gethostname(host, sizeof(host) - 1);
	snprintf(label, sizeof(label), "chat on %s", host[0] ? host : "a terminal");
	if(!cJSON_AddStringToObject(req, "op", "token") || !cJSON_AddStringToObject(req, "label", label)) goto out;
	if(conn_request(&c, opts->user, req)) goto out;
	token = json_get_str(c.reply, "token", TOKEN_LEN);
	if(!reply_ok(c.reply) || !token || !token_is_token(token) || strlen(token) >= len) goto out;
	if(token_write(path, token)) goto out;
	memcpy(secret, token, strlen(token) + 1);
	rc = 0;
out:
	conn_close(&c);
	cJSON_Delete(req);
	if(rc) fprintf(stderr, "chat: no token kept this time (logged in with the password)\n");
	return rc;
}

int chat_account_login_secret(const struct chat_opts *opts, char *secret, size_t len)
{
	const char *env = getenv("CHAT_PASSWORD");
	bool given = (env && *env) || opts->password_file;
	char path[PATH_MAX_LEN];
	struct account_conn c;
	int have_path = token_path(opts, path, sizeof(path), false) == 0;
	int checked;

	memset(secret, 0, len);
	if(have_path && (!given || opts->keep_token) && token_read(path, secret, len) == 0){
		checked = conn_open(&c, opts, secret);
		conn_close(&c);
		if(checked != 1) return 0; /* taken, or to be retried by the session */
		fprintf(stderr, "chat: the kept token was refused (revoked or expired); deleting it\n");
		unlink(path);
		OPENSSL_cleanse(secret, len);
	}
	if(chat_args_password(opts, secret, len)) return -1;
	if((!given || opts->keep_token) && token_path(opts, path, sizeof(path), true) == 0){
		fetch_token(opts, path, secret, len);
	}
	return 0;
}

int chat_account_logout(const struct chat_opts *opts)
{
	char path[PATH_MAX_LEN];
	char token[TOKEN_LEN + 2];
	char id[TOKEN_ID_LEN + 1];
	struct account_conn c = { .mosq = NULL };
	cJSON *req = NULL;
	const cJSON *err;
	const char *code;
	bool revoked = false;
	int rc = 1;
	int checked;

	if(token_path(opts, path, sizeof(path), false) || token_read(path, token, sizeof(token))){
		printf("chat: no kept token for %s@%s:%d\n", opts->user, opts->host, opts->port);
		rc = 0;
		goto out;
	}
	memcpy(id, token + TOKEN_PREFIX_LEN, TOKEN_ID_LEN);
	id[TOKEN_ID_LEN] = '\0';
	checked = conn_open(&c, opts, token);
	if(checked == 1){
		/* Already refused: nothing left to revoke. */
		rc = unlink(path) ? 1 : 0;
		printf("chat: the kept token was no longer valid; deleted %s\n", path);
		goto out;
	}
	req = cJSON_CreateObject();
	if(checked != 0 || !req || !cJSON_AddStringToObject(req, "op", "revoke_token")
			|| !cJSON_AddStringToObject(req, "id", id)){
		fprintf(stderr, "chat: could not reach the chat service to revoke the token; kept %s (try again)\n", path);
		goto out;
	}
	/* The brokers close this very connection when they drop the token,
	 * which may come before the reply: then a login with it tells. */
	if(conn_request(&c, opts->user, req) == 0){
		err = cJSON_GetObjectItemCaseSensitive(c.reply, "error");
		code = json_get_str(err, "code", 32);
		revoked = reply_ok(c.reply) || (code && !strcmp(code, "not_found"));
	}else{
		conn_close(&c);
		revoked = conn_open(&c, opts, token) == 1;
	}
	if(!revoked){
		fprintf(stderr, "chat: the token was not revoked; kept %s (try again)\n", path);
		goto out;
	}
	if(unlink(path)){
		fprintf(stderr, "chat: cannot delete %s: %s\n", path, strerror(errno));
		goto out;
	}
	printf("chat: logged out: token %s revoked, %s deleted\n", id, path);
	rc = 0;
out:
	conn_close(&c);
	cJSON_Delete(req);
	OPENSSL_cleanse(token, sizeof(token));
	return rc;
}
