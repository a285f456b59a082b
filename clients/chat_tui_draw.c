/* chat_tui_draw.c: drawing chat's full screen (ncursesw) from the model:
 * the room list, the message pane (lines wrapped at spaces and at line
 * breaks, the read marker), the member list, the status and input lines.
 * Layout in docs/CLIENT.md; see chat_tui_int.h. */
#include "chat_tui_int.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <wchar.h>

#include <ncursesw/curses.h>

/* Decodes one character of UTF-8 at s (n bytes left) into *wc; returns
 * the bytes used (at least 1: an invalid byte becomes U+FFFD). */
size_t draw__next_char(const char *s, size_t n, wchar_t *wc)
{
	mbstate_t st;
	size_t r;

	memset(&st, 0, sizeof(st));
	r = mbrtowc(wc, s, n, &st);
	if(r == (size_t)-1 || r == (size_t)-2 || r == 0){
		*wc = 0xFFFD;
		return 1;
	}
	return r;
}

static int char_width(wchar_t wc)
{
	int w = wcwidth(wc);

	return w < 0 ? 1 : w;
}

/* Draws UTF-8 s at the cursor, at most maxw columns; a tab as a space,
 * other control characters as '?' (line breaks never get here: they end
 * a row). Returns the columns used. */
static int put_text(const char *s, int maxw)
{
	size_t n = strlen(s);
	int used = 0;

	while(n > 0){
		wchar_t wc;
		size_t k = draw__next_char(s, n, &wc);
		int w;

		if(wc == L'\t') wc = L' ';
		else if(wc < 0x20 || (wc >= 0x7f && wc < 0xa0)) wc = L'?';
		w = char_width(wc);
		if(used + w > maxw) break;
		if(w > 0 || used > 0) addnwstr(&wc, 1);
		used += w;
		s += k;
		n -= k;
	}
	return used;
}

/* Bytes of s (n bytes) that fit in one row of width columns, breaking at
 * the last space when a word would be cut, and after a line break (which
 * the row then ends with). At least one character. */
static size_t row_bytes(const char *s, size_t n, int width)
{
	size_t pos = 0, last_space = 0;
	int used = 0;

	while(pos < n){
		wchar_t wc;
		size_t k = draw__next_char(s + pos, n - pos, &wc);
		int w = char_width(wc);

		if(wc == L'\n') return pos + k;
		if(used + w > width && pos > 0) return last_space > 0 ? last_space : pos;
		if(wc == L' ') last_space = pos + k;
		used += w;
		pos += k;
	}
	return pos;
}

/* The text of line l of room r as shown, into buf: "HH:MM [SEQ] <sender>
 * text" and its operation rows (chat_tui_ops.c), "HH:MM -- info". */
static void line_text(const struct room *r, const struct line *l, char *buf, size_t len)
{
	switch(l->kind){
	case LINE_MSG:
	case LINE_EMOTE: ops__line_text(r, l, buf, len); break;
	case LINE_INFO: snprintf(buf, len, "%s -- %s", l->when, l->text); break;
	case LINE_ERROR: snprintf(buf, len, "%s !! %s", l->when, l->text); break;
	}
}

int draw__line_rows(const struct room *r, const struct line *l, int width, char *buf, size_t len)
{
	size_t n, pos = 0;
	int rows = 0;

	line_text(r, l, buf, len);
	n = strlen(buf);
	while(pos < n){
		pos += row_bytes(buf + pos, n - pos, width);
		rows++;
	}
	return rows ? rows : 1;
}

static void draw_line_rows(const struct room *r, const struct line *l, int y0, int x, int width, int skip, int top,
		int bottom, const char *me, char *buf, size_t len)
{
	size_t n, pos = 0;
	int row = 0;
	attr_t attr = A_NORMAL;

	line_text(r, l, buf, len);
	n = strlen(buf);
	if(l->kind == LINE_ERROR) attr = A_BOLD;
	else if(l->kind == LINE_INFO) attr = A_DIM;
	else if(l->deleted_by[0]) attr = A_DIM;
	else if(l->kind == LINE_MSG && model__mentions(l->text, me) && strcmp(l->sender, me)) attr = A_BOLD;
	while(pos < n || row == 0){
		size_t k = pos < n ? row_bytes(buf + pos, n - pos, width) : 0;
		int y = y0 + row - skip;

		if(row >= skip && y >= top && y < bottom){
			size_t end = pos + k;
			char save;

			if(end > pos && buf[end - 1] == '\n') end--; /* a row a line break ends */
			save = buf[end];
			buf[end] = '\0';
			move(y, x);
			attron(attr);
			put_text(buf + pos, width);
			attroff(attr);
			buf[end] = save;
		}
		pos += k;
		row++;
		if(k == 0) break;
	}
}

static void draw_messages(struct tui *t, int top, int bottom, int x, int width)
{
	static char buf[CHAT_LINE_MAX * 2 + 256];
	struct room *r = model__cur(t);
	const char *me = chat_net_user(t->net);
	int height = bottom - top;
	int y = bottom;
	int skip_rows;

	if(!r || height <= 0 || width < 10) return;
	if(r->topic && height > 2){
		/* The room's topic heads the pane. */
		char head[512];

		snprintf(head, sizeof(head), " topic: %s", r->topic);
		for(char *c = head; *c; c++) if(*c == '\n' || *c == '\t') *c = ' ';
		move(top, x);
		attron(A_REVERSE);
		for(int c = 0; c < width; c++) addch(' ');
		move(top, x);
		put_text(head, width);
		attroff(A_REVERSE);
		top++;
		height--;
	}
	skip_rows = r->scroll;
	ops__seen_mark(r, me); /* where "seen by" goes */
	/* From the newest line up, until the pane is full. */
	for(size_t i = r->nlines; i-- > 0 && y > top;){
		int rows = draw__line_rows(r, &r->lines[i], width, buf, sizeof(buf));

		if(skip_rows >= rows){
			skip_rows -= rows;
		}else{
			int shown = rows - skip_rows;

			y -= shown;
			draw_line_rows(r, &r->lines[i], y, x, width, 0, top, bottom, me, buf, sizeof(buf));
			skip_rows = 0;
		}
		if(r->marker >= 0 && (size_t)r->marker == i && y > top && skip_rows == 0){
			y--;
			move(y, x);
			attron(A_BOLD);
			for(int c = 0; c < width; c++) addch(c == 2 || c == 3 ? ' ' : '-');
			mvaddstr(y, x + (width > 30 ? width / 2 - 6 : 0), " new messages ");
			attroff(A_BOLD);
		}
	}
	if(y > top && r->scroll > 0 && r->at_start){
		mvaddstr(top, x, "-- start of the room --");
	}
}

static void draw_rooms(struct tui *t, int top, int bottom)
{
	char label[NAME_ROOM_MAX + 2];
	char count[48];

	mvaddstr(top, 0, "Rooms");
	for(size_t i = 0; i < t->nrooms && top + 1 + (int)i < bottom; i++){
		struct room *r = t->rooms[i];
		int y = top + 1 + (int)i;
		int is_cur = i == t->current;

		model__room_label(r, label, sizeof(label));
		move(y, 0);
		if(is_cur) attron(A_REVERSE);
		else if(r->unread) attron(A_BOLD);
		addch(r->mention ? '!' : r->unread ? '*' : ' ');
		put_text(label, ROOMS_W - 6);
		if(r->unread || r->mentions){
			/* unread messages, and "@N" for those that mention us */
			if(r->mentions) snprintf(count, sizeof(count), "%ld@%ld", r->unread > 99 ? 99 : r->unread,
					r->mentions > 9 ? 9 : r->mentions);
			else snprintf(count, sizeof(count), "%ld", r->unread > 999 ? 999 : r->unread);
			mvprintw(y, ROOMS_W - 2 - (int)strlen(count), "%s", count);
		}
		if(is_cur) attroff(A_REVERSE);
		else if(r->unread) attroff(A_BOLD);
	}
	mvvline(top, ROOMS_W - 1, ACS_VLINE, bottom - top);
}

static char presence_mark(const struct user *u)
{
	if(!u || !strcmp(u->state, "offline")) return ' ';
	if(!strcmp(u->state, "away")) return '~';
	if(!strcmp(u->state, "dnd")) return '-';
	return '+';
}

static void draw_members(struct tui *t, int top, int bottom)
{
	struct room *r = model__cur(t);
	int x = COLS - MEMBERS_W;

	mvvline(top, x - 1, ACS_VLINE, bottom - top);
	mvaddstr(top, x, "Members");
	if(!r) return;
	for(size_t i = 0; i < r->nmembers && top + 1 + (int)i < bottom; i++){
		const struct user *u = model__user_get(t, r->members[i], 0);
		char mark = presence_mark(u);
		char entry[NAME_USER_MAX + 140];

		if(u && u->text[0]) snprintf(entry, sizeof(entry), "%c%s (%s)", mark, r->members[i], u->text);
		else snprintf(entry, sizeof(entry), "%c%s", mark, r->members[i]);
		move(top + 1 + (int)i, x);
		if(mark == ' ') attron(A_DIM);
		put_text(entry, MEMBERS_W);
		if(mark == ' ') attroff(A_DIM);
	}
}

static void draw_status(struct tui *t, int y)
{
	char line[512];
	char typing[200] = "";
	char label[NAME_ROOM_MAX + 40] = "(no room)";
	struct room *r = model__cur(t);
	size_t pending = chat_net_pending(t->net);
	time_t now = time(NULL);
	size_t used = 0;
	int ntyping = 0;

	if(r){
		model__room_label(r, label, sizeof(label));
		for(size_t i = 0; i < TYPING_MAX; i++){
			if(r->typing[i].user[0] && r->typing[i].until >= now){
				int n = snprintf(typing + used, sizeof(typing) - used, "%s%s", ntyping ? ", " : "", r->typing[i].user);

				if(n > 0 && (size_t)n < sizeof(typing) - used) used += (size_t)n;
				ntyping++;
			}
		}
	}
	move(y, 0);
	attron(A_REVERSE);
	for(int c = 0; c < COLS; c++) addch(' ');
	move(y, 0);
	if(!t->online){
		attron(A_BOLD);
		if(t->retry_attempt > 0 && t->retry_at > now){
			snprintf(line, sizeof(line), " OFFLINE - reconnecting in %lld s (attempt %ld) ",
					(long long)(t->retry_at - now), t->retry_attempt);
		}else if(t->retry_attempt > 0){
			snprintf(line, sizeof(line), " OFFLINE - reconnecting (attempt %ld) ", t->retry_attempt);
		}else{
			snprintf(line, sizeof(line), " %s ", t->ever_connected ? "OFFLINE - reconnecting" : "CONNECTING");
		}
		put_text(line, COLS);
		attroff(A_BOLD);
	}else{
		put_text(" online ", COLS);
	}
	if(r){
		/* Lines typed here go to a thread: say which. */
		char thread_room[NAME_ROOM_MAX + 1];
		long root = chat_net_thread_current(t->net, thread_room, sizeof(thread_room));
		size_t n = strlen(label);

		if(root > 0 && !strcmp(thread_room, r->name)) snprintf(label + n, sizeof(label) - n, " thread [%ld]", root);
	}
	snprintf(line, sizeof(line), "| %s | %s |%s%s%s", chat_net_user(t->net), label,
			ntyping ? " " : "", typing, ntyping ? (ntyping > 1 ? " are typing" : " is typing") : "");
	put_text(line, COLS - getcurx(stdscr));
	if(pending && !t->online){
		snprintf(line, sizeof(line), " queued: %zu", pending);
		put_text(line, COLS - getcurx(stdscr));
	}
	attroff(A_REVERSE);
}

static void draw_input(struct tui *t, int y)
{
	const char *prompt = "> ";
	int width = COLS - 2;
	size_t start = 0;
	int used = 0;
	int cursor_x = 2;
	size_t masked_from = SIZE_MAX;

	if(width < 1) return;
	/* Scroll the input so the cursor stays visible. */
	for(;;){
		int w = 0;

		for(size_t i = start; i < t->cursor; i++) w += char_width(t->input[i]);
		if(w < width || start >= t->cursor) break;
		start++;
	}
	/* The passwords of /password OLD NEW show as stars. */
	if(t->input_len >= 10 && !wcsncmp(t->input, L"/password ", 10)) masked_from = 10;
	move(y, 0);
	clrtoeol();
	addstr(prompt);
	for(size_t i = start; i < t->input_len; i++){
		int w = i >= masked_from ? 1 : char_width(t->input[i]);

		if(used + w > width) break;
		if(i == t->cursor) cursor_x = 2 + used;
		if(i >= masked_from && t->input[i] != L' ') addch('*');
		else addnwstr(&t->input[i], 1);
		used += w;
	}
	if(t->cursor >= t->input_len) cursor_x = 2 + used;
	move(y, cursor_x < COLS ? cursor_x : COLS - 1);
}

int draw__pane_width(void)
{
	return COLS >= SIDES_MIN_COLS ? COLS - ROOMS_W - MEMBERS_W - 3 : COLS;
}

void draw__redraw(struct tui *t)
{
	int sides = COLS >= SIDES_MIN_COLS;
	int bottom = LINES - 2;

	erase();
	if(LINES < 4 || COLS < 20){
		mvaddstr(0, 0, "terminal too small");
		refresh();
		return;
	}
	if(sides){
		draw_rooms(t, 0, bottom);
		draw_members(t, 0, bottom);
		draw_messages(t, 0, bottom, ROOMS_W + 1, draw__pane_width());
	}else{
		draw_messages(t, 0, bottom, 0, COLS);
	}
	draw_status(t, LINES - 2);
	draw_input(t, LINES - 1);
	refresh();
}

