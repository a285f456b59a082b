/* password_input.h: reading a password without it ever being on a command
 * line: from the terminal with echo off, or as one line of a pipe. */
#ifndef CHAT_PASSWORD_INPUT_H
#define CHAT_PASSWORD_INPUT_H

#include <stddef.h>
#include <stdio.h>

/* Reads one line from fp into buf (len bytes), dropping the line end.
 * Returns 0, or -1 on EOF, an empty line or a line that does not fit. */
int password_read_line(FILE *fp, char *buf, size_t len);

/* Prints prompt on /dev/tty and reads a line there with echo off.
 * Returns 0, or -1 when there is no terminal or nothing was read. */
int password_prompt_tty(const char *prompt, char *buf, size_t len);

#endif
