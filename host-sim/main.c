/* sss-host-sim: a host runtime that dlopens a state-sync backend, runs a
 * simulated cluster around it and checks every byte the plugin installs.
 * See docs/OPERATIONS.md. */
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "share_dir.h"
#include "sim.h"
#include "status.h"

enum { EXIT_SYNC_FAILED = 1, EXIT_SETUP = 2 };

#define DEFAULT_THREADS 3
#define DEFAULT_SIZE (64ull << 20)
#define SMALL_SIZE 100003ull /* not a multiple of any chunk size */
#define DEFAULT_BASE_PORT 18400
#define DEFAULT_TIMEOUT_S 120
#define TICK_MS 200 /* progress bar and events: five times a second */

static volatile sig_atomic_t interrupted;

static void on_signal(int sig) {
  (void)sig;
  interrupted = 1;
}

/* ---- Output ------------------------------------------------------------ */

/* One sentence to stderr, not interleaved with the progress bar. */
#define say(s, ...) hs_console_say(&(s)->console, __VA_ARGS__)

void sim_format_bytes(uint64_t b, char *out, size_t len) {
  if (b >= (1ull << 30))
    snprintf(out, len, "%.1f GiB", (double)b / (1ull << 30));
  else if (b >= (1ull << 20))
    snprintf(out, len, "%.1f MiB", (double)b / (1ull << 20));
  else if (b >= 1024)
    snprintf(out, len, "%.1f KiB", (double)b / 1024);
  else
    snprintf(out, len, "%" PRIu64 " B", b);
}

/* The last ~2 s of (elapsed_ms, bytes_fetched), for the bar's rate. */
#define RATE_SAMPLES 10
static struct {
  uint64_t ms[RATE_SAMPLES], bytes[RATE_SAMPLES];
  size_t n, next;
} rate_window;

static double recent_rate(const sss_stats *st) {
  size_t oldest = rate_window.n < RATE_SAMPLES ? 0 : rate_window.next;
  uint64_t ms0 = rate_window.n ? rate_window.ms[oldest] : 0;
  uint64_t b0 = rate_window.n ? rate_window.bytes[oldest] : 0;
  rate_window.ms[rate_window.next] = st->elapsed_ms;
  rate_window.bytes[rate_window.next] = st->bytes_fetched;
  rate_window.next = (rate_window.next + 1) % RATE_SAMPLES;
  if (rate_window.n < RATE_SAMPLES) rate_window.n++;
  if (st->elapsed_ms <= ms0 || st->bytes_fetched < b0)
    return st->elapsed_ms ? (double)st->bytes_fetched * 1000.0 /
                                (double)st->elapsed_ms
                          : 0;
  return (double)(st->bytes_fetched - b0) * 1000.0 /
         (double)(st->elapsed_ms - ms0);
}

/* One line: the bar (bytes fetched of bytes expected, capped below 100 %
 * until every entry is done, since retries and duplicates count too), the
 * bytes verified, the rate over the last two seconds, entries installed
 * and an ETA while fetching is behind the expected total. */
static void draw_bar(sim *s, const sss_stats *st) {
  enum { WIDTH = 24 };
  double frac = st->bytes_expected
                    ? (double)st->bytes_fetched / (double)st->bytes_expected
                    : 0;
  int all_done = st->entries_total && st->entries_done == st->entries_total;
  if (frac > 0.99 && !all_done) frac = 0.99;
  if (frac > 1 || all_done) frac = 1;
  char bar[WIDTH + 1], got[32], total[32], ver[32], rate[32], eta[32] = "";
  int fill = (int)(frac * WIDTH);
  for (int i = 0; i < WIDTH; i++)
    bar[i] = i < fill ? '#' : '.';
  bar[WIDTH] = '\0';
  sim_format_bytes(st->bytes_fetched, got, sizeof got);
  sim_format_bytes(st->bytes_expected, total, sizeof total);
  sim_format_bytes(st->bytes_verified, ver, sizeof ver);
  double bps = recent_rate(st);
  sim_format_bytes((uint64_t)bps, rate, sizeof rate);
  if (bps > 0 && st->bytes_expected > st->bytes_fetched)
    snprintf(eta, sizeof eta, "  ETA %.1f s",
             (double)(st->bytes_expected - st->bytes_fetched) / bps);
  hs_console_bar(&s->console,
                 "[%s] %3.0f%%  %s / %s fetched, %s verified  %s/s  "
                 "entries %u/%u%s",
                 bar, frac * 100, got, total, ver, rate, st->entries_done,
                 st->entries_total, eta);
}

/* ---- Host callbacks ---------------------------------------------------- */

static int cb_gossip_nodes(void *ctx, sss_gossip_visit_fn visit,
                           void *visit_ctx) {
  sim_host *h = ctx;
  return hs_cluster_gossip_nodes(&h->sim->cluster, visit, visit_ctx);
}

static int cb_bk_set(void *ctx, sss_node_visit_fn visit, void *visit_ctx) {
  sim_host *h = ctx;
  return hs_cluster_bk_set(&h->sim->cluster, visit, visit_ctx);
}

static int cb_apply_snapshot(void *ctx, void *repository,
                             const sss_thread_id *thread_id,
                             const sss_block_id *block_id,
                             const sss_reader *reader, uint64_t size,
                             char *err) {
  sim_host *h = ctx;
  if (h->node || repository != &h->sim->repo)
    return sss_fail(err, SSS_ERR_REJECTED,
                    "node %s loads nothing in this simulation: only the "
                    "joining node's tasks apply snapshots",
                    h->node ? h->node->name : "joining");
  return hs_repository_apply(&h->sim->repo, thread_id, block_id, reader, size,
                             err);
}

static int produce_snapshot(void *ctx, uint64_t offset, void *buf, size_t len) {
  hs_snapshot_fill(ctx, offset, buf, len);
  return 0;
}

typedef struct garbage_ctx {
  const hs_snapshot *snap;
  uint64_t every;
} garbage_ctx;

/* The snapshot with the byte at every multiple of `every` inverted: a wrong
 * state under the right name (fault "garbage"). */
static int produce_garbage(void *ctx, uint64_t offset, void *buf, size_t len) {
  const garbage_ctx *g = ctx;
  hs_snapshot_fill(g->snap, offset, buf, len);
  uint64_t first = (offset + g->every - 1) / g->every * g->every;
  for (uint64_t o = first; o < offset + len; o += g->every)
    ((uint8_t *)buf)[o - offset] ^= 0xff;
  return 0;
}

/* Writes snapshot snap at dir/rel atomically for node n. Every honest node
 * holds the same bytes, so only the first copy is generated and written
 * (temp file, fsync, rename); later ones are hard links of it (temp link,
 * rename), which is as atomic and keeps the demo's setup to one write per
 * snapshot. A node with the garbage fault writes its own wrong copy. */
static int publish_file(sim *s, hs_node *n, const hs_snapshot *snap,
                        const char *dir, const char *rel, char *why) {
  char path[PATH_MAX];
  pthread_mutex_lock(&s->cluster.mu);
  hs_fault f = n->fault;
  pthread_mutex_unlock(&s->cluster.mu);
  if (f.kind == HS_FAULT_GARBAGE) {
    garbage_ctx g = {snap, f.has_arg && f.arg ? f.arg : 4096};
    return hs_share_write(dir, rel, snap->size, produce_garbage, &g, why);
  }
  const char *first = s->published ? s->published[snap->index] : NULL;
  if (first && hs_share_link(dir, rel, first, why) == 0) return 0;
  if (hs_share_write(dir, rel, snap->size, produce_snapshot, (void *)snap,
                     why) != 0)
    return -1;
  if (s->published && !first &&
      snprintf(path, sizeof path, "%s/%s", dir, rel) < (int)sizeof path)
    s->published[snap->index] = strdup(path);
  return 0;
}

static int cb_save_object(void *ctx, const sss_state *state,
                          const char *resource_name, char *err) {
  sim_host *h = ctx;
  if (!h->node)
    return sss_fail(err, SSS_ERR_HOST,
                    "the joining node publishes nothing "
                    "in this simulation: save on a serving node");
  if (!state || !SSS_HAS_MEMBER(state, sss_state, host_state) ||
      !state->host_state)
    return sss_fail(err, SSS_ERR_INVALID_ARGUMENT,
                    "save_object on node %s "
                    "got no host_state: hand back the state the host passed",
                    h->node->name);
  const hs_snapshot *snap = state->host_state;
  if (!resource_name || strcmp(resource_name, snap->resource_name) != 0)
    return sss_fail(err, SSS_ERR_INVALID_ARGUMENT,
                    "save_object on node %s "
                    "got resource name '%s' for block %s: name a snapshot by "
                    "the lowercase hex of its block id",
                    h->node->name, resource_name ? resource_name : "(null)",
                    snap->resource_name);
  char rel[128], why[HS_ERR_SIZE];
  snprintf(rel, sizeof rel, "v2/storage/%s", resource_name);
  if (publish_file(h->sim, h->node, snap, h->node->share_dir, rel, why) != 0)
    return sss_fail(err, SSS_ERR_IO, "node %s: %s", h->node->name, why);
  return SSS_OK;
}

static int cb_load_blob(void *ctx, const sss_blob_request *req,
                        const sss_blob_sink *sink, char *err) {
  sim_host *h = ctx;
  return hs_blob_load(h->sim->blobs, req, sink, err);
}

static void cb_cancel_blob(void *ctx, const sss_blob_sink *sink) {
  sim_host *h = ctx;
  hs_blob_cancel(h->sim->blobs, sink);
}

static void cb_report_state_request(void *ctx) {
  sim_host *h = ctx;
  pthread_mutex_lock(&h->sim->mu);
  h->sim->state_requests++;
  pthread_mutex_unlock(&h->sim->mu);
}

static void cb_report_error(void *ctx, int kind) {
  sim_host *h = ctx;
  pthread_mutex_lock(&h->sim->mu);
  h->sim->errors_by_kind[kind >= 1 && kind <= 6 ? kind : 7]++;
  pthread_mutex_unlock(&h->sim->mu);
}

static void cb_log(void *ctx, int level, const char *message) {
  static const char *const names[] = {"error", "warn", "info", "debug"};
  sim_host *h = ctx;
  sim *s = h->sim;
  int shown = s->cfg.quiet ? SSS_LOG_ERROR : SSS_LOG_WARN + s->cfg.verbosity;
  if (level > shown || !message) return;
  hs_console_line(&s->console, "[%s %s] %s", h->node ? h->node->name : "joining",
                  level >= 0 && level <= 3 ? names[level] : "log", message);
}

static void cb_progress(void *ctx, const sss_stats *stats) {
  sim_host *h = ctx;
  pthread_mutex_lock(&h->sim->mu);
  h->sim->progress_calls++;
  (void)stats; /* the main thread polls get_stats for the bar */
  pthread_mutex_unlock(&h->sim->mu);
}

static void host_init(sim *s, sim_host *h, hs_node *node) {
  h->sim = s;
  h->node = node;
  h->host = (sss_host){
      .struct_size = sizeof(sss_host),
      .ctx = h,
      .gossip_nodes = cb_gossip_nodes,
      .bk_set = cb_bk_set,
      .apply_snapshot = cb_apply_snapshot,
      .save_object = cb_save_object,
      .load_blob = s->cfg.blob_service ? cb_load_blob : NULL,
      .cancel_blob = s->cfg.blob_service ? cb_cancel_blob : NULL,
      .report_state_request = cb_report_state_request,
      .report_error = cb_report_error,
      .log = cb_log,
      .progress = cb_progress,
  };
}

/* ---- The task's one result ---------------------------------------------- */

static char *dup_or_null(const char *str) {
  return str ? strdup(str) : NULL;
}

static void on_result(void *ctx, const sss_task_result *r) {
  sim *s = ctx;
  pthread_mutex_lock(&s->mu);
  if (s->result.received++ > 0) { /* exactly-once violated; keep the first */
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->mu);
    return;
  }
  sim_result *out = &s->result;
  out->status = SSS_HAS_MEMBER(r, sss_task_result, status) ? r->status : -1;
  out->task_id = SSS_HAS_MEMBER(r, sss_task_result, task_id) ? r->task_id : 0;
  out->message = SSS_HAS_MEMBER(r, sss_task_result, message)
                     ? dup_or_null(r->message)
                     : NULL;
  size_t n = SSS_HAS_MEMBER(r, sss_task_result, entries) && r->entries
                 ? r->n_entries
                 : 0;
  out->entries = calloc(n ? n : 1, sizeof *out->entries);
  const uint8_t *p = (const uint8_t *)r->entries;
  size_t stride = n ? r->entries[0].struct_size : 0;
  for (size_t i = 0; out->entries && i < n; i++) {
    const sss_entry_result *e = (const sss_entry_result *)(p + i * stride);
    sim_entry *o = &out->entries[out->n_entries++];
    o->thread_id = e->thread_id;
    o->block_id = e->block_id;
    o->status = e->status;
    o->message = SSS_HAS_MEMBER(e, sss_entry_result, message)
                     ? dup_or_null(e->message)
                     : NULL;
    o->source = SSS_HAS_MEMBER(e, sss_entry_result, source)
                    ? dup_or_null(e->source)
                    : NULL;
    o->bytes = SSS_HAS_MEMBER(e, sss_entry_result, bytes) ? e->bytes : 0;
    size_t ns = SSS_HAS_MEMBER(e, sss_entry_result, source_bytes) &&
                        e->source_urls && e->source_bytes
                    ? e->n_sources
                    : 0;
    if (ns) {
      o->source_urls = calloc(ns, sizeof *o->source_urls);
      o->source_bytes = calloc(ns, sizeof *o->source_bytes);
      for (size_t k = 0; o->source_urls && o->source_bytes && k < ns; k++) {
        o->source_urls[k] = dup_or_null(e->source_urls[k]);
        o->source_bytes[k] = e->source_bytes[k];
        o->n_sources++;
      }
    }
  }
  size_t nb =
      SSS_HAS_MEMBER(r, sss_task_result, banned_reasons) && r->banned_sources
          ? r->n_banned
          : 0;
  out->banned_sources = calloc(nb ? nb : 1, sizeof(char *));
  out->banned_reasons = calloc(nb ? nb : 1, sizeof(char *));
  for (size_t i = 0; out->banned_sources && out->banned_reasons && i < nb;
       i++) {
    out->banned_sources[i] = dup_or_null(r->banned_sources[i]);
    out->banned_reasons[i] =
        dup_or_null(r->banned_reasons ? r->banned_reasons[i] : NULL);
    out->n_banned++;
  }
  pthread_cond_broadcast(&s->cond);
  pthread_mutex_unlock(&s->mu);
}

static void result_release(sim_result *r) {
  for (size_t i = 0; i < r->n_entries; i++) {
    free(r->entries[i].message);
    free(r->entries[i].source);
    for (size_t k = 0; k < r->entries[i].n_sources; k++)
      free(r->entries[i].source_urls[k]);
    free(r->entries[i].source_urls);
    free(r->entries[i].source_bytes);
  }
  for (size_t i = 0; i < r->n_banned; i++) {
    free(r->banned_sources[i]);
    free(r->banned_reasons[i]);
  }
  free(r->entries);
  free(r->banned_sources);
  free(r->banned_reasons);
  free(r->message);
  memset(r, 0, sizeof *r);
}

/* ---- The run --------------------------------------------------------------
 */

static void add_ms(struct timespec *t, uint64_t ms) {
  t->tv_sec += (time_t)(ms / 1000);
  t->tv_nsec += (long)(ms % 1000) * 1000000L;
  if (t->tv_nsec >= 1000000000L) {
    t->tv_sec++;
    t->tv_nsec -= 1000000000L;
  }
}

static int poll_stats(sim *s) {
  sss_stats st = {.struct_size = sizeof st};
  if (s->plugin.vt->get_stats(s->joiner.instance, &st) != SSS_OK) return -1;
  pthread_mutex_lock(&s->mu);
  s->last_stats = st;
  pthread_mutex_unlock(&s->mu);
  return 0;
}

static uint64_t ms_between(const struct timespec *a, const struct timespec *b) {
  int64_t ms = (int64_t)(b->tv_sec - a->tv_sec) * 1000 +
               (b->tv_nsec - a->tv_nsec) / 1000000L;
  return ms > 0 ? (uint64_t)ms : 0;
}

/* Applies one event to the cluster. */
static void fire_event(sim *s, sim_event *e, const sss_stats *st,
                       uint64_t ms) {
  hs_cluster *c = &s->cluster;
  hs_node *n = hs_cluster_find(c, e->node);
  char err[HS_ERR_SIZE] = "";
  hs_fault down = {HS_FAULT_DOWN, 0, 0};
  int rc = 0;
  e->fired = 1;
  e->fired_ms = ms;
  e->fired_bytes = st->bytes_fetched;
  e->node_requests = hs_cluster_counts(c, n).requests;
  switch (e->action) {
  case SIM_ACT_FAULT: rc = hs_cluster_set_fault(c, n, e->fault, err); break;
  case SIM_ACT_LEAVE:
    /* Down first: a node out of the BK set must not count requests that
     * were already on their way. */
    rc = hs_cluster_set_fault(c, n, down, err);
    hs_cluster_set_advertised(c, n, 0);
    hs_cluster_set_bk(c, n, 0);
    break;
  case SIM_ACT_JOIN: /* BK first: it is never a gossip node outside it */
    hs_cluster_set_bk(c, n, 1);
    hs_cluster_set_advertised(c, n, 1);
    break;
  case SIM_ACT_ENTER_BK: hs_cluster_set_bk(c, n, 1); break;
  }
  char got[32];
  sim_format_bytes(st->bytes_fetched, got, sizeof got);
  if (rc != 0)
    say(s, "event at %.1f s failed: %s", ms / 1000.0, err);
  else if (!s->cfg.quiet)
    say(s, "at %.1f s (%s fetched): %s", ms / 1000.0, got, e->what);
}

/* Fires the scenario's events that are due. */
static void run_events(sim *s, const sss_stats *st, uint64_t ms) {
  for (size_t i = 0; i < s->n_events; i++) {
    sim_event *e = &s->events[i];
    if (e->fired) continue;
    double frac = st->bytes_expected ? (double)st->bytes_fetched /
                                           (double)st->bytes_expected
                                     : 0;
    if (frac >= e->at_fraction || ms >= e->at_ms) fire_event(s, e, st, ms);
  }
}

/* Waits for the task's result, redrawing the bar every TICK_MS on a
 * terminal and firing the scenario's events; cancels the task on timeout
 * or a signal. */
static void wait_for_result(sim *s) {
  int bar = !s->cfg.quiet && !s->cfg.json && isatty(STDERR_FILENO);
  struct timespec deadline, now, start;
  clock_gettime(CLOCK_MONOTONIC, &deadline);
  start = deadline;
  add_ms(&deadline, (uint64_t)s->cfg.timeout_s * 1000);
  int cancelled = 0;
  pthread_mutex_lock(&s->mu);
  while (!s->result.received) {
    struct timespec tick;
    clock_gettime(CLOCK_MONOTONIC, &tick);
    add_ms(&tick, TICK_MS);
    pthread_cond_timedwait(&s->cond, &s->mu, &tick);
    if (s->result.received) break;
    pthread_mutex_unlock(&s->mu);
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (poll_stats(s) == 0) {
      pthread_mutex_lock(&s->mu);
      sss_stats st = s->last_stats;
      pthread_mutex_unlock(&s->mu);
      if (!cancelled) run_events(s, &st, ms_between(&start, &now));
      if (bar) draw_bar(s, &st);
    }
    int late =
        now.tv_sec > deadline.tv_sec ||
        (now.tv_sec == deadline.tv_sec && now.tv_nsec >= deadline.tv_nsec);
    if (!cancelled && (late || interrupted)) {
      s->timed_out = late;
      s->interrupted = interrupted;
      say(s, "%s: cancelling the load task with reset_sync",
          late ? "no result within the --timeout" : "interrupted");
      s->plugin.vt->reset_sync(s->joiner.instance);
      cancelled = 1;
      deadline = now;
      add_ms(&deadline, 5000); /* the CANCELLED result must follow */
    } else if (cancelled && late) {
      say(s, "no CANCELLED result within 5 s of reset_sync: the backend "
             "broke the exactly-one-result rule");
      pthread_mutex_lock(&s->mu);
      break;
    }
    pthread_mutex_lock(&s->mu);
  }
  pthread_mutex_unlock(&s->mu);
  poll_stats(s);
  hs_console_clear(&s->console);
}

/* Reads the banned list through get_banned (ABI 1.1) while the joining
 * node's instance still exists. */
static void collect_banned(sim *s) {
  const sss_plugin *vt = s->plugin.vt;
  if (!SSS_HAS_MEMBER(vt, sss_plugin, get_banned) || !vt->get_banned) return;
  s->has_get_banned = 1;
  char url[2048], reason[SSS_ERROR_SIZE];
  for (size_t i = 0; i < 1024; i++) {
    if (vt->get_banned(s->joiner.instance, i, url, sizeof url, reason,
                       sizeof reason) != SSS_OK)
      break;
    char **u = realloc(s->gb_sources, (s->n_gb + 1) * sizeof *u);
    if (!u) break;
    s->gb_sources = u;
    char **r = realloc(s->gb_reasons, (s->n_gb + 1) * sizeof *r);
    if (!r) break;
    s->gb_reasons = r;
    s->gb_sources[s->n_gb] = strdup(url);
    s->gb_reasons[s->n_gb] = strdup(reason);
    s->n_gb++;
  }
}

static int create_instance(sim *s, sim_host *h, char *err) {
  int rc = s->plugin.vt->create(&h->host, &h->instance, err);
  if (rc != SSS_OK) h->instance = NULL;
  return rc;
}

/* Every node publishes every thread's snapshot through its own instance;
 * the static storage gets the same files at its root. */
static int publish(sim *s) {
  char err[SSS_ERROR_SIZE], why[HS_ERR_SIZE];
  for (size_t i = 0; i < s->n_hosts; i++) {
    sim_host *h = &s->hosts[i];
    if (create_instance(s, h, err) != SSS_OK) {
      say(s, "%s: create failed: %s", h->node->name, err);
      return -1;
    }
    for (size_t t = 0; t < s->cfg.n_threads; t++) {
      sss_state st = {.struct_size = sizeof st,
                      .thread_id = s->snaps[t].thread_id,
                      .block_id = s->snaps[t].block_id,
                      .host_state = &s->snaps[t]};
      err[0] = '\0';
      int rc = s->plugin.vt->save_state_for_sharing(h->instance, &st, err);
      if (rc != SSS_OK) {
        say(s, "node %s could not publish thread %zu (%s): %s", h->node->name,
            t, s->plugin.vt->strerror(rc), err[0] ? err : "no sentence given");
        return -1;
      }
    }
  }
  hs_node *st = hs_cluster_static(&s->cluster);
  for (size_t t = 0; t < s->cfg.n_threads; t++)
    if (publish_file(s, st, &s->snaps[t], st->share_dir,
                     s->snaps[t].resource_name, why) != 0) {
      say(s, "static storage: %s", why);
      return -1;
    }
  return 0;
}

static int configure_joiner(sim *s) {
  char err[SSS_ERROR_SIZE], value[128];
  snprintf(value, sizeof value, "%s", hs_cluster_static(&s->cluster)->base_url);
  const char *defaults[][2] = {{"static_storages", value},
                               {"retry_download_timeout_ms", "200"},
                               {"max_download_tries", "3"}};
  for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++)
    if (s->plugin.vt->set_option(s->joiner.instance, defaults[i][0],
                                 defaults[i][1], err) != SSS_OK) {
      say(s, "set_option %s=%s failed: %s", defaults[i][0], defaults[i][1],
          err);
      return -1;
    }
  for (size_t i = 0; i < s->n_scen_opts; i++)
    if (s->plugin.vt->set_option(s->joiner.instance, s->scen_opts[i][0],
                                 s->scen_opts[i][1], err) != SSS_OK) {
      say(s, "--scenario %s: set_option %s=%s failed: %s", s->scenario->name,
          s->scen_opts[i][0], s->scen_opts[i][1], err);
      return -1;
    }
  for (size_t i = 0; i < s->cfg.n_options; i++) {
    const char *kv = s->cfg.options[i], *eq = strchr(kv, '=');
    char key[128];
    if (!eq || eq == kv || (size_t)(eq - kv) >= sizeof key) {
      say(s,
          "--set '%s' is not KEY=VALUE: write e.g. --set "
          "max_download_tries=5",
          kv);
      return -1;
    }
    snprintf(key, sizeof key, "%.*s", (int)(eq - kv), kv);
    if (s->plugin.vt->set_option(s->joiner.instance, key, eq + 1, err) !=
        SSS_OK) {
      say(s, "--set %s: %s", kv, err);
      return -1;
    }
  }
  return 0;
}

static int start_task(sim *s) {
  size_t n = s->cfg.n_threads;
  sss_load_entry *entries = calloc(n, sizeof *entries);
  if (!entries) {
    say(s, "out of memory building %zu load entries", n);
    return -1;
  }
  for (size_t i = 0; i < n; i++)
    entries[i] =
        (sss_load_entry){.struct_size = sizeof(sss_load_entry),
                         .thread_id = s->snaps[i].thread_id,
                         .block_id = s->snaps[i].block_id,
                         .flags = SSS_ENTRY_HAS_SHA256 | SSS_ENTRY_HAS_SIZE,
                         .size = s->snaps[i].size};
  for (size_t i = 0; i < n; i++)
    memcpy(entries[i].sha256, s->snaps[i].sha256, SSS_SHA256_LEN);
  sss_task_output out = {
      .struct_size = sizeof out, .output_ctx = s, .on_result = on_result};
  char err[SSS_ERROR_SIZE] = "";
  int rc = s->plugin.vt->add_load_state_task(s->joiner.instance, entries, n,
                                             &s->repo, &out, err);
  free(entries);
  if (rc != SSS_OK) {
    say(s, "add_load_state_task refused the task (%s): %s",
        s->plugin.vt->strerror(rc), err[0] ? err : "no sentence given");
    return -1;
  }
  return 0;
}

static int setup(sim *s) {
  char err[HS_ERR_SIZE];
  const char *tmp = getenv("TMPDIR");
  snprintf(s->root, sizeof s->root, "%s/sss-host-sim.XXXXXX",
           tmp && *tmp ? tmp : "/tmp");
  if (!mkdtemp(s->root)) {
    say(s,
        "cannot create a temp directory '%s' (%s): set TMPDIR to a "
        "writable directory",
        s->root, strerror(errno));
    s->root[0] = '\0';
    return -1;
  }
  if (hs_cluster_init(&s->cluster, s->root, s->cfg.n_bk, s->cfg.n_outsiders,
                      s->cfg.base_port, err) != 0) {
    say(s, "%s", err);
    return -1;
  }
  if (s->scenario->apply(s, err) != 0) {
    say(s, "%s", err);
    return -1;
  }
  for (size_t i = 0; i < s->cfg.n_faults; i++)
    if (hs_cluster_parse_fault(&s->cluster, s->cfg.faults[i], err) != 0) {
      say(s, "%s", err);
      return -1;
    }
  if (!s->cfg.blob_service &&
      hs_cluster_start_peers(&s->cluster, s->cfg.size, err) != 0) {
    say(s, "%s", err);
    return -1;
  }
  s->snaps = calloc(s->cfg.n_threads, sizeof *s->snaps);
  if (!s->snaps) {
    say(s, "out of memory for %zu snapshots", s->cfg.n_threads);
    return -1;
  }
  for (size_t t = 0; t < s->cfg.n_threads; t++)
    if (hs_snapshot_init(&s->snaps[t], s->cfg.seed, (uint32_t)t, s->cfg.size) !=
        0) {
      say(s, "OpenSSL could not hash snapshot %zu: check libcrypto", t);
      return -1;
    }
  s->published = calloc(s->cfg.n_threads, sizeof *s->published);
  if (!s->published ||
      hs_repository_init(&s->repo, s->snaps, s->cfg.n_threads) != 0) {
    say(s, "out of memory for the repository");
    return -1;
  }
  if (s->cfg.blob_service &&
      hs_blob_service_start(&s->blobs, &s->cluster, 4, 256 * 1024, err) != 0) {
    say(s, "%s", err);
    return -1;
  }
  s->n_hosts = s->cluster.n_nodes - 1; /* every node but the static storage */
  s->hosts = calloc(s->n_hosts, sizeof *s->hosts);
  if (!s->hosts) {
    say(s, "out of memory for %zu nodes", s->n_hosts);
    return -1;
  }
  for (size_t i = 0, k = 0; i < s->cluster.n_nodes; i++)
    if (s->cluster.nodes[i].role != HS_ROLE_STATIC)
      host_init(s, &s->hosts[k++], &s->cluster.nodes[i]);
  host_init(s, &s->joiner, NULL);
  return 0;
}

static void teardown(sim *s) {
  /* Instances first: destroy waits for the plugin's callbacks and its blob
   * requests; only then may the blob service go. */
  if (s->joiner.instance) s->plugin.vt->destroy(s->joiner.instance);
  s->joiner.instance = NULL;
  for (size_t i = 0; s->hosts && i < s->n_hosts; i++)
    if (s->hosts[i].instance) s->plugin.vt->destroy(s->hosts[i].instance);
  free(s->hosts);
  s->hosts = NULL;
  hs_blob_service_stop(s->blobs);
  s->blobs = NULL;
  result_release(&s->result);
  for (size_t i = 0; i < s->n_gb; i++) {
    free(s->gb_sources[i]);
    free(s->gb_reasons[i]);
  }
  free(s->gb_sources);
  free(s->gb_reasons);
  s->gb_sources = s->gb_reasons = NULL;
  s->n_gb = 0;
  hs_repository_release(&s->repo);
  for (size_t t = 0; s->published && t < s->cfg.n_threads; t++)
    free(s->published[t]);
  free(s->published);
  s->published = NULL;
  free(s->snaps);
  s->snaps = NULL;
  hs_cluster_release(&s->cluster);
  if (s->root[0]) {
    if (s->cfg.keep_dir)
      say(s, "kept the share directories in %s", s->root);
    else if (hs_remove_tree(s->root) != 0)
      say(s, "could not remove the temp directory %s (%s): remove it by hand",
          s->root, strerror(errno));
  }
  hs_plugin_close(&s->plugin);
}

static int run(sim *s) {
  char err[HS_ERR_SIZE];
  if (s->cfg.plugin_path)
    snprintf(s->plugin_path, sizeof s->plugin_path, "%s", s->cfg.plugin_path);
  else if (hs_plugin_default_path(s->plugin_path, sizeof s->plugin_path) != 0) {
    say(s, "cannot find the default backend next to this executable: pass "
           "--plugin PATH");
    return EXIT_SETUP;
  }
  if (hs_plugin_open(&s->plugin, s->plugin_path, err) != 0) {
    say(s, "%s", err);
    return EXIT_SETUP;
  }
  if (!s->cfg.json && !s->cfg.quiet)
    printf("backend %s %s (ABI %u.%u) from %s\n",
           s->plugin.vt->backend_name ? s->plugin.vt->backend_name : "?",
           s->plugin.vt->backend_version ? s->plugin.vt->backend_version : "?",
           s->plugin.vt->abi_major, s->plugin.vt->abi_minor, s->plugin_path);
  fflush(stdout);
  int status = EXIT_SETUP;
  char perr[SSS_ERROR_SIZE];
  if (setup(s) != 0) goto done;
  if (!s->cfg.json && !s->cfg.quiet) {
    char size[32];
    sim_format_bytes(s->cfg.size, size, sizeof size);
    printf("scenario %s: publishing %zu snapshots of %s on %zu nodes and the "
           "static storage...\n",
           s->scenario->name, s->cfg.n_threads, size, s->n_hosts);
    fflush(stdout);
  }
  if (publish(s) != 0) goto done;
  if (create_instance(s, &s->joiner, perr) != SSS_OK) {
    say(s, "joining node: create failed: %s", perr);
    goto done;
  }
  if (configure_joiner(s) != 0) goto done;
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  hs_repository_release(&s->repo); /* restart its clock with the task */
  if (hs_repository_init(&s->repo, s->snaps, s->cfg.n_threads) != 0 ||
      start_task(s) != 0)
    goto done;
  wait_for_result(s);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  collect_banned(s);
  s->elapsed_ms = (uint64_t)(t1.tv_sec - t0.tv_sec) * 1000u +
                  (uint64_t)((t1.tv_nsec - t0.tv_nsec) / 1000000L);
  /* The joiner goes first so that nothing is in flight while we report. */
  s->plugin.vt->destroy(s->joiner.instance);
  s->joiner.instance = NULL;
  status = sim_report(s);
done:
  teardown(s);
  return status;
}

/* ---- Command line ---------------------------------------------------------
 */

static void usage(FILE *f) {
  fprintf(
      f,
      "usage: sss-host-sim [options]\n"
      "       sss-host-sim fetch ...   (see sss-host-sim fetch --help)\n"
      "Runs a simulated cluster in this process around a state-sync backend "
      "and has\n"
      "a joining node load every thread's snapshot through it, checking each "
      "byte.\n"
      "Every node and the static storage serve their share directory over "
      "real HTTP\n"
      "on 127.0.0.1; the joining node leaves load_blob NULL, so the backend "
      "uses its\n"
      "own transport. Exit 0 only when every thread's state was installed and "
      "verified\n"
      "and no node outside the BK set was asked; 1 when the sync failed; 2 on "
      "bad\n"
      "usage or setup.\n"
      "\n"
      "  --scenario NAME     the cluster's story (default: default), below\n"
      "  --plugin PATH       backend .so (default "
      "../plugin/libsss_fileshares.so\n"
      "                      next to this executable)\n"
      "  --nodes N           BK nodes node0.. (default 4); plus --outsiders N "
      "gossip\n"
      "                      nodes outside the BK set (default 1) and one "
      "static storage\n"
      "  --threads N         threads, one snapshot each (default %d)\n"
      "  --size BYTES        bytes per snapshot, suffix K/M/G allowed (default "
      "64M)\n"
      "  --seed N            seed of the snapshot contents (default 1)\n"
      "  --small             tiny snapshots (%llu bytes), for valgrind runs\n"
      "  --fault NODE=KIND[:ARG]\n"
      "                      NODE: node0.., outsider0.., static; KIND: none, "
      "down,\n"
      "                      404, 500, slow:BYTES_PER_SECOND, stall[:BYTES],\n"
      "                      truncate[:BYTES], corrupt[:OFFSET], norange, "
      "redirect,\n"
      "                      oversized[:BYTES], garbage[:EVERY] (a wrong "
      "copy with one\n"
      "                      byte in every EVERY inverted) (repeatable; "
      "applied\n"
      "                      after the scenario's faults, so it overrides "
      "them)\n"
      "  --set KEY=VALUE     plugin option for the joining node (repeatable; "
      "after the\n"
      "                      scenario's); see docs/ABI.md for the keys\n"
      "  --host-blob-service the host supplies load_blob: URLs map straight to "
      "files\n"
      "                      (no HTTP); faults are simulated by the host\n"
      "  --base-port N       first node's port with --host-blob-service "
      "(default %d)\n"
      "  --timeout SECONDS   cancel the task after this long (default %d)\n"
      "  --json              print one JSON document instead of the table\n"
      "  --keep              keep the share directories and print where\n"
      "  -q, --quiet         no progress bar, only errors from the plugin\n"
      "  -v, --verbose       show the plugin's info logs (twice: debug)\n"
      "  -h, --help          this text\n"
      "\n"
      "Scenarios (--scenario NAME):\n",
      DEFAULT_THREADS, (unsigned long long)SMALL_SIZE, DEFAULT_BASE_PORT,
      DEFAULT_TIMEOUT_S);
  sim_scenarios_help(f);
}

static int parse_u64(const char *opt, const char *text, uint64_t min,
                     uint64_t max, int suffixes, uint64_t *out) {
  char *end = NULL;
  errno = 0;
  unsigned long long v = strtoull(text, &end, 10);
  uint64_t mult = 1;
  if (suffixes && end && *end && !end[1]) {
    switch (*end) {
    case 'k':
    case 'K':
      mult = 1ull << 10;
      end++;
      break;
    case 'm':
    case 'M':
      mult = 1ull << 20;
      end++;
      break;
    case 'g':
    case 'G':
      mult = 1ull << 30;
      end++;
      break;
    default: break;
    }
  }
  if (errno || end == text || *end || text[0] == '-' || v > max / mult ||
      v * mult < min) {
    fprintf(stderr,
            "sss-host-sim: %s '%s' is not a number between %" PRIu64
            " and %" PRIu64 ": give a decimal%s\n",
            opt, text, min, max, suffixes ? " with an optional K, M or G" : "");
    return -1;
  }
  *out = v * mult;
  return 0;
}

static int parse_args(int argc, char **argv, sim_config *c) {
  enum {
    O_NODES = 256,
    O_OUTSIDERS,
    O_THREADS,
    O_SIZE,
    O_SEED,
    O_SMALL,
    O_JSON,
    O_FAULT,
    O_SET,
    O_NO_BLOB,
    O_HOST_BLOB,
    O_SCENARIO,
    O_PORT,
    O_TIMEOUT,
    O_KEEP,
    O_PLUGIN
  };
  static const struct option longs[] = {
      {"plugin", required_argument, 0, O_PLUGIN},
      {"nodes", required_argument, 0, O_NODES},
      {"outsiders", required_argument, 0, O_OUTSIDERS},
      {"threads", required_argument, 0, O_THREADS},
      {"size", required_argument, 0, O_SIZE},
      {"seed", required_argument, 0, O_SEED},
      {"small", no_argument, 0, O_SMALL},
      {"json", no_argument, 0, O_JSON},
      {"fault", required_argument, 0, O_FAULT},
      {"set", required_argument, 0, O_SET},
      {"no-blob-service", no_argument, 0, O_NO_BLOB},
      {"host-blob-service", no_argument, 0, O_HOST_BLOB},
      {"scenario", required_argument, 0, O_SCENARIO},
      {"base-port", required_argument, 0, O_PORT},
      {"timeout", required_argument, 0, O_TIMEOUT},
      {"keep", no_argument, 0, O_KEEP},
      {"quiet", no_argument, 0, 'q'},
      {"verbose", no_argument, 0, 'v'},
      {"help", no_argument, 0, 'h'},
      {0, 0, 0, 0}};
  int small = 0, size_given = 0, opt;
  uint64_t v;
  while ((opt = getopt_long(argc, argv, "qvh", longs, NULL)) != -1) {
    switch (opt) {
    case O_PLUGIN: c->plugin_path = optarg; break;
    case O_NODES:
      if (parse_u64("--nodes", optarg, 1, 64, 0, &v)) return -1;
      c->n_bk = v;
      break;
    case O_OUTSIDERS:
      if (parse_u64("--outsiders", optarg, 0, 64, 0, &v)) return -1;
      c->n_outsiders = v;
      break;
    case O_THREADS:
      if (parse_u64("--threads", optarg, 1, 1024, 0, &v)) return -1;
      c->n_threads = v;
      break;
    case O_SIZE:
      if (parse_u64("--size", optarg, 1, 1ull << 40, 1, &v)) return -1;
      c->size = v;
      size_given = 1;
      break;
    case O_SEED:
      if (parse_u64("--seed", optarg, 0, UINT64_MAX, 0, &v)) return -1;
      c->seed = v;
      break;
    case O_PORT:
      if (parse_u64("--base-port", optarg, 1, 65535, 0, &v)) return -1;
      c->base_port = (int)v;
      break;
    case O_TIMEOUT:
      if (parse_u64("--timeout", optarg, 1, 86400, 0, &v)) return -1;
      c->timeout_s = (unsigned)v;
      break;
    case O_SMALL: small = 1; break;
    case O_JSON: c->json = 1; break;
    case O_NO_BLOB: c->blob_service = 0; break; /* the default now */
    case O_HOST_BLOB: c->blob_service = 1; break;
    case O_SCENARIO:
      if (!sim_scenario_find(optarg)) {
        fprintf(stderr,
                "sss-host-sim: --scenario '%s' is unknown: use %s (see "
                "--help)\n",
                optarg, sim_scenario_names());
        return -1;
      }
      c->scenario = optarg;
      break;
    case O_KEEP: c->keep_dir = 1; break;
    case O_FAULT: c->faults[c->n_faults++] = optarg; break;
    case O_SET: c->options[c->n_options++] = optarg; break;
    case 'q': c->quiet = 1; break;
    case 'v': c->verbosity++; break;
    case 'h': usage(stdout); exit(0);
    default:
      fprintf(stderr, "sss-host-sim: see --help for the options\n");
      return -1;
    }
  }
  if (optind < argc) {
    fprintf(stderr,
            "sss-host-sim: unexpected argument '%s': options only, "
            "see --help\n",
            argv[optind]);
    return -1;
  }
  if (small && !size_given) c->size = SMALL_SIZE;
  return 0;
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "fetch") == 0)
    return hostsim_fetch_main(argc - 1, argv + 1);
  static sim s; /* large; zero-initialised */
  s.cfg = (sim_config){.n_bk = 4,
                       .n_outsiders = 1,
                       .n_threads = DEFAULT_THREADS,
                       .size = DEFAULT_SIZE,
                       .seed = 1,
                       .base_port = DEFAULT_BASE_PORT,
                       .timeout_s = DEFAULT_TIMEOUT_S,
                       .scenario = "default",
                       .blob_service = 0};
  /* Every --fault/--set fits: there are fewer of them than arguments. */
  s.cfg.faults = calloc((size_t)argc, sizeof(char *));
  s.cfg.options = calloc((size_t)argc, sizeof(char *));
  if (!s.cfg.faults || !s.cfg.options || parse_args(argc, argv, &s.cfg)) {
    free(s.cfg.faults);
    free(s.cfg.options);
    return EXIT_SETUP;
  }
  s.scenario = sim_scenario_find(s.cfg.scenario);
  struct sigaction sa = {.sa_handler = on_signal};
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&s.cond, &ca);
  pthread_condattr_destroy(&ca);
  pthread_mutex_init(&s.mu, NULL);
  hs_console_init(&s.console, "sss-host-sim");
  curl_global_init(CURL_GLOBAL_DEFAULT);

  int status = run(&s);

  curl_global_cleanup();
  hs_console_destroy(&s.console);
  pthread_mutex_destroy(&s.mu);
  pthread_cond_destroy(&s.cond);
  free(s.cfg.faults);
  free(s.cfg.options);
  return status;
}
