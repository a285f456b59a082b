/* chatctl.h: what chatctl.c (the command table, user/room/member commands)
 * shares with the files holding other command groups (chatctl_token.c). */
#ifndef CHATCTL_H
#define CHATCTL_H

#include "db.h"

/* Options from the command line, for every command. */
struct options {
	const char *role;
	long iterations;
	int private_room;
	/* token add */
	const char *label;
	const char *rooms;      /* comma-separated scope rooms, or NULL */
	const char *scope_mode; /* "full", "publish" or "read" */
	long lifetime_s;        /* 0: never expires */
};

/* Prints what failed (a duplicate or the database's error) and returns 1,
 * or returns 0 when result is DB_OK. */
int chatctl_report(struct db *db, int result, const char *what);

/* Prints the rows of sql (tab-separated, "-" for NULL) under header.
 * Returns 0, or 1 after printing the error. */
int chatctl_list(struct db *db, const char *sql, struct db_param *params, int n, const char *header);

/* token add USER, token list USER, token revoke ID (chatctl_token.c). Each
 * takes the command's arguments and returns chatctl's exit status. */
int chatctl_token_add(struct db *db, char **args, const struct options *opts);
int chatctl_token_list(struct db *db, char **args, const struct options *opts);
int chatctl_token_revoke(struct db *db, char **args, const struct options *opts);

#endif
