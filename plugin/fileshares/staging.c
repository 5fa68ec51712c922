#include "staging.h"

#include "sss_plugin.h"
#include "status.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int fs_stage_open(fs_stage *s, const char *dir, const char *resource,
                  char *err) {
  s->fd = -1;
  s->path = NULL;
  size_t len = strlen(dir) + strlen(resource) + 16;
  char *path = malloc(len);
  if (!path) return sss_fail(err, SSS_ERR_NO_MEMORY, "staging: out of memory");
  snprintf(path, len, "%s/sss-%s-XXXXXX", dir, resource);
  int fd = mkostemp(path, O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    free(path);
    return sss_fail(err, SSS_ERR_IO,
                    "staging_dir '%s': cannot create a staged file: %s; "
                    "point staging_dir at a writable directory",
                    dir, strerror(e));
  }
  s->fd = fd;
  s->path = path;
  return SSS_OK;
}

int fs_stage_write(int fd, const void *data, uint64_t len,
                   uint64_t offset) {
  const char *p = data;
  while (len > 0) {
    ssize_t n = pwrite(fd, p, len, (off_t)offset);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (n == 0) {
      errno = ENOSPC;
      return -1;
    }
    p += n;
    len -= (uint64_t)n;
    offset += (uint64_t)n;
  }
  return 0;
}

void fs_stage_discard(fs_stage *s) {
  if (s->fd >= 0) close(s->fd);
  if (s->path) unlink(s->path);
  free(s->path);
  s->fd = -1;
  s->path = NULL;
}
