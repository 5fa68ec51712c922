/* harness.h: the contract suite's host. Loads the backend named by the
 * SSS_BACKEND environment variable with dlopen and implements every host
 * callback with counters, so that each test can say what the backend did.
 * Nothing here knows which backend it drives. */
#ifndef SSS_CONTRACT_HARNESS_H
#define SSS_CONTRACT_HARNESS_H

#include "sss_plugin.h"

#include <pthread.h>
#include <stdatomic.h>

/* Waits for a result that must come (a task failing with no sources). */
#define TH_RESULT_WAIT_MS 20000
/* How long to keep watching for something that must NOT happen. */
#define TH_QUIET_MS 300
#define TH_MAX_RECORDED 8

/* What one on_result call carried, copied out. */
typedef struct th_result {
  int status;
  uint64_t task_id;
  size_t n_entries;
  int entries_ok;              /* struct_size and messages were sane */
  sss_block_id first_block_id; /* of entries[0] */
  int first_entry_status;
} th_result;

typedef struct test_host {
  sss_host host; /* given to create; ctx points back here */
  const sss_plugin *p;
  sss_instance *inst;

  pthread_mutex_t mu;
  pthread_cond_t cond;  /* CLOCK_MONOTONIC; broadcast on every callback */
  atomic_int destroyed; /* set after destroy returned */
  int calls;            /* every host callback */
  int late_calls;       /* callbacks seen after destroy returned */
  int results;
  th_result recorded[TH_MAX_RECORDED];
  int state_requests, errors, bad_error_kinds, applies, logs, bad_logs;
  int blob_requests; /* load_blob and cancel_blob calls */

  /* save_object */
  int saves;
  char saved_name[SSS_ERROR_SIZE];
  const sss_state *saved_state;
  const char *save_fail; /* non-NULL: fail with this sentence */

  /* on_result behaviour */
  int reenter;         /* > 0: on_result adds the task again, this often */
  int reenter_rc;      /* status of the last re-entrant add */
  int block_in_result; /* on_result waits until release is set */
  int in_result, release;
  const sss_load_entry *task_entries; /* for re-entrant adds */
  size_t task_n;
} test_host;

/* The backend's v1 vtable (asserts that SSS_BACKEND loads and speaks v1). */
const sss_plugin *th_backend(void);
/* The entry point itself, for version negotiation tests. */
sss_plugin_entry_fn th_entry(void);
const char *th_backend_path(void);

/* Initialises h with a complete host table: no gossip nodes, an empty BK
 * set, a repository that accepts nothing, a blob service that refuses. */
void th_init(test_host *h);
/* Creates h->inst, asserting success. */
void th_create(test_host *h);
/* Destroys h->inst, then marks h so later callbacks count as late. */
void th_destroy(test_host *h);
/* Frees h's mutex and condition variable. */
void th_release(test_host *h);

sss_task_output th_output(test_host *h);

/* Options that make a task with no sources end soon / stay busy long. */
void th_options_fast(test_host *h);
void th_options_slow(test_host *h);

/* Fills n entries whose ids derive from seed (distinct threads). */
void th_entries(sss_load_entry *e, size_t n, uint8_t seed);

/* Waits up to ms for at least n results; returns the count then. */
int th_wait_results(test_host *h, int n, int ms);
/* Waits up to ms for h->in_result; returns it. */
int th_wait_in_result(test_host *h, int ms);
/* Lets a blocked on_result return. */
void th_release_result(test_host *h);
/* Watches for ms after destroy; returns the late callbacks seen. */
int th_late_calls_after(test_host *h, int ms);

/* Threads of this process, from /proc/self/task. */
int th_count_threads(void);
/* Creates and joins one thread and waits until it is gone from /proc, so
 * that a sanitizer's lazily started helper thread exists before counting. */
void th_warm_threads(void);
/* Waits up to ms for the thread count to become n; returns the count. */
int th_wait_thread_count(int n, int ms);

int th_is_task_status(int status);

#endif
