/* The deterministic snapshot generator (host-sim/snapshot.c). */
#include <criterion/criterion.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "hex.h"
#include "snapshot.h"

Test(snapshot, same_seed_and_index_give_same_ids_bytes_and_digest) {
  hs_snapshot a, b;
  cr_assert_eq(hs_snapshot_init(&a, 7, 2, 5000), 0);
  cr_assert_eq(hs_snapshot_init(&b, 7, 2, 5000), 0);
  cr_assert_eq(memcmp(&a, &b, sizeof a), 0);
  uint8_t x[5000], y[5000];
  hs_snapshot_fill(&a, 0, x, sizeof x);
  hs_snapshot_fill(&b, 0, y, sizeof y);
  cr_assert_eq(memcmp(x, y, sizeof x), 0);
}

Test(snapshot, other_index_or_seed_differs) {
  hs_snapshot a, b, c;
  hs_snapshot_init(&a, 7, 0, 64);
  hs_snapshot_init(&b, 7, 1, 64);
  hs_snapshot_init(&c, 8, 0, 64);
  cr_assert_neq(memcmp(&a.thread_id, &b.thread_id, sizeof a.thread_id), 0);
  cr_assert_neq(memcmp(&a.block_id, &c.block_id, sizeof a.block_id), 0);
  cr_assert_neq(memcmp(a.sha256, b.sha256, SSS_SHA256_LEN), 0);
  cr_assert_neq(memcmp(a.sha256, c.sha256, SSS_SHA256_LEN), 0);
  /* Ids and content come from separate domains. */
  cr_assert_neq(memcmp(a.thread_id.bytes, a.block_id.bytes, 32), 0);
}

Test(snapshot, any_range_matches_the_whole_stream) {
  hs_snapshot s;
  hs_snapshot_init(&s, 3, 1, 1000);
  uint8_t whole[1000], pieces[1000];
  hs_snapshot_fill(&s, 0, whole, sizeof whole);
  size_t cuts[] = {0, 1, 7, 8, 13, 64, 333, 999, 1000};
  for (size_t i = 0; i + 1 < sizeof cuts / sizeof cuts[0]; i++)
    hs_snapshot_fill(&s, cuts[i], pieces + cuts[i], cuts[i + 1] - cuts[i]);
  cr_assert_eq(memcmp(whole, pieces, sizeof whole), 0);
}

Test(snapshot, digest_is_sha256_of_the_bytes) {
  enum { SIZE = 300001 };
  hs_snapshot s;
  cr_assert_eq(hs_snapshot_init(&s, 11, 4, SIZE), 0);
  uint8_t *buf = malloc(SIZE), md[32];
  unsigned int len = 0;
  hs_snapshot_fill(&s, 0, buf, SIZE);
  cr_assert_eq(EVP_Digest(buf, SIZE, md, &len, EVP_sha256(), NULL), 1);
  free(buf);
  cr_assert_eq(memcmp(md, s.sha256, 32), 0);
}

Test(snapshot, digest_and_resource_name_are_stable) {
  /* Pinned: a change of the generator changes every published file. */
  hs_snapshot s;
  hs_snapshot_init(&s, 1, 0, 100003);
  char hex[65];
  sss_hex_encode(s.sha256, 32, hex);
  cr_assert_str_eq(
      hex, "0ccea419d32bf7288a73555b7274a0346b464000f0592a0ec33ea98ed724af9a");
  cr_assert_str_eq(
      s.resource_name,
      "e34e5d53fce596e31ade219018f927beb688e322fb43f00b2d487e8424feaac0");
  sss_hex_encode(s.block_id.bytes, 32, hex);
  cr_assert_str_eq(hex, s.resource_name);
}
