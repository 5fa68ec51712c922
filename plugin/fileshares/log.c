#include "instance.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

uint64_t fs_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void fs_log(fs_instance *inst, int level, const char *fmt, ...) {
  if (!inst->host.log) return;
  char line[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  inst->host.log(inst->host.ctx, level, line);
}
