/* `sss-host-sim fetch`: fetches one snapshot through a backend's own
 * transport (no load_blob) from the given base URLs, like curl or aria2c
 * would, and installs it into a file (or discards it). It is the simplest
 * real host: one instance, one task, one entry. See docs/OPERATIONS.md. */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hex.h"
#include "plugin_loader.h"
#include "share_dir.h"
#include "sim.h"
#include "sss_plugin.h"
#include "status.h"

enum { FX_OK = 0, FX_FAILED = 1, FX_USAGE = 2 };

#define FX_TICK_MS 200
#define FX_READ_CHUNK (256 * 1024)
#define FX_CANCEL_GRACE_MS 5000

typedef struct fx_config {
  const char *plugin_path; /* NULL: the default backend */
  const char **sources, **options;
  size_t n_sources, n_options;
  const char *block_hex;
  sss_block_id block;
  int has_sha256, has_size;
  uint8_t sha256[SSS_SHA256_LEN];
  uint64_t size;
  const char *out;     /* NULL: discard */
  uint64_t timeout_ms; /* 0: none (the backend's own deadline applies) */
  int json, quiet, verbosity;
  int fsync; /* --fsync: make --out durable before renaming it */
} fx_config;

typedef struct fx_source {
  char *url;
  uint64_t bytes;
} fx_source;

typedef struct fx_state {
  fx_config cfg;
  char plugin_path[PATH_MAX];
  hs_plugin plugin;
  sss_host host;
  sss_instance *instance;
  mode_t file_mode; /* 0666 & ~umask */

  pthread_mutex_t mu;
  pthread_cond_t cond;
  /* The repository (written on the loader thread inside apply_snapshot). */
  int installed;
  uint32_t applies, rejects;
  uint64_t installed_bytes;
  char installed_sha[2 * SSS_SHA256_LEN + 1];
  char last_reject[SSS_ERROR_SIZE];
  /* The task's one result. */
  int received;
  int status;
  char *message;
  int entry_status;
  char *entry_message, *entry_source;
  uint64_t entry_bytes;
  fx_source *sources;
  size_t n_sources;
  char **banned_urls, **banned_reasons;
  size_t n_banned;
  sss_stats stats;
  int timed_out, interrupted;
  double seconds;

  hs_console console; /* stderr: the progress line and messages */
} fx_state;

static volatile sig_atomic_t fx_interrupted;

static void fx_on_signal(int sig) {
  (void)sig;
  fx_interrupted = 1;
}

/* ---- Output ------------------------------------------------------------ */

#define say(f, ...) hs_console_say(&(f)->console, __VA_ARGS__)

static void draw_progress(fx_state *f, const sss_stats *st) {
  char got[32], total[32] = "?", rate[32], eta[32] = "";
  sim_format_bytes(st->bytes_fetched, got, sizeof got);
  uint64_t expected = st->bytes_expected;
  if (!expected && f->cfg.has_size) expected = f->cfg.size;
  if (expected) sim_format_bytes(expected, total, sizeof total);
  double secs = st->elapsed_ms / 1000.0;
  double bps = secs > 0 ? (double)st->bytes_fetched / secs : 0;
  snprintf(rate, sizeof rate, "%.1f MiB/s", bps / (1024.0 * 1024.0));
  if (bps > 0 && expected > st->bytes_fetched)
    snprintf(eta, sizeof eta, "  ETA %.1f s",
             (double)(expected - st->bytes_fetched) / bps);
  char pct[16] = "";
  if (expected) {
    double frac = (double)st->bytes_fetched / (double)expected;
    snprintf(pct, sizeof pct, "%3.0f%%  ", frac > 1 ? 100.0 : frac * 100);
  }
  hs_console_bar(&f->console, "%s%s / %s  %s%s  (requests %u, failed %u)", pct,
                 got, total, rate, eta, st->sources_tried, st->sources_failed);
}

/* ---- Host callbacks ---------------------------------------------------- */

/* No gossip and no BK set: the static storages are the only sources. */
static int fx_gossip_nodes(void *ctx, sss_gossip_visit_fn visit,
                           void *visit_ctx) {
  (void)ctx;
  (void)visit;
  (void)visit_ctx;
  return 0;
}

static int fx_bk_set(void *ctx, sss_node_visit_fn visit, void *visit_ctx) {
  (void)ctx;
  (void)visit;
  (void)visit_ctx;
  return 0;
}

static void fx_log(void *ctx, int level, const char *message) {
  static const char *const names[] = {"error", "warn", "info", "debug"};
  fx_state *f = ctx;
  /* -v: errors, warnings and info; -vv: debug too. */
  if (!f->cfg.verbosity || !message ||
      level > SSS_LOG_INFO + (f->cfg.verbosity - 1))
    return;
  hs_console_line(&f->console, "[plugin %s] %s",
                  level >= 0 && level <= 3 ? names[level] : "log", message);
}

static int write_all(int fd, const uint8_t *buf, size_t len) {
  while (len) {
    ssize_t n = write(fd, buf, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    buf += n;
    len -= (size_t)n;
  }
  return 0;
}

/* fsyncs the directory holding path, so that a rename in it is durable. */
static int fsync_parent(const char *path) {
  char dir[PATH_MAX];
  snprintf(dir, sizeof dir, "%s", path);
  char *slash = strrchr(dir, '/');
  if (!slash)
    snprintf(dir, sizeof dir, ".");
  else if (slash == dir)
    dir[1] = '\0';
  else
    *slash = '\0';
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return -1;
  int rc = fsync(fd);
  close(fd);
  return rc;
}

static int fx_reject(fx_state *f, char *err, int status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fx_reject(fx_state *f, char *err, int status, const char *fmt, ...) {
  char why[SSS_ERROR_SIZE];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, sizeof why, fmt, ap);
  va_end(ap);
  if (err) snprintf(err, SSS_ERROR_SIZE, "%s", why);
  pthread_mutex_lock(&f->mu);
  f->rejects++;
  snprintf(f->last_reject, sizeof f->last_reject, "%s", why);
  pthread_mutex_unlock(&f->mu);
  return status;
}

/* The repository: installs the verified bytes as --out (a link to the
 * plugin's verified file when it is on the same filesystem, else a copy
 * through the reader, into a temp name renamed into place; fsync only with
 * --fsync) or discards them, and accepts only what matches --sha256. */
static int fx_apply(void *ctx, void *repository, const sss_thread_id *thread_id,
                    const sss_block_id *block_id, const sss_reader *reader,
                    uint64_t size, char *err) {
  fx_state *f = ctx;
  (void)thread_id;
  pthread_mutex_lock(&f->mu);
  f->applies++;
  pthread_mutex_unlock(&f->mu);
  if (repository != f)
    return fx_reject(f, err, SSS_ERR_REJECTED,
                     "apply_snapshot got a repository pointer this host never "
                     "passed: hand back the one given to add_load_state_task");
  if (memcmp(block_id, &f->cfg.block, sizeof *block_id) != 0)
    return fx_reject(f, err, SSS_ERR_REJECTED,
                     "apply_snapshot got another block than --block %s",
                     f->cfg.block_hex);
  if (!reader || !SSS_HAS_MEMBER(reader, sss_reader, read) || !reader->read)
    return fx_reject(f, err, SSS_ERR_INVALID_ARGUMENT,
                     "apply_snapshot came without a reader: pass an "
                     "sss_reader with read set");
  if (f->cfg.has_size && size != f->cfg.size)
    return fx_reject(f, err, SSS_ERR_VERIFY,
                     "the snapshot has %" PRIu64 " bytes, --size says %" PRIu64,
                     size, f->cfg.size);

  /* With --sha256 the plugin verified the digest before calling us (only
   * verified bytes reach apply_snapshot): no need to hash again. Without
   * it, hash what arrives, to report the digest. */
  int hash = !f->cfg.has_sha256;
  /* ABI 1.1: the verified bytes as a file. Linking it next to --out keeps
   * them without a copy; another filesystem (EXDEV) means copying. */
  const char *path =
      SSS_HAS_MEMBER(reader, sss_reader, path) ? reader->path : NULL;
  char tmp[PATH_MAX] = "";
  int fd = -1, linked = 0;
  if (f->cfg.out) {
    if (snprintf(tmp, sizeof tmp, "%s.part-XXXXXX", f->cfg.out) >=
        (int)sizeof tmp)
      return fx_reject(f, err, SSS_ERR_IO, "--out '%s' is too long",
                       f->cfg.out);
    fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0)
      return fx_reject(f, err, SSS_ERR_IO,
                       "cannot create a temp file next to --out '%s' (%s): "
                       "check that its directory exists and is writable",
                       f->cfg.out, strerror(errno));
    if (path && unlink(tmp) == 0) {
      if (link(path, tmp) == 0) {
        linked = 1;
        close(fd);
        fd = -1;
      } else {
        /* Keep the name reserved for the copy. */
        close(fd);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0)
          return fx_reject(f, err, SSS_ERR_IO, "cannot create %s (%s)", tmp,
                           strerror(errno));
      }
    }
  }
  uint8_t *buf = NULL;
  EVP_MD_CTX *md = NULL;
  int rc = SSS_OK;
  uint64_t total = 0;
  uint8_t digest[SSS_SHA256_LEN];
  char hex[2 * SSS_SHA256_LEN + 1];
  if (hash || fd >= 0) {
    buf = malloc(FX_READ_CHUNK);
    md = hash ? EVP_MD_CTX_new() : NULL;
    if (!buf || (hash && (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1))) {
      rc = fx_reject(f, err, SSS_ERR_NO_MEMORY,
                     "the repository could not set up SHA-256 (out of memory "
                     "or libcrypto failed)");
      goto done;
    }
    for (;;) {
      int64_t got = reader->read(reader->reader_ctx, buf, FX_READ_CHUNK);
      if (got == 0) break;
      if (got < 0 || got > FX_READ_CHUNK) {
        rc = fx_reject(f, err, SSS_ERR_IO,
                       "the plugin's reader failed after %" PRIu64
                       " bytes (read returned %" PRId64 ")",
                       total, got);
        goto done;
      }
      total += (uint64_t)got;
      if (total > size) {
        rc = fx_reject(f, err, SSS_ERR_VERIFY,
                       "the plugin's reader yields more than the announced "
                       "%" PRIu64 " bytes",
                       size);
        goto done;
      }
      if (md) EVP_DigestUpdate(md, buf, (size_t)got);
      if (fd >= 0 && write_all(fd, buf, (size_t)got) != 0) {
        rc = fx_reject(f, err, SSS_ERR_IO,
                       "cannot write %s after %" PRIu64 " bytes (%s): check "
                       "the free space",
                       tmp, total - (uint64_t)got, strerror(errno));
        goto done;
      }
    }
    if (total != size) {
      rc = fx_reject(f, err, SSS_ERR_VERIFY,
                     "the plugin's reader ended after %" PRIu64
                     " of the announced %" PRIu64 " bytes",
                     total, size);
      goto done;
    }
  } else {
    total = size; /* linked (or discarded) whole, verified by the plugin */
  }
  if (md) {
    unsigned int dlen = 0;
    EVP_DigestFinal_ex(md, digest, &dlen);
  } else {
    memcpy(digest, f->cfg.sha256, SSS_SHA256_LEN);
  }
  sss_hex_encode(digest, SSS_SHA256_LEN, hex);
  if (f->cfg.has_sha256 && memcmp(digest, f->cfg.sha256, SSS_SHA256_LEN)) {
    rc = fx_reject(f, err, SSS_ERR_VERIFY,
                   "the snapshot's SHA-256 is %s, not the --sha256 given: "
                   "its bytes are not the expected ones",
                   hex);
    goto done;
  }
  if (f->cfg.out) {
    int ok = linked ? chmod(tmp, f->file_mode) == 0
                    : fchmod(fd, f->file_mode) == 0;
    if (ok && f->cfg.fsync) {
      int sfd = linked ? open(tmp, O_RDONLY | O_CLOEXEC) : fd;
      ok = sfd >= 0 && fsync(sfd) == 0;
      if (linked && sfd >= 0) close(sfd);
    }
    if (!ok) {
      rc = fx_reject(f, err, SSS_ERR_IO, "cannot set the mode of, or fsync, %s (%s)",
                     tmp, strerror(errno));
      goto done;
    }
    int crc = fd >= 0 ? close(fd) : 0;
    fd = -1;
    if (crc != 0 || rename(tmp, f->cfg.out) != 0) {
      rc = fx_reject(f, err, SSS_ERR_IO, "cannot rename %s to --out '%s' (%s)",
                     tmp, f->cfg.out, strerror(errno));
      goto done;
    }
    tmp[0] = '\0'; /* renamed: nothing to remove */
    if (f->cfg.fsync && fsync_parent(f->cfg.out) != 0) {
      /* The file is complete and in place; only durability is in doubt. */
      say(f, "warning: cannot fsync the directory of '%s' (%s)", f->cfg.out,
          strerror(errno));
    }
  }
  pthread_mutex_lock(&f->mu);
  f->installed = 1;
  f->installed_bytes = total;
  memcpy(f->installed_sha, hex, sizeof hex);
  pthread_mutex_unlock(&f->mu);
done:
  if (fd >= 0) close(fd);
  if (tmp[0] && rc != SSS_OK) unlink(tmp);
  EVP_MD_CTX_free(md);
  free(buf);
  return rc;
}

/* ---- The task's one result ---------------------------------------------- */

static char *dup_or_null(const char *s) {
  return s ? strdup(s) : NULL;
}

static void fx_on_result(void *ctx, const sss_task_result *r) {
  fx_state *f = ctx;
  pthread_mutex_lock(&f->mu);
  if (f->received++) { /* exactly once violated; keep the first */
    pthread_cond_broadcast(&f->cond);
    pthread_mutex_unlock(&f->mu);
    return;
  }
  f->status = SSS_HAS_MEMBER(r, sss_task_result, status) ? r->status : -1;
  f->message = SSS_HAS_MEMBER(r, sss_task_result, message)
                   ? dup_or_null(r->message)
                   : NULL;
  f->entry_status = SSS_ERR_NOT_FOUND;
  if (SSS_HAS_MEMBER(r, sss_task_result, entries) && r->entries &&
      r->n_entries > 0) {
    const sss_entry_result *e = r->entries;
    f->entry_status = e->status;
    if (SSS_HAS_MEMBER(e, sss_entry_result, message))
      f->entry_message = dup_or_null(e->message);
    if (SSS_HAS_MEMBER(e, sss_entry_result, source))
      f->entry_source = dup_or_null(e->source);
    if (SSS_HAS_MEMBER(e, sss_entry_result, bytes)) f->entry_bytes = e->bytes;
    /* ABI 1.1: the per-source byte counts. */
    if (SSS_HAS_MEMBER(e, sss_entry_result, source_bytes) && e->n_sources &&
        e->source_urls && e->source_bytes) {
      f->sources = calloc(e->n_sources, sizeof *f->sources);
      for (size_t i = 0; f->sources && i < e->n_sources; i++) {
        f->sources[i].url = dup_or_null(e->source_urls[i]);
        f->sources[i].bytes = e->source_bytes[i];
        f->n_sources++;
      }
    }
  }
  if (SSS_HAS_MEMBER(r, sss_task_result, banned_reasons) && r->banned_sources &&
      r->n_banned) {
    f->banned_urls = calloc(r->n_banned, sizeof(char *));
    f->banned_reasons = calloc(r->n_banned, sizeof(char *));
    for (size_t i = 0; f->banned_urls && f->banned_reasons && i < r->n_banned;
         i++) {
      f->banned_urls[i] = dup_or_null(r->banned_sources[i]);
      f->banned_reasons[i] =
          dup_or_null(r->banned_reasons ? r->banned_reasons[i] : NULL);
      f->n_banned++;
    }
  }
  pthread_cond_broadcast(&f->cond);
  pthread_mutex_unlock(&f->mu);
}

static void fx_release(fx_state *f) {
  free(f->message);
  free(f->entry_message);
  free(f->entry_source);
  for (size_t i = 0; i < f->n_sources; i++)
    free(f->sources[i].url);
  free(f->sources);
  for (size_t i = 0; i < f->n_banned; i++) {
    free(f->banned_urls[i]);
    free(f->banned_reasons[i]);
  }
  free(f->banned_urls);
  free(f->banned_reasons);
}

/* ---- The run --------------------------------------------------------------
 */

static uint64_t now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u;
}

static void deadline_in(struct timespec *t, uint64_t ms) {
  clock_gettime(CLOCK_MONOTONIC, t);
  t->tv_sec += (time_t)(ms / 1000);
  t->tv_nsec += (long)(ms % 1000) * 1000000L;
  if (t->tv_nsec >= 1000000000L) {
    t->tv_sec++;
    t->tv_nsec -= 1000000000L;
  }
}

/* Waits for the result, drawing progress on a terminal; cancels with
 * reset_sync on --timeout or a signal. */
static void wait_for_result(fx_state *f) {
  const sss_plugin *vt = f->plugin.vt;
  int bar = !f->cfg.quiet && !f->cfg.json && isatty(STDERR_FILENO);
  uint64_t start = now_ms(), cancel_at = 0;
  pthread_mutex_lock(&f->mu);
  while (!f->received) {
    struct timespec tick;
    deadline_in(&tick, FX_TICK_MS);
    pthread_cond_timedwait(&f->cond, &f->mu, &tick);
    if (f->received) break;
    pthread_mutex_unlock(&f->mu);
    sss_stats st = {.struct_size = sizeof st};
    if (bar && vt->get_stats(f->instance, &st) == SSS_OK) draw_progress(f, &st);
    uint64_t now = now_ms();
    int late = f->cfg.timeout_ms && now - start >= f->cfg.timeout_ms;
    if (!cancel_at && (late || fx_interrupted)) {
      f->timed_out = late;
      f->interrupted = fx_interrupted;
      say(f, "%s: cancelling the load task with reset_sync",
          late ? "no result within --timeout" : "interrupted");
      vt->reset_sync(f->instance);
      cancel_at = now_ms();
    } else if (cancel_at && now - cancel_at > FX_CANCEL_GRACE_MS) {
      say(f,
          "no CANCELLED result within %d s of reset_sync: the backend "
          "broke the exactly-one-result rule",
          FX_CANCEL_GRACE_MS / 1000);
      pthread_mutex_lock(&f->mu);
      break;
    }
    pthread_mutex_lock(&f->mu);
  }
  pthread_mutex_unlock(&f->mu);
  hs_console_clear(&f->console);
}

/* Applies one --set KEY=VALUE. Returns 0, or -1 after a sentence. */
static int apply_set(fx_state *f, const char *kv) {
  const char *eq = strchr(kv, '=');
  char key[128], err[SSS_ERROR_SIZE] = "";
  if (!eq || eq == kv || (size_t)(eq - kv) >= sizeof key) {
    say(f, "--set '%s' is not KEY=VALUE: write e.g. --set max_download_tries=5",
        kv);
    return -1;
  }
  snprintf(key, sizeof key, "%.*s", (int)(eq - kv), kv);
  if (f->plugin.vt->set_option(f->instance, key, eq + 1, err) != SSS_OK) {
    say(f, "--set %s: %s", kv, err[0] ? err : "refused (no sentence given)");
    return -1;
  }
  return 0;
}

static int configure(fx_state *f) {
  size_t len = 1;
  for (size_t i = 0; i < f->cfg.n_sources; i++)
    len += strlen(f->cfg.sources[i]) + 1;
  char *joined = calloc(len, 1), err[SSS_ERROR_SIZE] = "";
  if (!joined) {
    say(f, "out of memory joining the --source URLs");
    return -1;
  }
  for (size_t i = 0; i < f->cfg.n_sources; i++) {
    if (i) strcat(joined, ",");
    strcat(joined, f->cfg.sources[i]);
  }
  int rc =
      f->plugin.vt->set_option(f->instance, "static_storages", joined, err);
  free(joined);
  if (rc != SSS_OK) {
    say(f, "--source: %s", err[0] ? err : "refused (no sentence given)");
    return -1;
  }
  for (size_t i = 0; i < f->cfg.n_options; i++)
    if (apply_set(f, f->cfg.options[i]) != 0) return -1;
  return 0;
}

static int start_task(fx_state *f) {
  sss_load_entry e = {.struct_size = sizeof e, .block_id = f->cfg.block};
  if (f->cfg.has_sha256) {
    e.flags |= SSS_ENTRY_HAS_SHA256;
    memcpy(e.sha256, f->cfg.sha256, SSS_SHA256_LEN);
  }
  if (f->cfg.has_size) {
    e.flags |= SSS_ENTRY_HAS_SIZE;
    e.size = f->cfg.size;
  }
  sss_task_output out = {
      .struct_size = sizeof out, .output_ctx = f, .on_result = fx_on_result};
  char err[SSS_ERROR_SIZE] = "";
  int rc = f->plugin.vt->add_load_state_task(f->instance, &e, 1, f, &out, err);
  if (rc != SSS_OK) {
    say(f, "add_load_state_task refused the task (%s): %s",
        f->plugin.vt->strerror(rc), err[0] ? err : "no sentence given");
    return -1;
  }
  return 0;
}

static const char *status_name(const fx_state *f) {
  if (!f->received) return "no result";
  switch (f->status) {
  case SSS_TASK_OK: return "ok";
  case SSS_TASK_FAILED: return "failed";
  case SSS_TASK_CANCELLED: return "cancelled";
  default: return "unknown";
  }
}

static int succeeded(const fx_state *f) {
  return f->received && f->status == SSS_TASK_OK && f->installed;
}

static void print_json(fx_state *f) {
  FILE *o = stdout;
  int ok = succeeded(f);
  uint64_t bytes = ok ? f->installed_bytes : 0;
  double mibps =
      f->seconds > 0 ? (double)bytes / f->seconds / (1024.0 * 1024.0) : 0;
  fprintf(o, "{\"installed\":%s,\"status\":", ok ? "true" : "false");
  sim_json_str(o, status_name(f));
  fputs(",\"message\":", o);
  sim_json_str(o, f->message);
  fputs(",\"entry_status\":", o);
  sim_json_str(o, f->received ? f->plugin.vt->strerror(f->entry_status) : NULL);
  fputs(",\"entry_message\":", o);
  sim_json_str(o, f->entry_message);
  fputs(",\"last_reject\":", o);
  sim_json_str(o, f->rejects ? f->last_reject : NULL);
  fputs(",\"source\":", o);
  sim_json_str(o, f->entry_source);
  fputs(",\"out\":", o);
  sim_json_str(o, ok ? f->cfg.out : NULL);
  fprintf(o, ",\"bytes\":%" PRIu64 ",\"seconds\":%.3f,\"mib_per_s\":%.3f",
          bytes, f->seconds, mibps);
  fputs(",\"sha256\":", o);
  sim_json_str(o, ok ? f->installed_sha : NULL);
  fputs(",\"sources\":[", o);
  for (size_t i = 0; i < f->n_sources; i++) {
    fputs(i ? ",{\"url\":" : "{\"url\":", o);
    sim_json_str(o, f->sources[i].url);
    fprintf(o, ",\"bytes\":%" PRIu64 "}", f->sources[i].bytes);
  }
  fputs("],\"banned\":[", o);
  for (size_t i = 0; i < f->n_banned; i++) {
    fputs(i ? ",{\"url\":" : "{\"url\":", o);
    sim_json_str(o, f->banned_urls[i]);
    fputs(",\"reason\":", o);
    sim_json_str(o, f->banned_reasons[i]);
    fputc('}', o);
  }
  const sss_stats *st = &f->stats;
  fprintf(o,
          "],\"stats\":{\"bytes_fetched\":%" PRIu64
          ",\"bytes_verified\":%" PRIu64
          ",\"sources_tried\":%u,\"sources_failed\":%u,"
          "\"sources_banned\":%u,\"cycles\":%u,\"elapsed_ms\":%" PRIu64 "}}\n",
          st->bytes_fetched, st->bytes_verified, st->sources_tried,
          st->sources_failed, st->sources_banned, st->cycles, st->elapsed_ms);
}

static void print_human(fx_state *f) {
  char size[32];
  if (succeeded(f)) {
    sim_format_bytes(f->installed_bytes, size, sizeof size);
    double mibps = f->seconds > 0 ? (double)f->installed_bytes / f->seconds /
                                        (1024.0 * 1024.0)
                                  : 0;
    printf("installed %s (%" PRIu64 " bytes) in %.2f s, %.1f MiB/s\n", size,
           f->installed_bytes, f->seconds, mibps);
    printf("sha256    %s%s\n", f->installed_sha,
           f->cfg.has_sha256 ? " (matches --sha256)" : "");
    printf("saved to  %s\n", f->cfg.out ? f->cfg.out : "(discarded: no --out)");
    if (f->entry_source) printf("source    %s\n", f->entry_source);
  } else {
    printf("not installed: the task ended %s after %.2f s\n", status_name(f),
           f->seconds);
  }
  for (size_t i = 0; i < f->n_sources; i++) {
    sim_format_bytes(f->sources[i].bytes, size, sizeof size);
    printf("  sent %10s  %s\n", size, f->sources[i].url);
  }
  for (size_t i = 0; i < f->n_banned; i++)
    printf("  banned %s: %s\n", f->banned_urls[i],
           f->banned_reasons[i] ? f->banned_reasons[i] : "(no reason given)");
  sim_format_bytes(f->stats.bytes_fetched, size, sizeof size);
  printf("fetched %s in %u requests (%u failed), %u sources banned, %u "
         "cycles\n",
         size, f->stats.sources_tried, f->stats.sources_failed,
         f->stats.sources_banned, f->stats.cycles);
}

static int run(fx_state *f) {
  char err[HS_ERR_SIZE];
  if (f->cfg.plugin_path)
    snprintf(f->plugin_path, sizeof f->plugin_path, "%s", f->cfg.plugin_path);
  else if (hs_plugin_default_path(f->plugin_path, sizeof f->plugin_path)) {
    say(f, "cannot find the default backend next to this executable: pass "
           "--plugin PATH");
    return FX_USAGE;
  }
  if (hs_plugin_open(&f->plugin, f->plugin_path, err) != 0) {
    say(f, "%s", err);
    return FX_USAGE;
  }
  const sss_plugin *vt = f->plugin.vt;
  f->host = (sss_host){.struct_size = sizeof(sss_host),
                       .ctx = f,
                       .gossip_nodes = fx_gossip_nodes,
                       .bk_set = fx_bk_set,
                       .apply_snapshot = fx_apply,
                       .log = fx_log};
  char perr[SSS_ERROR_SIZE] = "";
  int status = FX_USAGE;
  if (vt->create(&f->host, &f->instance, perr) != SSS_OK) {
    f->instance = NULL;
    say(f, "create failed: %s", perr[0] ? perr : "no sentence given");
    goto done;
  }
  if (configure(f) != 0) goto done;
  uint64_t t0 = now_ms();
  if (start_task(f) != 0) {
    status = FX_FAILED;
    goto done;
  }
  wait_for_result(f);
  f->seconds = (double)(now_ms() - t0) / 1000.0;
  f->stats = (sss_stats){.struct_size = sizeof f->stats};
  vt->get_stats(f->instance, &f->stats);
  /* Nothing is in flight while we report. */
  vt->destroy(f->instance);
  f->instance = NULL;

  if (f->cfg.json)
    print_json(f);
  else if (!f->cfg.quiet || !succeeded(f))
    print_human(f);
  if (succeeded(f)) {
    status = FX_OK;
  } else {
    status = FX_FAILED;
    if (!f->received)
      say(f, "the backend delivered no result");
    else
      say(f, "sync %s: %s", status_name(f),
          f->message ? f->message : "(no summary given)");
    if (f->entry_message) say(f, "entry: %s", f->entry_message);
    if (f->rejects) say(f, "last rejection by this host: %s", f->last_reject);
    if (f->received && f->status == SSS_TASK_OK && !f->installed)
      say(f, "the backend reported OK but the repository installed nothing");
  }
done:
  if (f->instance) vt->destroy(f->instance);
  f->instance = NULL;
  fflush(stdout);
  hs_plugin_close(&f->plugin);
  return status;
}

/* ---- Command line ---------------------------------------------------------
 */

static void usage(FILE *o) {
  fputs(
      "usage: sss-host-sim fetch --source URL [--source URL ...] --block "
      "HEX64\n"
      "                          [--plugin PATH] [--sha256 HEX64] [--size N]\n"
      "                          [--out FILE] [--json] [--set KEY=VALUE ...]\n"
      "                          [--fsync] [--timeout MS] [-q] [-v]\n"
      "Fetches one snapshot through the backend's own transport (no "
      "load_blob)\n"
      "from the base URLs given (the file <base>/<block hex>), verifies it "
      "and\n"
      "installs it into FILE (or discards it). Exit 0 when installed (and\n"
      "matching --sha256), 1 when the sync failed, 2 on bad usage or setup.\n"
      "\n"
      "  --plugin PATH     backend .so (default "
      "../plugin/libsss_fileshares.so\n"
      "                    next to this executable)\n"
      "  --source URL      a static storage's base URL (repeatable, at least "
      "one)\n"
      "  --block HEX64     block id: 64 hex digits (the file's name)\n"
      "  --sha256 HEX64    expected SHA-256; anything else is rejected\n"
      "  --size N          expected size in bytes\n"
      "  --out FILE        install the snapshot there: a link to the verified\n"
      "                    file (a copy across filesystems) under a temp name,\n"
      "                    renamed into place\n"
      "  --fsync           fsync --out and its directory before and after the\n"
      "                    rename (durable across a power loss)\n"
      "  --set KEY=VALUE   plugin option (repeatable; see docs/ABI.md)\n"
      "  --timeout MS      reset_sync the task after MS milliseconds\n"
      "  --json            one JSON document on stdout\n"
      "  -q, --quiet       no progress line, no summary on success\n"
      "  -v, --verbose     the plugin's logs on stderr (twice: debug)\n"
      "  -h, --help        this text\n",
      o);
}

static int bad(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int bad(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("sss-host-sim fetch: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  return -1;
}

static int parse_dec(const char *opt, const char *text, uint64_t min,
                     uint64_t max, uint64_t *out) {
  char *end = NULL;
  errno = 0;
  unsigned long long v = strtoull(text, &end, 10);
  if (errno || end == text || *end || text[0] == '-' || text[0] == '+' ||
      text[0] == ' ' || v < min || v > max)
    return bad("%s '%s' is not a decimal number between %" PRIu64
               " and %" PRIu64,
               opt, text, min, max);
  *out = v;
  return 0;
}

static int parse_args(int argc, char **argv, fx_config *c) {
  enum {
    O_PLUGIN = 256,
    O_SOURCE,
    O_BLOCK,
    O_SHA,
    O_SIZE,
    O_OUT,
    O_JSON,
    O_SET,
    O_TIMEOUT,
    OPT_FSYNC
  };
  static const struct option longs[] = {
      {"plugin", required_argument, 0, O_PLUGIN},
      {"source", required_argument, 0, O_SOURCE},
      {"block", required_argument, 0, O_BLOCK},
      {"sha256", required_argument, 0, O_SHA},
      {"size", required_argument, 0, O_SIZE},
      {"out", required_argument, 0, O_OUT},
      {"json", no_argument, 0, O_JSON},
      {"set", required_argument, 0, O_SET},
      {"timeout", required_argument, 0, O_TIMEOUT},
      {"fsync", no_argument, 0, OPT_FSYNC},
      {"quiet", no_argument, 0, 'q'},
      {"verbose", no_argument, 0, 'v'},
      {"help", no_argument, 0, 'h'},
      {0, 0, 0, 0}};
  int opt;
  uint64_t v;
  optind = 1;
  opterr = 0; /* our own sentences below */
  while ((opt = getopt_long(argc, argv, ":qvh", longs, NULL)) != -1) {
    switch (opt) {
    case O_PLUGIN: c->plugin_path = optarg; break;
    case O_SOURCE:
      if (!*optarg) return bad("--source needs a URL, got an empty string");
      if (strchr(optarg, ','))
        return bad("--source '%s' contains a comma: give each URL with its "
                   "own --source",
                   optarg);
      c->sources[c->n_sources++] = optarg;
      break;
    case O_BLOCK:
      if (sss_hex_decode(optarg, c->block.bytes, SSS_BLOCK_ID_LEN) != 0)
        return bad("--block '%s' is not a block id: give exactly 64 hex "
                   "digits",
                   optarg);
      c->block_hex = optarg;
      break;
    case O_SHA:
      if (sss_hex_decode(optarg, c->sha256, SSS_SHA256_LEN) != 0)
        return bad("--sha256 '%s' is not a SHA-256: give exactly 64 hex "
                   "digits",
                   optarg);
      c->has_sha256 = 1;
      break;
    case O_SIZE:
      if (parse_dec("--size", optarg, 0, UINT64_MAX, &v)) return -1;
      c->size = v;
      c->has_size = 1;
      break;
    case O_OUT:
      if (!*optarg) return bad("--out needs a file name, got an empty string");
      c->out = optarg;
      break;
    case O_TIMEOUT:
      if (parse_dec("--timeout", optarg, 1, 604800000, &v)) return -1;
      c->timeout_ms = v;
      break;
    case O_JSON: c->json = 1; break;
    case OPT_FSYNC: c->fsync = 1; break;
    case O_SET: c->options[c->n_options++] = optarg; break;
    case 'q': c->quiet = 1; break;
    case 'v': c->verbosity++; break;
    case 'h': usage(stdout); exit(0);
    case ':':
      return bad("%s needs a value; see sss-host-sim fetch --help",
                 argv[optind - 1]);
    default:
      return bad("unknown option '%s'; see sss-host-sim fetch --help",
                 argv[optind - 1]);
    }
  }
  if (optind < argc)
    return bad("unexpected argument '%s': options only, see --help",
               argv[optind]);
  if (!c->n_sources)
    return bad("no --source given: name at least one base URL, e.g. --source "
               "http://127.0.0.1:8080/");
  if (!c->block_hex)
    return bad("no --block given: name the snapshot by its block id (64 hex "
               "digits)");
  return 0;
}

int hostsim_fetch_main(int argc, char **argv) {
  static fx_state f; /* zero-initialised */
  f.cfg.sources = calloc((size_t)argc + 1, sizeof(char *));
  f.cfg.options = calloc((size_t)argc + 1, sizeof(char *));
  if (!f.cfg.sources || !f.cfg.options || parse_args(argc, argv, &f.cfg)) {
    free(f.cfg.sources);
    free(f.cfg.options);
    return FX_USAGE;
  }
  mode_t mask = umask(0);
  umask(mask);
  f.file_mode = 0666 & ~mask;
  struct sigaction sa = {.sa_handler = fx_on_signal};
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&f.cond, &ca);
  pthread_condattr_destroy(&ca);
  pthread_mutex_init(&f.mu, NULL);
  hs_console_init(&f.console, "sss-host-sim fetch");
  curl_global_init(CURL_GLOBAL_DEFAULT);

  int status = run(&f);

  curl_global_cleanup();
  fx_release(&f);
  hs_console_destroy(&f.console);
  pthread_mutex_destroy(&f.mu);
  pthread_cond_destroy(&f.cond);
  free(f.cfg.sources);
  free(f.cfg.options);
  return status;
}
