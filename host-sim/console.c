#include "console.h"

#include <stdarg.h>
#include <stdio.h>

void hs_console_init(hs_console *c, const char *prefix) {
  pthread_mutex_init(&c->mu, NULL);
  c->bar_shown = 0;
  c->prefix = prefix;
}

void hs_console_destroy(hs_console *c) { pthread_mutex_destroy(&c->mu); }

static void clear_locked(hs_console *c) {
  if (c->bar_shown) fputs("\r\033[K", stderr);
  c->bar_shown = 0;
}

static void emit(hs_console *c, const char *prefix, int newline, int bar,
                 const char *fmt, va_list ap) {
  pthread_mutex_lock(&c->mu);
  clear_locked(c);
  if (prefix) fprintf(stderr, "%s: ", prefix);
  vfprintf(stderr, fmt, ap);
  if (newline) fputc('\n', stderr);
  fflush(stderr);
  c->bar_shown = bar;
  pthread_mutex_unlock(&c->mu);
}

void hs_console_say(hs_console *c, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  emit(c, c->prefix, 1, 0, fmt, ap);
  va_end(ap);
}

void hs_console_line(hs_console *c, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  emit(c, NULL, 1, 0, fmt, ap);
  va_end(ap);
}

void hs_console_bar(hs_console *c, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  emit(c, NULL, 0, 1, fmt, ap);
  va_end(ap);
}

void hs_console_clear(hs_console *c) {
  pthread_mutex_lock(&c->mu);
  clear_locked(c);
  fflush(stderr);
  pthread_mutex_unlock(&c->mu);
}
