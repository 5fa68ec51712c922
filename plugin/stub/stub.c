/*
 * stub.c: the stub backend, the smallest complete implementation of the
 * sss ABI v1 (abi/sss_plugin.h) and the template for writing a backend.
 *
 * It does everything the contract asks except loading: version negotiation,
 * host table checks, the documented options, saving through the host's
 * save_object, and load tasks that end with exactly one FAILED result ("the
 * stub backend loads nothing") delivered from the instance's one loader
 * thread. A real backend replaces the body of the loader (loader_main) and
 * keeps the rest of the shape:
 *
 *   - all state hangs off the instance; the only global is the const vtable;
 *   - one mutex + one condition variable per instance guard the task slot;
 *   - the loader thread is started by the first accepted task, woken only by
 *     events (the condition variable; timers via pthread_cond_timedwait) and
 *     joined in destroy;
 *   - a task leaves the slot at the moment its outcome is decided, and its
 *     result is then delivered by exactly one thread with no lock held, so
 *     that the host's on_result may call back into the instance.
 *
 * To make "busy", reset_sync and destroy-during-work observable, the stub
 * decides a task's result only STUB_RESULT_DELAY_MS after the loader picked
 * it up. The delay is a timed condition wait, so reset_sync and destroy end
 * it at once.
 */
#include "hex.h"
#include "options.h"
#include "status.h"

#include "sss_plugin.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef SSS_STUB_VERSION
#define SSS_STUB_VERSION "0"
#endif

#define STUB_RESULT_DELAY_MS 100
#define STUB_NOTHING "the stub backend loads nothing"

/* The host table must reach at least the last required callback. */
#define HOST_MIN_SIZE                                                          \
  (offsetof(sss_host, apply_snapshot) + sizeof(((sss_host *)0)->apply_snapshot))
/* A load entry must carry at least the thread id and the block id. */
#define ENTRY_MIN_SIZE                                                         \
  (offsetof(sss_load_entry, block_id) + sizeof(sss_block_id))

/* One accepted load task. Owned by the instance while in the slot or in the
 * cancelled list; owned by the delivering thread after it took it out. */
typedef struct task {
  uint64_t id;
  size_t n;
  sss_load_entry *entries;   /* copies, in the host's order */
  sss_entry_result *results; /* allocated at accept: delivery cannot fail */
  void *repository;          /* the host's, handed back unchanged */
  sss_task_output output;    /* copy of the host's */
  sss_options opts;          /* options as they were when accepted */
  int started;               /* the loader picked it up */
  int reported;              /* report_state_request done */
  const char *cancel_reason; /* set when cancelled */
  struct timespec deadline;  /* CLOCK_MONOTONIC; when the stub gives up */
  struct task *next;         /* in the cancelled list */
} task;

struct sss_instance {
  sss_host host; /* copy; members the host did not have are NULL */

  pthread_mutex_t mu;  /* guards everything below */
  pthread_cond_t cond; /* CLOCK_MONOTONIC; signalled on every event */
  sss_options opts;
  int thread_started;
  pthread_t thread;
  int stopping;    /* destroy has begun */
  task *pending;   /* the running task, or NULL */
  task *cancelled; /* cancelled, CANCELLED result not yet delivered */
  uint64_t last_task_id;
  sss_stats stats; /* current or last task */
  uint64_t started_ms, ended_ms;
};

/* ---- Small helpers ----------------------------------------------------- */

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static struct timespec deadline_in_ms(unsigned ms) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  ts.tv_sec += ms / 1000;
  ts.tv_nsec += (long)(ms % 1000) * 1000000L;
  if (ts.tv_nsec >= 1000000000L) {
    ts.tv_sec++;
    ts.tv_nsec -= 1000000000L;
  }
  return ts;
}

/* Formats one line to host->log when the host has one. Call without mu. */
static void stub_log(const sss_instance *s, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void stub_log(const sss_instance *s, int level, const char *fmt, ...) {
  if (!s->host.log) return;
  char line[SSS_ERROR_SIZE];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  s->host.log(s->host.ctx, level, line);
}

static void task_free(task *t) {
  if (!t) return;
  sss_options_release(&t->opts);
  free(t->entries);
  free(t->results);
  free(t);
}

/* Updates the stats when a task's outcome is decided. Call with mu held. */
static void stats_finish(sss_instance *s, const task *t, int status) {
  if (s->stats.task_id != t->id) return; /* an older, superseded task */
  s->stats.running = 0;
  s->stats.last_status = status;
  s->stats.entries_failed = status == SSS_TASK_FAILED ? (uint32_t)t->n : 0;
  s->ended_ms = now_ms();
}

/* The metrics every accepted task produces once: one state request per
 * entry. Called by whichever thread handles the task first. */
static void report_accepted(const sss_instance *s, const task *t) {
  stub_log(s, SSS_LOG_INFO, "stub: task %llu with %zu entries accepted",
           (unsigned long long)t->id, t->n);
  if (!s->host.report_state_request) return;
  for (size_t i = 0; i < t->n; i++)
    s->host.report_state_request(s->host.ctx);
}

/* Delivers the one result of t. The caller owns t (it is in no list) and
 * holds no lock, so on_result may call back into the instance. */
static void deliver(const sss_instance *s, task *t, int status) {
  if (!t->reported) {
    t->reported = 1;
    report_accepted(s, t);
  }
  const char *why =
      status == SSS_TASK_CANCELLED ? t->cancel_reason : STUB_NOTHING;
  for (size_t i = 0; i < t->n; i++) {
    sss_entry_result *r = &t->results[i];
    r->struct_size = sizeof *r;
    r->thread_id = t->entries[i].thread_id;
    r->block_id = t->entries[i].block_id;
    r->status =
        status == SSS_TASK_CANCELLED ? SSS_ERR_CANCELLED : SSS_ERR_UNSUPPORTED;
    r->message = why;
    r->source = NULL;
    r->bytes = 0;
    if (status == SSS_TASK_FAILED && s->host.report_error)
      s->host.report_error(s->host.ctx, SSS_ERROR_KIND_NO_SOURCES);
  }
  sss_task_result res = {
      .struct_size = sizeof res,
      .task_id = t->id,
      .status = status,
      .message = why,
      .n_entries = t->n,
      .entries = t->results,
  };
  stub_log(s, status == SSS_TASK_FAILED ? SSS_LOG_WARN : SSS_LOG_INFO,
           "stub: task %llu %s: %s", (unsigned long long)t->id,
           status == SSS_TASK_FAILED ? "failed" : "cancelled", why);
  t->output.on_result(t->output.output_ctx, &res);
}

/* Takes the oldest task off the cancelled list. Call with mu held. */
static task *pop_cancelled(sss_instance *s) {
  task *t = s->cancelled;
  if (!t) return NULL;
  s->cancelled = t->next;
  t->next = NULL;
  return t;
}

static void push_cancelled(sss_instance *s, task *t, const char *reason) {
  t->cancel_reason = reason;
  task **tail = &s->cancelled;
  while (*tail)
    tail = &(*tail)->next;
  *tail = t;
}

/* ---- The loader thread ------------------------------------------------- */

/* One per instance. Sleeps on the condition variable until an event: a task
 * to start, a task's timer, a cancelled task to report, or destroy. Every
 * host callback it makes is made without mu held. */
static void *loader_main(void *arg) {
  sss_instance *s = arg;
  pthread_mutex_lock(&s->mu);
  for (;;) {
    task *t = pop_cancelled(s);
    if (t) { /* reset_sync cancelled it; its result is ours to deliver */
      pthread_mutex_unlock(&s->mu);
      deliver(s, t, SSS_TASK_CANCELLED);
      task_free(t);
      pthread_mutex_lock(&s->mu);
      continue;
    }
    if (s->stopping) break; /* destroy delivers what is still pending */
    t = s->pending;
    if (t && !t->started) { /* a new task: start its work (here, a timer) */
      t->started = t->reported = 1;
      t->deadline = deadline_in_ms(STUB_RESULT_DELAY_MS);
      pthread_mutex_unlock(&s->mu);
      report_accepted(s, t);
      pthread_mutex_lock(&s->mu);
      continue;
    }
    if (!t) {
      pthread_cond_wait(&s->cond, &s->mu);
      continue;
    }
    /* The task runs: wait for its timer or for an event. A real backend
     * waits here on its transfers (curl_multi_poll) instead. */
    if (pthread_cond_timedwait(&s->cond, &s->mu, &t->deadline) != ETIMEDOUT)
      continue; /* an event, or a spurious wake-up: look again */
    if (s->pending != t || s->stopping) continue;
    s->pending = NULL; /* decided: the slot is free for the next task */
    stats_finish(s, t, SSS_TASK_FAILED);
    pthread_mutex_unlock(&s->mu);
    deliver(s, t, SSS_TASK_FAILED);
    task_free(t);
    pthread_mutex_lock(&s->mu);
  }
  pthread_mutex_unlock(&s->mu);
  return NULL;
}

/* ---- The vtable functions ---------------------------------------------- */

static int stub_create(const sss_host *host, sss_instance **out, char *err) {
  if (!out)
    return sss_fail(err, SSS_ERR_INVALID_ARGUMENT,
                    "create: out is NULL; pass the address of an "
                    "sss_instance pointer");
  *out = NULL;
  if (!host)
    return sss_fail(err, SSS_ERR_HOST_TABLE,
                    "create: the host table is NULL; pass an sss_host with "
                    "struct_size = sizeof(sss_host) and its callbacks set");
  if (host->struct_size < HOST_MIN_SIZE)
    return sss_fail(err, SSS_ERR_HOST_TABLE,
                    "create: the host table's struct_size %zu is too small "
                    "(at least %zu bytes, through apply_snapshot); set "
                    "struct_size = sizeof(sss_host)",
                    host->struct_size, (size_t)HOST_MIN_SIZE);
  static const char need[] = "; set it in the sss_host given to create";
  if (!host->gossip_nodes)
    return sss_fail(err, SSS_ERR_MISSING_CALLBACK,
                    "create: the host table has no gossip_nodes callback%s",
                    need);
  if (!host->bk_set)
    return sss_fail(err, SSS_ERR_MISSING_CALLBACK,
                    "create: the host table has no bk_set callback%s", need);
  if (!host->apply_snapshot)
    return sss_fail(err, SSS_ERR_MISSING_CALLBACK,
                    "create: the host table has no apply_snapshot callback%s",
                    need);

  sss_instance *s = calloc(1, sizeof *s);
  if (!s) goto fail_mem;
  /* Copy what the host has; members of a newer ABI it lacks stay NULL. */
  size_t n =
      host->struct_size < sizeof s->host ? host->struct_size : sizeof s->host;
  memcpy(&s->host, host, n);
  if (sss_options_init(&s->opts)) goto fail_opts;
  pthread_condattr_t ca;
  if (pthread_condattr_init(&ca)) goto fail_cond;
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  int rc = pthread_cond_init(&s->cond, &ca);
  pthread_condattr_destroy(&ca);
  if (rc) goto fail_cond;
  if (pthread_mutex_init(&s->mu, NULL)) goto fail_mutex;
  s->stats.struct_size = sizeof s->stats;
  s->stats.last_status = -1;
  *out = s;
  return SSS_OK;

fail_mutex:
  pthread_cond_destroy(&s->cond);
fail_cond:
  sss_options_release(&s->opts);
  free(s);
  return sss_fail(err, SSS_ERR_SYSTEM,
                  "create: could not initialise a mutex or condition "
                  "variable; the process may be out of resources");
fail_opts:
  free(s);
fail_mem:
  return sss_fail(err, SSS_ERR_NO_MEMORY,
                  "create: out of memory allocating the instance");
}

static void stub_destroy(sss_instance *s) {
  if (!s) return;
  pthread_mutex_lock(&s->mu);
  s->stopping = 1;
  pthread_cond_broadcast(&s->cond);
  int started = s->thread_started;
  pthread_mutex_unlock(&s->mu);
  /* The loader finishes a delivery it is in, delivers the tasks reset_sync
   * cancelled, and exits. */
  if (started) pthread_join(s->thread, NULL);

  /* No other thread touches the instance any more; what is left is ours. */
  task *t;
  while ((t = pop_cancelled(s)) != NULL) {
    deliver(s, t, SSS_TASK_CANCELLED);
    task_free(t);
  }
  if ((t = s->pending) != NULL) {
    s->pending = NULL;
    t->cancel_reason = "the task was cancelled because the instance was "
                       "destroyed";
    deliver(s, t, SSS_TASK_CANCELLED);
    task_free(t);
  }
  sss_options_release(&s->opts);
  pthread_mutex_destroy(&s->mu);
  pthread_cond_destroy(&s->cond);
  free(s);
}

static int stub_set_option(sss_instance *s, const char *key, const char *value,
                           char *err) {
  if (!s)
    return sss_fail(err, SSS_ERR_INVALID_ARGUMENT,
                    "set_option: instance is NULL; pass one from create");
  pthread_mutex_lock(&s->mu);
  int rc = sss_options_set(&s->opts, key, value, err);
  pthread_mutex_unlock(&s->mu);
  return rc;
}

static int stub_save_state_for_sharing(sss_instance *s, const sss_state *state,
                                       char *err) {
  if (!s)
    return sss_fail(err, SSS_ERR_INVALID_ARGUMENT,
                    "save_state_for_sharing: instance is NULL; pass one "
                    "from create");
  if (!state)
    return sss_fail(err, SSS_ERR_INVALID_ARGUMENT,
                    "save_state_for_sharing: state is NULL; pass the "
                    "sss_state to publish");
  if (!SSS_HAS_MEMBER(state, sss_state, block_id))
    return sss_fail(err, SSS_ERR_INVALID_ARGUMENT,
                    "save_state_for_sharing: state struct_size %zu is too "
                    "small to hold a block id; set struct_size = "
                    "sizeof(sss_state)",
                    state->struct_size);
  if (!s->host.save_object)
    return sss_fail(err, SSS_ERR_UNSUPPORTED,
                    "save_state_for_sharing: the host table has no "
                    "save_object callback; set host.save_object to share "
                    "states");

  char name[SSS_BLOCK_ID_HEX_LEN + 1];
  sss_hex_encode(state->block_id.bytes, SSS_BLOCK_ID_LEN, name);
  char host_err[SSS_ERROR_SIZE] = "";
  if (s->host.save_object(s->host.ctx, state, name, host_err) == 0)
    return SSS_OK;
  host_err[SSS_ERROR_SIZE - 1] = '\0';
  return sss_fail(err, SSS_ERR_HOST,
                  "save_state_for_sharing: the host's save_object failed "
                  "for %s: %s",
                  name, host_err[0] ? host_err : "(the host gave no reason)");
}

static int cmp_thread_ptr(const void *a, const void *b) {
  const sss_load_entry *x = *(const sss_load_entry *const *)a;
  const sss_load_entry *y = *(const sss_load_entry *const *)b;
  return memcmp(&x->thread_id, &y->thread_id, sizeof x->thread_id);
}

/* Fails with a sentence naming the thread id that appears twice. */
static int check_unique_threads(const sss_load_entry *e, size_t n, char *err) {
  const sss_load_entry **by_thread = malloc(n * sizeof *by_thread);
  if (!by_thread)
    return sss_fail(err, SSS_ERR_NO_MEMORY,
                    "add_load_state_task: out of memory checking %zu entries",
                    n);
  for (size_t i = 0; i < n; i++)
    by_thread[i] = &e[i];
  qsort(by_thread, n, sizeof *by_thread, cmp_thread_ptr);
  int rc = SSS_OK;
  for (size_t i = 1; i < n && rc == SSS_OK; i++) {
    if (cmp_thread_ptr(&by_thread[i - 1], &by_thread[i])) continue;
    char hex[2 * SSS_THREAD_ID_LEN + 1];
    sss_hex_encode(by_thread[i]->thread_id.bytes, SSS_THREAD_ID_LEN, hex);
    size_t a = (size_t)(by_thread[i - 1] - e), b = (size_t)(by_thread[i] - e);
    rc = sss_fail(err, SSS_ERR_INVALID_ARGUMENT,
                  "add_load_state_task: thread %s appears twice (entries %zu "
                  "and %zu); give each thread once per task",
                  hex, a < b ? a : b, a < b ? b : a);
  }
  free(by_thread);
  return rc;
}

/* Validates the task's input and builds the task (nothing shared touched).
 * Returns SSS_OK with *out set, or an error with err filled. */
static int task_build(const sss_load_entry *entries, size_t n, void *repository,
                      const sss_task_output *output, task **out, char *err) {
  static const char fn[] = "add_load_state_task";
  if (n == 0)
    return sss_fail(err, SSS_ERR_INVALID_ARGUMENT,
                    "%s: n is 0; pass at least one entry", fn);
  if (!entries)
    return sss_fail(err, SSS_ERR_INVALID_ARGUMENT,
                    "%s: entries is NULL with n = %zu; pass an array of n "
                    "sss_load_entry",
                    fn, n);
  size_t stride = entries[0].struct_size;
  if (stride < ENTRY_MIN_SIZE)
    return sss_fail(err, SSS_ERR_INVALID_ARGUMENT,
                    "%s: entries[0].struct_size %zu is too small (at least "
                    "%zu); set struct_size = sizeof(sss_load_entry)",
                    fn, stride, (size_t)ENTRY_MIN_SIZE);
  if (!output)
    return sss_fail(err, SSS_ERR_INVALID_ARGUMENT,
                    "%s: output is NULL; pass an sss_task_output whose "
                    "on_result receives the task's result",
                    fn);
  if (!SSS_HAS_MEMBER(output, sss_task_output, on_result) || !output->on_result)
    return sss_fail(err, SSS_ERR_INVALID_ARGUMENT,
                    "%s: output->on_result is NULL (or output->struct_size "
                    "%zu too small); set it to the function that receives "
                    "the result",
                    fn, output->struct_size);

  task *t = calloc(1, sizeof *t);
  if (!t) goto fail_mem;
  t->n = n;
  t->entries = calloc(n, sizeof *t->entries);
  t->results = calloc(n, sizeof *t->results);
  if (!t->entries || !t->results) goto fail_mem;
  /* Copy each element at the host's stride; members the host's struct lacks
   * stay zero. memcpy because a foreign stride need not be aligned. */
  size_t copy = stride < sizeof *t->entries ? stride : sizeof *t->entries;
  for (size_t i = 0; i < n; i++) {
    memcpy(&t->entries[i], (const char *)entries + i * stride, copy);
    if (t->entries[i].struct_size != stride) {
      int rc = sss_fail(err, SSS_ERR_INVALID_ARGUMENT,
                        "%s: entries[%zu].struct_size is %zu but "
                        "entries[0].struct_size is %zu; all entries must "
                        "have the same size",
                        fn, i, t->entries[i].struct_size, stride);
      task_free(t);
      return rc;
    }
  }
  int rc = check_unique_threads(t->entries, n, err);
  if (rc) {
    task_free(t);
    return rc;
  }
  memcpy(&t->output, output,
         output->struct_size < sizeof t->output ? output->struct_size
                                                : sizeof t->output);
  t->repository = repository;
  *out = t;
  return SSS_OK;

fail_mem:
  task_free(t);
  return sss_fail(err, SSS_ERR_NO_MEMORY, "%s: out of memory for %zu entries",
                  fn, n);
}

static int stub_add_load_state_task(sss_instance *s,
                                    const sss_load_entry *entries, size_t n,
                                    void *repository,
                                    const sss_task_output *output, char *err) {
  if (!s)
    return sss_fail(err, SSS_ERR_INVALID_ARGUMENT,
                    "add_load_state_task: instance is NULL; pass one from "
                    "create");
  task *t = NULL;
  int rc = task_build(entries, n, repository, output, &t, err);
  if (rc) return rc;

  pthread_mutex_lock(&s->mu);
  if (s->stopping) {
    rc = sss_fail(err, SSS_ERR_CANCELLED,
                  "add_load_state_task: the instance is being destroyed; "
                  "add tasks to a new instance");
    goto out;
  }
  if (s->pending) { /* the reference behaviour: skip, already downloading */
    rc = SSS_ALREADY_LOADING;
    goto out;
  }
  /* Options are copied per task: a change made now applies to the next. */
  if (sss_options_copy(&t->opts, &s->opts)) {
    rc = sss_fail(err, SSS_ERR_NO_MEMORY,
                  "add_load_state_task: out of memory copying the options");
    goto out;
  }
  if (!s->thread_started) {
    if (pthread_create(&s->thread, NULL, loader_main, s)) {
      rc = sss_fail(err, SSS_ERR_SYSTEM,
                    "add_load_state_task: could not start the loader "
                    "thread; the process may be out of threads or memory");
      goto out;
    }
    s->thread_started = 1;
  }
  t->id = ++s->last_task_id;
  s->pending = t;
  t = NULL;
  s->stats = (sss_stats){.struct_size = sizeof s->stats,
                         .task_id = s->last_task_id,
                         .running = 1,
                         .last_status = s->stats.last_status,
                         .entries_total = (uint32_t)n};
  for (size_t i = 0; i < n; i++)
    if (s->pending->entries[i].flags & SSS_ENTRY_HAS_SIZE)
      s->stats.bytes_expected += s->pending->entries[i].size;
  s->started_ms = s->ended_ms = now_ms();
  pthread_cond_broadcast(&s->cond);
out:
  pthread_mutex_unlock(&s->mu);
  task_free(t);
  return rc;
}

static int stub_reset_sync(sss_instance *s) {
  if (!s) return SSS_ERR_INVALID_ARGUMENT;
  pthread_mutex_lock(&s->mu);
  task *t = s->pending;
  if (t) {
    /* The slot is free again at once; the loader delivers the CANCELLED
     * result. The stub has no transfers or repository calls to wait for; a
     * real backend waits here (unless called on its loader thread) until
     * none of the task's transfers or apply_snapshot calls is running. */
    s->pending = NULL;
    stats_finish(s, t, SSS_TASK_CANCELLED);
    push_cancelled(s, t, "the task was cancelled by reset_sync");
    pthread_cond_broadcast(&s->cond);
  }
  pthread_mutex_unlock(&s->mu);
  return t ? SSS_OK : SSS_IDLE;
}

static int stub_get_stats(sss_instance *s, sss_stats *stats) {
  if (!s || !stats || stats->struct_size < sizeof stats->struct_size)
    return SSS_ERR_INVALID_ARGUMENT;
  pthread_mutex_lock(&s->mu);
  sss_stats now = s->stats;
  if (now.task_id)
    now.elapsed_ms = (now.running ? now_ms() : s->ended_ms) - s->started_ms;
  pthread_mutex_unlock(&s->mu);
  /* Fill only what the caller's (possibly older, shorter) struct holds. */
  size_t n = stats->struct_size < sizeof now ? stats->struct_size : sizeof now;
  memcpy((char *)stats + sizeof now.struct_size,
         (const char *)&now + sizeof now.struct_size,
         n - sizeof now.struct_size);
  return SSS_OK;
}

/* The stub fetches nothing, so it never bans a source. */
static int stub_get_banned(sss_instance *s, size_t index, char *url,
                           size_t url_len, char *reason, size_t reason_len) {
  (void)index;
  if (!s) return SSS_ERR_INVALID_ARGUMENT;
  if (url && url_len) url[0] = '\0';
  if (reason && reason_len) reason[0] = '\0';
  return SSS_ERR_NOT_FOUND;
}

/* ---- Version negotiation ----------------------------------------------- */

static const sss_plugin STUB_V1 = {
    .struct_size = sizeof(sss_plugin),
    .abi_major = SSS_ABI_MAJOR,
    .abi_minor = SSS_ABI_MINOR,
    .backend_name = "stub",
    .backend_version = SSS_STUB_VERSION,
    .create = stub_create,
    .destroy = stub_destroy,
    .set_option = stub_set_option,
    .save_state_for_sharing = stub_save_state_for_sharing,
    .add_load_state_task = stub_add_load_state_task,
    .reset_sync = stub_reset_sync,
    .get_stats = stub_get_stats,
    .strerror = sss_status_str,
    .get_banned = stub_get_banned,
};

/* The one exported symbol: the vtable for major 1; 0 asks for the newest. */
SSS_EXPORT const sss_plugin *sss_plugin_entry(uint32_t abi_major) {
  return abi_major == SSS_ABI_MAJOR || abi_major == 0 ? &STUB_V1 : NULL;
}
