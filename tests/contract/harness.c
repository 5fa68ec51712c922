#include "harness.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* Per test process (Criterion runs each test in its own process). */
static void *handle;
static sss_plugin_entry_fn entry_fn;

const char *th_backend_path(void) {
  const char *path = getenv("SSS_BACKEND");
  cr_assert(path && *path,
            "SSS_BACKEND is not set; set it to the backend .so to test, e.g. "
            "SSS_BACKEND=build/plugin/libsss_stub.so");
  return path;
}

sss_plugin_entry_fn th_entry(void) {
  if (entry_fn) return entry_fn;
  const char *path = th_backend_path();
  handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  cr_assert(handle, "dlopen('%s') failed: %s", path, dlerror());
  entry_fn = (sss_plugin_entry_fn)dlsym(handle, SSS_PLUGIN_ENTRY_SYMBOL);
  cr_assert(entry_fn, "'%s' does not export %s", path, SSS_PLUGIN_ENTRY_SYMBOL);
  return entry_fn;
}

const sss_plugin *th_backend(void) {
  const sss_plugin *p = th_entry()(SSS_ABI_MAJOR);
  cr_assert(p, "%s(1) returned NULL", SSS_PLUGIN_ENTRY_SYMBOL);
  cr_assert_eq(p->abi_major, SSS_ABI_MAJOR);
  return p;
}

/* ---- Host callbacks: count, and flag any call after destroy ----------- */

/* Counts one callback; call with h->mu held. */
static void seen(test_host *h) {
  h->calls++;
  if (atomic_load(&h->destroyed)) h->late_calls++;
  pthread_cond_broadcast(&h->cond);
}

static int cb_gossip_nodes(void *ctx, sss_gossip_visit_fn visit,
                           void *visit_ctx) {
  (void)visit, (void)visit_ctx; /* the contract host knows no nodes */
  test_host *h = ctx;
  pthread_mutex_lock(&h->mu);
  seen(h);
  pthread_mutex_unlock(&h->mu);
  return 0;
}

static int cb_bk_set(void *ctx, sss_node_visit_fn visit, void *visit_ctx) {
  (void)visit, (void)visit_ctx; /* and an empty BK set */
  test_host *h = ctx;
  pthread_mutex_lock(&h->mu);
  seen(h);
  pthread_mutex_unlock(&h->mu);
  return 0;
}

static int cb_apply_snapshot(void *ctx, void *repository,
                             const sss_thread_id *thread_id,
                             const sss_block_id *block_id,
                             const sss_reader *reader, uint64_t size,
                             char *err) {
  (void)repository, (void)thread_id, (void)block_id, (void)reader, (void)size;
  test_host *h = ctx;
  pthread_mutex_lock(&h->mu);
  seen(h);
  h->applies++;
  pthread_mutex_unlock(&h->mu);
  snprintf(err, SSS_ERROR_SIZE,
           "the contract host's repository accepts "
           "nothing");
  return 1;
}

static int cb_save_object(void *ctx, const sss_state *state,
                          const char *resource_name, char *err) {
  test_host *h = ctx;
  pthread_mutex_lock(&h->mu);
  seen(h);
  h->saves++;
  h->saved_state = state;
  snprintf(h->saved_name, sizeof h->saved_name, "%s", resource_name);
  const char *fail = h->save_fail;
  pthread_mutex_unlock(&h->mu);
  if (!fail) return 0;
  snprintf(err, SSS_ERROR_SIZE, "%s", fail);
  return -1;
}

/* The contract host has no sources, so a backend has nothing to fetch; a
 * request means it invented a URL. Refuse it (finish is then never due). */
static int cb_load_blob(void *ctx, const sss_blob_request *req,
                        const sss_blob_sink *sink, char *err) {
  (void)sink;
  test_host *h = ctx;
  pthread_mutex_lock(&h->mu);
  seen(h);
  h->blob_requests++;
  pthread_mutex_unlock(&h->mu);
  snprintf(err, SSS_ERROR_SIZE,
           "the contract host serves no blobs (asked for %s)", req->url);
  return 1;
}

static void cb_cancel_blob(void *ctx, const sss_blob_sink *sink) {
  (void)sink;
  test_host *h = ctx;
  pthread_mutex_lock(&h->mu);
  seen(h);
  h->blob_requests++;
  pthread_mutex_unlock(&h->mu);
}

static void cb_report_state_request(void *ctx) {
  test_host *h = ctx;
  pthread_mutex_lock(&h->mu);
  seen(h);
  h->state_requests++;
  pthread_mutex_unlock(&h->mu);
}

static void cb_report_error(void *ctx, int kind) {
  test_host *h = ctx;
  pthread_mutex_lock(&h->mu);
  seen(h);
  h->errors++;
  if (kind < SSS_ERROR_KIND_DOWNLOAD || kind > SSS_ERROR_KIND_LOCAL)
    h->bad_error_kinds++;
  pthread_mutex_unlock(&h->mu);
}

static void cb_log(void *ctx, int level, const char *message) {
  test_host *h = ctx;
  pthread_mutex_lock(&h->mu);
  seen(h);
  h->logs++;
  if (level < SSS_LOG_ERROR || level > SSS_LOG_DEBUG || !message ||
      strchr(message, '\n'))
    h->bad_logs++;
  pthread_mutex_unlock(&h->mu);
}

static void cb_progress(void *ctx, const struct sss_stats *stats) {
  (void)stats;
  test_host *h = ctx;
  pthread_mutex_lock(&h->mu);
  seen(h);
  pthread_mutex_unlock(&h->mu);
}

int th_is_task_status(int status) {
  return status == SSS_TASK_OK || status == SSS_TASK_FAILED ||
         status == SSS_TASK_CANCELLED;
}

/* Checks what the contract promises about a result's shape. */
static int entries_sane(const sss_task_result *r) {
  if (r->n_entries == 0 || !r->entries) return 0;
  size_t stride = r->entries[0].struct_size;
  if (stride < sizeof(sss_entry_result)) return 0;
  for (size_t i = 0; i < r->n_entries; i++) {
    const sss_entry_result *e =
        (const sss_entry_result *)(const void *)((const char *)r->entries +
                                                 i * stride);
    if (e->struct_size != stride) return 0;
    if (e->status > 0) return 0;
    if (e->status != SSS_OK && (!e->message || !*e->message)) return 0;
  }
  return 1;
}

static void cb_on_result(void *output_ctx, const sss_task_result *r) {
  test_host *h = output_ctx;
  pthread_mutex_lock(&h->mu);
  seen(h);
  if (h->results < TH_MAX_RECORDED) {
    th_result *rec = &h->recorded[h->results];
    rec->status = r->status;
    rec->task_id = r->task_id;
    rec->n_entries = r->n_entries;
    rec->entries_ok =
        r->struct_size >= sizeof *r && r->message && entries_sane(r);
    if (r->n_entries) {
      rec->first_block_id = r->entries[0].block_id;
      rec->first_entry_status = r->entries[0].status;
    }
  }
  h->results++;
  int reenter = h->reenter > 0;
  if (reenter) h->reenter--;
  if (h->block_in_result) {
    h->in_result = 1;
    pthread_cond_broadcast(&h->cond);
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += TH_RESULT_WAIT_MS / 1000;
    while (!h->release &&
           pthread_cond_timedwait(&h->cond, &h->mu, &until) != ETIMEDOUT)
      ;
  }
  pthread_mutex_unlock(&h->mu);

  if (reenter) { /* the contract: this must neither deadlock nor be refused */
    sss_task_output out = th_output(h);
    char err[SSS_ERROR_SIZE] = "";
    int rc = h->p->add_load_state_task(h->inst, h->task_entries, h->task_n,
                                       NULL, &out, err);
    pthread_mutex_lock(&h->mu);
    h->reenter_rc = rc;
    pthread_cond_broadcast(&h->cond);
    pthread_mutex_unlock(&h->mu);
  }
}

/* ---- Setup ------------------------------------------------------------- */

void th_init(test_host *h) {
  memset(h, 0, sizeof *h);
  h->p = th_backend();
  h->host = (sss_host){
      .struct_size = sizeof(sss_host),
      .ctx = h,
      .gossip_nodes = cb_gossip_nodes,
      .bk_set = cb_bk_set,
      .apply_snapshot = cb_apply_snapshot,
      .save_object = cb_save_object,
      .load_blob = cb_load_blob,
      .cancel_blob = cb_cancel_blob,
      .report_state_request = cb_report_state_request,
      .report_error = cb_report_error,
      .log = cb_log,
      .progress = cb_progress,
  };
  h->reenter_rc = 1000; /* not a status: "never called" */
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&h->cond, &ca);
  pthread_condattr_destroy(&ca);
  pthread_mutex_init(&h->mu, NULL);
}

void th_create(test_host *h) {
  char err[SSS_ERROR_SIZE] = "";
  int rc = h->p->create(&h->host, &h->inst, err);
  cr_assert_eq(rc, SSS_OK, "create failed: %d %s", rc, err);
  cr_assert_not_null(h->inst);
}

void th_destroy(test_host *h) {
  h->p->destroy(h->inst);
  h->inst = NULL;
  pthread_mutex_lock(&h->mu);
  atomic_store(&h->destroyed, 1);
  pthread_mutex_unlock(&h->mu);
}

void th_release(test_host *h) {
  pthread_mutex_destroy(&h->mu);
  pthread_cond_destroy(&h->cond);
}

sss_task_output th_output(test_host *h) {
  return (sss_task_output){.struct_size = sizeof(sss_task_output),
                           .output_ctx = h,
                           .on_result = cb_on_result};
}

static void set(test_host *h, const char *key, const char *value) {
  char err[SSS_ERROR_SIZE] = "";
  int rc = h->p->set_option(h->inst, key, value, err);
  cr_assert_eq(rc, SSS_OK, "set_option(%s, %s): %d %s", key, value, rc, err);
}

void th_options_fast(test_host *h) {
  set(h, "static_storages", "");
  set(h, "max_download_tries", "1");
  set(h, "retry_download_timeout_ms", "0");
  set(h, "download_deadline_timeout_ms", "10000");
}

void th_options_slow(test_host *h) {
  set(h, "static_storages", "");
  set(h, "max_download_tries", "1000");
  set(h, "retry_download_timeout_ms", "600000");
  set(h, "download_deadline_timeout_ms", "3600000");
}

void th_entries(sss_load_entry *e, size_t n, uint8_t seed) {
  for (size_t i = 0; i < n; i++) {
    memset(&e[i], 0, sizeof e[i]);
    e[i].struct_size = sizeof e[i];
    memset(e[i].thread_id.bytes, seed, SSS_THREAD_ID_LEN);
    e[i].thread_id.bytes[0] = (uint8_t)i;
    for (size_t b = 0; b < SSS_BLOCK_ID_LEN; b++)
      e[i].block_id.bytes[b] = (uint8_t)(seed * 31 + i * 7 + b);
  }
}

/* ---- Waiting ----------------------------------------------------------- */

static struct timespec after_ms(int ms) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  t.tv_sec += ms / 1000;
  t.tv_nsec += (long)(ms % 1000) * 1000000L;
  if (t.tv_nsec >= 1000000000L) {
    t.tv_sec++;
    t.tv_nsec -= 1000000000L;
  }
  return t;
}

int th_wait_results(test_host *h, int n, int ms) {
  struct timespec until = after_ms(ms);
  pthread_mutex_lock(&h->mu);
  while (h->results < n &&
         pthread_cond_timedwait(&h->cond, &h->mu, &until) != ETIMEDOUT)
    ;
  int got = h->results;
  pthread_mutex_unlock(&h->mu);
  return got;
}

int th_wait_in_result(test_host *h, int ms) {
  struct timespec until = after_ms(ms);
  pthread_mutex_lock(&h->mu);
  while (!h->in_result &&
         pthread_cond_timedwait(&h->cond, &h->mu, &until) != ETIMEDOUT)
    ;
  int in = h->in_result;
  pthread_mutex_unlock(&h->mu);
  return in;
}

void th_release_result(test_host *h) {
  pthread_mutex_lock(&h->mu);
  h->release = 1;
  pthread_cond_broadcast(&h->cond);
  pthread_mutex_unlock(&h->mu);
}

int th_late_calls_after(test_host *h, int ms) {
  struct timespec until = after_ms(ms);
  pthread_mutex_lock(&h->mu);
  while (pthread_cond_timedwait(&h->cond, &h->mu, &until) != ETIMEDOUT)
    ;
  int late = h->late_calls;
  pthread_mutex_unlock(&h->mu);
  return late;
}

/* ---- Threads ----------------------------------------------------------- */

int th_count_threads(void) {
  DIR *d = opendir("/proc/self/task");
  cr_assert(d, "opendir /proc/self/task: %s", strerror(errno));
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL)
    if (e->d_name[0] != '.') n++;
  closedir(d);
  return n;
}

static void sleep_1ms(void) {
  struct timespec ts = {0, 1000000L};
  nanosleep(&ts, NULL);
}

/* The kernel removes an exited thread from /proc/self/task a little after
 * pthread_join returns, and nothing signals that moment: polling every
 * millisecond, bounded, is the only way to observe it. */
int th_wait_thread_count(int n, int ms) {
  int count = th_count_threads();
  for (int i = 0; i < ms && count != n; i++) {
    sleep_1ms();
    count = th_count_threads();
  }
  return count;
}

static void *warm_main(void *arg) {
  *(pid_t *)arg = (pid_t)syscall(SYS_gettid);
  return NULL;
}

void th_warm_threads(void) {
  pthread_t t;
  pid_t tid = 0;
  cr_assert_eq(pthread_create(&t, NULL, warm_main, &tid), 0);
  pthread_join(t, NULL);
  char path[64];
  snprintf(path, sizeof path, "/proc/self/task/%d", (int)tid);
  struct stat st;
  for (int i = 0; i < 2000 && stat(path, &st) == 0; i++)
    sleep_1ms();
}
