/* sim.h: the state of one simulator run, shared by main.c (orchestration,
 * host callbacks, progress) and report.c (summary table and JSON). */
#ifndef HS_SIM_H
#define HS_SIM_H

#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>

#include "blob_service.h"
#include "cluster.h"
#include "plugin_loader.h"
#include "repository.h"
#include "snapshot.h"
#include "sss_plugin.h"

typedef struct sim_config {
  const char *plugin_path; /* NULL: the default backend */
  size_t n_bk, n_outsiders, n_threads;
  uint64_t size, seed;
  int base_port;
  unsigned timeout_s;
  int json, quiet, verbosity, blob_service, keep_dir;
  const char **faults, **options; /* --fault and --set values */
  size_t n_faults, n_options;
} sim_config;

struct sim;

/* The ctx of one host table: a serving node's, or the joining node's
 * (node NULL). */
typedef struct sim_host {
  struct sim *sim;
  hs_node *node;
  sss_host host;
  sss_instance *instance;
} sim_host;

typedef struct sim_entry {
  sss_thread_id thread_id;
  sss_block_id block_id;
  int status;
  char *message, *source;
  uint64_t bytes;
} sim_entry;

typedef struct sim_result {
  int received; /* on_result calls; exactly 1 is right */
  int status;   /* enum sss_task_status */
  uint64_t task_id;
  char *message;
  sim_entry *entries;
  size_t n_entries;
  char **banned_sources, **banned_reasons;
  size_t n_banned;
} sim_result;

typedef struct sim {
  sim_config cfg;
  char plugin_path[PATH_MAX];
  hs_plugin plugin;
  char root[PATH_MAX]; /* temp dir holding every share directory */
  hs_cluster cluster;
  hs_blob_service *blobs;
  hs_snapshot *snaps;
  hs_repository repo;
  sim_host *hosts; /* one per cluster node except the static storage */
  size_t n_hosts;
  sim_host joiner;

  pthread_mutex_t mu;
  pthread_cond_t cond; /* result arrived */
  sim_result result;
  uint64_t state_requests, progress_calls;
  uint64_t errors_by_kind[8];
  sss_stats last_stats;
  int timed_out, interrupted;
  uint64_t elapsed_ms;

  pthread_mutex_t out_mu; /* one writer at a time on stderr */
  int bar_shown;          /* a progress line is on the terminal */
} sim;

/* Human size: "16.0 MiB". */
void sim_format_bytes(uint64_t bytes, char *out, size_t len);

/* Prints the summary table (or the JSON document with cfg.json) to stdout.
 * Returns the exit status: 0 when every thread was installed and verified,
 * exactly one result came and no node outside the BK set was asked. */
int sim_report(sim *s);

#endif
