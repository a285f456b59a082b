/* chatctl.c: administration of users and rooms in MariaDB.
 *   chatctl -c FILE user add NAME [--role user|service|bridge|admin] [--iterations N]
 *   chatctl -c FILE user passwd NAME
 *   chatctl -c FILE user disable NAME | user enable NAME
 *   chatctl -c FILE room create NAME [--private]
 *   chatctl -c FILE room add ROOM USER | room remove ROOM USER
 * Passwords are read from the terminal (asked twice) or, when stdin is not
 * a terminal, as the first line of stdin; never from the command line.
 * FILE holds the db_* settings (docs/ADMIN.md). Changes reach the auth
 * plugin on every node within its refresh interval (database triggers bump
 * auth_version). Exit status: 0 done, 1 failed, 2 usage. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "config.h"
#include "db.h"
#include "names.h"
#include "password_input.h"
#include "pwhash.h"

#define PASSWORD_MAX 256

static int usage(void)
{
	fprintf(stderr,
		"usage: chatctl -c FILE user add NAME [--role user|service|bridge|admin] [--iterations N]\n"
		"       chatctl -c FILE user passwd NAME\n"
		"       chatctl -c FILE user disable NAME | user enable NAME\n"
		"       chatctl -c FILE room create NAME [--private]\n"
		"       chatctl -c FILE room add ROOM USER | room remove ROOM USER\n"
		"The password is asked on the terminal, or read as one line from stdin.\n");
	return 2;
}

static int read_new_password(char *buf, size_t len)
{
	char again[PASSWORD_MAX];
	int rc = -1;

	if(!isatty(STDIN_FILENO)){
		if(password_read_line(stdin, buf, len)){
			fprintf(stderr, "chatctl: expected the password as the first line of stdin (1-%zu bytes)\n", len - 1);
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

static int report(struct db *db, int result, const char *what)
{
	if(result == DB_OK) return 0;
	if(result == DB_DUPLICATE) fprintf(stderr, "chatctl: %s: already exists\n", what);
	else fprintf(stderr, "chatctl: %s: %s\n", what, db_error(db));
	return 1;
}

static int user_add(struct db *db, const char *name, const char *role, long iterations, int replace)
{
	char password[PASSWORD_MAX];
	char hash[PWHASH_MAX_LEN];
	struct db_param params[3];
	unsigned long long affected = 0;
	int rc = 1;

	if(!name_user_valid(name)){
		fprintf(stderr, "chatctl: user name \"%s\" must be 1-32 of A-Z a-z 0-9 _ . - starting with a letter or digit\n", name);
		rc = 2;
		goto out;
	}
	if(read_new_password(password, sizeof(password))) goto out;
	if(pwhash_create(password, iterations, hash, sizeof(hash))){
		fprintf(stderr, "chatctl: hashing failed\n");
		goto out;
	}
	if(replace){
		params[0] = DB_STR(hash);
		params[1] = DB_STR(name);
		rc = report(db, db_exec(db, "UPDATE users SET pw_hash = ? WHERE username = ?",
					params, 2, NULL, NULL, &affected, NULL), "set password");
		if(rc == 0 && affected == 0){
			fprintf(stderr, "chatctl: no user %s\n", name);
			rc = 1;
		}
	}else{
		params[0] = DB_STR(name);
		params[1] = DB_STR(hash);
		params[2] = DB_STR(role);
		rc = report(db, db_exec(db, "INSERT INTO users (username, pw_hash, role) VALUES (?, ?, ?)",
					params, 3, NULL, NULL, NULL, NULL), name);
	}
	if(rc == 0) printf("%s %s\n", replace ? "password set for" : "added user", name);
out:
	OPENSSL_cleanse(password, sizeof(password));
	return rc;
}

static int user_enable(struct db *db, const char *name, int enable)
{
	struct db_param params[2] = { DB_I64(enable ? 0 : 1), DB_STR(name) };
	unsigned long long affected = 0;
	int rc = report(db, db_exec(db, "UPDATE users SET disabled = ? WHERE username = ?",
				params, 2, NULL, NULL, &affected, NULL), name);

	if(rc == 0 && affected == 0){
		fprintf(stderr, "chatctl: no user %s (or already %s)\n", name, enable ? "enabled" : "disabled");
		return 1;
	}
	if(rc == 0) printf("%s %s\n", enable ? "enabled" : "disabled", name);
	return rc;
}

static int room_create(struct db *db, const char *name, int private_room)
{
	struct db_param params[2] = { DB_STR(name), DB_STR(private_room ? "private" : "public") };
	int rc;

	if(!name_room_valid(name)){
		fprintf(stderr, "chatctl: room name \"%s\" must be 1-64 of a-z 0-9 _ - starting with a letter or digit\n", name);
		return 2;
	}
	rc = report(db, db_exec(db, "INSERT INTO rooms (name, visibility) VALUES (?, ?)",
				params, 2, NULL, NULL, NULL, NULL), name);
	if(rc == 0) printf("created %s room %s\n", private_room ? "private" : "public", name);
	return rc;
}

static int room_member(struct db *db, const char *room, const char *user, int add)
{
	struct db_param params[2] = { DB_STR(room), DB_STR(user) };
	unsigned long long affected = 0;
	int result;

	if(add){
		result = db_exec(db, "INSERT IGNORE INTO room_members (room_id, user_id)"
				" SELECT r.id, u.id FROM rooms r, users u WHERE r.name = ? AND u.username = ?",
				params, 2, NULL, NULL, &affected, NULL);
	}else{
		result = db_exec(db, "DELETE m FROM room_members m JOIN rooms r ON r.id = m.room_id"
				" JOIN users u ON u.id = m.user_id WHERE r.name = ? AND u.username = ?",
				params, 2, NULL, NULL, &affected, NULL);
	}
	if(report(db, result, room)) return 1;
	if(affected == 0){
		fprintf(stderr, "chatctl: nothing changed: no room %s, no user %s, or %s\n", room, user,
				add ? "already a member" : "not a member");
		return add ? 0 : 1;
	}
	printf("%s %s %s %s\n", add ? "added" : "removed", user, add ? "to" : "from", room);
	return 0;
}

int main(int argc, char **argv)
{
	struct config *cfg = NULL;
	struct db *db = NULL;
	struct db_opts opts;
	const char *role = "user";
	long iterations = PWHASH_ITER_DEFAULT;
	int private_room = 0;
	char err[512];
	int rc = 2;
	int nargs = 0;
	char *args[4];

	if(argc < 5 || strcmp(argv[1], "-c")) return usage();
	for(int i = 3; i < argc; i++){
		if(!strcmp(argv[i], "--role") && i + 1 < argc){
			role = argv[++i];
		}else if(!strcmp(argv[i], "--iterations") && i + 1 < argc){
			char *end = NULL;
			iterations = strtol(argv[++i], &end, 10);
			if(*end || iterations < PWHASH_ITER_MIN || iterations > PWHASH_ITER_MAX) return usage();
		}else if(!strcmp(argv[i], "--private")){
			private_room = 1;
		}else if(nargs < 4 && argv[i][0] != '-'){
			args[nargs++] = argv[i];
		}else{
			return usage();
		}
	}
	if(strcmp(role, "user") && strcmp(role, "service") && strcmp(role, "bridge") && strcmp(role, "admin")){
		return usage();
	}
	if(config_load(argv[2], &cfg, err, sizeof(err)) || db_opts_from_config(cfg, "db_", &opts, err, sizeof(err))){
		fprintf(stderr, "chatctl: %s\n", err);
		rc = 1;
		goto out;
	}
	db = db_open(&opts, err, sizeof(err));
	if(!db){
		fprintf(stderr, "chatctl: %s\n", err);
		rc = 1;
		goto out;
	}
	if(nargs == 3 && !strcmp(args[0], "user") && !strcmp(args[1], "add")) rc = user_add(db, args[2], role, iterations, 0);
	else if(nargs == 3 && !strcmp(args[0], "user") && !strcmp(args[1], "passwd")) rc = user_add(db, args[2], role, iterations, 1);
	else if(nargs == 3 && !strcmp(args[0], "user") && !strcmp(args[1], "disable")) rc = user_enable(db, args[2], 0);
	else if(nargs == 3 && !strcmp(args[0], "user") && !strcmp(args[1], "enable")) rc = user_enable(db, args[2], 1);
	else if(nargs == 3 && !strcmp(args[0], "room") && !strcmp(args[1], "create")) rc = room_create(db, args[2], private_room);
	else if(nargs == 4 && !strcmp(args[0], "room") && !strcmp(args[1], "add")) rc = room_member(db, args[2], args[3], 1);
	else if(nargs == 4 && !strcmp(args[0], "room") && !strcmp(args[1], "remove")) rc = room_member(db, args[2], args[3], 0);
	else rc = usage();
out:
	db_close(db);
	config_free(cfg);
	return rc;
}
