/* verify.h: checks that fetched bytes are the snapshot the host asked for:
 * the size always, the SHA-256 (OpenSSL EVP) when the entry carries one. */
#ifndef FS_VERIFY_H
#define FS_VERIFY_H

#include "sss_plugin.h"

#include <stddef.h>
#include <stdint.h>

typedef struct fs_verify {
  void *md;       /* EVP_MD_CTX, NULL when no digest is expected */
  uint64_t bytes; /* bytes hashed so far */
} fs_verify;

/* Starts a check for entry: hashes only when the entry has a SHA-256.
 * Returns 0 or -1 (out of memory). */
int fs_verify_begin(fs_verify *v, const sss_load_entry *entry);

/* Feeds the next bytes, in order. Returns 0 or -1 (digest failure). */
int fs_verify_update(fs_verify *v, const void *data, size_t len);

/* Compares what was fed with the entry's expectations (size when known, the
 * digest when given, a non-zero size otherwise). Returns SSS_OK, or
 * SSS_ERR_VERIFY with a sentence in why (SSS_ERROR_SIZE bytes). */
int fs_verify_end(fs_verify *v, const sss_load_entry *entry, char *why);

/* Frees the digest context; safe after fs_verify_end or instead of it. */
void fs_verify_release(fs_verify *v);

#endif
