/* share_dir.h: the simulator's file-saving service. A share directory holds
 * published snapshots; writes are atomic (temp file in the same directory,
 * fsync, rename, fsync of the directory), so a reader sees the old file or
 * the whole new one, never a part. */
#ifndef HS_SHARE_DIR_H
#define HS_SHARE_DIR_H

#include <stddef.h>
#include <stdint.h>

/* Size of the error buffers of the host-side helpers. */
#define HS_ERR_SIZE 1024

/* Produces bytes [offset, offset+len) of the content into buf. Returns 0, or
 * non-zero to abort the write. */
typedef int (*hs_produce_fn)(void *ctx, uint64_t offset, void *buf, size_t len);

/* Writes `size` bytes from produce to root/relpath, creating the directories
 * of relpath. Returns 0, or -1 with a sentence in err (HS_ERR_SIZE bytes);
 * then no temp file is left behind and an older file at relpath is intact. */
int hs_share_write(const char *root, const char *relpath, uint64_t size,
                   hs_produce_fn produce, void *ctx, char *err);

/* Publishes the already durable file src (an earlier hs_share_write of the
 * same bytes) at root/relpath as a hard link: link to a temp name in the
 * same directory, rename, fsync of the directory. As atomic as
 * hs_share_write, without writing the bytes again. Returns 0, or -1 with a
 * sentence in err (e.g. src on another file system); then the caller
 * writes the file instead. */
int hs_share_link(const char *root, const char *relpath, const char *src,
                  char *err);

/* mkdir -p with mode 0755. Returns 0, or -1 with a sentence in err. */
int hs_mkdirs(const char *path, char *err);

/* Removes path and everything below it (no symlink is followed). Returns 0,
 * or -1 when something could not be removed (errno set). */
int hs_remove_tree(const char *path);

#endif
