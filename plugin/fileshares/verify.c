#include "verify.h"

#include "hex.h"
#include "status.h"

#include <inttypes.h>
#include <openssl/evp.h>
#include <string.h>

int fs_verify_begin(fs_verify *v, const sss_load_entry *entry) {
  v->md = NULL;
  v->bytes = 0;
  if (!(entry->flags & SSS_ENTRY_HAS_SHA256)) return 0;
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  if (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
    EVP_MD_CTX_free(md);
    return -1;
  }
  v->md = md;
  return 0;
}

int fs_verify_update(fs_verify *v, const void *data, size_t len) {
  v->bytes += len;
  if (!v->md) return 0;
  return EVP_DigestUpdate(v->md, data, len) == 1 ? 0 : -1;
}

int fs_verify_end(fs_verify *v, const sss_load_entry *entry, char *why) {
  if ((entry->flags & SSS_ENTRY_HAS_SIZE) && v->bytes != entry->size)
    return sss_fail(why, SSS_ERR_VERIFY,
                    "size mismatch: received %" PRIu64 " bytes, expected %" PRIu64,
                    v->bytes, entry->size);
  if (!(entry->flags & SSS_ENTRY_HAS_SIZE) && v->bytes == 0)
    return sss_fail(why, SSS_ERR_VERIFY, "the snapshot is empty");
  if (!v->md) return SSS_OK;
  unsigned char got[EVP_MAX_MD_SIZE];
  unsigned int got_len = 0;
  int ok = EVP_DigestFinal_ex(v->md, got, &got_len) == 1;
  EVP_MD_CTX_free(v->md);
  v->md = NULL;
  if (!ok || got_len != SSS_SHA256_LEN)
    return sss_fail(why, SSS_ERR_VERIFY, "SHA-256 could not be computed");
  if (memcmp(got, entry->sha256, SSS_SHA256_LEN) != 0) {
    char got_hex[2 * SSS_SHA256_LEN + 1], want_hex[2 * SSS_SHA256_LEN + 1];
    sss_hex_encode(got, SSS_SHA256_LEN, got_hex);
    sss_hex_encode(entry->sha256, SSS_SHA256_LEN, want_hex);
    return sss_fail(why, SSS_ERR_VERIFY,
                    "SHA-256 mismatch: received %.16s..., expected %.16s...",
                    got_hex, want_hex);
  }
  return SSS_OK;
}

void fs_verify_release(fs_verify *v) {
  EVP_MD_CTX_free(v->md);
  v->md = NULL;
}
