/* staging.h: a staged file holds a snapshot's bytes between fetch and apply;
 * it lives in the staging directory and is removed on every ending. */
#ifndef FS_STAGING_H
#define FS_STAGING_H

#include <stdint.h>

typedef struct fs_stage {
  int fd;     /* -1 when closed */
  char *path; /* owned; NULL when none */
} fs_stage;

/* Creates an empty staged file "<dir>/sss-<resource>-XXXXXX" (mode 0600,
 * close-on-exec). Returns 0, or a negative sss_status with a sentence in err
 * naming the directory and the system error. */
int fs_stage_open(fs_stage *s, const char *dir, const char *resource,
                  char *err);

/* Writes len bytes at offset (pwrite, retried on short writes). Returns 0, or
 * -1 with errno set (ENOSPC for a full disk). */
int fs_stage_write(int fd, const void *data, uint64_t len,
                   uint64_t offset);

/* Closes and unlinks the staged file; safe to call twice or on a zeroed
 * stage with fd -1. */
void fs_stage_discard(fs_stage *s);

#endif
