#include "task.h"

#include "apply.h"
#include "blob_host.h"
#include "fetch.h"
#include "hex.h"
#include "sources.h"
#include "status.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

/* ---- building ---------------------------------------------------------- */

typedef struct thread_seen {
  UT_hash_handle hh;
  sss_thread_id id;
} thread_seen;

static int has_duplicate_thread(const fs_entry *entries, size_t n,
                                size_t *dup) {
  thread_seen *set = NULL, *items = calloc(n, sizeof *items), *found;
  if (!items) return -1;
  int rc = 0;
  for (size_t i = 0; i < n && !rc; i++) {
    HASH_FIND(hh, set, &entries[i].in.thread_id, sizeof(sss_thread_id), found);
    if (found) {
      *dup = i;
      rc = 1;
      break;
    }
    items[i].id = entries[i].in.thread_id;
    HASH_ADD(hh, set, id, sizeof(sss_thread_id), &items[i]);
  }
  HASH_CLEAR(hh, set);
  free(items);
  return rc;
}

int fs_task_new(const sss_load_entry *entries, size_t n, void *repository,
                const sss_task_output *output, fs_task **out, char *err) {
  *out = NULL;
  if (!entries || n == 0)
    return sss_fail(err, SSS_ERR_INVALID_ARGUMENT,
                    "add_load_state_task: no entries; pass at least one "
                    "thread->block entry");
  size_t stride = entries[0].struct_size;
  if (stride < offsetof(sss_load_entry, flags))
    return sss_fail(err, SSS_ERR_INVALID_ARGUMENT,
                    "add_load_state_task: entries[0].struct_size is %zu, "
                    "smaller than a thread id and a block id; set it to "
                    "sizeof(sss_load_entry)",
                    stride);
  if (!output || output->struct_size < sizeof(sss_task_output) ||
      !output->on_result)
    return sss_fail(err, SSS_ERR_INVALID_ARGUMENT,
                    "add_load_state_task: no output; pass an sss_task_output "
                    "with struct_size set and on_result non-NULL");
  fs_task *t = calloc(1, sizeof *t);
  if (!t || !(t->entries = calloc(n, sizeof *t->entries))) {
    free(t);
    return sss_fail(err, SSS_ERR_NO_MEMORY, "add_load_state_task: out of memory");
  }
  t->n = n;
  t->repository = repository;
  t->output = *output;
  const char *p = (const char *)entries;
  for (size_t i = 0; i < n; i++, p += stride) {
    fs_entry *e = &t->entries[i];
    const sss_load_entry *src = (const sss_load_entry *)(const void *)p;
    if (src->struct_size != stride) {
      fs_task_free(t);
      return sss_fail(err, SSS_ERR_INVALID_ARGUMENT,
                      "add_load_state_task: entries[%zu].struct_size is %zu "
                      "but entries[0]'s is %zu; all entries must be the same "
                      "struct",
                      i, src->struct_size, stride);
    }
    memcpy(&e->in, src, stride < sizeof e->in ? stride : sizeof e->in);
    e->in.struct_size = sizeof e->in;
    if ((e->in.flags & SSS_ENTRY_HAS_SIZE) && e->in.size == 0) {
      fs_task_free(t);
      return sss_fail(err, SSS_ERR_INVALID_ARGUMENT,
                      "add_load_state_task: entries[%zu] says its size is 0; "
                      "a snapshot has at least one byte",
                      i);
    }
    sss_hex_encode(e->in.block_id.bytes, SSS_BLOCK_ID_LEN, e->resource);
    e->stage.fd = -1;
    e->state = FS_ENTRY_READY;
  }
  size_t dup = 0;
  int d = has_duplicate_thread(t->entries, n, &dup);
  if (d) {
    char thex[2 * SSS_THREAD_ID_LEN + 1];
    if (d > 0)
      sss_hex_encode(t->entries[dup].in.thread_id.bytes, SSS_THREAD_ID_LEN, thex);
    fs_task_free(t);
    if (d < 0)
      return sss_fail(err, SSS_ERR_NO_MEMORY, "add_load_state_task: out of memory");
    return sss_fail(err, SSS_ERR_INVALID_ARGUMENT,
                    "add_load_state_task: thread %s appears twice (entries[%zu]); "
                    "give each thread one block",
                    thex, dup);
  }
  *out = t;
  return SSS_OK;
}

static void free_srcs(fs_entry *e) {
  for (size_t i = 0; i < e->n_srcs; i++) free(e->srcs[i]);
  free(e->srcs);
  e->srcs = NULL;
  e->n_srcs = e->next_src = 0;
}

void fs_task_free(fs_task *t) {
  if (!t) return;
  for (size_t i = 0; i < t->n; i++) {
    fs_entry *e = &t->entries[i];
    free_srcs(e);
    fs_fetch_free(e);
    fs_stage_discard(&e->stage);
    free(e->installed_from);
  }
  for (size_t i = 0; i < t->n_banned; i++) {
    free(t->banned_urls[i]);
    free(t->banned_reasons[i]);
  }
  free(t->banned_urls);
  free(t->banned_reasons);
  for (size_t i = 0; i < t->n_vouched; i++) free(t->vouched_urls[i]);
  free(t->vouched_urls);
  sss_options_release(&t->opt);
  free(t->entries);
  free(t);
}

void fs_banned_clear(fs_instance *inst) {
  for (size_t i = 0; i < inst->n_banned; i++) {
    free(inst->banned_urls[i]);
    free(inst->banned_reasons[i]);
  }
  free(inst->banned_urls);
  free(inst->banned_reasons);
  inst->banned_urls = inst->banned_reasons = NULL;
  inst->n_banned = 0;
}

/* ---- small helpers ----------------------------------------------------- */

#define STATS(inst, stmt)                                                      \
  do {                                                                         \
    pthread_mutex_lock(&(inst)->mu);                                           \
    stmt;                                                                      \
    pthread_mutex_unlock(&(inst)->mu);                                         \
  } while (0)

static void report_error(fs_instance *inst, int kind) {
  if (inst->host.report_error) inst->host.report_error(inst->host.ctx, kind);
}

void fs_task_report(fs_instance *inst, int kind) { report_error(inst, kind); }

static int cancel_requested(fs_instance *inst, const fs_task *t) {
  pthread_mutex_lock(&inst->mu);
  int c = inst->cancel_id == t->id || inst->shutdown;
  pthread_mutex_unlock(&inst->mu);
  return c;
}

static void set_error(fs_entry *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void set_error(fs_entry *e, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(e->last_error, sizeof e->last_error, fmt, ap);
  va_end(ap);
}

static void entry_fail(fs_instance *inst, fs_entry *e, int status,
                       const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void entry_fail(fs_instance *inst, fs_entry *e, int status,
                       const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(e->message, sizeof e->message, fmt, ap);
  va_end(ap);
  e->status = status;
  e->state = FS_ENTRY_FAILED;
  free_srcs(e);
  fs_fetch_stop(inst, e);
  fs_stage_discard(&e->stage);
  STATS(inst, inst->stats.entries_failed++);
  fs_log(inst, SSS_LOG_WARN, "block %s: %s", e->resource, e->message);
}

/* The source of a URL is everything up to its last '/': the storage or the
 * node's share, whichever snapshot (resource name) is asked of it. */
static size_t source_len(const char *url) {
  const char *slash = strrchr(url, '/');
  return slash ? (size_t)(slash - url) + 1 : strlen(url);
}

/* A source that lied about one snapshot is not asked for any other of the
 * task either: bans are per source, named by the URL that lied. */
static int same_source_in(char *const *urls, size_t count, const char *url) {
  size_t n = source_len(url);
  for (size_t i = 0; i < count; i++)
    if (source_len(urls[i]) == n && !strncmp(urls[i], url, n)) return 1;
  return 0;
}

int fs_task_is_banned(const fs_task *t, const char *url) {
  return same_source_in(t->banned_urls, t->n_banned, url);
}

int fs_task_is_vouched(const fs_task *t, const char *url) {
  return same_source_in(t->vouched_urls, t->n_vouched, url);
}

void fs_task_vouch(fs_task *t, const char *url) {
  if (fs_task_is_vouched(t, url)) return;
  char **v = realloc(t->vouched_urls, (t->n_vouched + 1) * sizeof *v);
  if (!v) return;
  t->vouched_urls = v;
  if ((v[t->n_vouched] = strdup(url))) t->n_vouched++;
}

void fs_task_ban(fs_instance *inst, fs_task *t, const char *url,
                 const char *reason) {
  if (fs_task_is_banned(t, url)) return;
  char **u = realloc(t->banned_urls, (t->n_banned + 1) * sizeof *u);
  if (u) t->banned_urls = u;
  char **r = realloc(t->banned_reasons, (t->n_banned + 1) * sizeof *r);
  if (r) t->banned_reasons = r;
  char *uc = strdup(url), *rc = strdup(reason);
  if (!u || !r || !uc || !rc) {
    free(uc);
    free(rc);
    return; /* out of memory: the source is only dropped for this cycle */
  }
  t->banned_urls[t->n_banned] = uc;
  t->banned_reasons[t->n_banned] = rc;
  t->n_banned++;
  /* The instance's copy, for get_banned; best effort when out of memory. */
  pthread_mutex_lock(&inst->mu);
  inst->stats.sources_banned++;
  size_t n = inst->n_banned;
  u = realloc(inst->banned_urls, (n + 1) * sizeof *u);
  if (u) inst->banned_urls = u;
  r = realloc(inst->banned_reasons, (n + 1) * sizeof *r);
  if (r) inst->banned_reasons = r;
  uc = strdup(url);
  rc = strdup(reason);
  if (u && r && uc && rc) {
    inst->banned_urls[n] = uc;
    inst->banned_reasons[n] = rc;
    inst->n_banned++;
  } else {
    free(uc);
    free(rc);
  }
  pthread_mutex_unlock(&inst->mu);
  fs_log(inst, SSS_LOG_WARN, "banned source %s for the rest of the task: %s",
         url, reason);
}

/* ---- the per-entry state machine --------------------------------------- */

void fs_task_start(fs_instance *inst, fs_task *t) {
  t->started_ms = fs_now_ms();
  t->deadline_ms = t->started_ms + t->opt.download_deadline_timeout_ms;
  for (size_t i = 0; i < t->n; i++)
    if (inst->host.report_state_request)
      inst->host.report_state_request(inst->host.ctx);
  fs_log(inst, SSS_LOG_INFO, "task %" PRIu64 ": loading %zu snapshot%s", t->id,
         t->n, t->n == 1 ? "" : "s");
}

static void log_skip(void *ctx, const char *why) {
  fs_log(ctx, SSS_LOG_DEBUG, "%s", why);
}

/* The cycle's sources are used up: wait and start another, or give up. */
static void cycle_failed(fs_instance *inst, fs_task *t, fs_entry *e) {
  free_srcs(e);
  if (e->cycle >= t->opt.max_download_tries) {
    entry_fail(inst, e, e->last_status ? e->last_status : SSS_ERR_NOT_FOUND,
               "block %s: failed after %u cycle%s and %u request%s; last "
               "error: %s",
               e->resource, e->cycle, e->cycle == 1 ? "" : "s", e->tried,
               e->tried == 1 ? "" : "s", e->last_error);
    return;
  }
  uint64_t at = fs_now_ms() + t->opt.retry_download_timeout_ms;
  if (at >= t->deadline_ms) {
    report_error(inst, SSS_ERROR_KIND_TIMEOUT);
    entry_fail(inst, e, SSS_ERR_TIMEOUT,
               "block %s: cycle %u of %u failed and the next would start past "
               "the deadline of %" PRIu64 " ms; %u request%s; last error: %s",
               e->resource, e->cycle, t->opt.max_download_tries,
               t->opt.download_deadline_timeout_ms, e->tried,
               e->tried == 1 ? "" : "s", e->last_error);
    return;
  }
  e->state = FS_ENTRY_WAITING;
  e->retry_at_ms = at;
  fs_log(inst, SSS_LOG_INFO,
         "block %s: cycle %u of %u failed (%s); retrying in %" PRIu64 " ms",
         e->resource, e->cycle, t->opt.max_download_tries, e->last_error,
         t->opt.retry_download_timeout_ms);
}

/* Builds this cycle's sources. Returns 0 when the entry can go on. */
static int start_cycle(fs_instance *inst, fs_task *t, fs_entry *e) {
  uint64_t max = t->opt.max_snapshot_bytes;
  if ((e->in.flags & SSS_ENTRY_HAS_SIZE) && max && e->in.size > max) {
    report_error(inst, SSS_ERROR_KIND_LOCAL);
    entry_fail(inst, e, SSS_ERR_TOO_LARGE,
               "block %s: its size, %" PRIu64 " bytes, is more than "
               "max_snapshot_bytes (%" PRIu64 "); nothing was fetched",
               e->resource, e->in.size, max);
    return -1;
  }
  e->cycle++;
  STATS(inst, inst->stats.cycles++);
  fs_sources s;
  if (fs_sources_build(&t->opt, &inst->host, e->resource, &s, log_skip, inst)) {
    entry_fail(inst, e, SSS_ERR_NO_MEMORY, "block %s: out of memory", e->resource);
    return -1;
  }
  if (s.n == 0) {
    fs_sources_explain_empty(&s, e->last_error, sizeof e->last_error);
    fs_sources_release(&s);
    report_error(inst, SSS_ERROR_KIND_NO_SOURCES);
    cycle_failed(inst, t, e);
    return -1;
  }
  fs_sources_shuffle(&s, &inst->rng);
  e->srcs = s.urls;
  e->n_srcs = s.n;
  e->next_src = 0;
  fs_log(inst, SSS_LOG_DEBUG, "block %s: cycle %u with %zu source%s",
         e->resource, e->cycle, s.n, s.n == 1 ? "" : "s");
  return 0;
}

/* Starts a request for url. Returns 0 when one is in flight. */
static int try_source(fs_instance *inst, fs_task *t, size_t idx,
                      const char *url) {
  fs_entry *e = &t->entries[idx];
  char why[SSS_ERROR_SIZE];
  int rc = fs_stage_open(&e->stage, sss_options_staging_dir(&t->opt),
                         e->resource, why);
  if (rc) {
    report_error(inst, SSS_ERROR_KIND_LOCAL);
    entry_fail(inst, e, rc, "block %s: %s", e->resource, why);
    return -1;
  }
  e->tried++;
  rc = fs_blob_start(inst, t, idx, url, why);
  if (rc == SSS_OK) {
    e->state = FS_ENTRY_FETCHING;
    return 0;
  }
  fs_stage_discard(&e->stage);
  set_error(e, "%s", why);
  STATS(inst, inst->stats.sources_failed++);
  report_error(inst, SSS_ERROR_KIND_DOWNLOAD);
  return -1;
}

static void entry_advance(fs_instance *inst, fs_task *t, size_t idx) {
  fs_entry *e = &t->entries[idx];
  while (e->state == FS_ENTRY_READY) {
    if (!e->srcs) {
      if (start_cycle(inst, t, e)) return;
      if (!inst->host.load_blob) { /* the built-in transport takes it all */
        fs_fetch_cycle(inst, t, idx);
        return;
      }
      continue;
    }
    if (e->next_src >= e->n_srcs) {
      cycle_failed(inst, t, e);
      return;
    }
    const char *url = e->srcs[e->next_src++];
    if (fs_task_is_banned(t, url)) {
      fs_log(inst, SSS_LOG_DEBUG, "block %s: skipping banned source %s",
             e->resource, url);
      if (!e->last_error[0]) set_error(e, "source %s is banned", url);
      continue;
    }
    try_source(inst, t, idx, url);
  }
}

static void fail_past_deadline(fs_instance *inst, fs_task *t, fs_entry *e) {
  if (e->req) {
    fs_blob_abandon(inst, e->req);
    e->req = NULL;
  }
  fs_fetch_stop(inst, e);
  report_error(inst, SSS_ERROR_KIND_TIMEOUT);
  entry_fail(inst, e, SSS_ERR_TIMEOUT,
             "block %s: the deadline of %" PRIu64 " ms passed in cycle %u "
             "after %u request%s; last error: %s",
             e->resource, t->opt.download_deadline_timeout_ms, e->cycle,
             e->tried, e->tried == 1 ? "" : "s",
             e->last_error[0] ? e->last_error : "none (still fetching)");
}

void fs_task_step(fs_instance *inst, fs_task *t) {
  uint64_t now = fs_now_ms();
  for (size_t i = 0; i < t->n; i++) {
    fs_entry *e = &t->entries[i];
    if (e->state == FS_ENTRY_DONE || e->state == FS_ENTRY_FAILED) continue;
    if (now >= t->deadline_ms) {
      fail_past_deadline(inst, t, e);
      continue;
    }
    if (e->state == FS_ENTRY_WAITING && now >= e->retry_at_ms)
      e->state = FS_ENTRY_READY;
    if (e->state == FS_ENTRY_FETCHING && e->dl) fs_fetch_step(inst, t, i);
    entry_advance(inst, t, i);
  }
}

/* ---- completions ------------------------------------------------------- */

/* The request failed or lied: record why and let the entry move on. */
static void source_failed(fs_instance *inst, fs_entry *e, int kind) {
  fs_stage_discard(&e->stage);
  e->state = FS_ENTRY_READY;
  STATS(inst, inst->stats.sources_failed++);
  report_error(inst, kind);
  fs_log(inst, SSS_LOG_INFO, "block %s: %s", e->resource, e->last_error);
}

/* The staged file holds verified bytes: hand them to the repository. */
static void install(fs_instance *inst, fs_task *t, fs_entry *e,
                    const char *url, uint64_t size) {
  char why[SSS_ERROR_SIZE];
  if (cancel_requested(inst, t)) {
    fs_stage_discard(&e->stage); /* fs_task_cancel records the outcome */
    e->state = FS_ENTRY_READY;
    return;
  }
  int rc = fs_apply(inst, t, e, size, why);
  if (rc == SSS_OK) {
    fs_stage_discard(&e->stage);
    free_srcs(e);
    e->state = FS_ENTRY_DONE;
    e->status = SSS_OK;
    e->installed_from = url ? strdup(url) : NULL;
    e->in.size = size;
    STATS(inst, inst->stats.bytes_verified += size;
          inst->stats.entries_done++);
    fs_log(inst, SSS_LOG_INFO, "block %s: installed %" PRIu64 " bytes from %s",
           e->resource, size, url ? url : "several sources");
  } else if (rc == SSS_ERR_IO) {
    report_error(inst, SSS_ERROR_KIND_LOCAL);
    entry_fail(inst, e, rc, "block %s: %s", e->resource, why);
  } else {
    set_error(e, "%s: %s", url ? url : "the snapshot", why);
    source_failed(inst, e, SSS_ERROR_KIND_APPLY);
  }
}

void fs_task_fetched(fs_instance *inst, fs_task *t, size_t idx,
                     const char *from, uint64_t size) {
  fs_entry *e = &t->entries[idx];
  install(inst, t, e, from, size);
  if (e->state == FS_ENTRY_READY) {
    /* Rejected by the repository (or cancelled): this cycle is over; the
     * next one fetches afresh. */
    e->state = FS_ENTRY_FETCHING;
    cycle_failed(inst, t, e);
  }
}

void fs_task_cycle_exhausted(fs_instance *inst, fs_task *t, size_t idx) {
  cycle_failed(inst, t, &t->entries[idx]);
}

void fs_task_fetch_failed(fs_instance *inst, fs_task *t, size_t idx,
                          int status, const char *why) {
  fs_entry *e = &t->entries[idx];
  report_error(inst, SSS_ERROR_KIND_LOCAL);
  entry_fail(inst, e, status, "block %s: %s; nothing was installed",
             e->resource, why);
}

void fs_task_complete(fs_instance *inst, fs_task *t, fs_req *req) {
  fs_entry *e = &t->entries[req->entry_index];
  e->req = NULL;
  char why[SSS_ERROR_SIZE];
  const char *url = req->url;
  if (req->local_error == SSS_ERR_IO) {
    report_error(inst, SSS_ERROR_KIND_LOCAL);
    entry_fail(inst, e, SSS_ERR_IO, "block %s: %s; nothing was installed",
               e->resource, req->local_msg);
  } else if (req->local_error == SSS_ERR_TOO_LARGE &&
             (e->in.flags & SSS_ENTRY_HAS_SIZE)) {
    set_error(e, "%s %s, the expected size", url, req->local_msg);
    fs_task_ban(inst, t, url, e->last_error);
    source_failed(inst, e, SSS_ERROR_KIND_VERIFY);
  } else if (req->local_error) {
    set_error(e, "%s %s (max_snapshot_bytes)", url, req->local_msg);
    source_failed(inst, e, SSS_ERROR_KIND_DOWNLOAD);
  } else if (req->status != SSS_OK) {
    char http[32] = "";
    if (req->http_status) snprintf(http, sizeof http, " (HTTP %d)", req->http_status);
    set_error(e, "GET %s failed%s: %s", url, http,
              req->message ? req->message : sss_status_str(req->status));
    source_failed(inst, e, SSS_ERROR_KIND_DOWNLOAD);
  } else if (fs_verify_end(&req->verify, &e->in, why) != SSS_OK) {
    set_error(e, "%s: %s", url, why);
    fs_task_ban(inst, t, url, why);
    source_failed(inst, e, SSS_ERROR_KIND_VERIFY);
  } else {
    install(inst, t, e, url, req->verify.bytes);
  }
  fs_req_unref(req); /* the completion queue's reference */
  fs_req_unref(req); /* the loader's */
}

void fs_task_cancel(fs_instance *inst, fs_task *t, const char *why) {
  t->cancelled = 1;
  for (size_t i = 0; i < t->n; i++) {
    fs_entry *e = &t->entries[i];
    if (e->req) {
      fs_blob_abandon(inst, e->req);
      e->req = NULL;
    }
    fs_fetch_stop(inst, e);
  }
  /* Abandoned requests can no longer write: nothing of this task is in
   * flight from here on, so the staged files can go. */
  for (size_t i = 0; i < t->n; i++) {
    fs_entry *e = &t->entries[i];
    fs_stage_discard(&e->stage);
    free_srcs(e);
    if (e->state != FS_ENTRY_DONE && e->state != FS_ENTRY_FAILED) {
      e->state = FS_ENTRY_FAILED;
      e->status = SSS_ERR_CANCELLED;
      snprintf(e->message, sizeof e->message, "block %s: cancelled by %s",
               e->resource, why);
    }
  }
  fs_log(inst, SSS_LOG_INFO, "task %" PRIu64 ": cancelled by %s", t->id, why);
}

uint64_t fs_task_next_timer(const fs_task *t) {
  uint64_t next = 0;
  int pending = 0;
  for (size_t i = 0; i < t->n; i++) {
    const fs_entry *e = &t->entries[i];
    if (e->state == FS_ENTRY_DONE || e->state == FS_ENTRY_FAILED) continue;
    pending = 1;
    if (e->state == FS_ENTRY_WAITING && (!next || e->retry_at_ms < next))
      next = e->retry_at_ms;
    if (e->state == FS_ENTRY_READY) return 1; /* due now */
    if (fs_fetch_busy(e)) { /* watch speeds and stalls */
      uint64_t tick = fs_now_ms() + FS_FETCH_TICK_MS;
      if (!next || tick < next) next = tick;
    }
  }
  if (pending && (!next || t->deadline_ms < next)) next = t->deadline_ms;
  return next;
}

int fs_task_finished(const fs_task *t) {
  for (size_t i = 0; i < t->n; i++)
    if (t->entries[i].state != FS_ENTRY_DONE &&
        t->entries[i].state != FS_ENTRY_FAILED)
      return 0;
  return 1;
}

/* ---- the result -------------------------------------------------------- */

void fs_task_deliver(fs_instance *inst, fs_task *t) {
  sss_entry_result *res = calloc(t->n, sizeof *res);
  size_t installed = 0;
  for (size_t i = 0; i < t->n && res; i++) {
    const fs_entry *e = &t->entries[i];
    res[i] = (sss_entry_result){.struct_size = sizeof res[i],
                                .thread_id = e->in.thread_id,
                                .block_id = e->in.block_id,
                                .status = e->state == FS_ENTRY_DONE ? SSS_OK : e->status,
                                .message = e->state == FS_ENTRY_DONE ? NULL : e->message,
                                .source = e->installed_from,
                                .bytes = e->state == FS_ENTRY_DONE ? e->in.size : 0};
    const char *const *urls = NULL;
    const uint64_t *bytes = NULL;
    res[i].n_sources = fs_fetch_sources(e, &urls, &bytes);
    res[i].source_urls = urls;
    res[i].source_bytes = bytes;
    if (e->state == FS_ENTRY_DONE) installed++;
  }
  int status = t->cancelled           ? SSS_TASK_CANCELLED
               : installed == t->n && res ? SSS_TASK_OK
                                      : SSS_TASK_FAILED;
  char msg[SSS_ERROR_SIZE];
  if (!res)
    snprintf(msg, sizeof msg, "out of memory while reporting the result");
  else if (status == SSS_TASK_CANCELLED)
    snprintf(msg, sizeof msg, "cancelled; %zu of %zu snapshots installed before",
             installed, t->n);
  else if (status == SSS_TASK_OK)
    snprintf(msg, sizeof msg, "installed %zu of %zu snapshots", installed, t->n);
  else
    snprintf(msg, sizeof msg, "installed %zu of %zu snapshots; %zu failed",
             installed, t->n, t->n - installed);
  sss_task_result result = {.struct_size = sizeof result,
                            .task_id = t->id,
                            .status = status,
                            .message = msg,
                            .n_entries = res ? t->n : 0,
                            .entries = res,
                            .n_banned = t->n_banned,
                            .banned_sources = (const char *const *)t->banned_urls,
                            .banned_reasons = (const char *const *)t->banned_reasons};
  pthread_mutex_lock(&inst->mu);
  inst->busy = 0;
  inst->stats.running = 0;
  inst->stats.last_status = status;
  inst->stats.elapsed_ms = fs_now_ms() - t->started_ms;
  pthread_mutex_unlock(&inst->mu);
  fs_log(inst, status == SSS_TASK_OK ? SSS_LOG_INFO : SSS_LOG_WARN,
         "task %" PRIu64 ": %s", t->id, msg);
  t->output.on_result(t->output.output_ctx, &result);
  free(res);
  pthread_mutex_lock(&inst->mu);
  inst->delivered_id = t->id;
  pthread_cond_broadcast(&inst->settled);
  pthread_mutex_unlock(&inst->mu);
}
