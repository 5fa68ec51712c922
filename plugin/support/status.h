/* status.h: names of sss_status codes and the error-buffer helper shared by
 * every backend (linked statically into each .so; nothing is exported). */
#ifndef SSS_SUPPORT_STATUS_H
#define SSS_SUPPORT_STATUS_H

#include "sss_plugin.h"

/* Static English name of a status; never NULL ("unknown status" otherwise). */
const char *sss_status_str(int status);

/* Formats one sentence into err (NULL or SSS_ERROR_SIZE bytes) and returns
 * status, so that a failure path reads `return sss_fail(err, code, ...)`. */
int sss_fail(char *err, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
