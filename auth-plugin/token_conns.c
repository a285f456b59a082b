/* token_conns.c: connections that logged in with a token; see token_conns.h. */
#include "token_conns.h"

#include <limits.h>
#include <string.h>

#include <uthash.h>

#include "plugin_alloc.h"

struct entry {
	struct token_conn conn;
	UT_hash_handle hh;
};

struct token_conns {
	struct entry *by_client; /* uthash keyed on conn.client */
	size_t count;
	/* No connection's token expires before this (wall ms; LLONG_MAX: none
	 * expires): expiry scans are skipped until then, so tokens that never
	 * expire cost no periodic walk over every connection. */
	long long next_expiry_ms;
};

static void note_expiry(struct token_conns *tc, const struct snapshot_token *tok)
{
	if(tok && tok->expires_ms && tok->expires_ms < tc->next_expiry_ms) tc->next_expiry_ms = tok->expires_ms;
}

bool token_usable(const struct snapshot_token *tok, long long now_ms)
{
	if(!tok || !tok->user || tok->user->disabled) return false;
	return tok->expires_ms == 0 || now_ms < tok->expires_ms;
}

struct token_conns *token_conns_new(void)
{
	struct token_conns *tc = plugin_calloc(1, sizeof(*tc));

	if(tc) tc->next_expiry_ms = LLONG_MAX;
	return tc;
}

static void entry_free(struct entry *e)
{
	plugin_free(e->conn.client_id);
	plugin_free(e);
}

int token_conns_add(struct token_conns *tc, const void *client, const char *client_id,
		const struct snapshot_token *tok)
{
	struct entry *e = NULL;
	size_t len = strlen(client_id);
	int rc = -1;

	token_conns_remove(tc, client);
	e = plugin_calloc(1, sizeof(*e));
	if(!e) goto out;
	e->conn.client_id = plugin_calloc(1, len + 1);
	if(!e->conn.client_id) goto out;
	memcpy(e->conn.client_id, client_id, len + 1);
	memcpy(e->conn.token_id, tok->id, sizeof(e->conn.token_id));
	e->conn.client = client;
	e->conn.tok = tok;
	note_expiry(tc, tok);
	HASH_ADD_PTR(tc->by_client, conn.client, e);
	tc->count++;
	e = NULL;
	rc = 0;
out:
	if(e) entry_free(e);
	return rc;
}

const struct token_conn *token_conns_find(const struct token_conns *tc, const void *client)
{
	struct entry *e = NULL;

	if(!tc || !tc->by_client) return NULL;
	HASH_FIND_PTR(tc->by_client, &client, e);
	return e ? &e->conn : NULL;
}

void token_conns_remove(struct token_conns *tc, const void *client)
{
	struct entry *e = NULL;

	if(!tc || !tc->by_client) return;
	HASH_FIND_PTR(tc->by_client, &client, e);
	if(!e) return;
	HASH_DEL(tc->by_client, e);
	tc->count--;
	entry_free(e);
}

/* Kicks e's connection once (token_id emptied marks it kicked; tok NULL
 * refuses its ACL checks until its disconnect comes). The kick may run the
 * disconnect callback at once, which frees e: nothing touches e after it. */
static size_t kick_entry(struct entry *e, token_kick_fn kick)
{
	e->conn.tok = NULL;
	if(e->conn.token_id[0] == '\0') return 0;
	e->conn.token_id[0] = '\0';
	kick(e->conn.client_id);
	return 1;
}

size_t token_conns_rebind(struct token_conns *tc, const struct snapshot *snap, long long now_ms, token_kick_fn kick)
{
	struct entry *e, *tmp;
	size_t kicked = 0;

	if(!tc) return 0;
	tc->next_expiry_ms = LLONG_MAX;
	HASH_ITER(hh, tc->by_client, e, tmp){
		const struct snapshot_token *tok = e->conn.token_id[0] ? snapshot_token(snap, e->conn.token_id) : NULL;

		/* The same id naming another user's token cannot happen (ids are
		 * random and a primary key), but a token must never change hands. */
		if(tok && token_usable(tok, now_ms) && e->conn.tok && !strcmp(tok->user->name, e->conn.tok->user->name)){
			e->conn.tok = tok;
			note_expiry(tc, tok);
		}else{
			kicked += kick_entry(e, kick);
		}
	}
	return kicked;
}

size_t token_conns_expire(struct token_conns *tc, long long now_ms, token_kick_fn kick)
{
	struct entry *e, *tmp;
	size_t kicked = 0;

	if(!tc || now_ms < tc->next_expiry_ms) return 0;
	tc->next_expiry_ms = LLONG_MAX;
	HASH_ITER(hh, tc->by_client, e, tmp){
		if(e->conn.tok && !token_usable(e->conn.tok, now_ms)) kicked += kick_entry(e, kick);
		else note_expiry(tc, e->conn.tok);
	}
	return kicked;
}

size_t token_conns_count(const struct token_conns *tc)
{
	return tc ? tc->count : 0;
}

void token_conns_free(struct token_conns *tc)
{
	struct entry *e, *tmp;

	if(!tc) return;
	HASH_ITER(hh, tc->by_client, e, tmp){
		HASH_DEL(tc->by_client, e);
		entry_free(e);
	}
	plugin_free(tc);
}
