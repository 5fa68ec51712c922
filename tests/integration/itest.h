/* itest.h: shared pieces of the integration suites: a per-test temp dir
 * with a staging dir, deterministic snapshots, and the leak probes (open
 * fds, sockets, staged files) every test checks after destroy. */
#ifndef SSS_ITEST_H
#define SSS_ITEST_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "mini_host.h"
#include "snapshot.h"

/* The .so under test and the simulator binary (compile definitions). */
#ifndef SSS_FILESHARES_PATH
#error "SSS_FILESHARES_PATH must name libsss_fileshares.so"
#endif

typedef struct itest {
  char root[512];    /* temp dir of this test; "" when none */
  char staging[600]; /* root/staging, set as the option staging_dir */
  hs_snapshot snap;
  uint8_t *data; /* the snapshot's bytes */
  char hex[SSS_BLOCK_ID_HEX_LEN + 1];
  mini_host host;
  int fds_before, sockets_before;
} itest;

/* Makes the temp dir and staging dir and the snapshot (seed, size); cr_assert
 * on failure. */
void itest_setup(itest *t, uint64_t seed, uint64_t size);

/* Writes the snapshot's bytes to dir/relpath (hs_share_write). */
void itest_publish(const itest *t, const char *dir, const char *relpath);

/* dlopens the backend (once), takes the fd/socket baseline, creates the
 * instance and sets staging_dir plus quick retry defaults. */
void itest_create(itest *t);

/* Options, cr_assert on refusal. */
void itest_set(itest *t, const char *key, const char *value);

/* One task for the snapshot (sha256 and size given when with_*). */
void itest_load(itest *t, int with_sha, int with_size);

/* Waits for the result (cr_assert it comes within timeout_ms). */
void itest_wait(itest *t, int timeout_ms);

/* destroy, then asserts: the staging dir is empty, the fd count and the
 * socket count are back at the baseline (waiting up to 3 s for the servers
 * in this process to close their side). */
void itest_destroy_and_check_leaks(itest *t);

/* The task installed exactly the snapshot: result OK, entry OK, the
 * repository got it once, byte for byte. */
void itest_assert_installed(itest *t);

/* The task failed with a sentence and the repository received nothing. */
void itest_assert_failed_nothing_installed(itest *t);

/* Frees everything and removes the temp dir. Safe after a failed assert. */
void itest_teardown(itest *t);

/* Counts entries of /proc/self/fd, and of those the sockets. */
int itest_count_fds(void);
int itest_count_sockets(void);

/* Entries of dir (not . and ..); -1 when it cannot be read. */
int itest_dir_entries(const char *dir);

uint64_t itest_now_ms(void);
void itest_sleep_ms(unsigned ms);

#endif
