/* fake_host.h: a deterministic host for orchestration tests of a backend
 * .so: an in-memory gossip view and BK set, a blob service whose behaviour
 * is scripted per source host name, and a repository that checks every byte.
 * All calls are thread-safe. */
#ifndef FAKE_HOST_H
#define FAKE_HOST_H

#include "sss_plugin.h"

#include <pthread.h>
#include <stdint.h>

enum fake_behaviour {
  FAKE_SERVE = 0, /* deliver the snapshot (from a worker thread) */
  FAKE_404,       /* finish with SSS_ERR_NOT_FOUND, HTTP 404 */
  FAKE_CORRUPT,   /* deliver the snapshot with one byte flipped */
  FAKE_REFUSE,    /* load_blob itself returns non-zero */
  FAKE_HOLD       /* accept and deliver nothing until fake_release_held */
};

#define FAKE_MAX 16

typedef struct fake_snapshot {
  sss_thread_id thread;
  sss_block_id block;
  uint8_t *data;
  uint64_t size;
  uint8_t sha256[32];
} fake_snapshot;

typedef struct fake_host {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  sss_host host;
  /* Gossip view: node ids with their URL, and the BK set. */
  char *node_ids[FAKE_MAX], *node_urls[FAKE_MAX];
  int n_nodes;
  char *bk[FAKE_MAX];
  int n_bk;
  /* Behaviour per source host name ("a" in http://a/...). */
  char *behaviour_host[FAKE_MAX];
  int behaviour[FAKE_MAX];
  int n_behaviours;
  /* Snapshots the blob service knows (by block id hex in the URL). */
  fake_snapshot snaps[FAKE_MAX];
  int n_snaps;
  /* Requests seen: URLs in order, with the time they arrived. */
  char *requests[256];
  uint64_t request_ms[256];
  int n_requests;
  /* Held requests (FAKE_HOLD) and cancellations seen. */
  const sss_blob_sink *held[FAKE_MAX];
  const fake_snapshot *held_snap[FAKE_MAX];
  const fake_snapshot *hold_snap; /* requests for it are held */
  int fail_first_n;    /* the first n requests get 404, whatever the source */
  int corrupt_first_n; /* the next n served requests are corrupted */
  int n_held;
  int cancels;
  pthread_t workers[256];
  int n_workers;
  /* Repository. */
  int applies;          /* apply_snapshot calls */
  int installed;        /* accepted */
  int reject_next;      /* reject this many applies */
  int gate_apply;       /* block apply until gate_open */
  int gate_open;
  int in_apply;
  /* Metrics and result. */
  int state_requests;
  int errors_by_kind[8];
  int results;
  int result_status;
  char result_message[512];
  char entry_messages[FAKE_MAX][512];
  char banned[FAKE_MAX][256];
  int n_banned;
  int64_t callbacks_after_destroy; /* counted when `destroyed` is set */
  int destroyed;
  /* Re-entrancy test: the output callback adds this task once. */
  const sss_plugin *plugin;
  sss_instance *instance;
  int readd_on_result;
  int readd_status;
} fake_host;

void fake_init(fake_host *f);
void fake_release(fake_host *f); /* joins workers, frees everything */
void fake_add_node(fake_host *f, const char *id, const char *url, int in_bk);
void fake_set_behaviour(fake_host *f, const char *host, int behaviour);
/* Adds a snapshot of size bytes for thread index i, content from seed. */
fake_snapshot *fake_add_snapshot(fake_host *f, int i, uint64_t size);
sss_load_entry fake_entry(const fake_snapshot *s, int with_sha, int with_size);
sss_task_output fake_output(fake_host *f);
/* Waits until results >= n (up to timeout_ms); returns results. */
int fake_wait_results(fake_host *f, int n, int timeout_ms);
/* Waits until n_requests >= n or n_held >= n. Returns the count reached. */
int fake_wait_requests(fake_host *f, int n, int timeout_ms);
int fake_wait_held(fake_host *f, int n, int timeout_ms);
int fake_wait_in_apply(fake_host *f, int timeout_ms);
/* Waits until report_error(kind) was called n times. */
int fake_wait_errors(fake_host *f, int kind, int n, int timeout_ms);
/* Finishes every held request from a worker thread, with the full body. */
void fake_release_held(fake_host *f, int deliver);
void fake_open_gate(fake_host *f);
uint64_t fake_now_ms(void);

#endif
