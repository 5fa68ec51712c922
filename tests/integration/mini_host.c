#include "mini_host.h"

#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define READ_CHUNK (128 * 1024)

static void copy_text(char *dst, size_t len, const char *src) {
  snprintf(dst, len, "%s", src ? src : "");
}

/* The visitors run without h->mu held: the backend may call back into this
 * host (log) from inside a visit. */
static int cb_gossip(void *ctx, sss_gossip_visit_fn visit, void *vctx) {
  mini_host *h = ctx;
  static __thread char ids[MINI_MAX][64], urls[MINI_MAX][MINI_TEXT];
  pthread_mutex_lock(&h->mu);
  int n = h->n_nodes;
  memcpy(ids, h->node_ids, sizeof ids);
  memcpy(urls, h->node_urls, sizeof urls);
  pthread_mutex_unlock(&h->mu);
  for (int i = 0; i < n; i++) {
    const char *k[] = {"api_advertise_addr"}, *v[] = {urls[i]};
    visit(vctx, ids[i], k, v, 1);
  }
  return 0;
}

static int cb_bk(void *ctx, sss_node_visit_fn visit, void *vctx) {
  mini_host *h = ctx;
  static __thread char ids[MINI_MAX][64];
  int in_bk[MINI_MAX];
  pthread_mutex_lock(&h->mu);
  int n = h->n_nodes;
  memcpy(ids, h->node_ids, sizeof ids);
  memcpy(in_bk, h->in_bk, sizeof in_bk);
  pthread_mutex_unlock(&h->mu);
  for (int i = 0; i < n; i++)
    if (in_bk[i]) visit(vctx, ids[i]);
  return 0;
}

/* Reads everything through the reader into memory and accepts it (the
 * backend verified it; the tests compare it with the original). */
static int cb_apply(void *ctx, void *repository, const sss_thread_id *thread,
                    const sss_block_id *block, const sss_reader *reader,
                    uint64_t size, char *err) {
  mini_host *h = ctx;
  (void)thread;
  (void)block;
  if (repository != h) {
    snprintf(err, SSS_ERROR_SIZE, "mini host: unknown repository pointer");
    return 1;
  }
  /* ABI 1.1: the verified file behind the reader; its size, or -1. */
  long long path_size = -1;
  struct stat st;
  if (SSS_HAS_MEMBER(reader, sss_reader, path) && reader->path &&
      stat(reader->path, &st) == 0)
    path_size = (long long)st.st_size;
  uint8_t *buf = malloc(size ? size : 1);
  if (!buf) {
    snprintf(err, SSS_ERROR_SIZE, "mini host: out of memory for %llu bytes",
             (unsigned long long)size);
    return 1;
  }
  uint64_t got = 0;
  for (;;) {
    size_t want = size - got < READ_CHUNK ? (size_t)(size - got) : READ_CHUNK;
    uint8_t extra;
    int64_t n = want ? reader->read(reader->reader_ctx, buf + got, want)
                     : reader->read(reader->reader_ctx, &extra, 1);
    if (n == 0) break;
    if (n < 0 || (!want && n > 0)) {
      snprintf(err, SSS_ERROR_SIZE,
               "mini host: the reader %s after %llu of %llu bytes",
               n < 0 ? "failed" : "yields more", (unsigned long long)got,
               (unsigned long long)size);
      pthread_mutex_lock(&h->mu);
      h->applies++;
      h->bytes_offered += got;
      pthread_mutex_unlock(&h->mu);
      free(buf);
      return 1;
    }
    got += (uint64_t)n;
  }
  pthread_mutex_lock(&h->mu);
  h->applies++;
  h->bytes_offered += got;
  if (got != size) {
    pthread_mutex_unlock(&h->mu);
    free(buf);
    snprintf(err, SSS_ERROR_SIZE,
             "mini host: the reader ended after %llu of %llu bytes",
             (unsigned long long)got, (unsigned long long)size);
    return 1;
  }
  free(h->data);
  h->data = buf;
  h->len = got;
  h->reader_path_size = path_size;
  h->installed++;
  pthread_mutex_unlock(&h->mu);
  return 0;
}

static void cb_log(void *ctx, int level, const char *message) {
  mini_host *h = ctx;
  if (!message) return;
  if (h->verbose) fprintf(stderr, "[plugin %d] %s\n", level, message);
  pthread_mutex_lock(&h->mu);
  size_t cur = strlen(h->log_tail), add = strlen(message) + 3;
  if (add >= sizeof h->log_tail) add = sizeof h->log_tail - 1;
  if (cur + add >= sizeof h->log_tail) { /* drop the oldest half */
    size_t keep = cur / 2;
    memmove(h->log_tail, h->log_tail + cur - keep, keep + 1);
    cur = keep;
    if (cur + add >= sizeof h->log_tail) {
      h->log_tail[0] = '\0';
      cur = 0;
    }
  }
  snprintf(h->log_tail + cur, sizeof h->log_tail - cur, " | %s", message);
  pthread_mutex_unlock(&h->mu);
}

static void on_result(void *ctx, const sss_task_result *r) {
  mini_host *h = ctx;
  pthread_mutex_lock(&h->mu);
  mini_result *m = &h->result;
  if (m->received++) {
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
    return;
  }
  m->status = r->status;
  copy_text(m->message, sizeof m->message, r->message);
  m->entry_status = SSS_ERR_NOT_FOUND;
  if (r->n_entries && r->entries) {
    const sss_entry_result *e = r->entries;
    m->entry_status = e->status;
    copy_text(m->entry_message, sizeof m->entry_message, e->message);
    copy_text(m->entry_source, sizeof m->entry_source, e->source);
    m->entry_bytes = e->bytes;
    m->has_source_list = SSS_HAS_MEMBER(e, sss_entry_result, source_bytes);
    if (m->has_source_list && e->source_urls && e->source_bytes)
      for (size_t i = 0; i < e->n_sources && i < MINI_MAX; i++) {
        copy_text(m->source_urls[i], MINI_TEXT, e->source_urls[i]);
        m->source_bytes[i] = e->source_bytes[i];
        m->n_sources++;
      }
  }
  if (SSS_HAS_MEMBER(r, sss_task_result, banned_reasons) && r->banned_sources)
    for (size_t i = 0; i < r->n_banned && i < MINI_MAX; i++) {
      copy_text(m->banned_urls[i], MINI_TEXT, r->banned_sources[i]);
      copy_text(m->banned_reasons[i], MINI_TEXT,
                r->banned_reasons ? r->banned_reasons[i] : NULL);
      m->n_banned++;
    }
  pthread_cond_broadcast(&h->cv);
  pthread_mutex_unlock(&h->mu);
}

int mini_open(mini_host *h, const char *so_path, char *err, size_t err_len) {
  memset(h, 0, sizeof *h);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&h->cv, &ca);
  pthread_condattr_destroy(&ca);
  pthread_mutex_init(&h->mu, NULL);
  const char *v = getenv("SSS_TEST_VERBOSE");
  h->verbose = v && *v && strcmp(v, "0") != 0;
  h->dl = dlopen(so_path, RTLD_NOW | RTLD_LOCAL);
  if (!h->dl) {
    snprintf(err, err_len, "dlopen %s: %s", so_path, dlerror());
    return -1;
  }
  sss_plugin_entry_fn entry =
      (sss_plugin_entry_fn)dlsym(h->dl, SSS_PLUGIN_ENTRY_SYMBOL);
  h->vt = entry ? entry(SSS_ABI_MAJOR) : NULL;
  if (!h->vt) {
    snprintf(err, err_len, "%s has no ABI %d vtable", so_path, SSS_ABI_MAJOR);
    dlclose(h->dl);
    h->dl = NULL;
    return -1;
  }
  h->host = (sss_host){.struct_size = sizeof(sss_host),
                       .ctx = h,
                       .gossip_nodes = cb_gossip,
                       .bk_set = cb_bk,
                       .apply_snapshot = cb_apply,
                       .log = cb_log};
  return 0;
}

int mini_create(mini_host *h, char *err) {
  return h->vt->create(&h->host, &h->inst, err);
}

void mini_add_node(mini_host *h, const char *id, const char *url, int in_bk) {
  pthread_mutex_lock(&h->mu);
  if (h->n_nodes < MINI_MAX) {
    copy_text(h->node_ids[h->n_nodes], sizeof h->node_ids[0], id);
    copy_text(h->node_urls[h->n_nodes], sizeof h->node_urls[0], url);
    h->in_bk[h->n_nodes] = in_bk;
    h->n_nodes++;
  }
  pthread_mutex_unlock(&h->mu);
}

int mini_set(mini_host *h, const char *key, const char *value, char *err) {
  return h->vt->set_option(h->inst, key, value, err);
}

int mini_load(mini_host *h, const sss_block_id *block, const uint8_t *sha256,
              uint64_t size, int with_size, char *err) {
  sss_load_entry e = {.struct_size = sizeof e, .block_id = *block};
  if (sha256) {
    e.flags |= SSS_ENTRY_HAS_SHA256;
    memcpy(e.sha256, sha256, SSS_SHA256_LEN);
  }
  if (with_size) {
    e.flags |= SSS_ENTRY_HAS_SIZE;
    e.size = size;
  }
  sss_task_output out = {
      .struct_size = sizeof out, .output_ctx = h, .on_result = on_result};
  return h->vt->add_load_state_task(h->inst, &e, 1, h, &out, err);
}

int mini_wait(mini_host *h, int timeout_ms) {
  struct timespec until;
  clock_gettime(CLOCK_MONOTONIC, &until);
  until.tv_sec += timeout_ms / 1000;
  until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
  if (until.tv_nsec >= 1000000000L) {
    until.tv_sec++;
    until.tv_nsec -= 1000000000L;
  }
  pthread_mutex_lock(&h->mu);
  while (!h->result.received)
    if (pthread_cond_timedwait(&h->cv, &h->mu, &until) != 0) break;
  int got = h->result.received > 0;
  pthread_mutex_unlock(&h->mu);
  return got;
}

void mini_destroy(mini_host *h) {
  if (h->vt && h->inst) h->vt->destroy(h->inst);
  h->inst = NULL;
}

void mini_close(mini_host *h) {
  if (!h->vt && !h->dl) return;
  mini_destroy(h);
  if (h->dl) dlclose(h->dl);
  h->dl = NULL;
  h->vt = NULL;
  free(h->data);
  h->data = NULL;
  pthread_mutex_destroy(&h->mu);
  pthread_cond_destroy(&h->cv);
}
