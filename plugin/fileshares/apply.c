#include "apply.h"

#include "status.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

typedef struct stage_reader {
  int fd;
  uint64_t offset, size;
  int error; /* errno of a failed read */
} stage_reader;

static int64_t stage_read(void *ctx, void *buf, size_t len) {
  stage_reader *r = ctx;
  if (r->error) return -1;
  uint64_t left = r->size - r->offset;
  if (len > left) len = (size_t)left;
  if (len == 0) return 0;
  for (;;) {
    ssize_t n = pread(r->fd, buf, len, (off_t)r->offset);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      r->error = n < 0 ? errno : EIO;
      return -1;
    }
    r->offset += (uint64_t)n;
    return n;
  }
}

int fs_apply(fs_instance *inst, fs_task *t, fs_entry *e, uint64_t size,
             char *why) {
  stage_reader r = {.fd = e->stage.fd, .size = size};
  sss_reader reader = {.struct_size = sizeof reader,
                       .reader_ctx = &r,
                       .read = stage_read,
                       .path = e->stage.path};
  char herr[SSS_ERROR_SIZE] = "";
  int rc = inst->host.apply_snapshot(inst->host.ctx, t->repository,
                                     &e->in.thread_id, &e->in.block_id,
                                     &reader, size, herr);
  if (r.error)
    return sss_fail(why, SSS_ERR_IO, "reading the staged file %s failed: %s",
                    e->stage.path, strerror(r.error));
  if (rc != 0)
    return sss_fail(why, SSS_ERR_REJECTED, "the repository rejected it: %s",
                    herr[0] ? herr : "no reason given");
  return SSS_OK;
}
