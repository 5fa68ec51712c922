/* console.h: stderr shared by a progress line and other messages. A
 * progress line is redrawn in place ("\r" + erase); any other output first
 * erases it, so lines never interleave. Every call may come from any thread
 * (plugin callbacks run on the loader thread). */
#ifndef HS_CONSOLE_H
#define HS_CONSOLE_H

#include <pthread.h>

typedef struct hs_console {
  pthread_mutex_t mu;
  int bar_shown;      /* a progress line is on the terminal */
  const char *prefix; /* "sss-host-sim", put before hs_console_say lines */
} hs_console;

void hs_console_init(hs_console *c, const char *prefix);
void hs_console_destroy(hs_console *c);

/* "PREFIX: sentence\n". */
void hs_console_say(hs_console *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The line as given, plus "\n" (for log lines that carry their own tag). */
void hs_console_line(hs_console *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Redraws the progress line (no newline). */
void hs_console_bar(hs_console *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Erases the progress line, if one is shown. */
void hs_console_clear(hs_console *c);

#endif
