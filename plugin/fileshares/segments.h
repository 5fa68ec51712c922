/* segments.h: which bytes of a snapshot are where, while several sources
 * fill one staged file at once.
 *
 * The snapshot [0, size) is cut into chunks. A connection claims a chunk and
 * asks its source for the chunk's missing bytes with an HTTP Range; a second
 * connection may fetch the same tail near the end (end-game). Every byte
 * offset is written to the staged file exactly once: bytes below a chunk's
 * `done` mark are already there and are skipped, so a late or duplicate
 * sender can never overwrite bytes that were hashed. Who wrote each byte is
 * kept as a list of pieces, so that a digest mismatch can be pinned on the
 * sources involved.
 *
 * Pure bookkeeping: no I/O, no locking; one owner (the loader thread). */
#ifndef FS_SEGMENTS_H
#define FS_SEGMENTS_H

#include <stddef.h>
#include <stdint.h>

typedef struct fs_chunk {
  uint64_t start, end; /* [start, end) */
  uint64_t done;       /* [start, done) is written */
  int owners;          /* connections fetching it now (0, 1 or 2) */
} fs_chunk;

/* A run of bytes written by one source. */
typedef struct fs_piece {
  uint64_t start, end;
  uint32_t src;
} fs_piece;

typedef struct fs_segs {
  uint64_t size;
  fs_chunk *chunks;
  size_t n_chunks;
  uint64_t written; /* sum of (done - start) */
  fs_piece *pieces; /* sorted by start, merged when adjacent and same source */
  size_t n_pieces, cap_pieces;
} fs_segs;

/* Size of the first chunk, which is also what a first request asks for
 * before the snapshot's size is known. */
#define FS_FIRST_CHUNK ((uint64_t)1 << 20)

/* The chunk size used for the rest of a snapshot of `size` bytes fetched
 * from up to `parallel` sources: about sixteen chunks per source, between
 * 1 MiB and 16 MiB, so fast sources take more of them and sources of equal
 * speed finish within a fraction of a chunk of each other. */
uint64_t fs_segs_chunk_size(uint64_t size, uint32_t parallel);

/* Cuts [0, size) into chunks: the first of FS_FIRST_CHUNK bytes, the rest of
 * fs_segs_chunk_size(). Returns 0, or -1 when out of memory (s is then
 * empty). */
int fs_segs_init(fs_segs *s, uint64_t size, uint32_t parallel);

void fs_segs_release(fs_segs *s);

/* Forgets every written byte (a fresh start over the same chunks). */
void fs_segs_clear(fs_segs *s);

/* The lowest chunk with missing bytes and no owner, or -1. */
long fs_segs_claimable(const fs_segs *s);

/* Splits chunk c at mid (done < mid < end): c becomes [start, mid) and a new
 * chunk [mid, end), with nothing written and no owner, follows it (the
 * indexes after c shift by one). Returns 0, or -1 when out of memory or mid
 * is not inside the missing part. */
int fs_segs_split(fs_segs *s, size_t c, uint64_t mid);

/* The index of the chunk that holds offset (offset < size). */
size_t fs_segs_find(const fs_segs *s, uint64_t offset);

/* A connection of source `src` received len bytes for offset `at` of chunk
 * c. Sets *skip to how many leading bytes are already written (to drop) and
 * returns how many bytes after them are new and must be written now (at
 * at + *skip); bytes past the chunk's end are not counted (the caller asked
 * for no more). Requires at <= c->done (a connection never runs ahead of its
 * chunk's done mark; see the file comment). */
uint64_t fs_segs_accept(const fs_segs *s, size_t c, uint64_t at, uint64_t len,
                        uint64_t *skip);

/* Records that source src wrote [at, at + len) of chunk c, where at is the
 * chunk's done mark. Returns 0, or -1 when out of memory for the piece list
 * (the bytes are still recorded as written). */
int fs_segs_commit(fs_segs *s, size_t c, uint64_t at, uint64_t len,
                   uint32_t src);

/* True when every byte is written. */
int fs_segs_complete(const fs_segs *s);

/* How many bytes from offset on are written contiguously. */
uint64_t fs_segs_contiguous(const fs_segs *s, uint64_t offset);

/* The source that wrote offset, or UINT32_MAX when none did. */
uint32_t fs_segs_writer_at(const fs_segs *s, uint64_t offset);

#endif
