/* snapshot.h: the simulator's deterministic snapshots. A snapshot's bytes,
 * thread id and block id follow from (seed, thread index) alone, so every
 * node publishes the same bytes and the joining node knows the SHA-256 in
 * advance. The byte stream is counter based (splitmix64 of the word index),
 * so any range can be generated without generating what precedes it. */
#ifndef HS_SNAPSHOT_H
#define HS_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "sss_plugin.h"

typedef struct hs_snapshot {
  uint64_t seed;
  uint32_t index; /* thread index in the simulated node */
  uint64_t size;  /* bytes */
  uint64_t key;   /* stream key derived from (seed, index) */
  sss_thread_id thread_id;
  sss_block_id block_id;
  uint8_t sha256[SSS_SHA256_LEN];
  char resource_name[SSS_BLOCK_ID_HEX_LEN + 1]; /* hex of block_id */
} hs_snapshot;

/* Derives the ids and the key of thread `index` and computes the SHA-256 of
 * its `size` bytes. Returns 0, or -1 when OpenSSL fails. */
int hs_snapshot_init(hs_snapshot *s, uint64_t seed, uint32_t index,
                     uint64_t size);

/* Writes bytes [offset, offset+len) of the snapshot's stream into buf. The
 * stream is defined past `size` too; callers stop at size. */
void hs_snapshot_fill(const hs_snapshot *s, uint64_t offset, void *buf,
                      size_t len);

/* SHA-256 of the first `size` bytes of the stream keyed like s. Returns 0 or
 * -1 when OpenSSL fails. */
int hs_snapshot_digest(const hs_snapshot *s, uint64_t size,
                       uint8_t out[SSS_SHA256_LEN]);

#endif
