/* The joining node's repository (host-sim/repository.c): installs only
 * bytes whose size and SHA-256 match. */
#include <criterion/criterion.h>
#include <string.h>

#include "repository.h"
#include "snapshot.h"

typedef struct reader_state {
  const hs_snapshot *snap;
  uint64_t off, size; /* yields `size` bytes of snap's stream */
  int64_t flip_at;    /* -1: none */
  int fail_at_end;    /* read returns -1 instead of 0 at the end */
} reader_state;

static int64_t reader_read(void *ctx, void *buf, size_t len) {
  reader_state *r = ctx;
  if (r->off >= r->size) return r->fail_at_end ? -1 : 0;
  size_t n = r->size - r->off < len ? (size_t)(r->size - r->off) : len;
  if (n > 1000) n = 1000; /* short reads, like a real reader */
  hs_snapshot_fill(r->snap, r->off, buf, n);
  if (r->flip_at >= (int64_t)r->off && r->flip_at < (int64_t)(r->off + n))
    ((uint8_t *)buf)[r->flip_at - (int64_t)r->off] ^= 0xff;
  r->off += n;
  return (int64_t)n;
}

static hs_snapshot snaps[2];
static hs_repository repo;

static void setup(void) {
  hs_snapshot_init(&snaps[0], 9, 0, 12345);
  hs_snapshot_init(&snaps[1], 9, 1, 12345);
  cr_assert_eq(hs_repository_init(&repo, snaps, 2), 0);
}
static void teardown(void) {
  hs_repository_release(&repo);
}

static int apply(const hs_snapshot *as, const hs_snapshot *bytes_of,
                 uint64_t announced, uint64_t yields, int64_t flip,
                 int fail_at_end, char *err) {
  reader_state st = {bytes_of, 0, yields, flip, fail_at_end};
  sss_reader rd = {
      .struct_size = sizeof rd, .reader_ctx = &st, .read = reader_read};
  return hs_repository_apply(&repo, &as->thread_id, &as->block_id, &rd,
                             announced, err);
}

TestSuite(repository, .init = setup, .fini = teardown);

Test(repository, installs_matching_bytes) {
  char err[SSS_ERROR_SIZE] = "";
  cr_assert_eq(apply(&snaps[1], &snaps[1], 12345, 12345, -1, 0, err), 0, "%s",
               err);
  hs_install in = hs_repository_get(&repo, 1);
  cr_assert(in.installed);
  cr_assert_eq(in.bytes, 12345);
  cr_assert_eq(in.applies, 1);
  cr_assert_not(hs_repository_get(&repo, 0).installed);
}

Test(repository, rejects_one_flipped_byte) {
  char err[SSS_ERROR_SIZE] = "";
  cr_assert_neq(apply(&snaps[0], &snaps[0], 12345, 12345, 7777, 0, err), 0);
  cr_assert(strstr(err, "SHA-256") != NULL, "%s", err);
  hs_install in = hs_repository_get(&repo, 0);
  cr_assert_not(in.installed);
  cr_assert_eq(in.rejects, 1);
  cr_assert_str_eq(in.last_reject, err);
}

Test(repository, rejects_wrong_announced_size) {
  char err[SSS_ERROR_SIZE] = "";
  cr_assert_neq(apply(&snaps[0], &snaps[0], 12344, 12344, -1, 0, err), 0);
  cr_assert(strstr(err, "12344") && strstr(err, "12345"), "%s", err);
}

Test(repository, rejects_a_reader_that_ends_early_or_fails) {
  char err[SSS_ERROR_SIZE] = "";
  cr_assert_neq(apply(&snaps[0], &snaps[0], 12345, 12000, -1, 0, err), 0);
  cr_assert(strstr(err, "12000") != NULL, "%s", err);
  cr_assert_neq(apply(&snaps[0], &snaps[0], 12345, 12345, -1, 1, err), 0);
  cr_assert(strstr(err, "failed") != NULL, "%s", err);
  cr_assert_not(hs_repository_get(&repo, 0).installed);
}

Test(repository, rejects_other_threads_bytes_and_unknown_threads) {
  char err[SSS_ERROR_SIZE] = "";
  cr_assert_neq(apply(&snaps[0], &snaps[1], 12345, 12345, -1, 0, err), 0);
  hs_snapshot stranger;
  hs_snapshot_init(&stranger, 10, 0, 12345);
  cr_assert_neq(apply(&stranger, &stranger, 12345, 12345, -1, 0, err), 0);
  cr_assert(strstr(err, "not one the repository asked for") != NULL, "%s", err);
}
