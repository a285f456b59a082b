/* chatctl.c: administration of users, rooms and memberships in MariaDB.
 * Run `chatctl --help` for the commands. Passwords are read from the
 * terminal (asked twice) or, when stdin is not a terminal, as the first line
 * of stdin; never from the command line. FILE holds the db_* settings
 * (docs/ADMIN.md). Every change reaches the auth plugin on every broker node
 * within its refresh interval (database triggers bump auth_version).
 * Exit status: 0 done, 1 failed, 2 usage. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "chatctl.h"
#include "config.h"
#include "db.h"
#include "names.h"
#include "password_input.h"
#include "pwhash.h"
#include "token.h"

#define PASSWORD_MAX 256

struct command {
	const char *group;
	const char *verb;
	int nargs;
	const char *usage;
	int (*run)(struct db *db, char **args, const struct options *opts);
};

int chatctl_report(struct db *db, int result, const char *what)
{
	if(result == DB_OK) return 0;
	if(result == DB_DUPLICATE) fprintf(stderr, "chatctl: %s: already exists\n", what);
	else fprintf(stderr, "chatctl: %s: %s\n", what, db_error(db));
	return 1;
}

static int check_user_name(const char *name)
{
	if(name_user_valid(name)) return 0;
	fprintf(stderr, "chatctl: user name \"%s\" must be 1-32 of A-Z a-z 0-9 _ . - starting with a letter or digit\n", name);
	return 2;
}

static int check_room_name(const char *name)
{
	if(name_room_valid(name)) return 0;
	fprintf(stderr, "chatctl: room name \"%s\" must be 1-64 of a-z 0-9 _ - starting with a letter or digit\n", name);
	return 2;
}

static int read_new_password(char *buf, size_t len)
{
	char again[PASSWORD_MAX];
	int rc = -1;

	if(!isatty(STDIN_FILENO)){
		if(password_read_line(stdin, buf, len)){
			fprintf(stderr, "chatctl: expected the password as the first line of stdin (1-%zu bytes)\n", len - 2);
			goto out;
		}
		rc = 0;
		goto out;
	}
	if(password_prompt_tty("New password: ", buf, len) || password_prompt_tty("Again: ", again, sizeof(again))){
		fprintf(stderr, "chatctl: no password given\n");
		goto out;
	}
	if(strcmp(buf, again)){
		fprintf(stderr, "chatctl: the two passwords differ\n");
		goto out;
	}
	rc = 0;
out:
	OPENSSL_cleanse(again, sizeof(again));
	return rc;
}

static int hash_new_password(const struct options *opts, char *hash, size_t hash_len)
{
	char password[PASSWORD_MAX];
	int rc = 1;

	if(read_new_password(password, sizeof(password))) goto out;
	if(token_is_token(password)){
		fprintf(stderr, "chatctl: a password may not start with \"%s\" (the token prefix)\n", TOKEN_PREFIX);
		goto out;
	}
	if(pwhash_create(password, opts->iterations, hash, hash_len)){
		fprintf(stderr, "chatctl: hashing failed\n");
		goto out;
	}
	rc = 0;
out:
	OPENSSL_cleanse(password, sizeof(password));
	return rc;
}

/* Runs an UPDATE/DELETE that must touch one row; says what when none. */
static int change_one(struct db *db, const char *sql, struct db_param *params, int n,
		const char *what, const char *none)
{
	unsigned long long affected = 0;
	int rc = chatctl_report(db, db_exec(db, sql, params, n, NULL, NULL, &affected, NULL), what);

	if(rc == 0 && affected == 0){
		fprintf(stderr, "chatctl: %s\n", none);
		return 1;
	}
	return rc;
}

static int user_add(struct db *db, char **args, const struct options *opts)
{
	char hash[PWHASH_MAX_LEN];
	struct db_param params[3];
	int rc;

	if((rc = check_user_name(args[0]))) return rc;
	if(hash_new_password(opts, hash, sizeof(hash))) return 1;
	params[0] = DB_STR(args[0]);
	params[1] = DB_STR(hash);
	params[2] = DB_STR(opts->role);
	rc = chatctl_report(db, db_exec(db, "INSERT INTO users (username, pw_hash, role) VALUES (?, ?, ?)",
				params, 3, NULL, NULL, NULL, NULL), args[0]);
	if(rc == 0) printf("added %s %s\n", opts->role, args[0]);
	return rc;
}

static int user_passwd(struct db *db, char **args, const struct options *opts)
{
	char hash[PWHASH_MAX_LEN];
	struct db_param params[2];
	int rc;

	if((rc = check_user_name(args[0]))) return rc;
	if(hash_new_password(opts, hash, sizeof(hash))) return 1;
	params[0] = DB_STR(hash);
	params[1] = DB_STR(args[0]);
	rc = change_one(db, "UPDATE users SET pw_hash = ? WHERE username = ?", params, 2, args[0], "no such user");
	if(rc == 0) printf("password set for %s\n", args[0]);
	return rc;
}

static int set_disabled(struct db *db, const char *name, int disabled)
{
	struct db_param params[2] = { DB_I64(disabled), DB_STR(name) };
	int rc = change_one(db, "UPDATE users SET disabled = ? WHERE username = ?", params, 2, name,
			disabled ? "no such user, or already disabled" : "no such user, or already enabled");

	if(rc == 0) printf("%s %s\n", disabled ? "disabled" : "enabled", name);
	return rc;
}

static int user_disable(struct db *db, char **args, const struct options *opts)
{
	(void)opts;
	return set_disabled(db, args[0], 1);
}

static int user_enable(struct db *db, char **args, const struct options *opts)
{
	(void)opts;
	return set_disabled(db, args[0], 0);
}

static int count_row(void *ud, int ncols, char **cols, unsigned long *lens)
{
	(void)lens;
	if(ncols >= 1 && cols[0]) *(long long *)ud = atoll(cols[0]);
	return 1;
}

static int user_delete(struct db *db, char **args, const struct options *opts)
{
	struct db_param params[1] = { DB_STR(args[0]) };
	long long messages = 0;
	int rc;

	(void)opts;
	rc = chatctl_report(db, db_exec(db, "SELECT COUNT(*) FROM messages m JOIN users u ON u.id = m.sender_id WHERE u.username = ?",
				params, 1, count_row, &messages, NULL, NULL), args[0]);
	if(rc) return rc;
	if(messages > 0){
		/* Deleting them would tear holes in rooms' sequence numbers. */
		fprintf(stderr, "chatctl: %s has %lld stored messages; disable the account instead (user disable %s)\n",
				args[0], messages, args[0]);
		return 1;
	}
	rc = change_one(db, "DELETE FROM users WHERE username = ?", params, 1, args[0], "no such user");
	if(rc == 0) printf("deleted user %s\n", args[0]);
	return rc;
}

static int print_row(void *ud, int ncols, char **cols, unsigned long *lens)
{
	(void)lens;
	(*(long *)ud)++;
	for(int i = 0; i < ncols; i++) printf("%s%s", i ? "\t" : "", cols[i] ? cols[i] : "-");
	printf("\n");
	return 0;
}

int chatctl_list(struct db *db, const char *sql, struct db_param *params, int n, const char *header)
{
	long rows = 0;
	int rc;

	printf("%s\n", header);
	rc = chatctl_report(db, db_exec(db, sql, params, n, print_row, &rows, NULL, NULL), "list");
	return rc;
}

static int user_list(struct db *db, char **args, const struct options *opts)
{
	(void)args;
	(void)opts;
	return chatctl_list(db, "SELECT u.username, u.role, IF(u.disabled, 'disabled', 'enabled'),"
			" (SELECT COUNT(*) FROM room_members m WHERE m.user_id = u.id), u.created_at"
			" FROM users u ORDER BY u.username", NULL, 0, "user\trole\tstate\trooms\tcreated");
}

static int pw_row(void *ud, int ncols, char **cols, unsigned long *lens)
{
	(void)lens;
	if(ncols == 2 && cols[0] && cols[1]){
		printf("%s:%s\n", cols[0], cols[1]);
		*(int *)ud = 1;
	}
	return 1;
}

static int user_passwd_line(struct db *db, char **args, const struct options *opts)
{
	struct db_param params[1] = { DB_STR(args[0]) };
	int found = 0;
	int rc;

	(void)opts;
	rc = chatctl_report(db, db_exec(db, "SELECT username, pw_hash FROM users WHERE username = ?",
				params, 1, pw_row, &found, NULL, NULL), args[0]);
	if(rc == 0 && !found){
		fprintf(stderr, "chatctl: no such user\n");
		return 1;
	}
	return rc;
}

static int room_create(struct db *db, char **args, const struct options *opts)
{
	struct db_param params[2] = { DB_STR(args[0]), DB_STR(opts->private_room ? "private" : "public") };
	int rc;

	if((rc = check_room_name(args[0]))) return rc;
	rc = chatctl_report(db, db_exec(db, "INSERT INTO rooms (name, visibility) VALUES (?, ?)",
				params, 2, NULL, NULL, NULL, NULL), args[0]);
	if(rc == 0) printf("created %s room %s\n", opts->private_room ? "private" : "public", args[0]);
	return rc;
}

static int room_delete(struct db *db, char **args, const struct options *opts)
{
	struct db_param params[1] = { DB_STR(args[0]) };
	int rc;

	(void)opts;
	rc = change_one(db, "DELETE FROM rooms WHERE name = ?", params, 1, args[0], "no such room");
	if(rc == 0) printf("deleted room %s and its history\n", args[0]);
	return rc;
}

static int room_list(struct db *db, char **args, const struct options *opts)
{
	(void)args;
	(void)opts;
	return chatctl_list(db, "SELECT r.name, r.visibility, r.last_seq,"
			" (SELECT COUNT(*) FROM room_members m WHERE m.room_id = r.id), r.retain_count, r.retain_days"
			" FROM rooms r ORDER BY r.name", NULL, 0, "room\tvisibility\tlast_seq\tmembers\tkeep_count\tkeep_days");
}

/* "none" or a whole number of at least 1. */
static int parse_limit(const char *text, struct db_param *param)
{
	char *end = NULL;
	long long value;

	if(!strcmp(text, "none")){
		*param = (struct db_param){ .type = DB_PARAM_NULL };
		return 0;
	}
	value = strtoll(text, &end, 10);
	if(!end || *end || value < 1 || value > 1000000000000LL) return -1;
	*param = DB_I64(value);
	return 0;
}

static int room_retention(struct db *db, char **args, const struct options *opts)
{
	struct db_param params[3];
	int rc;

	(void)opts;
	if(parse_limit(args[1], &params[0]) || parse_limit(args[2], &params[1])){
		fprintf(stderr, "chatctl: keep-count and keep-days are whole numbers of 1 or more, or none\n");
		return 2;
	}
	params[2] = DB_STR(args[0]);
	rc = change_one(db, "UPDATE rooms SET retain_count = ?, retain_days = ? WHERE name = ?", params, 3, args[0],
			"no such room, or no change");
	if(rc == 0) printf("room %s keeps %s messages, %s days\n", args[0], args[1], args[2]);
	return rc;
}

static int found_row(void *ud, int ncols, char **cols, unsigned long *lens)
{
	(void)ncols;
	(void)cols;
	(void)lens;
	*(bool *)ud = true;
	return 1;
}

/* Whether sql (one parameter: name) finds a row; -1 on a database error. */
static int name_exists(struct db *db, const char *sql, const char *name)
{
	struct db_param params[1] = { DB_STR(name) };
	bool found = false;

	if(chatctl_report(db, db_exec(db, sql, params, 1, found_row, &found, NULL, NULL), name)) return -1;
	return found;
}

static int member_add(struct db *db, char **args, const struct options *opts)
{
	struct db_param params[3] = { DB_STR(strcmp(opts->role, "admin") ? "member" : "admin"), DB_STR(args[0]), DB_STR(args[1]) };
	unsigned long long affected = 0;
	int rc;

	if((rc = check_room_name(args[0])) || (rc = check_user_name(args[1]))) return rc;
	rc = chatctl_report(db, db_exec(db, "INSERT IGNORE INTO room_members (room_id, user_id, role)"
				" SELECT r.id, u.id, ? FROM rooms r, users u WHERE r.name = ? AND u.username = ?",
				params, 3, NULL, NULL, &affected, NULL), args[0]);
	if(rc) return rc;
	if(affected == 0){
		int room = name_exists(db, "SELECT 1 FROM rooms WHERE name = ?", args[0]);
		int user = name_exists(db, "SELECT 1 FROM users WHERE username = ?", args[1]);

		if(room < 0 || user < 0) return 1;
		if(!room || !user){
			fprintf(stderr, "chatctl: no %s %s\n", !room ? "room" : "user", !room ? args[0] : args[1]);
			return 1;
		}
		printf("%s is already a member of %s (role unchanged; see member role)\n", args[1], args[0]);
		return 0;
	}
	printf("added %s to %s\n", args[1], args[0]);
	return 0;
}

static int member_remove(struct db *db, char **args, const struct options *opts)
{
	struct db_param params[2] = { DB_STR(args[0]), DB_STR(args[1]) };
	int rc;

	(void)opts;
	rc = change_one(db, "DELETE m FROM room_members m JOIN rooms r ON r.id = m.room_id"
			" JOIN users u ON u.id = m.user_id WHERE r.name = ? AND u.username = ?", params, 2, args[0],
			"nothing changed: no such room or user, or not a member");
	if(rc == 0) printf("removed %s from %s\n", args[1], args[0]);
	return rc;
}

static int member_list(struct db *db, char **args, const struct options *opts)
{
	struct db_param params[1] = { DB_STR(args[0]) };

	(void)opts;
	return chatctl_list(db, "SELECT u.username, m.role, m.joined_at FROM room_members m"
			" JOIN rooms r ON r.id = m.room_id JOIN users u ON u.id = m.user_id"
			" WHERE r.name = ? ORDER BY u.username", params, 1, "user\trole\tjoined");
}

static int member_role(struct db *db, char **args, const struct options *opts)
{
	struct db_param params[3] = { DB_STR(args[2]), DB_STR(args[0]), DB_STR(args[1]) };
	int rc;

	(void)opts;
	if(strcmp(args[2], "member") && strcmp(args[2], "admin")){
		fprintf(stderr, "chatctl: a member's role is member or admin\n");
		return 2;
	}
	rc = change_one(db, "UPDATE room_members m JOIN rooms r ON r.id = m.room_id"
			" JOIN users u ON u.id = m.user_id SET m.role = ? WHERE r.name = ? AND u.username = ?",
			params, 3, args[0], "nothing changed: not a member, or already that role");
	if(rc == 0) printf("%s is %s of %s\n", args[1], args[2], args[0]);
	return rc;
}

static const struct command commands[] = {
	{ "user", "add", 1, "user add NAME [--role user|service|bridge|admin|health] [--iterations N]", user_add },
	{ "user", "passwd", 1, "user passwd NAME [--iterations N]", user_passwd },
	{ "user", "disable", 1, "user disable NAME", user_disable },
	{ "user", "enable", 1, "user enable NAME", user_enable },
	{ "user", "delete", 1, "user delete NAME          (refused if they have messages)", user_delete },
	{ "user", "list", 0, "user list", user_list },
	{ "user", "passwd-line", 1, "user passwd-line NAME     (a mosquitto_passwd file line)", user_passwd_line },
	{ "room", "create", 1, "room create NAME [--private]", room_create },
	{ "room", "delete", 1, "room delete NAME          (and its history)", room_delete },
	{ "room", "list", 0, "room list", room_list },
	{ "room", "retention", 3, "room retention ROOM KEEP_COUNT|none KEEP_DAYS|none", room_retention },
	{ "member", "add", 2, "member add ROOM USER [--role member|admin]", member_add },
	{ "member", "remove", 2, "member remove ROOM USER", member_remove },
	{ "member", "list", 1, "member list ROOM", member_list },
	{ "member", "role", 3, "member role ROOM USER member|admin", member_role },
	{ "token", "add", 1, "token add USER --label L [--rooms a,b [--publish-only|--read-only]] [--lifetime S]", chatctl_token_add },
	{ "token", "list", 1, "token list USER", chatctl_token_list },
	{ "token", "revoke", 1, "token revoke ID", chatctl_token_revoke },
	/* Older spellings, kept for scripts. */
	{ "room", "add", 2, NULL, member_add },
	{ "room", "remove", 2, NULL, member_remove },
};

static int usage(FILE *out, int status)
{
	fprintf(out, "usage: chatctl -c FILE COMMAND\n");
	for(size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++){
		if(commands[i].usage) fprintf(out, "  chatctl -c FILE %s\n", commands[i].usage);
	}
	fprintf(out, "FILE holds db_host/db_port (or db_socket, or db_hosts), db_user, db_password, db_name.\n"
			"Passwords are asked on the terminal, or read as one line from stdin.\n"
			"Exit status: 0 done, 1 failed, 2 usage.\n");
	return status;
}

int main(int argc, char **argv)
{
	struct options opts = { .role = "user", .iterations = PWHASH_ITER_DEFAULT, .private_room = 0, .scope_mode = "full" };
	const struct command *cmd = NULL;
	struct config *cfg = NULL;
	struct db *db = NULL;
	struct db_opts db_opts;
	char *args[8];
	int nargs = 0;
	char err[512];
	int rc = 2;

	for(int i = 1; i < argc; i++){
		if(!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return usage(stdout, 0);
	}
	if(argc < 4 || strcmp(argv[1], "-c")) return usage(stderr, 2);
	for(int i = 3; i < argc; i++){
		if(!strcmp(argv[i], "--role") && i + 1 < argc){
			opts.role = argv[++i];
		}else if(!strcmp(argv[i], "--iterations") && i + 1 < argc){
			char *end = NULL;
			opts.iterations = strtol(argv[++i], &end, 10);
			if(*end || opts.iterations < PWHASH_ITER_MIN || opts.iterations > PWHASH_ITER_MAX){
				fprintf(stderr, "chatctl: --iterations takes %d to %d\n", PWHASH_ITER_MIN, PWHASH_ITER_MAX);
				return 2;
			}
		}else if(!strcmp(argv[i], "--private")){
			opts.private_room = 1;
		}else if(!strcmp(argv[i], "--label") && i + 1 < argc){
			opts.label = argv[++i];
		}else if(!strcmp(argv[i], "--rooms") && i + 1 < argc){
			opts.rooms = argv[++i];
		}else if(!strcmp(argv[i], "--publish-only") || !strcmp(argv[i], "--read-only")){
			if(strcmp(opts.scope_mode, "full")){
				fprintf(stderr, "chatctl: give --publish-only or --read-only, not both\n");
				return 2;
			}
			opts.scope_mode = argv[i][2] == 'p' ? "publish" : "read";
		}else if(!strcmp(argv[i], "--lifetime") && i + 1 < argc){
			char *end = NULL;
			opts.lifetime_s = strtol(argv[++i], &end, 10);
			if(*end || opts.lifetime_s < 1 || opts.lifetime_s > 315360000L){
				fprintf(stderr, "chatctl: --lifetime takes seconds, 1 to 315360000\n");
				return 2;
			}
		}else if(argv[i][0] == '-' || nargs == 8){
			fprintf(stderr, "chatctl: unknown option %s\n", argv[i]);
			return usage(stderr, 2);
		}else{
			args[nargs++] = argv[i];
		}
	}
	if(strcmp(opts.role, "user") && strcmp(opts.role, "service") && strcmp(opts.role, "bridge")
			&& strcmp(opts.role, "admin") && strcmp(opts.role, "health") && strcmp(opts.role, "member")){
		fprintf(stderr, "chatctl: unknown role %s\n", opts.role);
		return 2;
	}
	for(size_t i = 0; nargs >= 2 && i < sizeof(commands) / sizeof(commands[0]); i++){
		if(!strcmp(commands[i].group, args[0]) && !strcmp(commands[i].verb, args[1])) cmd = &commands[i];
	}
	if(!cmd || nargs - 2 != cmd->nargs){
		fprintf(stderr, "chatctl: %s\n", cmd ? "wrong number of arguments" : "unknown command");
		return usage(stderr, 2);
	}
	if(config_load(argv[2], &cfg, err, sizeof(err)) || db_opts_from_config(cfg, "db_", &db_opts, err, sizeof(err))){
		fprintf(stderr, "chatctl: %s\n", err);
		rc = 1;
		goto out;
	}
	db = db_open(&db_opts, err, sizeof(err));
	if(!db){
		fprintf(stderr, "chatctl: %s\n", err);
		rc = 1;
		goto out;
	}
	rc = cmd->run(db, args + 2, &opts);
out:
	db_close(db);
	config_free(cfg);
	return rc;
}
