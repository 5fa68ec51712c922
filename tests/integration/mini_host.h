/* mini_host.h: the smallest real host for the integration tests. It dlopens
 * the built libsss_fileshares.so, creates one instance with a host table
 * that has NO load_blob (so the backend uses its built-in transport), an
 * optional gossip view and BK set, a repository that keeps the installed
 * bytes in memory for byte-for-byte comparison, and a condition variable to
 * wait for the task's one result. Everything is copied out of the result
 * during on_result. */
#ifndef SSS_MINI_HOST_H
#define SSS_MINI_HOST_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "sss_plugin.h"

#define MINI_MAX 16
#define MINI_TEXT 1024

typedef struct mini_result {
  int received; /* on_result calls; exactly 1 is right */
  int status;   /* enum sss_task_status */
  char message[MINI_TEXT];
  int entry_status;
  char entry_message[MINI_TEXT];
  char entry_source[MINI_TEXT];
  uint64_t entry_bytes;
  int has_source_list; /* the entry result reaches source_bytes (ABI 1.1) */
  size_t n_sources;
  char source_urls[MINI_MAX][MINI_TEXT];
  uint64_t source_bytes[MINI_MAX];
  size_t n_banned;
  char banned_urls[MINI_MAX][MINI_TEXT];
  char banned_reasons[MINI_MAX][MINI_TEXT];
} mini_result;

typedef struct mini_host {
  void *dl;
  const sss_plugin *vt;
  sss_instance *inst;
  sss_host host;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  /* Gossip view and BK set (node i advertises urls[i]). */
  char node_ids[MINI_MAX][64], node_urls[MINI_MAX][MINI_TEXT];
  int in_bk[MINI_MAX];
  int n_nodes;
  /* Repository: the bytes of the last accepted apply. */
  uint8_t *data;
  uint64_t len;
  int applies, installed;
  uint64_t bytes_offered; /* bytes read by every apply, accepted or not */
  long long reader_path_size; /* size of sss_reader.path at the last
                                 install, -1 when there was none */
  /* The result and the last log lines (for failure messages). */
  mini_result result;
  char log_tail[4096];
  int verbose; /* $SSS_TEST_VERBOSE: logs to stderr too */
} mini_host;

/* dlopens so_path and negotiates ABI 1. Returns 0, or -1 with a sentence. */
int mini_open(mini_host *h, const char *so_path, char *err, size_t err_len);

/* Creates the instance. Returns the backend's status (err filled). */
int mini_create(mini_host *h, char *err);

/* Adds a gossip node advertising url under api_advertise_addr. */
void mini_add_node(mini_host *h, const char *id, const char *url, int in_bk);

/* set_option; returns the backend's status (err filled). */
int mini_set(mini_host *h, const char *key, const char *value, char *err);

/* One task with one entry (thread id all zero). sha256/size may be NULL/0
 * to leave the flags unset. Returns the backend's status. */
int mini_load(mini_host *h, const sss_block_id *block, const uint8_t *sha256,
              uint64_t size, int with_size, char *err);

/* Waits for the result; returns 1 when it came within timeout_ms. */
int mini_wait(mini_host *h, int timeout_ms);

/* destroy (idempotent). The result and the data stay readable. */
void mini_destroy(mini_host *h);

/* destroy if needed, dlclose, free everything. Safe on a zeroed h. */
void mini_close(mini_host *h);

#endif
