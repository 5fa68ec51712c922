/*
 * stress.c: the contract's concurrent paths as a plain program, so that the
 * ThreadSanitizer build can run them (Criterion cannot start under TSan,
 * Criterion issue #274). Backend-agnostic, like the Criterion suite.
 *
 *   SSS_BACKEND=build/plugin/libsss_stub.so contract_stress [ROUNDS]
 *
 * Eight instances, each driven by its own thread while a second thread per
 * instance polls get_stats and changes options, go through: a task whose
 * on_result adds another; add, reset, add again, reset; add then destroy at
 * once. After each phase the number of results must be exact, and no
 * callback may arrive after destroy returned. Exit status 0, or 1 with a
 * sentence saying what broke.
 */
#include "sss_plugin.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { N_INSTANCES = 8, WAIT_MS = 20000 };

static const sss_plugin *P;

typedef struct inst_ctx {
  pthread_mutex_t mu;
  pthread_cond_t cond; /* CLOCK_MONOTONIC */
  sss_instance *inst;
  int results, bad_results, reenter, reenter_rc;
  atomic_int destroyed, late, stop_poller;
  sss_load_entry e[2];
  char failure[256];
} inst_ctx;

static void note(inst_ctx *c) {
  if (atomic_load(&c->destroyed)) atomic_fetch_add(&c->late, 1);
}

static int cb_gossip(void *ctx, sss_gossip_visit_fn v, void *vc) {
  (void)v, (void)vc;
  note(ctx);
  return 0;
}
static int cb_bk(void *ctx, sss_node_visit_fn v, void *vc) {
  (void)v, (void)vc;
  note(ctx);
  return 0;
}
static int cb_apply(void *ctx, void *repo, const sss_thread_id *t,
                    const sss_block_id *b, const sss_reader *r, uint64_t size,
                    char *err) {
  (void)repo, (void)t, (void)b, (void)r, (void)size;
  note(ctx);
  snprintf(err, SSS_ERROR_SIZE, "the stress host accepts nothing");
  return 1;
}
static void cb_metric(void *ctx) {
  note(ctx);
}
static void cb_error(void *ctx, int kind) {
  (void)kind;
  note(ctx);
}
static void cb_log(void *ctx, int level, const char *m) {
  (void)level, (void)m;
  note(ctx);
}

static sss_task_output output_of(inst_ctx *c);

static void cb_result(void *octx, const sss_task_result *r) {
  inst_ctx *c = octx;
  note(c);
  pthread_mutex_lock(&c->mu);
  c->results++;
  if (r->status != SSS_TASK_OK && r->status != SSS_TASK_FAILED &&
      r->status != SSS_TASK_CANCELLED)
    c->bad_results++;
  int reenter = c->reenter > 0;
  if (reenter) c->reenter--;
  pthread_cond_broadcast(&c->cond);
  pthread_mutex_unlock(&c->mu);
  if (!reenter) return;
  sss_task_output out = output_of(c);
  int rc = P->add_load_state_task(c->inst, c->e, 2, NULL, &out, NULL);
  sss_stats s = {.struct_size = sizeof s};
  P->get_stats(c->inst, &s);
  pthread_mutex_lock(&c->mu);
  c->reenter_rc = rc;
  pthread_mutex_unlock(&c->mu);
}

static sss_task_output output_of(inst_ctx *c) {
  return (sss_task_output){.struct_size = sizeof(sss_task_output),
                           .output_ctx = c,
                           .on_result = cb_result};
}

static int wait_results(inst_ctx *c, int n) {
  struct timespec until;
  clock_gettime(CLOCK_MONOTONIC, &until);
  until.tv_sec += WAIT_MS / 1000;
  pthread_mutex_lock(&c->mu);
  while (c->results < n &&
         pthread_cond_timedwait(&c->cond, &c->mu, &until) != ETIMEDOUT)
    ;
  int got = c->results;
  pthread_mutex_unlock(&c->mu);
  return got;
}

static int results(inst_ctx *c) {
  pthread_mutex_lock(&c->mu);
  int n = c->results;
  pthread_mutex_unlock(&c->mu);
  return n;
}

static void set(inst_ctx *c, const char *k, const char *v) {
  P->set_option(c->inst, k, v, NULL);
}

static void options(inst_ctx *c, int slow) {
  set(c, "max_download_tries", slow ? "1000" : "1");
  set(c, "retry_download_timeout_ms", slow ? "600000" : "0");
  set(c, "download_deadline_timeout_ms", slow ? "3600000" : "10000");
}

/* Concurrent instance calls while the worker drives tasks. */
static void *poller_main(void *arg) {
  inst_ctx *c = arg;
  while (!atomic_load(&c->stop_poller)) {
    sss_stats s = {.struct_size = sizeof s};
    P->get_stats(c->inst, &s);
    P->set_option(c->inst, "connect_timeout_ms", "2500", NULL);
    P->set_option(c->inst, "max_download_tries", "bad", NULL);
    struct timespec ts = {0, 200000}; /* pacing, not synchronisation */
    nanosleep(&ts, NULL);
  }
  return NULL;
}

#define FAIL(...)                                                              \
  do {                                                                         \
    snprintf(c->failure, sizeof c->failure, __VA_ARGS__);                      \
    goto out;                                                                  \
  } while (0)

static void *worker_main(void *arg) {
  inst_ctx *c = arg;
  pthread_t poller;
  int have_poller = 0;
  sss_task_output out = output_of(c);
  options(c, 0);
  if (pthread_create(&poller, NULL, poller_main, c) == 0) have_poller = 1;

  /* 1: a natural end whose on_result adds the next task. */
  c->reenter = 1;
  if (P->add_load_state_task(c->inst, c->e, 2, NULL, &out, NULL) != SSS_OK)
    FAIL("the first task was not accepted");
  if (wait_results(c, 2) != 2)
    FAIL("the task added from on_result did not end (deadlock?)");
  if (c->reenter_rc != SSS_OK)
    FAIL("add_load_state_task from on_result returned %d", c->reenter_rc);

  /* 2: reset frees the instance at once. */
  options(c, 1);
  if (P->add_load_state_task(c->inst, c->e, 2, NULL, &out, NULL) != SSS_OK)
    FAIL("a task after two results was not accepted");
  if (P->reset_sync(c->inst) != SSS_OK) FAIL("reset_sync of a busy task");
  if (P->add_load_state_task(c->inst, c->e, 2, NULL, &out, NULL) != SSS_OK)
    FAIL("a task right after reset_sync was not accepted");
  P->reset_sync(c->inst);
  if (wait_results(c, 4) != 4) FAIL("cancelled tasks lack their results");

  /* 3: destroy while a task runs. */
  if (P->add_load_state_task(c->inst, c->e, 2, NULL, &out, NULL) != SSS_OK)
    FAIL("the last task was not accepted");
out:
  if (have_poller) {
    atomic_store(&c->stop_poller, 1);
    pthread_join(poller, NULL);
  }
  P->destroy(c->inst);
  atomic_store(&c->destroyed, 1);
  if (!c->failure[0] && results(c) != 5)
    snprintf(c->failure, sizeof c->failure,
             "%d results after destroy, expected 5", results(c));
  return NULL;
}

int main(int argc, char **argv) {
  const char *path = getenv("SSS_BACKEND");
  int rounds = argc > 1 ? atoi(argv[1]) : 3;
  if (!path || !*path) {
    fprintf(stderr, "contract_stress: set SSS_BACKEND to the backend .so\n");
    return 1;
  }
  void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  sss_plugin_entry_fn entry =
      lib ? (sss_plugin_entry_fn)dlsym(lib, SSS_PLUGIN_ENTRY_SYMBOL) : NULL;
  P = entry ? entry(SSS_ABI_MAJOR) : NULL;
  if (!P) {
    fprintf(stderr, "contract_stress: %s is not an sss ABI 1 backend (%s)\n",
            path, lib ? "no v1 entry" : dlerror());
    return 1;
  }
  int failed = 0;
  for (int round = 0; round < rounds && !failed; round++) {
    static inst_ctx ctx[N_INSTANCES];
    pthread_t t[N_INSTANCES];
    for (int i = 0; i < N_INSTANCES; i++) {
      inst_ctx *c = &ctx[i];
      memset(c, 0, sizeof *c);
      pthread_condattr_t ca;
      pthread_condattr_init(&ca);
      pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
      pthread_cond_init(&c->cond, &ca);
      pthread_condattr_destroy(&ca);
      pthread_mutex_init(&c->mu, NULL);
      for (int k = 0; k < 2; k++) {
        c->e[k].struct_size = sizeof c->e[k];
        c->e[k].thread_id.bytes[0] = (uint8_t)k;
        c->e[k].block_id.bytes[0] = (uint8_t)i;
      }
      sss_host host = {.struct_size = sizeof host,
                       .ctx = c,
                       .gossip_nodes = cb_gossip,
                       .bk_set = cb_bk,
                       .apply_snapshot = cb_apply,
                       .report_state_request = cb_metric,
                       .report_error = cb_error,
                       .log = cb_log};
      char err[SSS_ERROR_SIZE] = "";
      if (P->create(&host, &c->inst, err) != SSS_OK) {
        fprintf(stderr, "contract_stress: create: %s\n", err);
        return 1;
      }
    }
    for (int i = 0; i < N_INSTANCES; i++)
      pthread_create(&t[i], NULL, worker_main, &ctx[i]);
    for (int i = 0; i < N_INSTANCES; i++)
      pthread_join(t[i], NULL);
    for (int i = 0; i < N_INSTANCES; i++) {
      inst_ctx *c = &ctx[i];
      if (c->failure[0] || c->bad_results || atomic_load(&c->late)) {
        fprintf(stderr, "contract_stress: round %d, instance %d: %s%s%s\n",
                round, i, c->failure,
                c->bad_results ? "; a result had an invalid status" : "",
                atomic_load(&c->late) ? "; a callback came after destroy" : "");
        failed = 1;
      }
      pthread_mutex_destroy(&c->mu);
      pthread_cond_destroy(&c->cond);
    }
  }
  if (!failed)
    printf("contract_stress: %d rounds passed on %s\n", rounds, path);
  return failed;
}
