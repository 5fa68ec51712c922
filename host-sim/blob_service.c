#include "blob_service.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <utlist.h>

#include "share_dir.h"
#include "status.h"

typedef struct blob_req {
  struct blob_req *prev, *next; /* utlist: in the queue or the active list */
  hs_node *node;                /* NULL: nothing listens at host:port */
  hs_fault fault;               /* the node's fault when the request came */
  char authority[300];          /* host:port, for messages */
  char path[PATH_MAX];          /* file in the node's share directory */
  char rel[PATH_MAX];           /* URL path, for messages */
  uint64_t max_bytes;
  void *sink_ctx;
  int (*write)(void *sink_ctx, const void *data, size_t len);
  void (*finish)(void *sink_ctx, int status, int http_status,
                 const char *message);
  int cancelled; /* guarded by the service's mutex */
} blob_req;

struct hs_blob_service {
  pthread_mutex_t mu;
  pthread_cond_t work; /* a request was queued, or stopping */
  pthread_cond_t wake; /* a request was cancelled (ends slow waits) */
  blob_req *queue, *active;
  int stopping;
  hs_cluster *cluster;
  size_t chunk;
  unsigned n_workers;
  pthread_t *workers;
};

static void *worker_main(void *arg);

static int init_cond(pthread_cond_t *c) {
  pthread_condattr_t a;
  pthread_condattr_init(&a);
  pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
  int rc = pthread_cond_init(c, &a);
  pthread_condattr_destroy(&a);
  return rc;
}

int hs_blob_service_start(hs_blob_service **out, hs_cluster *cluster,
                          unsigned n_workers, size_t chunk, char *err) {
  *out = NULL;
  hs_blob_service *s = calloc(1, sizeof *s);
  if (!s || !(s->workers = calloc(n_workers, sizeof *s->workers))) {
    free(s);
    snprintf(err, HS_ERR_SIZE, "out of memory starting the blob service");
    return -1;
  }
  pthread_mutex_init(&s->mu, NULL);
  init_cond(&s->work);
  init_cond(&s->wake);
  s->cluster = cluster;
  s->chunk = chunk ? chunk : 256 * 1024;
  for (; s->n_workers < n_workers; s->n_workers++) {
    int rc = pthread_create(&s->workers[s->n_workers], NULL, worker_main, s);
    if (rc != 0) {
      snprintf(err, HS_ERR_SIZE,
               "cannot start blob service worker %u (%s): raise the thread "
               "limit (ulimit -u)",
               s->n_workers, strerror(rc));
      hs_blob_service_stop(s);
      return -1;
    }
  }
  *out = s;
  return 0;
}

void hs_blob_service_stop(hs_blob_service *s) {
  if (!s) return;
  pthread_mutex_lock(&s->mu);
  s->stopping = 1;
  blob_req *r;
  DL_FOREACH(s->queue, r) r->cancelled = 1;
  DL_FOREACH(s->active, r) r->cancelled = 1;
  pthread_cond_broadcast(&s->work);
  pthread_cond_broadcast(&s->wake);
  pthread_mutex_unlock(&s->mu);
  for (unsigned i = 0; i < s->n_workers; i++)
    pthread_join(s->workers[i], NULL);
  pthread_cond_destroy(&s->work);
  pthread_cond_destroy(&s->wake);
  pthread_mutex_destroy(&s->mu);
  free(s->workers);
  free(s);
}

/* Parses url into r's node, authority and file path. Returns 0, or a
 * negative status with a sentence in err. */
static int route(hs_blob_service *s, const char *url, blob_req *r, char *err) {
  CURLU *u = curl_url();
  char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL;
  int rc = SSS_ERR_INVALID_ARGUMENT;
  if (!u) {
    rc = sss_fail(err, SSS_ERR_NO_MEMORY, "out of memory parsing '%s'", url);
    goto done;
  }
  if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
      curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
      curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
      curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK ||
      curl_url_get(u, CURLUPART_PATH, &path, CURLU_URLDECODE) != CURLUE_OK) {
    sss_fail(err, rc,
             "blob URL '%s' does not parse: pass an absolute http "
             "URL",
             url);
    goto done;
  }
  if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) {
    sss_fail(err, rc,
             "blob URL '%s' has scheme '%s': the host serves http "
             "and https only",
             url, scheme);
    goto done;
  }
  if (path[0] != '/' || path[1] == '\0' || strstr(path, "..") ||
      strlen(path) >= sizeof r->rel) {
    sss_fail(err, rc,
             "blob URL '%s' has path '%s', which names no file: ask "
             "for a resource below the node's base URL",
             url, path);
    goto done;
  }
  snprintf(r->authority, sizeof r->authority, "%s:%s", host, port);
  snprintf(r->rel, sizeof r->rel, "%s", path + 1);
  r->node = hs_cluster_route(s->cluster, host, atoi(port), &r->fault);
  if (r->node && snprintf(r->path, sizeof r->path, "%s/%s", r->node->share_dir,
                          r->rel) >= (int)sizeof r->path) {
    sss_fail(err, rc,
             "blob URL '%s' maps to too long a file path: use a "
             "shorter TMPDIR",
             url);
    goto done;
  }
  rc = SSS_OK;
done:
  curl_free(scheme);
  curl_free(host);
  curl_free(port);
  curl_free(path);
  curl_url_cleanup(u);
  return rc;
}

int hs_blob_load(hs_blob_service *s, const sss_blob_request *req,
                 const sss_blob_sink *sink, char *err) {
  if (!req || !SSS_HAS_MEMBER(req, sss_blob_request, url) || !req->url)
    return sss_fail(err, SSS_ERR_INVALID_ARGUMENT,
                    "load_blob got no request or no URL: pass an "
                    "sss_blob_request with struct_size and url set");
  if (!sink || !SSS_HAS_MEMBER(sink, sss_blob_sink, finish) || !sink->write ||
      !sink->finish)
    return sss_fail(err, SSS_ERR_INVALID_ARGUMENT,
                    "load_blob for '%s' got a sink without write or finish: "
                    "fill struct_size, write and finish",
                    req->url);
  blob_req *r = calloc(1, sizeof *r);
  if (!r)
    return sss_fail(err, SSS_ERR_NO_MEMORY, "out of memory queueing '%s'",
                    req->url);
  int rc = route(s, req->url, r, err);
  if (rc != SSS_OK) {
    free(r);
    return rc;
  }
  r->max_bytes =
      SSS_HAS_MEMBER(req, sss_blob_request, max_bytes) ? req->max_bytes : 0;
  r->sink_ctx = sink->sink_ctx;
  r->write = sink->write;
  r->finish = sink->finish;
  pthread_mutex_lock(&s->mu);
  if (s->stopping) {
    pthread_mutex_unlock(&s->mu);
    free(r);
    return sss_fail(err, SSS_ERR_CANCELLED,
                    "the host's blob service is stopping: '%s' was not "
                    "requested",
                    req->url);
  }
  DL_APPEND(s->queue, r);
  pthread_cond_signal(&s->work);
  pthread_mutex_unlock(&s->mu);
  return SSS_OK;
}

void hs_blob_cancel(hs_blob_service *s, const sss_blob_sink *sink) {
  if (!sink) return;
  blob_req *r;
  pthread_mutex_lock(&s->mu);
  DL_FOREACH(s->queue, r) if (r->sink_ctx == sink->sink_ctx) r->cancelled = 1;
  DL_FOREACH(s->active, r) if (r->sink_ctx == sink->sink_ctx) r->cancelled = 1;
  pthread_cond_broadcast(&s->wake);
  pthread_mutex_unlock(&s->mu);
}

static int is_cancelled(hs_blob_service *s, blob_req *r) {
  pthread_mutex_lock(&s->mu);
  int c = r->cancelled;
  pthread_mutex_unlock(&s->mu);
  return c;
}

/* Waits until `until` (CLOCK_MONOTONIC) or a cancellation of r. Returns 1
 * when r was cancelled. */
static int wait_until(hs_blob_service *s, blob_req *r,
                      const struct timespec *until) {
  pthread_mutex_lock(&s->mu);
  while (!r->cancelled &&
         pthread_cond_timedwait(&s->wake, &s->mu, until) != ETIMEDOUT) {
  }
  int c = r->cancelled;
  pthread_mutex_unlock(&s->mu);
  return c;
}

typedef struct outcome {
  int status;
  int http;
  uint64_t delivered;
  char msg[SSS_ERROR_SIZE];
} outcome;

static int set_outcome(outcome *o, int status, int http, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Records how a request ends; returns status for `return set_outcome(..)`. */
static int set_outcome(outcome *o, int status, int http, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(o->msg, sizeof o->msg, fmt, ap);
  va_end(ap);
  o->status = status;
  o->http = http;
  return status;
}

/* Delivers the file body of r with its fault applied. */
static void deliver(hs_blob_service *s, blob_req *r, int fd, uint64_t size,
                    outcome *o) {
  const hs_fault *f = &r->fault;
  uint64_t real_size = size;
  if (f->kind == HS_FAULT_OVERSIZED) size += f->has_arg ? f->arg : 65536;
  uint64_t limit = size;
  if (f->kind == HS_FAULT_TRUNCATE || f->kind == HS_FAULT_STALL)
    limit = f->has_arg ? (f->arg < size ? f->arg : size) : size / 2;
  uint64_t corrupt_at = f->has_arg ? f->arg : size / 2;
  size_t chunk = s->chunk;
  if (f->kind == HS_FAULT_SLOW) { /* about ten writes per second */
    uint64_t per_tick = f->arg / 10 ? f->arg / 10 : 1;
    if (per_tick < chunk) chunk = (size_t)per_tick;
  }
  uint8_t *buf = malloc(chunk);
  if (!buf) {
    set_outcome(o, SSS_ERR_NO_MEMORY, 0,
                "the host ran out of memory serving "
                "'%s'",
                r->rel);
    return;
  }
  struct timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  while (o->delivered < limit) {
    if (is_cancelled(s, r)) {
      set_outcome(o, SSS_ERR_CANCELLED, 200,
                  "the transfer of '%s' from %s "
                  "was cancelled after %" PRIu64 " bytes",
                  r->rel, r->node->name, o->delivered);
      break;
    }
    size_t n =
        limit - o->delivered < chunk ? (size_t)(limit - o->delivered) : chunk;
    ssize_t got;
    if (o->delivered >= real_size) { /* oversized: zeros past the file */
      memset(buf, 0, n);
      got = (ssize_t)n;
    } else {
      if (o->delivered + n > real_size) n = (size_t)(real_size - o->delivered);
      got = pread(fd, buf, n, (off_t)o->delivered);
    }
    if (got <= 0) {
      set_outcome(o, SSS_ERR_NETWORK, 200,
                  "node %s could not read '%s' at "
                  "byte %" PRIu64 " (%s)",
                  r->node->name, r->rel, o->delivered,
                  got < 0 ? strerror(errno) : "file shrank");
      break;
    }
    if (f->kind == HS_FAULT_CORRUPT && corrupt_at >= o->delivered &&
        corrupt_at < o->delivered + (uint64_t)got)
      buf[corrupt_at - o->delivered] ^= 0xff;
    if (r->write(r->sink_ctx, buf, (size_t)got) != 0) {
      set_outcome(o, SSS_ERR_CANCELLED, 200,
                  "the plugin stopped the "
                  "transfer of '%s' from %s after %" PRIu64 " bytes",
                  r->rel, r->node->name, o->delivered + (uint64_t)got);
      o->delivered += (uint64_t)got;
      break;
    }
    o->delivered += (uint64_t)got;
    if (f->kind == HS_FAULT_SLOW && o->delivered < limit) {
      /* Due time of the next byte at the configured rate. */
      uint64_t ns = o->delivered * 1000000000ull / f->arg;
      struct timespec due = start;
      due.tv_sec += (time_t)(ns / 1000000000ull);
      due.tv_nsec += (long)(ns % 1000000000ull);
      if (due.tv_nsec >= 1000000000L) {
        due.tv_sec++;
        due.tv_nsec -= 1000000000L;
      }
      wait_until(s, r, &due); /* a cancel is seen at the loop's top */
    }
  }
  free(buf);
  if (f->kind == HS_FAULT_STALL && o->status == SSS_OK &&
      o->delivered < size) {
    /* Silence until the plugin gives up on it (or the service stops). */
    pthread_mutex_lock(&s->mu);
    while (!r->cancelled)
      pthread_cond_wait(&s->wake, &s->mu);
    pthread_mutex_unlock(&s->mu);
    set_outcome(o, SSS_ERR_CANCELLED, 200,
                "node %s stalled after %" PRIu64 " bytes of '%s' (simulated "
                "stall) until the request was cancelled",
                r->node->name, o->delivered, r->rel);
    return;
  }
  if (o->status == SSS_OK && o->delivered < size)
    set_outcome(o, SSS_ERR_NETWORK, 200,
                "node %s closed the connection "
                "after %" PRIu64 " of %" PRIu64 " bytes of '%s' (simulated "
                "truncate)",
                r->node->name, o->delivered, size, r->rel);
}

static int serve(hs_blob_service *s, blob_req *r, outcome *o) {
  hs_node *n = r->node;
  if (is_cancelled(s, r))
    return set_outcome(o, SSS_ERR_CANCELLED, 0,
                       "the request for '%s' was "
                       "cancelled before it started",
                       r->rel);
  if (!n)
    return set_outcome(o, SSS_ERR_NETWORK, 0,
                       "connection to %s refused: no "
                       "simulated node listens there",
                       r->authority);
  switch (r->fault.kind) {
  case HS_FAULT_DOWN:
    return set_outcome(o, SSS_ERR_NETWORK, 0,
                       "connection to node %s (%s) "
                       "refused: the node is down (simulated fault)",
                       n->name, r->authority);
  case HS_FAULT_404:
    return set_outcome(o, SSS_ERR_NOT_FOUND, 404,
                       "node %s answered HTTP 404 "
                       "for '%s' (simulated fault)",
                       n->name, r->rel);
  case HS_FAULT_500:
    return set_outcome(o, SSS_ERR_NETWORK, 500,
                       "node %s answered HTTP 500 "
                       "for '%s' (simulated fault)",
                       n->name, r->rel);
  case HS_FAULT_REDIRECT:
    return set_outcome(o, SSS_ERR_NETWORK, 302,
                       "node %s redirected '%s' to ftp://%s/%s, a protocol "
                       "the host does not follow (simulated fault)",
                       n->name, r->rel, r->authority, r->rel);
  default: break;
  }
  int fd = open(r->path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT || errno == ENOTDIR || errno == EISDIR)
      return set_outcome(o, SSS_ERR_NOT_FOUND, 404,
                         "node %s has no file "
                         "'%s' (HTTP 404)",
                         n->name, r->rel);
    return set_outcome(o, SSS_ERR_NETWORK, 500,
                       "node %s cannot open '%s' "
                       "(%s): HTTP 500",
                       n->name, r->rel, strerror(errno));
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return set_outcome(o, SSS_ERR_NOT_FOUND, 404,
                       "node %s has no file '%s' "
                       "(HTTP 404)",
                       n->name, r->rel);
  }
  uint64_t size = (uint64_t)st.st_size;
  uint64_t announced = size;
  if (r->fault.kind == HS_FAULT_OVERSIZED)
    announced += r->fault.has_arg ? r->fault.arg : 65536;
  if (r->max_bytes && announced > r->max_bytes) {
    close(fd);
    return set_outcome(o, SSS_ERR_TOO_LARGE, 200,
                       "'%s' on node %s has %" PRIu64
                       " bytes, more than the %" PRIu64 " asked for",
                       r->rel, n->name, announced, r->max_bytes);
  }
  deliver(s, r, fd, size, o);
  close(fd);
  return o->status;
}

static void *worker_main(void *arg) {
  hs_blob_service *s = arg;
  pthread_mutex_lock(&s->mu);
  for (;;) {
    while (!s->queue && !s->stopping)
      pthread_cond_wait(&s->work, &s->mu);
    blob_req *r = s->queue;
    if (!r) break; /* stopping and drained */
    DL_DELETE(s->queue, r);
    DL_APPEND(s->active, r);
    pthread_mutex_unlock(&s->mu);

    outcome o = {.status = SSS_OK, .http = 200};
    serve(s, r, &o);

    pthread_mutex_lock(&s->mu);
    DL_DELETE(s->active, r);
    pthread_mutex_unlock(&s->mu);
    if (r->node)
      hs_cluster_count_result(s->cluster, r->node, o.delivered,
                              o.status == SSS_OK);
    r->finish(r->sink_ctx, o.status, o.http, o.status == SSS_OK ? NULL : o.msg);
    free(r);
    pthread_mutex_lock(&s->mu);
  }
  pthread_mutex_unlock(&s->mu);
  return NULL;
}
