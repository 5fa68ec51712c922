/* sim.h: the state of one simulator run, shared by main.c (orchestration,
 * host callbacks, progress) and report.c (summary table and JSON). */
#ifndef HS_SIM_H
#define HS_SIM_H

#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdint.h>

#include "blob_service.h"
#include "cluster.h"
#include "console.h"
#include "plugin_loader.h"
#include "repository.h"
#include "snapshot.h"
#include "sss_plugin.h"

typedef struct sim_config {
  const char *plugin_path; /* NULL: the default backend */
  const char *scenario;    /* --scenario NAME */
  size_t n_bk, n_outsiders, n_threads;
  uint64_t size, seed;
  int base_port;
  unsigned timeout_s;
  int json, quiet, verbosity, blob_service, keep_dir;
  const char **faults, **options; /* --fault and --set values */
  size_t n_faults, n_options;
} sim_config;

/* A change of the cluster during the run (scenarios churn, partition). It
 * fires when get_stats shows at_fraction of the expected bytes fetched or
 * at_ms after the task started, whichever comes first. */
enum sim_action {
  SIM_ACT_FAULT,     /* the node's fault becomes `fault` */
  SIM_ACT_LEAVE,     /* leaves gossip and the BK set, and goes down */
  SIM_ACT_JOIN,      /* starts advertising its URL and enters the BK set */
  SIM_ACT_ENTER_BK   /* (already advertised) enters the BK set */
};

typedef struct sim_event {
  double at_fraction;
  uint64_t at_ms;
  enum sim_action action;
  char node[HS_NODE_NAME_MAX];
  hs_fault fault;
  int fired;
  uint64_t fired_ms;       /* since the task started */
  uint64_t fired_bytes;    /* bytes_fetched then */
  uint64_t node_requests;  /* the node's request count then */
  char what[160];          /* a sentence for the log and the summary */
} sim_event;

#define SIM_MAX_EVENTS 16
#define SIM_MAX_SCENARIO_OPTIONS 8

struct sim;

/* A named scenario (--scenario NAME, scenario.c). apply runs after the
 * cluster is laid out and before the --fault flags (which override it): it
 * sets faults, the initial gossip/BK view, events and plugin options.
 * Returns 0, or -1 with a sentence in err (HS_ERR_SIZE bytes). */
typedef struct sim_scenario {
  const char *name;
  const char *help; /* lines for --help, each indented, '\n'-terminated */
  int (*apply)(struct sim *s, char *err);
} sim_scenario;

/* The scenario called name, or NULL. */
const sim_scenario *sim_scenario_find(const char *name);
/* Prints every scenario's name and help (for --help). */
void sim_scenarios_help(FILE *f);
/* "default, all-honest, ..." for error messages. */
const char *sim_scenario_names(void);


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
  /* ABI 1.1: every source that sent bytes and how many (0 when unknown). */
  size_t n_sources;
  char **source_urls;
  uint64_t *source_bytes;
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
  const sim_scenario *scenario;
  sim_event events[SIM_MAX_EVENTS];
  size_t n_events;
  /* Plugin options the scenario sets, before the --set flags. */
  char scen_opts[SIM_MAX_SCENARIO_OPTIONS][2][64];
  size_t n_scen_opts;
  hs_cluster cluster;
  hs_blob_service *blobs;
  hs_snapshot *snaps;
  /* Per snapshot, the first published copy's path (later copies are hard
   * links of it), or NULL. */
  char **published;
  hs_repository repo;
  sim_host *hosts; /* one per cluster node except the static storage */
  size_t n_hosts;
  sim_host joiner;

  pthread_mutex_t mu;
  pthread_cond_t cond; /* result arrived */
  sim_result result;
  /* Banned sources read with the vtable's get_banned (ABI 1.1) when the
   * result arrived; merged with the result's list in the report. */
  char **gb_sources, **gb_reasons;
  size_t n_gb;
  int has_get_banned;
  uint64_t state_requests, progress_calls;
  uint64_t errors_by_kind[8];
  sss_stats last_stats;
  int timed_out, interrupted;
  uint64_t elapsed_ms;

  hs_console console; /* stderr: the progress bar and messages */
} sim;

/* Human size: "16.0 MiB". */
void sim_format_bytes(uint64_t bytes, char *out, size_t len);

/* Writes str as a JSON string literal (escaped, quoted), or null when str
 * is NULL. Defined in report.c. */
void sim_json_str(FILE *f, const char *str);

/* `sss-host-sim fetch ...` (fetch_cmd.c): argv[0] is "fetch". Returns the
 * exit status: 0 installed, 1 sync failed, 2 usage or setup error. */
int hostsim_fetch_main(int argc, char **argv);

/* Prints the summary table (or the JSON document with cfg.json) to stdout.
 * Returns the exit status: 0 when every thread was installed and verified,
 * exactly one result came and no node outside the BK set was asked. */
int sim_report(sim *s);

#endif
