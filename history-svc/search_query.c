/* search_query.c: query text to full-text and LIKE terms, and snippets;
 * see search_query.h. */
#include "search_query.h"

#include <stdio.h>
#include <string.h>

/* InnoDB's innodb_ft_min_token_size and innodb_ft_max_token_size defaults:
 * shorter and longer words are not in the index. */
#define FT_WORD_MIN_CHARS 3
#define FT_WORD_MAX_CHARS 84
#define SNIPPET_BYTES 120

static int word_byte(unsigned char c)
{
	return c >= 0x80 || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

/* Finds the next word of query from *at: a run of word bytes of 3 to
 * FT_WORD_MAX_CHARS characters. Returns 1 with *start and *len set (and
 * *at past it), 0 when there is none left. */
static int next_word(const char *query, size_t qlen, size_t *at, size_t *start, size_t *len)
{
	size_t i = *at;

	while(i < qlen){
		size_t from, chars = 0;

		if(!word_byte((unsigned char)query[i])){
			i++;
			continue;
		}
		from = i;
		while(i < qlen && word_byte((unsigned char)query[i])){
			if(((unsigned char)query[i] & 0xC0) != 0x80) chars++;
			i++;
		}
		if(chars >= FT_WORD_MIN_CHARS && chars <= FT_WORD_MAX_CHARS){
			*at = i;
			*start = from;
			*len = i - from;
			return 1;
		}
	}
	*at = i;
	return 0;
}

int search_against_text(const char *query, size_t len, char *out, size_t outlen)
{
	size_t at = 0, i = 0, start, wlen;
	int words = 0;

	if(outlen == 0) return -1;
	out[0] = '\0';
	while(next_word(query, len, &i, &start, &wlen)){
		if(at + wlen + 5 > outlen) return -1;
		at += (size_t)snprintf(out + at, outlen - at, "%s+\"%.*s\"", words ? " " : "", (int)wlen, query + start);
		words++;
	}
	return words;
}

int search_regexp_pattern(const char *query, size_t len, char *out, size_t outlen)
{
	static const char head[] = "(*UCP)(?s)^";
	size_t at, i = 0, start, wlen;
	int words = 0;

	if(outlen < sizeof(head)) return -1;
	at = (size_t)snprintf(out, outlen, "%s", head);
	while(next_word(query, len, &i, &start, &wlen)){
		if(at + wlen + 12 > outlen) return -1;
		at += (size_t)snprintf(out + at, outlen - at, "(?=.*\\b%.*s\\b)", (int)wlen, query + start);
		words++;
	}
	return words;
}

int search_like_pattern(const char *query, size_t len, char *out, size_t outlen)
{
	size_t at = 0;

	if(outlen < 3) return -1;
	out[at++] = '%';
	for(size_t i = 0; i < len; i++){
		if(at + 4 > outlen) return -1;
		if(query[i] == '!' || query[i] == '%' || query[i] == '_') out[at++] = '!';
		out[at++] = query[i];
	}
	out[at++] = '%';
	out[at] = '\0';
	return 0;
}

/* The first ASCII-case-insensitive occurrence of needle in hay, or -1. */
static long find_ci(const char *hay, size_t hay_len, const char *needle, size_t needle_len)
{
	if(needle_len == 0 || needle_len > hay_len) return -1;
	for(size_t i = 0; i + needle_len <= hay_len; i++){
		size_t k = 0;

		while(k < needle_len){
			unsigned char a = (unsigned char)hay[i + k], b = (unsigned char)needle[k];

			if(a >= 'A' && a <= 'Z') a = (unsigned char)(a - 'A' + 'a');
			if(b >= 'A' && b <= 'Z') b = (unsigned char)(b - 'A' + 'a');
			if(a != b) break;
			k++;
		}
		if(k == needle_len) return (long)i;
	}
	return -1;
}

void search_snippet(const char *body, size_t body_len, const char *query, char *out, size_t outlen)
{
	long hit = find_ci(body, body_len, query, strlen(query));
	size_t start, end;

	if(outlen < SEARCH_SNIPPET_MAX){
		if(outlen) out[0] = '\0';
		return;
	}
	start = hit > 40 ? (size_t)hit - 40 : 0;
	while(start > 0 && ((unsigned char)body[start] & 0xC0) == 0x80) start--;
	end = start + SNIPPET_BYTES < body_len ? start + SNIPPET_BYTES : body_len;
	while(end < body_len && end > start && ((unsigned char)body[end] & 0xC0) == 0x80) end--;
	snprintf(out, outlen, "%s%.*s%s", start > 0 ? "\xE2\x80\xA6" : "", (int)(end - start), body + start,
			end < body_len ? "\xE2\x80\xA6" : "");
}
