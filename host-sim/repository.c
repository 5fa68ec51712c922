#include "repository.h"

#include <inttypes.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "hex.h"
#include "status.h"

#define READ_CHUNK (256 * 1024)

static uint64_t ms_since(const struct timespec *t0) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (uint64_t)(now.tv_sec - t0->tv_sec) * 1000u +
         (uint64_t)((now.tv_nsec - t0->tv_nsec) / 1000000L);
}

int hs_repository_init(hs_repository *r, const hs_snapshot *snaps, size_t n) {
  memset(r, 0, sizeof *r);
  r->installs = calloc(n ? n : 1, sizeof *r->installs);
  if (!r->installs) return -1;
  for (size_t i = 0; i < n; i++)
    r->installs[i].expected = &snaps[i];
  r->n = n;
  pthread_mutex_init(&r->mu, NULL);
  clock_gettime(CLOCK_MONOTONIC, &r->t0);
  return 0;
}

void hs_repository_release(hs_repository *r) {
  if (!r->installs) return;
  pthread_mutex_destroy(&r->mu);
  free(r->installs);
  r->installs = NULL;
}

uint64_t hs_repository_elapsed_ms(hs_repository *r) {
  return ms_since(&r->t0);
}

hs_install hs_repository_get(hs_repository *r, size_t i) {
  pthread_mutex_lock(&r->mu);
  hs_install copy = r->installs[i];
  pthread_mutex_unlock(&r->mu);
  return copy;
}

/* Reads the whole snapshot through reader, hashing it. Returns 0 and the
 * byte count and digest, or a status with a sentence in err. */
static int read_and_hash(const sss_reader *reader, uint64_t limit,
                         const char *name, uint64_t *total,
                         uint8_t digest[SSS_SHA256_LEN], char *err) {
  uint8_t *buf = malloc(READ_CHUNK);
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  int rc = SSS_ERR_NO_MEMORY;
  *total = 0;
  if (!buf || !md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
    sss_fail(err, rc, "the repository could not set up SHA-256 for %s", name);
    goto done;
  }
  for (;;) {
    int64_t got = reader->read(reader->reader_ctx, buf, READ_CHUNK);
    if (got == 0) break;
    if (got < 0 || got > READ_CHUNK) {
      rc = sss_fail(err, SSS_ERR_IO,
                    "the plugin's reader for %s failed "
                    "after %" PRIu64 " bytes (read returned %" PRId64 ")",
                    name, *total, got);
      goto done;
    }
    *total += (uint64_t)got;
    if (*total > limit) {
      rc = sss_fail(err, SSS_ERR_VERIFY,
                    "the plugin's reader for %s yields "
                    "more than the announced %" PRIu64 " bytes",
                    name, limit);
      goto done;
    }
    EVP_DigestUpdate(md, buf, (size_t)got);
  }
  unsigned int len = 0;
  EVP_DigestFinal_ex(md, digest, &len);
  rc = SSS_OK;
done:
  EVP_MD_CTX_free(md);
  free(buf);
  return rc;
}

static int reject(hs_repository *r, hs_install *in, char *err, int status) {
  pthread_mutex_lock(&r->mu);
  in->applies++;
  in->rejects++;
  snprintf(in->last_reject, sizeof in->last_reject, "%s", err);
  pthread_mutex_unlock(&r->mu);
  return status;
}

int hs_repository_apply(hs_repository *r, const sss_thread_id *thread_id,
                        const sss_block_id *block_id, const sss_reader *reader,
                        uint64_t size, char *err) {
  char local_err[SSS_ERROR_SIZE];
  if (!err) err = local_err;
  char tid[2 * SSS_THREAD_ID_LEN + 1];
  sss_hex_encode(thread_id->bytes, SSS_THREAD_ID_LEN, tid);
  hs_install *in = NULL;
  for (size_t i = 0; i < r->n && !in; i++)
    if (!memcmp(&r->installs[i].expected->thread_id, thread_id,
                sizeof *thread_id))
      in = &r->installs[i];
  if (!in)
    return sss_fail(err, SSS_ERR_REJECTED,
                    "thread %.16s... is not one the "
                    "repository asked for: load only the task's threads",
                    tid);
  const hs_snapshot *want = in->expected;
  char name[128];
  snprintf(name, sizeof name, "the snapshot of thread %u (block %.16s...)",
           want->index, want->resource_name);
  if (memcmp(block_id, &want->block_id, sizeof *block_id) != 0)
    return reject(r, in, err,
                  sss_fail(err, SSS_ERR_REJECTED,
                           "%s came with "
                           "another block id: apply the block the task named",
                           name));
  if (!reader || !SSS_HAS_MEMBER(reader, sss_reader, read) || !reader->read)
    return reject(
        r, in, err,
        sss_fail(err, SSS_ERR_INVALID_ARGUMENT,
                 "%s "
                 "came without a reader: pass an sss_reader with read set",
                 name));
  if (size != want->size)
    return reject(r, in, err,
                  sss_fail(err, SSS_ERR_VERIFY,
                           "%s has %" PRIu64 " bytes, expected %" PRIu64
                           ": it comes from a wrong or "
                           "damaged source",
                           name, size, want->size));
  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  uint64_t total = 0;
  uint8_t digest[SSS_SHA256_LEN];
  int rc = read_and_hash(reader, size, name, &total, digest, err);
  if (rc != SSS_OK) return reject(r, in, err, rc);
  if (total != size)
    return reject(r, in, err,
                  sss_fail(err, SSS_ERR_VERIFY,
                           "%s ended after %" PRIu64
                           " of the announced %" PRIu64 " bytes",
                           name, total, size));
  if (memcmp(digest, want->sha256, SSS_SHA256_LEN) != 0) {
    char got[2 * SSS_SHA256_LEN + 1];
    sss_hex_encode(digest, SSS_SHA256_LEN, got);
    return reject(
        r, in, err,
        sss_fail(err, SSS_ERR_VERIFY,
                 "%s has SHA-256 "
                 "%.16s..., not the expected one: its bytes were corrupted",
                 name, got));
  }
  pthread_mutex_lock(&r->mu);
  in->applies++;
  in->installed = 1;
  in->bytes = total;
  in->apply_ms = ms_since(&t0);
  in->done_ms = ms_since(&r->t0);
  pthread_mutex_unlock(&r->mu);
  return SSS_OK;
}
