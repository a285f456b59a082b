/* password_input.c: password input without echo; see password_input.h. */
#include "password_input.h"

#include <string.h>
#include <termios.h>

int password_read_line(FILE *fp, char *buf, size_t len)
{
	size_t n;

	if(!fgets(buf, (int)len, fp)) return -1;
	n = strlen(buf);
	if(n > 0 && buf[n - 1] == '\n'){
		buf[--n] = '\0';
	}else if(!feof(fp)){
		memset(buf, 0, len);
		return -1; /* longer than the buffer */
	}
	if(n > 0 && buf[n - 1] == '\r') buf[--n] = '\0';
	return n > 0 ? 0 : -1;
}

int password_prompt_tty(const char *prompt, char *buf, size_t len)
{
	struct termios saved, quiet;
	FILE *tty = NULL;
	int have_termios = 0;
	int rc = -1;

	tty = fopen("/dev/tty", "r+");
	if(!tty) goto out;
	if(tcgetattr(fileno(tty), &saved) == 0){
		quiet = saved;
		quiet.c_lflag &= (tcflag_t)~ECHO;
		have_termios = tcsetattr(fileno(tty), TCSAFLUSH, &quiet) == 0;
	}
	fputs(prompt, tty);
	fflush(tty);
	rc = password_read_line(tty, buf, len);
	fputs("\n", tty);
out:
	if(have_termios) tcsetattr(fileno(tty), TCSAFLUSH, &saved);
	if(tty) fclose(tty);
	return rc;
}
