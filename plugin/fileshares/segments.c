#include "segments.h"

#include <stdlib.h>
#include <string.h>

#define MIB ((uint64_t)1 << 20)

uint64_t fs_segs_chunk_size(uint64_t size, uint32_t parallel) {
  if (parallel == 0) parallel = 1;
  uint64_t c = size / ((uint64_t)parallel * 16);
  if (c < MIB) c = MIB;
  if (c > 16 * MIB) c = 16 * MIB;
  return c;
}

int fs_segs_init(fs_segs *s, uint64_t size, uint32_t parallel) {
  memset(s, 0, sizeof *s);
  uint64_t c = fs_segs_chunk_size(size, parallel);
  uint64_t first = size < FS_FIRST_CHUNK ? size : FS_FIRST_CHUNK;
  size_t n = 1 + (size_t)((size - first + c - 1) / c);
  if (size == first) n = 1;
  s->chunks = calloc(n, sizeof *s->chunks);
  if (!s->chunks) return -1;
  s->size = size;
  s->n_chunks = n;
  uint64_t at = 0;
  for (size_t i = 0; i < n; i++) {
    uint64_t len = i == 0 ? first : c;
    if (len > size - at) len = size - at;
    s->chunks[i] = (fs_chunk){.start = at, .end = at + len, .done = at};
    at += len;
  }
  return 0;
}

void fs_segs_release(fs_segs *s) {
  free(s->chunks);
  free(s->pieces);
  memset(s, 0, sizeof *s);
}

void fs_segs_clear(fs_segs *s) {
  for (size_t i = 0; i < s->n_chunks; i++) {
    s->chunks[i].done = s->chunks[i].start;
    s->chunks[i].owners = 0;
  }
  s->written = 0;
  s->n_pieces = 0;
}

int fs_segs_split(fs_segs *s, size_t c, uint64_t mid) {
  if (c >= s->n_chunks) return -1;
  fs_chunk *k = &s->chunks[c];
  if (mid <= k->done || mid >= k->end) return -1;
  fs_chunk *nc = realloc(s->chunks, (s->n_chunks + 1) * sizeof *nc);
  if (!nc) return -1;
  s->chunks = nc;
  memmove(&nc[c + 2], &nc[c + 1], (s->n_chunks - c - 1) * sizeof *nc);
  nc[c + 1] = (fs_chunk){.start = mid, .end = nc[c].end, .done = mid};
  nc[c].end = mid;
  s->n_chunks++;
  return 0;
}

long fs_segs_claimable(const fs_segs *s) {
  for (size_t i = 0; i < s->n_chunks; i++)
    if (s->chunks[i].owners == 0 && s->chunks[i].done < s->chunks[i].end)
      return (long)i;
  return -1;
}

size_t fs_segs_find(const fs_segs *s, uint64_t offset) {
  size_t lo = 0, hi = s->n_chunks;
  while (hi - lo > 1) {
    size_t mid = lo + (hi - lo) / 2;
    if (s->chunks[mid].start <= offset) lo = mid;
    else hi = mid;
  }
  return lo;
}

uint64_t fs_segs_accept(const fs_segs *s, size_t c, uint64_t at, uint64_t len,
                        uint64_t *skip) {
  const fs_chunk *k = &s->chunks[c];
  uint64_t end = at + len;
  if (end > k->end) end = k->end;
  uint64_t from = at > k->done ? at : k->done; /* at <= done by contract */
  *skip = from - at;
  return end > from ? end - from : 0;
}

/* Appends or extends the piece list, kept sorted by start. */
static int add_piece(fs_segs *s, uint64_t at, uint64_t len, uint32_t src) {
  /* Find the last piece starting at or before at. */
  size_t lo = 0, hi = s->n_pieces;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (s->pieces[mid].start <= at) lo = mid + 1;
    else hi = mid;
  }
  if (lo > 0) {
    fs_piece *p = &s->pieces[lo - 1];
    if (p->end == at && p->src == src) {
      p->end += len;
      return 0;
    }
  }
  if (s->n_pieces == s->cap_pieces) {
    size_t cap = s->cap_pieces ? 2 * s->cap_pieces : 16;
    fs_piece *np = realloc(s->pieces, cap * sizeof *np);
    if (!np) return -1;
    s->pieces = np;
    s->cap_pieces = cap;
  }
  memmove(&s->pieces[lo + 1], &s->pieces[lo],
          (s->n_pieces - lo) * sizeof *s->pieces);
  s->pieces[lo] = (fs_piece){.start = at, .end = at + len, .src = src};
  s->n_pieces++;
  return 0;
}

int fs_segs_commit(fs_segs *s, size_t c, uint64_t at, uint64_t len,
                   uint32_t src) {
  fs_chunk *k = &s->chunks[c];
  if (len == 0 || at != k->done || at + len > k->end) return 0;
  k->done += len;
  s->written += len;
  return add_piece(s, at, len, src);
}

int fs_segs_complete(const fs_segs *s) {
  return s->n_chunks > 0 && s->written == s->size;
}

uint64_t fs_segs_contiguous(const fs_segs *s, uint64_t offset) {
  if (offset >= s->size) return 0;
  uint64_t n = 0;
  for (size_t i = fs_segs_find(s, offset); i < s->n_chunks; i++) {
    const fs_chunk *k = &s->chunks[i];
    uint64_t from = offset > k->start ? offset : k->start;
    if (k->done <= from) break;
    n += k->done - from;
    if (k->done < k->end) break;
  }
  return n;
}

uint32_t fs_segs_writer_at(const fs_segs *s, uint64_t offset) {
  size_t lo = 0, hi = s->n_pieces;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (s->pieces[mid].start <= offset) lo = mid + 1;
    else hi = mid;
  }
  if (lo == 0) return UINT32_MAX;
  const fs_piece *p = &s->pieces[lo - 1];
  return offset < p->end ? p->src : UINT32_MAX;
}
