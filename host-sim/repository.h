/* repository.h: the joining node's repository. apply_snapshot pulls the
 * bytes through the plugin's reader, hashes them while reading and installs
 * the state only when size and SHA-256 match the known snapshot. */
#ifndef HS_REPOSITORY_H
#define HS_REPOSITORY_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "snapshot.h"
#include "sss_plugin.h"

typedef struct hs_install {
  const hs_snapshot *expected;
  int installed;     /* size and digest matched; state installed */
  uint32_t applies;  /* apply_snapshot calls for this thread */
  uint32_t rejects;  /* of which rejected */
  uint64_t bytes;    /* bytes read by the accepted apply */
  uint64_t done_ms;  /* when it was installed, since hs_repository_init */
  uint64_t apply_ms; /* how long the accepted apply took */
  char last_reject[SSS_ERROR_SIZE];
} hs_install;

typedef struct hs_repository {
  pthread_mutex_t mu;
  hs_install *installs; /* one per expected snapshot, same order */
  size_t n;
  struct timespec t0;
} hs_repository;

/* Expects the n snapshots (kept by pointer; they must outlive r). */
int hs_repository_init(hs_repository *r, const hs_snapshot *snaps, size_t n);
void hs_repository_release(hs_repository *r);

/* sss_host.apply_snapshot. Returns 0 when installed, else non-zero with a
 * sentence in err (SSS_ERROR_SIZE bytes): unknown thread, other block, size
 * or digest mismatch, read error. */
int hs_repository_apply(hs_repository *r, const sss_thread_id *thread_id,
                        const sss_block_id *block_id, const sss_reader *reader,
                        uint64_t size, char *err);

/* A consistent copy of install i. */
hs_install hs_repository_get(hs_repository *r, size_t i);

/* Milliseconds since hs_repository_init. */
uint64_t hs_repository_elapsed_ms(hs_repository *r);

#endif
