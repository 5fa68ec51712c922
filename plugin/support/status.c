#include "status.h"

#include <stdarg.h>
#include <stdio.h>

const char *sss_status_str(int status) {
  switch (status) {
  case SSS_OK: return "ok";
  case SSS_ALREADY_LOADING: return "a load task is already running";
  case SSS_IDLE: return "no task was running";
  case SSS_ERR_INVALID_ARGUMENT: return "invalid argument";
  case SSS_ERR_UNKNOWN_OPTION: return "unknown option";
  case SSS_ERR_BAD_OPTION_VALUE: return "bad option value";
  case SSS_ERR_MISSING_CALLBACK: return "host table lacks a required callback";
  case SSS_ERR_HOST_TABLE: return "host table missing or too short";
  case SSS_ERR_NO_MEMORY: return "out of memory";
  case SSS_ERR_SYSTEM: return "system call failed";
  case SSS_ERR_HOST: return "host callback failed";
  case SSS_ERR_UNSUPPORTED: return "not supported by this backend";
  case SSS_ERR_IO: return "local I/O error";
  case SSS_ERR_NETWORK: return "transfer failed";
  case SSS_ERR_VERIFY: return "verification failed";
  case SSS_ERR_CANCELLED: return "cancelled";
  case SSS_ERR_TIMEOUT: return "deadline passed";
  case SSS_ERR_NOT_FOUND: return "snapshot not found";
  case SSS_ERR_TOO_LARGE: return "snapshot too large";
  case SSS_ERR_NO_SOURCES: return "no usable source";
  case SSS_ERR_REJECTED: return "rejected by the repository";
  default: return "unknown status";
  }
}

int sss_fail(char *err, int status, const char *fmt, ...) {
  if (err) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, SSS_ERROR_SIZE, fmt, ap);
    va_end(ap);
  }
  return status;
}
