/* Unit tests of segment scheduling (plugin/fileshares/segments.c): how a
 * snapshot is cut, claimed, written exactly once and attributed. */
#include "segments.h"

#include <criterion/criterion.h>

#define MIB ((uint64_t)1 << 20)

Test(segments, chunk_size_grows_with_size_within_bounds) {
  cr_assert_eq(fs_segs_chunk_size(8 * MIB, 4), MIB, "small snapshots: 1 MiB");
  cr_assert_eq(fs_segs_chunk_size(256 * MIB, 4), 4 * MIB);
  cr_assert_eq(fs_segs_chunk_size(1024 * MIB, 4), 16 * MIB);
  cr_assert_eq(fs_segs_chunk_size(64ull << 30, 4), 16 * MIB, "capped at 16 MiB");
  cr_assert_eq(fs_segs_chunk_size(256 * MIB, 0), 16 * MIB, "0 sources is read as 1");
}

Test(segments, chunks_cover_the_snapshot_without_gaps) {
  fs_segs s;
  cr_assert_eq(fs_segs_init(&s, 100 * MIB + 5, 4), 0);
  cr_assert_eq(s.chunks[0].start, 0);
  cr_assert_eq(s.chunks[0].end, FS_FIRST_CHUNK, "the first chunk is what a probe asks");
  for (size_t i = 1; i < s.n_chunks; i++)
    cr_assert_eq(s.chunks[i].start, s.chunks[i - 1].end, "gap before chunk %zu", i);
  cr_assert_eq(s.chunks[s.n_chunks - 1].end, 100 * MIB + 5);
  cr_assert_eq(fs_segs_find(&s, 0), 0);
  cr_assert_eq(fs_segs_find(&s, 100 * MIB + 4), s.n_chunks - 1);
  cr_assert_eq(fs_segs_find(&s, s.chunks[2].start), 2);
  cr_assert_eq(fs_segs_find(&s, s.chunks[2].start - 1), 1);
  fs_segs_release(&s);
}

Test(segments, a_snapshot_smaller_than_the_first_chunk_is_one_chunk) {
  fs_segs s;
  cr_assert_eq(fs_segs_init(&s, 1000, 4), 0);
  cr_assert_eq(s.n_chunks, 1);
  cr_assert_eq(s.chunks[0].end, 1000);
  fs_segs_release(&s);
}

Test(segments, claims_go_lowest_first_and_skip_owned_or_done_chunks) {
  fs_segs s;
  cr_assert_eq(fs_segs_init(&s, 4 * MIB, 1), 0);
  cr_assert_eq(fs_segs_claimable(&s), 0);
  s.chunks[0].owners = 1;
  cr_assert_eq(fs_segs_claimable(&s), 1);
  uint64_t skip;
  uint64_t len = s.chunks[1].end - s.chunks[1].start;
  cr_assert_eq(fs_segs_accept(&s, 1, s.chunks[1].start, len, &skip), len);
  cr_assert_eq(fs_segs_commit(&s, 1, s.chunks[1].start, len, 7), 0);
  cr_assert_eq(fs_segs_claimable(&s), 2, "a done chunk is not claimable");
  fs_segs_release(&s);
}

Test(segments, duplicate_bytes_are_skipped_so_each_offset_is_written_once) {
  fs_segs s;
  cr_assert_eq(fs_segs_init(&s, 2 * MIB, 1), 0);
  uint64_t skip;
  /* Source 1 writes the first 1000 bytes of chunk 0. */
  cr_assert_eq(fs_segs_accept(&s, 0, 0, 1000, &skip), 1000);
  cr_assert_eq(skip, 0);
  fs_segs_commit(&s, 0, 0, 1000, 1);
  /* An end-game duplicate from source 2 started at 400: its first 600 bytes
   * are already there. */
  cr_assert_eq(fs_segs_accept(&s, 0, 400, 1000, &skip), 400);
  cr_assert_eq(skip, 600);
  fs_segs_commit(&s, 0, 1000, 400, 2);
  cr_assert_eq(s.chunks[0].done, 1400);
  /* Bytes past the chunk's end are never accepted. */
  cr_assert_eq(fs_segs_accept(&s, 0, 1400, 2 * MIB, &skip), FS_FIRST_CHUNK - 1400);
  cr_assert_eq(fs_segs_writer_at(&s, 999), 1);
  cr_assert_eq(fs_segs_writer_at(&s, 1000), 2);
  cr_assert_eq(fs_segs_writer_at(&s, 1400), UINT32_MAX, "nobody wrote it yet");
  cr_assert_eq(s.written, 1400);
  fs_segs_release(&s);
}

Test(segments, a_commit_that_is_not_at_the_done_mark_changes_nothing) {
  fs_segs s;
  cr_assert_eq(fs_segs_init(&s, 2 * MIB, 1), 0);
  fs_segs_commit(&s, 0, 10, 100, 1);
  cr_assert_eq(s.chunks[0].done, 0);
  cr_assert_eq(s.written, 0);
  fs_segs_release(&s);
}

Test(segments, contiguous_prefix_spans_finished_chunks_and_stops_at_a_hole) {
  fs_segs s;
  cr_assert_eq(fs_segs_init(&s, 3 * MIB, 1), 0);
  cr_assert_eq(s.n_chunks, 3);
  fs_segs_commit(&s, 1, MIB, MIB, 1);     /* chunk 1 whole */
  fs_segs_commit(&s, 2, 2 * MIB, 10, 1);  /* 10 bytes of chunk 2 */
  cr_assert_eq(fs_segs_contiguous(&s, 0), 0, "chunk 0 is missing");
  fs_segs_commit(&s, 0, 0, MIB, 2);
  cr_assert_eq(fs_segs_contiguous(&s, 0), 2 * MIB + 10);
  cr_assert_eq(fs_segs_contiguous(&s, MIB + 5), MIB - 5 + 10);
  cr_assert_not(fs_segs_complete(&s));
  fs_segs_commit(&s, 2, 2 * MIB + 10, MIB - 10, 3);
  cr_assert(fs_segs_complete(&s));
  cr_assert_eq(fs_segs_contiguous(&s, 3 * MIB), 0);
  fs_segs_release(&s);
}

Test(segments, a_split_hands_the_tail_of_a_chunk_to_a_new_chunk) {
  fs_segs s;
  cr_assert_eq(fs_segs_init(&s, 3 * MIB, 1), 0);
  fs_segs_commit(&s, 1, MIB, 100, 1); /* chunk 1 has 100 bytes */
  s.chunks[1].owners = 1;
  cr_assert_eq(fs_segs_split(&s, 1, MIB + 50), -1, "not inside the missing part");
  cr_assert_eq(fs_segs_split(&s, 1, 2 * MIB), -1, "not before the end");
  cr_assert_eq(fs_segs_split(&s, 1, MIB + MIB / 2), 0);
  cr_assert_eq(s.n_chunks, 4);
  cr_assert_eq(s.chunks[1].end, MIB + MIB / 2);
  cr_assert_eq(s.chunks[1].done, MIB + 100, "what was written stays");
  cr_assert_eq(s.chunks[1].owners, 1);
  cr_assert_eq(s.chunks[2].start, MIB + MIB / 2);
  cr_assert_eq(s.chunks[2].end, 2 * MIB);
  cr_assert_eq(s.chunks[2].done, MIB + MIB / 2);
  cr_assert_eq(s.chunks[2].owners, 0, "the new chunk is free to claim");
  cr_assert_eq(s.chunks[3].start, 2 * MIB, "later chunks follow unchanged");
  cr_assert_eq(fs_segs_find(&s, MIB + MIB / 2), 2);
  cr_assert_eq(fs_segs_claimable(&s), 0);
  s.chunks[0].owners = 1;
  cr_assert_eq(fs_segs_claimable(&s), 2);
  fs_segs_release(&s);
}

Test(segments, pieces_of_one_source_merge_and_clear_forgets_them) {
  fs_segs s;
  cr_assert_eq(fs_segs_init(&s, 3 * MIB, 1), 0);
  fs_segs_commit(&s, 0, 0, MIB, 4);
  fs_segs_commit(&s, 1, MIB, MIB, 4);
  cr_assert_eq(s.n_pieces, 1, "adjacent pieces of one source are one run");
  fs_segs_commit(&s, 2, 2 * MIB, 5, 5);
  cr_assert_eq(s.n_pieces, 2);
  fs_segs_clear(&s);
  cr_assert_eq(s.written, 0);
  cr_assert_eq(s.n_pieces, 0);
  cr_assert_eq(fs_segs_claimable(&s), 0);
  cr_assert_eq(fs_segs_writer_at(&s, 0), UINT32_MAX);
  fs_segs_release(&s);
}
