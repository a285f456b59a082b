/* chat_tui_input.c: the keys of chat's full-screen mode: editing the
 * input line (wide characters), its history, Tab completion of commands,
 * users and rooms, scrolling (Page Up loads older messages), switching
 * rooms; Enter hands the line to chat_cmd. Keys in docs/CLIENT.md; see
 * chat_tui_int.h. */
#include "chat_tui_int.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ncursesw/curses.h>

#include "chat_cmd.h"

/* The input line as UTF-8 into buf; returns its length, or -1. */
static int input_utf8(struct tui *t, char *buf, size_t len)
{
	mbstate_t st;
	size_t used = 0;

	memset(&st, 0, sizeof(st));
	for(size_t i = 0; i < t->input_len; i++){
		char mb[MB_LEN_MAX];
		size_t k = wcrtomb(mb, t->input[i], &st);

		if(k == (size_t)-1 || used + k >= len) return -1;
		memcpy(buf + used, mb, k);
		used += k;
	}
	buf[used] = '\0';
	return (int)used;
}

static void input_set(struct tui *t, const char *s)
{
	size_t n = strlen(s);

	t->input_len = 0;
	while(n > 0 && t->input_len < CHAT_LINE_MAX){
		wchar_t wc;
		size_t k = draw__next_char(s, n, &wc);

		t->input[t->input_len++] = wc;
		s += k;
		n -= k;
	}
	t->cursor = t->input_len;
}

static void history_push(struct tui *t, const char *line)
{
	char *copy = strdup(line);

	if(!copy) return;
	if(t->nhistory == INPUT_HISTORY){
		free(t->history[0]);
		memmove(t->history, t->history + 1, (INPUT_HISTORY - 1) * sizeof(t->history[0]));
		t->nhistory--;
	}
	t->history[t->nhistory++] = copy;
	t->history_pos = t->nhistory;
}

static void submit(struct tui *t)
{
	static char line[CHAT_LINE_MAX * MB_LEN_MAX + 1];
	int len = input_utf8(t, line, sizeof(line));

	t->input_len = t->cursor = 0;
	if(len <= 0) return;
	/* Passwords are not kept for the up arrow. */
	if(strncmp(line, "/password ", 10)) history_push(t, line);
	if(chat_cmd_line(t->net, line, (size_t)len) == CHAT_CMD_QUIT) t->quit = 1;
	model__sync_rooms(t);
}

/* Candidates for Tab: commands at the start of the line, else user and
 * room names. Returns candidate i starting with prefix, or NULL. */
static const char *candidate(struct tui *t, const char *prefix, int first_word, int i)
{
	size_t n = strlen(prefix);
	struct room *r = model__cur(t);
	const char *name = NULL;

	if(first_word && prefix[0] == '/'){
		for(size_t k = 0; (name = chat_cmd_name(k)) != NULL; k++){
			if(!strncmp(name, prefix, n) && i-- == 0) return name;
		}
		return NULL;
	}
	if(prefix[0] == '@'){
		/* @name: the room's members only */
		for(size_t k = 0; r && k < r->nmembers; k++){
			if(!strncmp(r->members[k], prefix + 1, n - 1) && i-- == 0) return r->members[k];
		}
		return NULL;
	}
	for(size_t k = 0; r && k < r->nmembers; k++){
		if(!strncmp(r->members[k], prefix, n) && i-- == 0) return r->members[k];
	}
	for(size_t k = 0; k < t->nusers; k++){
		int dup = 0;

		for(size_t m = 0; r && m < r->nmembers; m++) dup |= !strcmp(r->members[m], t->users[k].name);
		if(!dup && !strncmp(t->users[k].name, prefix, n) && i-- == 0) return t->users[k].name;
	}
	for(size_t k = 0; k < t->nrooms; k++){
		if(!strncmp(t->rooms[k]->name, prefix, n) && i-- == 0) return t->rooms[k]->name;
	}
	return NULL;
}

static void complete(struct tui *t)
{
	char prefix[NAME_ROOM_MAX + 2];
	const char *match = NULL;
	size_t start = t->cursor;
	size_t plen = 0;
	int first_word;
	wchar_t tail[CHAT_LINE_MAX + 1];
	size_t ntail;
	char suffix[3] = " ";

	if(t->comp_index < 0){
		while(start > 0 && t->input[start - 1] != L' ') start--;
		if(t->cursor - start > NAME_ROOM_MAX) return;
		for(size_t i = start; i < t->cursor; i++){
			if(t->input[i] > 0x7e){
				return; /* names are ASCII */
			}
			prefix[plen++] = (char)t->input[i];
		}
		prefix[plen] = '\0';
		t->comp_start = start;
		for(size_t i = 0; i <= plen; i++) t->comp_prefix[i] = (wchar_t)(unsigned char)prefix[i];
		t->comp_index = 0;
	}else{
		start = t->comp_start;
		for(plen = 0; t->comp_prefix[plen]; plen++) prefix[plen] = (char)t->comp_prefix[plen];
		prefix[plen] = '\0';
		t->comp_index++;
	}
	first_word = start == 0;
	match = candidate(t, prefix, first_word, t->comp_index);
	if(!match && t->comp_index > 0){
		t->comp_index = 0; /* cycle */
		match = candidate(t, prefix, first_word, 0);
	}
	if(!match){
		beep();
		t->comp_index = -1;
		return;
	}
	if(prefix[0] == '@') start++; /* keep the '@' */
	else if(first_word && match[0] != '/') snprintf(suffix, sizeof(suffix), ": ");
	/* Replace [start, cursor) with match and suffix, keeping the tail. */
	ntail = t->input_len - t->cursor;
	memcpy(tail, t->input + t->cursor, ntail * sizeof(wchar_t));
	t->input_len = start;
	for(const char *p = match; *p && t->input_len < CHAT_LINE_MAX; p++) t->input[t->input_len++] = (wchar_t)*p;
	for(const char *p = suffix; *p && t->input_len < CHAT_LINE_MAX; p++) t->input[t->input_len++] = (wchar_t)*p;
	t->cursor = t->input_len;
	if(t->input_len + ntail > CHAT_LINE_MAX) ntail = CHAT_LINE_MAX - t->input_len;
	memcpy(t->input + t->input_len, tail, ntail * sizeof(wchar_t));
	t->input_len += ntail;
}

static void page_up(struct tui *t)
{
	static char buf[CHAT_LINE_MAX * 2 + 256];
	struct room *r = model__cur(t);
	int width = draw__pane_width();
	int page = LINES - 3 > 1 ? LINES - 3 : 1;
	int total = 0;
	long oldest = 0;

	if(!r || width < 10) return;
	for(size_t i = 0; i < r->nlines; i++){
		total += draw__line_rows(r, &r->lines[i], width, buf, sizeof(buf));
		if(r->lines[i].seq > 0 && (oldest == 0 || r->lines[i].seq < oldest)) oldest = r->lines[i].seq;
	}
	r->scroll += page;
	if(r->scroll > total - (LINES - 2)) r->scroll = total - (LINES - 2) > 0 ? total - (LINES - 2) : 0;
	/* At the top: older messages from history-svc. */
	if(r->scroll + (LINES - 2) >= total && !r->loading_older && !r->at_start && oldest != 1){
		r->loading_older = 1;
		chat_net_history(t->net, r->name, HISTORY_PAGE, oldest, 0);
	}
}

static void key(struct tui *t, wint_t k, int is_key)
{
	if(!(is_key == KEY_CODE_YES) && k == L'\t'){
		complete(t);
		return;
	}
	t->comp_index = -1;
	if(is_key == KEY_CODE_YES){
		struct room *r = model__cur(t);

		switch(k){
		case KEY_ENTER: submit(t); break;
		case KEY_BACKSPACE:
			if(t->cursor > 0){
				memmove(t->input + t->cursor - 1, t->input + t->cursor, (t->input_len - t->cursor) * sizeof(wchar_t));
				t->cursor--;
				t->input_len--;
			}
			break;
		case KEY_DC:
			if(t->cursor < t->input_len){
				memmove(t->input + t->cursor, t->input + t->cursor + 1, (t->input_len - t->cursor - 1) * sizeof(wchar_t));
				t->input_len--;
			}
			break;
		case KEY_LEFT: if(t->cursor > 0) t->cursor--; break;
		case KEY_RIGHT: if(t->cursor < t->input_len) t->cursor++; break;
		case KEY_HOME: t->cursor = 0; break;
		case KEY_END: t->cursor = t->input_len; break;
		case KEY_UP:
			if(t->history_pos > 0) input_set(t, t->history[--t->history_pos]);
			break;
		case KEY_DOWN:
			if(t->history_pos < t->nhistory) t->history_pos++;
			if(t->history_pos < t->nhistory) input_set(t, t->history[t->history_pos]);
			else t->input_len = t->cursor = 0;
			break;
		case KEY_PPAGE: page_up(t); break;
		case KEY_NPAGE:
			if(r) r->scroll = r->scroll > LINES - 3 ? r->scroll - (LINES - 3) : 0;
			break;
		case KEY_RESIZE: break;
		default: break;
		}
		return;
	}
	switch(k){
	case L'\r':
	case L'\n': submit(t); return;
	case 127:
	case 8: key(t, KEY_BACKSPACE, KEY_CODE_YES); return;
	case 1: t->cursor = 0; return;                         /* Ctrl-A */
	case 5: t->cursor = t->input_len; return;              /* Ctrl-E */
	case 21: t->input_len = t->cursor = 0; return;         /* Ctrl-U */
	case 12: clearok(stdscr, TRUE); return;                /* Ctrl-L */
	case 4:                                                /* Ctrl-D */
		if(t->input_len == 0) t->quit = 1;
		return;
	case 14:                                               /* Ctrl-N */
	case 16:                                               /* Ctrl-P */
		if(t->nrooms > 0){
			size_t next = k == 14 ? (t->current + 1) % t->nrooms : (t->current + t->nrooms - 1) % t->nrooms;

			model__switch_to(t, t->rooms[next]);
		}
		return;
	default: break;
	}
	if(k < 0x20 || t->input_len >= CHAT_LINE_MAX) return;
	memmove(t->input + t->cursor + 1, t->input + t->cursor, (t->input_len - t->cursor) * sizeof(wchar_t));
	t->input[t->cursor++] = (wchar_t)k;
	t->input_len++;
	if(t->input[0] != L'/' && time(NULL) - t->typing_sent >= TYPING_SEND_S){
		t->typing_sent = time(NULL);
		chat_net_typing(t->net);
	}
}

void input__read_keys(struct tui *t)
{
	wint_t k;
	int r;

	while((r = get_wch(&k)) != ERR && !t->quit) key(t, k, r);
}

