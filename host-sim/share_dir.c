#include "share_dir.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define WRITE_CHUNK (256 * 1024)

static int fail(char *err, const char *fmt, const char *a, int e) {
  /* A sentence cut at HS_ERR_SIZE still names the thing first. */
  if (err && snprintf(err, HS_ERR_SIZE, fmt, a, strerror(e)) >= HS_ERR_SIZE)
    err[HS_ERR_SIZE - 2] = '.';
  return -1;
}

int hs_mkdirs(const char *path, char *err) {
  char buf[PATH_MAX];
  if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
    return fail(err,
                "directory '%s' is too long a path (%s): use a shorter "
                "TMPDIR",
                path, ENAMETOOLONG);
  for (char *p = buf + 1;; p++) {
    if (*p != '/' && *p != '\0') continue;
    char c = *p;
    *p = '\0';
    struct stat st;
    if (mkdir(buf, 0755) != 0 && errno != EEXIST)
      return fail(err,
                  "cannot create directory '%s' (%s): check that its "
                  "parent is writable",
                  buf, errno);
    if (stat(buf, &st) != 0 || !S_ISDIR(st.st_mode))
      return fail(err,
                  "'%s' is not a directory (%s): remove it or choose "
                  "another share directory",
                  buf, ENOTDIR);
    *p = c;
    if (c == '\0') break;
  }
  return 0;
}

static int fsync_dir(const char *dir) {
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return -1;
  int rc = fsync(fd);
  close(fd);
  return rc;
}

static int write_all(int fd, const uint8_t *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/* The paths of a file published at root/relpath (PATH_MAX buffers): the
 * file itself, its directory (created), and a hidden temp name next to it,
 * ".<name><suffix>". Returns 0, or -1 with a sentence. */
static int share_paths(const char *root, const char *relpath, char *final,
                       char *dir, char *tmp, const char *suffix, char *err) {
  if (snprintf(final, PATH_MAX, "%s/%s", root, relpath) >= PATH_MAX)
    return fail(err, "share path '%s' is too long (%s): use a shorter TMPDIR",
                relpath, ENAMETOOLONG);
  snprintf(dir, PATH_MAX, "%s", final);
  char *slash = strrchr(dir, '/');
  *slash = '\0';
  if (hs_mkdirs(dir, err) != 0) return -1;
  if (snprintf(tmp, PATH_MAX, "%s/.%s%s", dir, slash + 1, suffix) >= PATH_MAX)
    return fail(err, "share path '%s' is too long (%s): use a shorter TMPDIR",
                relpath, ENAMETOOLONG);
  return 0;
}

int hs_share_write(const char *root, const char *relpath, uint64_t size,
                   hs_produce_fn produce, void *ctx, char *err) {
  char final[PATH_MAX], dir[PATH_MAX], tmp[PATH_MAX];
  if (share_paths(root, relpath, final, dir, tmp, ".tmp.XXXXXX", err) != 0)
    return -1;

  uint8_t *buf = malloc(WRITE_CHUNK);
  int fd = buf ? mkostemp(tmp, O_CLOEXEC) : -1;
  if (fd < 0) {
    int e = buf ? errno : ENOMEM;
    free(buf);
    return fail(err,
                "cannot create a temp file in '%s' (%s): check that the "
                "share directory is writable",
                dir, e);
  }
  for (uint64_t off = 0; off < size;) {
    size_t n = size - off < WRITE_CHUNK ? (size_t)(size - off) : WRITE_CHUNK;
    if (produce(ctx, off, buf, n) != 0) {
      fail(err,
           "writing '%s' was aborted by its producer (%s): see the "
           "previous message",
           final, ECANCELED);
      goto unlink_tmp;
    }
    if (write_all(fd, buf, n) != 0) {
      fail(err,
           "cannot write '%s' (%s): free disk space in the share "
           "directory",
           tmp, errno);
      goto unlink_tmp;
    }
    off += n;
  }
  if (fsync(fd) != 0) {
    fail(err, "cannot fsync '%s' (%s): check the share directory's disk", tmp,
         errno);
    goto unlink_tmp;
  }
  close(fd);
  fd = -1;
  if (rename(tmp, final) != 0) {
    fail(err,
         "cannot rename the temp file to '%s' (%s): check the share "
         "directory's permissions",
         final, errno);
    goto unlink_tmp;
  }
  free(buf);
  if (fsync_dir(dir) != 0)
    return fail(err,
                "cannot fsync directory '%s' (%s): check the share "
                "directory's disk",
                dir, errno);
  return 0;

unlink_tmp:
  if (fd >= 0) close(fd);
  unlink(tmp);
  free(buf);
  return -1;
}

int hs_share_link(const char *root, const char *relpath, const char *src,
                  char *err) {
  static _Atomic unsigned counter;
  char final[PATH_MAX], dir[PATH_MAX], tmp[PATH_MAX], suffix[48];
  snprintf(suffix, sizeof suffix, ".lnk.%ld.%u", (long)getpid(), counter++);
  if (share_paths(root, relpath, final, dir, tmp, suffix, err) != 0) return -1;
  if (link(src, tmp) != 0)
    return fail(err,
                "cannot hard-link '%s' into the share directory (%s): write "
                "the file instead",
                src, errno);
  if (rename(tmp, final) != 0) {
    int e = errno;
    unlink(tmp);
    return fail(err,
                "cannot rename the temp link to '%s' (%s): check the share "
                "directory's permissions",
                final, e);
  }
  if (fsync_dir(dir) != 0)
    return fail(err,
                "cannot fsync directory '%s' (%s): check the share "
                "directory's disk",
                dir, errno);
  return 0;
}

static int remove_one(const char *path, const struct stat *st, int flag,
                      struct FTW *ftw) {
  (void)st;
  (void)ftw;
  int rc = flag == FTW_DP ? rmdir(path) : unlink(path);
  return rc != 0 && errno != ENOENT ? -1 : 0;
}

int hs_remove_tree(const char *path) {
  struct stat st;
  if (lstat(path, &st) != 0) return errno == ENOENT ? 0 : -1;
  return nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}
