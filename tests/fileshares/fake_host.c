#include "fake_host.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

uint64_t fake_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void hexs(const uint8_t *b, size_t n, char *out) {
  for (size_t i = 0; i < n; i++) sprintf(out + 2 * i, "%02x", b[i]);
}

static void count_after_destroy(fake_host *f) {
  if (__atomic_load_n(&f->destroyed, __ATOMIC_SEQ_CST))
    __atomic_fetch_add(&f->callbacks_after_destroy, 1, __ATOMIC_SEQ_CST);
}

static int cb_gossip(void *ctx, sss_gossip_visit_fn visit, void *vctx) {
  fake_host *f = ctx;
  count_after_destroy(f);
  pthread_mutex_lock(&f->mu);
  for (int i = 0; i < f->n_nodes; i++) {
    const char *k[] = {"api_advertise_addr"}, *v[] = {f->node_urls[i]};
    visit(vctx, f->node_ids[i], k, v, 1);
  }
  pthread_mutex_unlock(&f->mu);
  return 0;
}

static int cb_bk(void *ctx, sss_node_visit_fn visit, void *vctx) {
  fake_host *f = ctx;
  count_after_destroy(f);
  pthread_mutex_lock(&f->mu);
  for (int i = 0; i < f->n_bk; i++) visit(vctx, f->bk[i]);
  pthread_mutex_unlock(&f->mu);
  return 0;
}

static const fake_snapshot *find_snap(fake_host *f, const char *url) {
  for (int i = 0; i < f->n_snaps; i++) {
    char hex[65];
    hexs(f->snaps[i].block.bytes, 32, hex);
    if (strstr(url, hex)) return &f->snaps[i];
  }
  return NULL;
}

static int behaviour_of(fake_host *f, const char *url) {
  const char *h = strstr(url, "://");
  h = h ? h + 3 : url;
  for (int i = 0; i < f->n_behaviours; i++) {
    size_t n = strlen(f->behaviour_host[i]);
    if (!strncmp(h, f->behaviour_host[i], n) && (h[n] == '/' || h[n] == ':'))
      return f->behaviour[i];
  }
  return FAKE_SERVE;
}

typedef struct job {
  const sss_blob_sink *sink_ptr;
  sss_blob_sink sink;
  const fake_snapshot *snap;
  int corrupt, not_found, deliver;
} job;

static void *run_job(void *arg) {
  job *j = arg;
  if (j->not_found || !j->snap) {
    j->sink.finish(j->sink.sink_ctx, SSS_ERR_NOT_FOUND, 404, "404 Not Found");
  } else if (!j->deliver) {
    j->sink.finish(j->sink.sink_ctx, SSS_ERR_CANCELLED, 0, "cancelled");
  } else {
    uint8_t buf[4096];
    uint64_t off = 0;
    int rc = SSS_OK;
    while (off < j->snap->size) {
      size_t n = j->snap->size - off < sizeof buf ? (size_t)(j->snap->size - off)
                                                  : sizeof buf;
      memcpy(buf, j->snap->data + off, n);
      if (j->corrupt && off == 0) buf[n / 2] ^= 0x5a;
      if (j->sink.write(j->sink.sink_ctx, buf, n)) {
        rc = SSS_ERR_CANCELLED;
        break;
      }
      off += n;
    }
    j->sink.finish(j->sink.sink_ctx, rc, rc ? 0 : 200, rc ? "aborted" : NULL);
  }
  free(j);
  return NULL;
}

static void spawn(fake_host *f, job *j) {
  /* Called with f->mu held. */
  pthread_create(&f->workers[f->n_workers++], NULL, run_job, j);
}

static int cb_load_blob(void *ctx, const sss_blob_request *req,
                        const sss_blob_sink *sink, char *err) {
  fake_host *f = ctx;
  count_after_destroy(f);
  pthread_mutex_lock(&f->mu);
  if (f->n_requests < 256) {
    f->request_ms[f->n_requests] = fake_now_ms();
    f->requests[f->n_requests++] = strdup(req->url);
  }
  pthread_cond_broadcast(&f->cv);
  int b = behaviour_of(f, req->url);
  const fake_snapshot *snap = find_snap(f, req->url);
  if (f->fail_first_n > 0) {
    f->fail_first_n--;
    b = FAKE_404;
  } else if (f->hold_snap && snap == f->hold_snap) {
    b = FAKE_HOLD;
  } else if (b == FAKE_SERVE && f->corrupt_first_n > 0) {
    f->corrupt_first_n--;
    b = FAKE_CORRUPT;
  }
  if (b == FAKE_REFUSE) {
    pthread_mutex_unlock(&f->mu);
    snprintf(err, SSS_ERROR_SIZE, "fake host refuses %s", req->url);
    return -1;
  }
  if (b == FAKE_HOLD) {
    f->held_snap[f->n_held] = snap;
    f->held[f->n_held++] = sink;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
    return 0;
  }
  job *j = calloc(1, sizeof *j);
  j->sink = *sink;
  j->snap = snap;
  j->corrupt = b == FAKE_CORRUPT;
  j->not_found = b == FAKE_404;
  j->deliver = 1;
  spawn(f, j);
  pthread_mutex_unlock(&f->mu);
  return 0;
}

static void cb_cancel_blob(void *ctx, const sss_blob_sink *sink) {
  fake_host *f = ctx;
  pthread_mutex_lock(&f->mu);
  f->cancels++;
  (void)sink; /* held requests are finished by fake_release_held */
  pthread_mutex_unlock(&f->mu);
}

static int cb_apply(void *ctx, void *repository, const sss_thread_id *thread,
                    const sss_block_id *block, const sss_reader *reader,
                    uint64_t size, char *err) {
  fake_host *f = ctx;
  (void)repository;
  count_after_destroy(f);
  pthread_mutex_lock(&f->mu);
  f->applies++;
  f->in_apply = 1;
  pthread_cond_broadcast(&f->cv);
  while (f->gate_apply && !f->gate_open) pthread_cond_wait(&f->cv, &f->mu);
  int reject = f->reject_next > 0 ? (f->reject_next--, 1) : 0;
  const fake_snapshot *snap = NULL;
  for (int i = 0; i < f->n_snaps; i++)
    if (!memcmp(&f->snaps[i].block, block, sizeof *block) &&
        !memcmp(&f->snaps[i].thread, thread, sizeof *thread))
      snap = &f->snaps[i];
  pthread_mutex_unlock(&f->mu);
  int rc = 0;
  if (!snap || size != snap->size) {
    snprintf(err, SSS_ERROR_SIZE, "unknown snapshot or wrong size");
    rc = -1;
  } else {
    uint8_t buf[3000];
    uint64_t off = 0;
    int64_t n;
    while ((n = reader->read(reader->reader_ctx, buf, sizeof buf)) > 0) {
      if (off + (uint64_t)n > size || memcmp(buf, snap->data + off, (size_t)n)) {
        rc = -1;
        snprintf(err, SSS_ERROR_SIZE, "bytes differ near offset %llu",
                 (unsigned long long)off);
        break;
      }
      off += (uint64_t)n;
    }
    if (!rc && (n < 0 || off != size)) {
      rc = -1;
      snprintf(err, SSS_ERROR_SIZE, "short read: %llu bytes", (unsigned long long)off);
    }
    if (!rc && reject) {
      rc = -1;
      snprintf(err, SSS_ERROR_SIZE, "the test repository rejects this one");
    }
  }
  pthread_mutex_lock(&f->mu);
  if (!rc) f->installed++;
  f->in_apply = 0;
  pthread_cond_broadcast(&f->cv);
  pthread_mutex_unlock(&f->mu);
  return rc;
}

static void cb_state_request(void *ctx) {
  fake_host *f = ctx;
  pthread_mutex_lock(&f->mu);
  f->state_requests++;
  pthread_mutex_unlock(&f->mu);
}

static void cb_error(void *ctx, int kind) {
  fake_host *f = ctx;
  pthread_mutex_lock(&f->mu);
  if (kind > 0 && kind < 8) f->errors_by_kind[kind]++;
  pthread_cond_broadcast(&f->cv);
  pthread_mutex_unlock(&f->mu);
}

static void cb_log(void *ctx, int level, const char *msg) {
  (void)ctx;
  if (getenv("SSS_TEST_LOG") || level <= SSS_LOG_ERROR)
    fprintf(stderr, "[plugin %d] %s\n", level, msg);
}

static void on_result(void *ctx, const sss_task_result *r) {
  fake_host *f = ctx;
  count_after_destroy(f);
  pthread_mutex_lock(&f->mu);
  f->results++;
  f->result_status = r->status;
  snprintf(f->result_message, sizeof f->result_message, "%s", r->message);
  for (size_t i = 0; i < r->n_entries && i < FAKE_MAX; i++)
    snprintf(f->entry_messages[i], sizeof f->entry_messages[i], "%s",
             r->entries[i].message ? r->entries[i].message : "");
  f->n_banned = 0;
  for (size_t i = 0; i < r->n_banned && i < FAKE_MAX; i++)
    snprintf(f->banned[f->n_banned++], 256, "%s", r->banned_sources[i]);
  int readd = f->readd_on_result;
  f->readd_on_result = 0;
  pthread_cond_broadcast(&f->cv);
  pthread_mutex_unlock(&f->mu);
  if (readd) {
    sss_load_entry e = fake_entry(&f->snaps[0], 1, 1);
    sss_task_output out = fake_output(f);
    int rc = f->plugin->add_load_state_task(f->instance, &e, 1, NULL, &out, NULL);
    pthread_mutex_lock(&f->mu);
    f->readd_status = rc;
    pthread_mutex_unlock(&f->mu);
  }
}

void fake_init(fake_host *f) {
  memset(f, 0, sizeof *f);
  pthread_mutex_init(&f->mu, NULL);
  pthread_cond_init(&f->cv, NULL);
  f->readd_status = 99;
  f->host = (sss_host){.struct_size = sizeof(sss_host),
                       .ctx = f,
                       .gossip_nodes = cb_gossip,
                       .bk_set = cb_bk,
                       .apply_snapshot = cb_apply,
                       .load_blob = cb_load_blob,
                       .cancel_blob = cb_cancel_blob,
                       .report_state_request = cb_state_request,
                       .report_error = cb_error,
                       .log = cb_log};
}

void fake_release(fake_host *f) {
  fake_release_held(f, 0);
  pthread_mutex_lock(&f->mu);
  int n = f->n_workers;
  pthread_mutex_unlock(&f->mu);
  for (int i = 0; i < n; i++) pthread_join(f->workers[i], NULL);
  for (int i = 0; i < f->n_nodes; i++) {
    free(f->node_ids[i]);
    free(f->node_urls[i]);
  }
  for (int i = 0; i < f->n_bk; i++) free(f->bk[i]);
  for (int i = 0; i < f->n_behaviours; i++) free(f->behaviour_host[i]);
  for (int i = 0; i < f->n_snaps; i++) free(f->snaps[i].data);
  for (int i = 0; i < f->n_requests; i++) free(f->requests[i]);
  pthread_cond_destroy(&f->cv);
  pthread_mutex_destroy(&f->mu);
}

void fake_add_node(fake_host *f, const char *id, const char *url, int in_bk) {
  pthread_mutex_lock(&f->mu);
  f->node_ids[f->n_nodes] = strdup(id);
  f->node_urls[f->n_nodes++] = strdup(url);
  if (in_bk) f->bk[f->n_bk++] = strdup(id);
  pthread_mutex_unlock(&f->mu);
}

void fake_set_behaviour(fake_host *f, const char *host, int behaviour) {
  pthread_mutex_lock(&f->mu);
  for (int i = 0; i < f->n_behaviours; i++)
    if (!strcmp(f->behaviour_host[i], host)) {
      f->behaviour[i] = behaviour;
      pthread_mutex_unlock(&f->mu);
      return;
    }
  f->behaviour_host[f->n_behaviours] = strdup(host);
  f->behaviour[f->n_behaviours++] = behaviour;
  pthread_mutex_unlock(&f->mu);
}

fake_snapshot *fake_add_snapshot(fake_host *f, int i, uint64_t size) {
  fake_snapshot *s = &f->snaps[f->n_snaps++];
  memset(s, 0, sizeof *s);
  for (int k = 0; k < 34; k++) s->thread.bytes[k] = (uint8_t)(i * 7 + k);
  for (int k = 0; k < 32; k++) s->block.bytes[k] = (uint8_t)(i * 13 + k * 3 + 1);
  s->size = size;
  s->data = malloc(size);
  uint64_t x = 0x9e3779b97f4a7c15ULL * (uint64_t)(i + 1);
  for (uint64_t k = 0; k < size; k++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    s->data[k] = (uint8_t)x;
  }
  unsigned int len = 0;
  EVP_Digest(s->data, size, s->sha256, &len, EVP_sha256(), NULL);
  return s;
}

sss_load_entry fake_entry(const fake_snapshot *s, int with_sha, int with_size) {
  sss_load_entry e = {.struct_size = sizeof e, .thread_id = s->thread,
                      .block_id = s->block};
  if (with_sha) {
    e.flags |= SSS_ENTRY_HAS_SHA256;
    memcpy(e.sha256, s->sha256, 32);
  }
  if (with_size) {
    e.flags |= SSS_ENTRY_HAS_SIZE;
    e.size = s->size;
  }
  return e;
}

sss_task_output fake_output(fake_host *f) {
  return (sss_task_output){.struct_size = sizeof(sss_task_output),
                           .output_ctx = f,
                           .on_result = on_result};
}

static int wait_until(fake_host *f, int *field, int n, int timeout_ms) {
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += timeout_ms / 1000;
  until.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
  if (until.tv_nsec >= 1000000000) {
    until.tv_sec++;
    until.tv_nsec -= 1000000000;
  }
  pthread_mutex_lock(&f->mu);
  while (*field < n && pthread_cond_timedwait(&f->cv, &f->mu, &until) == 0) {
  }
  int v = *field;
  pthread_mutex_unlock(&f->mu);
  return v;
}

int fake_wait_results(fake_host *f, int n, int timeout_ms) {
  return wait_until(f, &f->results, n, timeout_ms);
}
int fake_wait_requests(fake_host *f, int n, int timeout_ms) {
  return wait_until(f, &f->n_requests, n, timeout_ms);
}
int fake_wait_held(fake_host *f, int n, int timeout_ms) {
  return wait_until(f, &f->n_held, n, timeout_ms);
}
int fake_wait_errors(fake_host *f, int kind, int n, int timeout_ms) {
  return wait_until(f, &f->errors_by_kind[kind], n, timeout_ms);
}
int fake_wait_in_apply(fake_host *f, int timeout_ms) {
  return wait_until(f, &f->in_apply, 1, timeout_ms);
}

void fake_release_held(fake_host *f, int deliver) {
  pthread_mutex_lock(&f->mu);
  for (int i = 0; i < f->n_held; i++) {
    job *j = calloc(1, sizeof *j);
    j->sink = *f->held[i];
    j->deliver = deliver;
    j->snap = f->held_snap[i];
    spawn(f, j);
  }
  f->n_held = 0;
  pthread_mutex_unlock(&f->mu);
}

void fake_open_gate(fake_host *f) {
  pthread_mutex_lock(&f->mu);
  f->gate_open = 1;
  pthread_cond_broadcast(&f->cv);
  pthread_mutex_unlock(&f->mu);
}
