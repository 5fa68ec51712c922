#include "fetch.h"

#include "segments.h"
#include "status.h"
#include "task.h"

#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PROGRESS_INTERVAL_MS 200
#define SPEED_GRACE_MS 2000         /* before min_source_speed_bps applies */
#define STEAL_MIN_BYTES (64 * 1024) /* tails shorter than this are left be */
#define STEAL_MIN_ETA_MS 300        /* owners finishing sooner are left be */
#define HASH_BUF (256 * 1024)
#define CURL_BUF (256 * 1024)
#define MAX_REDIRS 3L

/* ---- data -------------------------------------------------------------- */


enum conn_kind {
  CONN_PROBE, /* first request before the size is known: chunk 0's range */
  CONN_RANGE, /* one chunk's missing bytes */
  CONN_STREAM, /* a 200 answer: the whole body from byte 0 */
  CONN_UNSIZED /* a 200 answer without a length (HTTP/1.0): the size is
                  what arrived when the server closed the connection */
};

typedef struct fs_conn {
  fs_dl *dl;
  size_t src;
  CURL *easy;
  enum conn_kind kind;
  uint64_t chunk_start; /* its chunk, by start offset (splits shift indexes) */
  uint64_t pos;     /* offset of the next byte expected */
  uint64_t req_end; /* the request asked for [.., req_end) */
  int checked;      /* status and headers validated */
  int steal;        /* end-game: 1 a duplicate of a tail, 2 a split-off tail */
  int superseded;   /* its chunk was finished by another connection */
  uint64_t started_ms, last_byte_ms;
  char fail[SSS_ERROR_SIZE]; /* why we stopped it, if we did */
  int fail_lie;              /* ... and that reason deserves a ban */
  int size_mismatch;         /* ... the reason is a size another source denies */
  int yield;                 /* ended without blame (ignores Range) */
  int fail_status;           /* the status the reason stands for, or 0 */
  struct fs_conn *next;
} fs_conn;

typedef struct fs_src {
  char *url;
  uint64_t bytes; /* received over the task, for the result */
  /* This cycle. */
  int in_cycle, dropped, busy;
  int norange;
  int size_dropped; /* dropped for a size another source contradicted */
  uint32_t cycle_requests;
  uint64_t cycle_bytes, first_byte_ms;
  /* Over the task. */
  uint64_t reported_size; /* 0 = never said */
  /* Set while one source's copy is compared with the suspect copy; it only
   * counts once that source's own copy verifies (see compare_suspect). */
  uint64_t lie_offset;    /* first offset where it differed from a suspect */
  int lied;
} fs_src;

struct fs_dl {
  fs_src *srcs;
  size_t n_srcs;
  const char **urls; /* views of srcs[i].url, for the result */
  uint64_t *bytes;   /* copies of srcs[i].bytes, for the result */
  fs_conn *conns;
  size_t n_conns;
  int have_size;
  fs_segs segs;
  /* In-order hashing. */
  EVP_MD_CTX *md;
  uint64_t hashed;
  unsigned char *buf;
  /* One source at a time after a mismatch with several contributors. */
  int single;
  size_t single_src; /* the source in use, or SIZE_MAX */
  fs_stage suspect;
  fs_segs suspect_segs;
  /* A local failure (disk full): ends the entry. */
  int fatal;
  char fatal_msg[SSS_ERROR_SIZE];
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static int global_rc;

static void global_init(void) {
  global_rc = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

int fs_fetch_global_init(void) {
  pthread_once(&global_once, global_init);
  return global_rc;
}

/* ---- helpers ----------------------------------------------------------- */

static void entry_error(fs_entry *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void entry_error(fs_entry *e, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(e->last_error, sizeof e->last_error, fmt, ap);
  va_end(ap);
}

static void conn_fail(fs_conn *c, int lie, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void conn_fail(fs_conn *c, int lie, const char *fmt, ...) {
  if (c->fail[0]) return; /* the first reason stands */
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c->fail, sizeof c->fail, fmt, ap);
  va_end(ap);
  c->fail_lie = lie;
}

/* The index of c's chunk now. */
static size_t conn_chunk(const fs_conn *c) {
  return fs_segs_find(&c->dl->segs, c->chunk_start);
}

static uint64_t src_rate(const fs_src *s, uint64_t now) {
  if (!s->first_byte_ms || now <= s->first_byte_ms) return 0;
  return s->cycle_bytes * 1000 / (now - s->first_byte_ms);
}

static int md_reset(fs_dl *dl, const fs_entry *e) {
  EVP_MD_CTX_free(dl->md);
  dl->md = NULL;
  dl->hashed = 0;
  if (!(e->in.flags & SSS_ENTRY_HAS_SHA256)) return 0;
  dl->md = EVP_MD_CTX_new();
  if (!dl->md || EVP_DigestInit_ex(dl->md, EVP_sha256(), NULL) != 1) return -1;
  return 0;
}

static void set_fatal(fs_dl *dl, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void set_fatal(fs_dl *dl, const char *fmt, ...) {
  if (dl->fatal) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(dl->fatal_msg, sizeof dl->fatal_msg, fmt, ap);
  va_end(ap);
  dl->fatal = 1;
}

/* Hashes the written prefix past dl->hashed, reading back what other
 * connections wrote. data/at: bytes just written at `at`, hashed from
 * memory when they are next in order. */
static void hash_forward(fs_dl *dl, fs_entry *e, const void *data,
                         uint64_t at, uint64_t len) {
  if (!dl->md || dl->fatal) return;
  if (data && at == dl->hashed && len) {
    EVP_DigestUpdate(dl->md, data, len);
    dl->hashed += len;
  }
  uint64_t n;
  while ((n = fs_segs_contiguous(&dl->segs, dl->hashed)) > 0) {
    if (!dl->buf && !(dl->buf = malloc(HASH_BUF))) {
      set_fatal(dl, "out of memory while hashing");
      return;
    }
    size_t want = n < HASH_BUF ? (size_t)n : HASH_BUF;
    ssize_t got = pread(e->stage.fd, dl->buf, want, (off_t)dl->hashed);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      set_fatal(dl, "cannot read back the staged file %s: %s", e->stage.path,
                got < 0 ? strerror(errno) : "unexpected end of file");
      return;
    }
    EVP_DigestUpdate(dl->md, dl->buf, (size_t)got);
    dl->hashed += (uint64_t)got;
  }
}

/* In one-source-at-a-time mode, compares new bytes with the suspect copy
 * and marks the suspect's writers of differing bytes. The marks are only a
 * suspicion: the source sending now may be the liar. They are acted on when
 * its copy verifies (ban_disagreeing) and forgotten when it does not
 * (forget_marks). */
static void compare_suspect(fs_dl *dl, const unsigned char *data, uint64_t at,
                            uint64_t len) {
  if (dl->suspect.fd < 0 || at >= dl->suspect_segs.size) return;
  unsigned char tmp[4096];
  while (len > 0) {
    size_t n = len < sizeof tmp ? (size_t)len : sizeof tmp;
    ssize_t got = pread(dl->suspect.fd, tmp, n, (off_t)at);
    if (got <= 0) return;
    for (ssize_t i = 0; i < got; i++) {
      if (tmp[i] == data[i]) continue;
      uint32_t w = fs_segs_writer_at(&dl->suspect_segs, at + (uint64_t)i);
      if (w < dl->n_srcs && !dl->srcs[w].lied) {
        dl->srcs[w].lied = 1;
        dl->srcs[w].lie_offset = at + (uint64_t)i;
      }
    }
    data += got;
    at += (uint64_t)got;
    len -= (uint64_t)got;
  }
}

/* Writes the new part of len bytes that arrived for offset at of chunk ci.
 * Returns 0, or -1 after set_fatal. */
static int store(fs_conn *c, fs_entry *e, size_t ci, uint64_t at,
                 const unsigned char *data, uint64_t len) {
  fs_dl *dl = c->dl;
  uint64_t skip = 0;
  uint64_t take = fs_segs_accept(&dl->segs, ci, at, len, &skip);
  if (take == 0) return 0;
  if (fs_stage_write(e->stage.fd, data + skip, take, at + skip) != 0) {
    set_fatal(dl, "cannot write the staged file %s: %s", e->stage.path,
              strerror(errno));
    return -1;
  }
  if (dl->single) compare_suspect(dl, data + skip, at + skip, take);
  if (fs_segs_commit(&dl->segs, ci, at + skip, take, (uint32_t)c->src) != 0) {
    set_fatal(dl, "out of memory while recording segments");
    return -1;
  }
  hash_forward(dl, e, data + skip, at + skip, take);
  return 0;
}

/* ---- per-connection callbacks (loader thread, inside perform) ----------- */

typedef struct conn_ctx {
  fs_conn *conn;
  fs_instance *inst;
  fs_entry *e;
  const sss_options *opt;
} conn_ctx;

/* Reads "bytes a-b/total" from the last response. */
static int content_range(CURL *easy, uint64_t *a, uint64_t *b,
                         uint64_t *total) {
  struct curl_header *h = NULL;
  if (curl_easy_header(easy, "Content-Range", 0, CURLH_HEADER, -1, &h) !=
          CURLHE_OK ||
      !h || !h->value)
    return -1;
  unsigned long long x, y, z;
  if (sscanf(h->value, "bytes %llu-%llu/%llu", &x, &y, &z) != 3 || y < x ||
      y >= z)
    return -1;
  *a = x;
  *b = y;
  *total = z;
  return 0;
}

static int any_range_source_left(const fs_dl *dl, size_t except) {
  for (size_t i = 0; i < dl->n_srcs; i++)
    if (i != except && dl->srcs[i].in_cycle && !dl->srcs[i].dropped &&
        !dl->srcs[i].norange)
      return 1;
  return 0;
}

static int size_learned(fs_dl *dl, fs_entry *e, uint64_t size,
                        uint32_t parallel, int keep_bytes) {
  if (fs_segs_init(&dl->segs, size, parallel) != 0) {
    set_fatal(dl, "out of memory for %" PRIu64 " bytes of segments", size);
    return -1;
  }
  if (!keep_bytes && (ftruncate(e->stage.fd, 0) != 0 || md_reset(dl, e) != 0)) {
    /* start clean */
    set_fatal(dl, "cannot truncate the staged file %s: %s", e->stage.path,
              strerror(errno));
    return -1;
  }
  dl->have_size = 1;
  return 0;
}

/* Validates the response on its first body bytes. Returns 0 to go on, -1 to
 * stop the transfer (c->fail says why). */
static int check_response(conn_ctx *x) {
  fs_conn *c = x->conn;
  fs_dl *dl = c->dl;
  fs_entry *e = x->e;
  fs_src *s = &dl->srcs[c->src];
  long code = 0;
  curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &code);
  c->checked = 1;
  uint64_t max = x->opt->max_snapshot_bytes;
  uint64_t total = 0;
  if (code == 206) {
    uint64_t a, b;
    if (content_range(c->easy, &a, &b, &total) != 0) {
      conn_fail(c, 0, "GET %s: 206 without a usable Content-Range", s->url);
      return -1;
    }
    if (a != c->pos) {
      conn_fail(c, 0, "GET %s: asked for bytes from %" PRIu64
                ", got a range starting at %" PRIu64, s->url, c->pos, a);
      return -1;
    }
    if (b + 1 < c->req_end) c->req_end = b + 1;
  } else if (code == 200) {
    curl_off_t cl = -1;
    curl_easy_getinfo(c->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
    s->norange = 1;
    if (!dl->single && any_range_source_left(dl, c->src)) {
      conn_fail(c, 0, "GET %s: ignores Range requests; used only when no "
                "source honours them", s->url);
      c->yield = 1;
      return -1;
    }
    if (cl > 0) {
      total = (uint64_t)cl;
    } else if (e->in.flags & SSS_ENTRY_HAS_SIZE) {
      total = e->in.size;
    } else if (dl->have_size) {
      total = dl->segs.size;
    } else {
      /* No length at all: stream until the server closes, up to the
       * limit; the size is what arrived. */
      c->kind = CONN_UNSIZED;
      c->pos = 0;
      c->req_end = max ? max : UINT64_MAX;
      if (ftruncate(e->stage.fd, 0) != 0 || md_reset(dl, e) != 0) {
        set_fatal(dl, "cannot restart the staged file %s", e->stage.path);
        return -1;
      }
      return 0;
    }
  } else {
    conn_fail(c, 0, "GET %s: HTTP %ld", s->url, code);
    return -1;
  }
  s->reported_size = total;
  if (max && total > max) {
    conn_fail(c, 0, "GET %s: the snapshot is %" PRIu64 " bytes, more than "
              "max_snapshot_bytes (%" PRIu64 ")", s->url, total, max);
    c->fail_status = SSS_ERR_TOO_LARGE;
    return -1;
  }
  if (e->in.flags & SSS_ENTRY_HAS_SIZE) {
    if (total != e->in.size) {
      conn_fail(c, 1, "says the snapshot is %" PRIu64 " bytes; the expected "
                "size is %" PRIu64, total, e->in.size);
      return -1;
    }
  } else if (dl->have_size && total != dl->segs.size) {
    conn_fail(c, 0, "GET %s: says the snapshot is %" PRIu64 " bytes where "
              "another source said %" PRIu64, s->url, total, dl->segs.size);
    c->size_mismatch = 1;
    return -1;
  }
  if (!dl->have_size && size_learned(dl, e, total, x->opt->parallel_sources, 0))
    return -1;
  if (code == 200) {
    /* The whole body from byte 0: walk all chunks. */
    if (c->kind != CONN_PROBE && dl->segs.chunks[conn_chunk(c)].owners > 0)
      dl->segs.chunks[conn_chunk(c)].owners--;
    c->kind = CONN_STREAM;
    c->pos = 0;
    c->req_end = total;
    return 0;
  }
  if (c->kind == CONN_PROBE) {
    c->kind = CONN_RANGE;
    c->chunk_start = 0;
    dl->segs.chunks[0].owners++;
    uint64_t end = dl->segs.chunks[0].end;
    if (c->req_end > end) c->req_end = end;
  }
  return 0;
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud) {
  conn_ctx *x = ud;
  fs_conn *c = x->conn;
  fs_dl *dl = c->dl;
  fs_src *s = &dl->srcs[c->src];
  size_t n = size * nmemb;
  if (c->superseded || c->fail[0] || dl->fatal) return CURL_WRITEFUNC_ERROR;
  if (!c->checked && check_response(x) != 0) return CURL_WRITEFUNC_ERROR;
  uint64_t now = fs_now_ms();
  c->last_byte_ms = now;
  if (!s->first_byte_ms) s->first_byte_ms = now;
  s->cycle_bytes += n;
  s->bytes += n;
  pthread_mutex_lock(&x->inst->mu);
  x->inst->stats.bytes_fetched += n;
  if (x->inst->host.progress &&
      now - x->inst->last_progress_ms >= PROGRESS_INTERVAL_MS) {
    x->inst->last_progress_ms = now;
    x->inst->progress_due = 1;
  }
  pthread_mutex_unlock(&x->inst->mu);
  if (c->kind == CONN_UNSIZED) {
    if (n > c->req_end - c->pos) {
      conn_fail(c, 0, "GET %s: the body grew past max_snapshot_bytes (%" PRIu64
                ")", s->url, c->req_end);
      c->fail_status = SSS_ERR_TOO_LARGE;
      return CURL_WRITEFUNC_ERROR;
    }
    if (fs_stage_write(x->e->stage.fd, ptr, n, c->pos) != 0) {
      set_fatal(dl, "cannot write the staged file %s: %s", x->e->stage.path,
                strerror(errno));
      return CURL_WRITEFUNC_ERROR;
    }
    if (dl->md && dl->hashed == c->pos) {
      EVP_DigestUpdate(dl->md, ptr, n);
      dl->hashed += n;
    }
    c->pos += n;
    return n;
  }
  if (c->pos + n > c->req_end) {
    conn_fail(c, 1, "sent more bytes than the %" PRIu64 " it announced",
              c->req_end);
    return CURL_WRITEFUNC_ERROR;
  }
  const unsigned char *p = (const unsigned char *)ptr;
  uint64_t at = c->pos, left = n;
  while (left > 0) {
    size_t ci = c->kind == CONN_STREAM ? fs_segs_find(&dl->segs, at) : conn_chunk(c);
    if (at >= dl->segs.chunks[ci].end) {
      /* Its chunk was split by the end-game: the rest is another's. */
      c->pos = at;
      c->superseded = 1;
      return CURL_WRITEFUNC_ERROR;
    }
    uint64_t room = dl->segs.chunks[ci].end - at;
    uint64_t part = left < room ? left : room;
    if (store(c, x->e, ci, at, p, part) != 0) return CURL_WRITEFUNC_ERROR;
    p += part;
    at += part;
    left -= part;
  }
  c->pos = at;
  return n;
}

/* ---- starting and ending transfers ------------------------------------- */

static void conn_free(fs_instance *inst, fs_conn *c) {
  if (c->easy) {
    curl_multi_remove_handle(inst->multi, c->easy);
    conn_ctx *x = NULL;
    curl_easy_getinfo(c->easy, CURLINFO_PRIVATE, (char **)&x);
    curl_easy_cleanup(c->easy);
    free(x);
  }
  free(c);
}

/* Unlinks c from its download and frees it; releases its chunk. */
static void conn_end(fs_instance *inst, fs_conn *c) {
  fs_dl *dl = c->dl;
  for (fs_conn **pp = &dl->conns; *pp; pp = &(*pp)->next)
    if (*pp == c) {
      *pp = c->next;
      break;
    }
  dl->n_conns--;
  if (c->kind == CONN_RANGE && dl->have_size && dl->segs.chunks[conn_chunk(c)].owners > 0)
    dl->segs.chunks[conn_chunk(c)].owners--;
  dl->srcs[c->src].busy = 0;
  conn_free(inst, c);
}

static int conn_start(fs_instance *inst, fs_task *t, fs_entry *e, size_t si,
                      enum conn_kind kind, size_t chunk, int steal) {
  fs_dl *dl = e->dl;
  fs_src *s = &dl->srcs[si];
  fs_conn *c = calloc(1, sizeof *c);
  conn_ctx *x = calloc(1, sizeof *x);
  CURL *easy = curl_easy_init();
  if (!c || !x || !easy) {
    free(c);
    free(x);
    if (easy) curl_easy_cleanup(easy);
    set_fatal(dl, "out of memory starting a transfer");
    return -1;
  }
  *x = (conn_ctx){.conn = c, .inst = inst, .e = e, .opt = &t->opt};
  c->dl = dl;
  c->src = si;
  c->easy = easy;
  c->kind = kind;
  c->chunk_start = kind == CONN_PROBE ? 0 : dl->segs.chunks[chunk].start;
  c->steal = steal;
  c->started_ms = c->last_byte_ms = fs_now_ms();
  char range[64];
  if (kind == CONN_PROBE) {
    c->pos = 0;
    c->req_end = FS_FIRST_CHUNK;
  } else {
    const fs_chunk *k = &dl->segs.chunks[chunk];
    c->pos = k->done;
    c->req_end = k->end;
    dl->segs.chunks[chunk].owners++;
  }
  snprintf(range, sizeof range, "%" PRIu64 "-%" PRIu64, c->pos, c->req_end - 1);
  curl_easy_setopt(easy, CURLOPT_URL, s->url);
  curl_easy_setopt(easy, CURLOPT_RANGE, range);
  curl_easy_setopt(easy, CURLOPT_PRIVATE, (char *)x);
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, x);
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(easy, CURLOPT_MAXREDIRS, MAX_REDIRS);
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, (long)t->opt.connect_timeout_ms);
  curl_easy_setopt(easy, CURLOPT_BUFFERSIZE, (long)CURL_BUF);
  curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, t->opt.tls_verify ? 1L : 0L);
  curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, t->opt.tls_verify ? 2L : 0L);
  if (t->opt.tls_ca_file) curl_easy_setopt(easy, CURLOPT_CAINFO, t->opt.tls_ca_file);
  curl_easy_setopt(easy, CURLOPT_USERAGENT, "sss-fileshares");
  if (curl_multi_add_handle(inst->multi, easy) != CURLM_OK) {
    if (kind != CONN_PROBE) dl->segs.chunks[chunk].owners--;
    curl_easy_cleanup(easy);
    free(x);
    free(c);
    set_fatal(dl, "libcurl refused a transfer");
    return -1;
  }
  c->next = dl->conns;
  dl->conns = c;
  dl->n_conns++;
  s->busy = 1;
  s->cycle_requests++;
  e->tried++;
  pthread_mutex_lock(&inst->mu);
  inst->stats.sources_tried++;
  pthread_mutex_unlock(&inst->mu);
  fs_log(inst, SSS_LOG_DEBUG, "block %s: GET %s range %s%s", e->resource,
         s->url, range,
         steal == 2 ? " (end-game: split)" : steal ? " (end-game: duplicate)" : "");
  return 0;
}

/* The source failed or lied: out of this cycle, or banned for the task. */
static void drop_source(fs_instance *inst, fs_task *t, fs_entry *e, size_t si,
                        int lie, const char *why) {
  fs_src *s = &e->dl->srcs[si];
  if (s->dropped) return;
  s->dropped = 1;
  e->last_status = 0;
  if (lie) { /* why is a predicate of the source: "says ..." */
    entry_error(e, "%s %s", s->url, why);
    fs_task_ban(inst, t, s->url, why);
    fs_task_report(inst, SSS_ERROR_KIND_VERIFY);
  } else {
    entry_error(e, "%s", why);
    fs_task_report(inst, SSS_ERROR_KIND_DOWNLOAD);
  }
  pthread_mutex_lock(&inst->mu);
  inst->stats.sources_failed++;
  pthread_mutex_unlock(&inst->mu);
  fs_log(inst, SSS_LOG_INFO, "block %s: %s; dropped for this cycle",
         e->resource, e->last_error);
}

/* A transfer ended (curl said so). */
static void conn_done(fs_instance *inst, fs_task *t, fs_entry *e, fs_conn *c,
                      CURLcode rc) {
  fs_dl *dl = c->dl;
  fs_src *s = &dl->srcs[c->src];
  char why[SSS_ERROR_SIZE];
  int lie = 0, size_mismatch = c->size_mismatch, c_status = c->fail_status;
  why[0] = '\0';
  if (c->superseded || dl->fatal || c->yield) {
    /* Not the source's fault. */
  } else if (c->kind == CONN_UNSIZED && !c->fail[0] && rc == CURLE_OK) {
    /* The server closed: what arrived is the snapshot, to be verified. */
    size_t si = c->src;
    uint64_t size = c->pos;
    conn_end(inst, c);
    s->reported_size = size;
    if (size == 0) {
      snprintf(why, sizeof why, "GET %s: the body was empty", s->url);
      drop_source(inst, t, e, si, 0, why);
      return;
    }
    if (size_learned(dl, e, size, t->opt.parallel_sources, 1) != 0) return;
    for (size_t i = 0; i < dl->segs.n_chunks; i++) {
      const fs_chunk *k = &dl->segs.chunks[i];
      fs_segs_commit(&dl->segs, i, k->start, k->end - k->start, (uint32_t)si);
    }
    return;
  } else if (c->fail[0]) {
    lie = c->fail_lie;
    memcpy(why, c->fail, sizeof why);
  } else if (rc != CURLE_OK) {
    snprintf(why, sizeof why, "GET %s failed after %" PRIu64 " bytes: %s",
             s->url, s->cycle_bytes, curl_easy_strerror(rc));
  } else if (!c->checked) {
    long code = 0;
    curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &code);
    if (code == 200 || code == 206)
      snprintf(why, sizeof why, "GET %s: HTTP %ld with an empty body", s->url, code);
    else
      snprintf(why, sizeof why, "GET %s: HTTP %ld", s->url, code);
  } else if (c->pos < c->req_end) {
    snprintf(why, sizeof why, "GET %s: the body ended at byte %" PRIu64
             " of the %" PRIu64 " asked for", s->url, c->pos, c->req_end);
  }
  conn_end(inst, c);
  if (!why[0]) return;
  int status = c_status;
  drop_source(inst, t, e, (size_t)(s - dl->srcs), lie, why);
  e->last_status = status; /* the entry ends with it if nothing better comes */
  if (size_mismatch) s->size_dropped = 1;
}

/* ---- the download's life ----------------------------------------------- */

static fs_dl *dl_new(void) {
  fs_dl *dl = calloc(1, sizeof *dl);
  if (!dl) return NULL;
  dl->suspect.fd = -1;
  dl->single_src = SIZE_MAX;
  return dl;
}

static long find_src(const fs_dl *dl, const char *url) {
  for (size_t i = 0; i < dl->n_srcs; i++)
    if (!strcmp(dl->srcs[i].url, url)) return (long)i;
  return -1;
}

static int add_src(fs_dl *dl, const char *url) {
  fs_src *ns = realloc(dl->srcs, (dl->n_srcs + 1) * sizeof *ns);
  if (!ns) return -1;
  dl->srcs = ns;
  const char **nu = realloc(dl->urls, (dl->n_srcs + 1) * sizeof *nu);
  if (!nu) return -1;
  dl->urls = nu;
  uint64_t *nb = realloc(dl->bytes, (dl->n_srcs + 1) * sizeof *nb);
  if (!nb) return -1;
  dl->bytes = nb;
  char *u = strdup(url);
  if (!u) return -1;
  dl->srcs[dl->n_srcs] = (fs_src){.url = u};
  dl->n_srcs++;
  return 0;
}

void fs_fetch_cycle(fs_instance *inst, fs_task *t, size_t idx) {
  fs_entry *e = &t->entries[idx];
  if (!e->dl) {
    e->dl = dl_new();
    if (!e->dl || md_reset(e->dl, e) != 0) {
      fs_task_fetch_failed(inst, t, idx, SSS_ERR_NO_MEMORY, "out of memory");
      return;
    }
  }
  fs_dl *dl = e->dl;
  if (e->stage.fd < 0) {
    char why[SSS_ERROR_SIZE];
    int rc = fs_stage_open(&e->stage, sss_options_staging_dir(&t->opt),
                           e->resource, why);
    if (rc) {
      fs_task_fetch_failed(inst, t, idx, rc, why);
      return;
    }
    /* A new staged file holds nothing: forget what an old one held. */
    if (dl->have_size) fs_segs_clear(&dl->segs);
    if (md_reset(dl, e) != 0) {
      fs_task_fetch_failed(inst, t, idx, SSS_ERR_NO_MEMORY, "out of memory");
      return;
    }
  }
  if (!dl->have_size && (e->in.flags & SSS_ENTRY_HAS_SIZE) &&
      size_learned(dl, e, e->in.size, t->opt.parallel_sources, 0) != 0) {
    fs_task_fetch_failed(inst, t, idx, SSS_ERR_NO_MEMORY, dl->fatal_msg);
    return;
  }
  for (size_t i = 0; i < dl->n_srcs; i++) {
    fs_src *s = &dl->srcs[i];
    s->in_cycle = s->dropped = s->busy = s->norange = s->size_dropped = 0;
    s->cycle_requests = 0;
    s->cycle_bytes = s->first_byte_ms = 0;
  }
  for (size_t i = 0; i < e->n_srcs; i++) {
    if (fs_task_is_banned(t, e->srcs[i])) continue;
    long si = find_src(dl, e->srcs[i]);
    if (si < 0) {
      if (add_src(dl, e->srcs[i]) != 0) {
        fs_task_fetch_failed(inst, t, idx, SSS_ERR_NO_MEMORY, "out of memory");
        return;
      }
      si = (long)dl->n_srcs - 1;
    }
    dl->srcs[si].in_cycle = 1;
  }
  dl->single_src = SIZE_MAX;
  e->state = FS_ENTRY_FETCHING;
  fs_fetch_step(inst, t, idx);
}

void fs_fetch_perform(fs_instance *inst, fs_task *t) {
  int running = 0;
  curl_multi_perform(inst->multi, &running);
  CURLMsg *m;
  int left;
  while ((m = curl_multi_info_read(inst->multi, &left))) {
    if (m->msg != CURLMSG_DONE) continue;
    conn_ctx *x = NULL;
    curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
    CURLcode rc = m->data.result;
    /* x->e belongs to the running task: finished transfers of a cancelled
     * task were removed with it and never show up here. */
    conn_done(inst, t, x->e, x->conn, rc);
  }
}

/* The number of sources that may still be used in this cycle. */
static size_t usable_sources(const fs_dl *dl) {
  size_t n = 0;
  for (size_t i = 0; i < dl->n_srcs; i++)
    if (dl->srcs[i].in_cycle && !dl->srcs[i].dropped) n++;
  return n;
}

/* Checks speed and stalls of running transfers. */
static void watch(fs_instance *inst, fs_task *t, fs_entry *e, uint64_t now) {
  fs_dl *dl = e->dl;
  uint64_t stall_ms = t->opt.connect_timeout_ms;
  uint64_t min_bps = t->opt.min_source_speed_bps;
  for (fs_conn *c = dl->conns, *next; c; c = next) {
    next = c->next;
    fs_src *s = &dl->srcs[c->src];
    size_t si = c->src;
    if (c->superseded) {
      conn_end(inst, c);
      continue;
    }
    char why[SSS_ERROR_SIZE] = "";
    if (fs_task_is_banned(t, s->url)) { /* banned by another entry meanwhile */
      conn_end(inst, c);
      s->dropped = 1;
      continue;
    }
    if (now - c->last_byte_ms > stall_ms)
      snprintf(why, sizeof why, "GET %s stalled: no byte for %" PRIu64 " ms",
               s->url, now - c->last_byte_ms);
    else if (min_bps && s->first_byte_ms &&
             now - s->first_byte_ms >= SPEED_GRACE_MS &&
             src_rate(s, now) < min_bps)
      snprintf(why, sizeof why, "%s is too slow: %" PRIu64 " B/s, below "
               "min_source_speed_bps (%" PRIu64 ")", s->url, src_rate(s, now),
               min_bps);
    if (!why[0]) continue;
    conn_end(inst, c);
    drop_source(inst, t, e, si, 0, why);
  }
}

/* End-game, for an idle source with rate `rate` (0 = unknown). Picks the
 * chunk whose single owner will take longest and says how to help: split off
 * the part of its tail the idle source fetches in the time the owner needs
 * for the rest, so that both finish together (*mid = where); or, for a tail
 * too short to split, fetch the same tail too when the idle source is
 * clearly faster, the first to finish winning (*mid = 0). */
static long steal_target(const fs_dl *dl, uint64_t rate, uint64_t now,
                         uint64_t *mid) {
  long best = -1;
  uint64_t best_eta = 0;
  for (const fs_conn *c = dl->conns; c; c = c->next) {
    if (c->kind != CONN_RANGE || c->superseded) continue;
    size_t ci = conn_chunk(c);
    const fs_chunk *k = &dl->segs.chunks[ci];
    if (k->owners != 1) continue;
    uint64_t left = k->end - k->done;
    if (left < STEAL_MIN_BYTES) continue;
    uint64_t orate = src_rate(&dl->srcs[c->src], now);
    /* An owner that just started has no rate yet: give it a moment. */
    if (!orate && now - c->started_ms < 2 * STEAL_MIN_ETA_MS) continue;
    uint64_t eta = orate ? left * 1000 / orate : UINT64_MAX / 2;
    if (eta < STEAL_MIN_ETA_MS) continue;
    uint64_t split = 0;
    /* An owner far slower than the idle source (or stalled) gets no share:
     * the idle source fetches the whole tail too. */
    int lagging = !orate || (rate && eta > 4 * (left * 1000 / rate));
    if (left >= 2 * STEAL_MIN_BYTES && !lagging) {
      /* Shares in proportion to the rates; an unknown rate counts as the
       * other's. */
      double r = (double)(rate ? rate : (orate ? orate : 1));
      double o = (double)(orate ? orate : r);
      uint64_t mine = (uint64_t)((double)left * r / (r + o));
      if (mine < STEAL_MIN_BYTES) mine = STEAL_MIN_BYTES;
      if (mine > left - STEAL_MIN_BYTES) mine = left - STEAL_MIN_BYTES;
      split = k->end - mine;
    } else if (!lagging && rate && left * 1000 / rate * 3 / 2 >= eta) {
      continue;
    }
    if (best < 0 || eta > best_eta) {
      best = (long)ci;
      best_eta = eta;
      *mid = split;
    }
  }
  return best;
}

/* Starts what can start now. */
static void schedule(fs_instance *inst, fs_task *t, fs_entry *e) {
  fs_dl *dl = e->dl;
  uint64_t now = fs_now_ms();
  size_t limit = dl->single ? 1 : t->opt.parallel_sources;
  if (dl->single && dl->single_src == SIZE_MAX) {
    /* One source at a time: first those that wrote bytes of a snapshot that
     * verified (for another entry), then the fastest seen in the cycle. */
    uint64_t best = 0;
    for (size_t i = 0; i < dl->n_srcs; i++) {
      const fs_src *s = &dl->srcs[i];
      if (!s->in_cycle || s->dropped || s->busy || fs_task_is_banned(t, s->url) ||
          (s->norange && any_range_source_left(dl, i)))
        continue;
      uint64_t r = src_rate(s, now) / 2;
      if (fs_task_is_vouched(t, s->url)) r |= UINT64_C(1) << 63;
      if (dl->single_src == SIZE_MAX || r > best) {
        dl->single_src = i;
        best = r;
      }
    }
  }
  for (size_t i = 0; i < dl->n_srcs && dl->n_conns < limit && !dl->fatal; i++) {
    fs_src *s = &dl->srcs[i];
    if (!s->in_cycle || s->dropped || s->busy) continue;
    if (fs_task_is_banned(t, s->url)) { /* banned by another entry */
      s->dropped = 1;
      continue;
    }
    if (dl->single && dl->single_src != SIZE_MAX && dl->single_src != i) continue;
    /* Ignores Range: only as a whole stream once nothing better is left. */
    if (s->norange && any_range_source_left(dl, i)) continue;
    if (!dl->have_size) {
      if (dl->n_conns > 0) return; /* one probe at a time */
      if (dl->single) dl->single_src = i;
      conn_start(inst, t, e, i, CONN_PROBE, 0, 0);
      continue;
    }
    /* A safety net against a source that makes us loop: no source gets
     * more requests in a cycle than twice the chunks, plus a few. */
    if (s->cycle_requests > 2 * dl->segs.n_chunks + 8) {
      char why[SSS_ERROR_SIZE];
      snprintf(why, sizeof why, "%s took %u requests in this cycle without "
               "finishing its chunks", s->url, s->cycle_requests);
      drop_source(inst, t, e, i, 0, why);
      continue;
    }
    long ci = fs_segs_claimable(&dl->segs);
    int steal = 0;
    if (ci < 0 && !dl->single) {
      uint64_t mid = 0;
      ci = steal_target(dl, src_rate(s, now), now, &mid);
      steal = 1;
      /* Split: the new chunk after ci is this source's. Out of memory:
       * fetch the same tail instead. */
      if (ci >= 0 && mid && fs_segs_split(&dl->segs, (size_t)ci, mid) == 0) {
        ci++;
        steal = 2;
      }
    }
    if (ci < 0) continue;
    if (dl->single) dl->single_src = i;
    conn_start(inst, t, e, i, CONN_RANGE, (size_t)ci, steal);
  }
}

/* Supersedes the other owners of finished chunks. */
static void supersede(fs_dl *dl) {
  for (fs_conn *c = dl->conns; c; c = c->next)
    if (c->kind == CONN_RANGE && !c->superseded) {
      const fs_chunk *k = &dl->segs.chunks[conn_chunk(c)];
      if (k->done == k->end && c->pos < c->req_end) c->superseded = 1;
    }
}

static void stop_conns(fs_instance *inst, fs_dl *dl) {
  while (dl->conns) conn_end(inst, dl->conns);
}

/* Bans the sources that lied about the size or the bytes of the snapshot
 * now verified. */
static void ban_disagreeing(fs_instance *inst, fs_task *t, fs_dl *dl) {
  for (size_t i = 0; i < dl->n_srcs; i++) {
    fs_src *s = &dl->srcs[i];
    char why[SSS_ERROR_SIZE];
    if (s->lied) {
      snprintf(why, sizeof why, "sent bytes that differ from the verified "
               "snapshot (first at offset %" PRIu64 ")", s->lie_offset);
      fs_task_ban(inst, t, s->url, why);
    } else if (s->reported_size && s->reported_size != dl->segs.size) {
      snprintf(why, sizeof why, "said the snapshot is %" PRIu64 " bytes; the "
               "verified snapshot is %" PRIu64, s->reported_size, dl->segs.size);
      fs_task_ban(inst, t, s->url, why);
    }
  }
}

static void forget_marks(fs_dl *dl) {
  for (size_t i = 0; i < dl->n_srcs; i++) {
    dl->srcs[i].lied = 0;
    dl->srcs[i].lie_offset = 0;
  }
}

static void close_suspect(fs_dl *dl) {
  fs_stage_discard(&dl->suspect);
  fs_segs_release(&dl->suspect_segs);
}

/* Every byte is staged: compare the digest. */
static void finish(fs_instance *inst, fs_task *t, size_t idx) {
  fs_entry *e = &t->entries[idx];
  fs_dl *dl = e->dl;
  stop_conns(inst, dl);
  hash_forward(dl, e, NULL, 0, 0);
  if (dl->fatal) {
    fs_task_fetch_failed(inst, t, idx, SSS_ERR_IO, dl->fatal_msg);
    return;
  }
  int ok = 1;
  if (dl->md) {
    unsigned char got[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    ok = dl->hashed == dl->segs.size &&
         EVP_DigestFinal_ex(dl->md, got, &len) == 1 && len == SSS_SHA256_LEN &&
         memcmp(got, e->in.sha256, SSS_SHA256_LEN) == 0;
  }
  if (ok) {
    ban_disagreeing(inst, t, dl);
    for (size_t p = 0; p < dl->segs.n_pieces; p++)
      fs_task_vouch(t, dl->srcs[dl->segs.pieces[p].src].url);
    close_suspect(dl);
    /* The result names the source that wrote the most of the bytes. */
    const char *from = NULL;
    uint64_t most = 0;
    for (size_t i = 0; i < dl->n_srcs; i++) {
      uint64_t wrote = 0;
      for (size_t p = 0; p < dl->segs.n_pieces; p++)
        if (dl->segs.pieces[p].src == i)
          wrote += dl->segs.pieces[p].end - dl->segs.pieces[p].start;
      if (wrote > most) {
        most = wrote;
        from = dl->srcs[i].url;
      }
    }
    /* The file holds exactly the verified bytes (the reader's path). */
    if (ftruncate(e->stage.fd, (off_t)dl->segs.size) != 0) {
      fs_task_fetch_failed(inst, t, idx, SSS_ERR_IO, "cannot trim the staged file");
      return;
    }
    fs_task_fetched(inst, t, idx, from, dl->segs.size);
    return;
  }
  /* A mismatch. Who wrote the bytes? */
  size_t writers = 0, last = 0;
  for (size_t i = 0; i < dl->n_srcs; i++) {
    int wrote = 0;
    for (size_t p = 0; p < dl->segs.n_pieces && !wrote; p++)
      wrote = dl->segs.pieces[p].src == i;
    if (wrote) {
      writers++;
      last = i;
    }
  }
  char why[SSS_ERROR_SIZE];
  if (writers == 1) {
    snprintf(why, sizeof why, "sent all %" PRIu64 " bytes and their "
             "SHA-256 does not match", dl->segs.size);
    drop_source(inst, t, e, last, 1, why);
    fs_segs_clear(&dl->segs);
    forget_marks(dl); /* they came from comparing with the liar's copy */
    if (!(e->in.flags & SSS_ENTRY_HAS_SIZE)) {
      /* The size came from the liar: learn it again, and give back the
       * sources that were dropped for contradicting it. */
      fs_segs_release(&dl->segs);
      dl->have_size = 0;
      for (size_t i = 0; i < dl->n_srcs; i++)
        if (dl->srcs[i].size_dropped && !fs_task_is_banned(t, dl->srcs[i].url))
          dl->srcs[i].dropped = dl->srcs[i].size_dropped = 0;
    }
  } else {
    /* Keep this copy as the suspect and start over one source at a time. */
    close_suspect(dl);
    dl->suspect = e->stage;
    dl->suspect_segs = dl->segs;
    e->stage.fd = -1;
    e->stage.path = NULL;
    memset(&dl->segs, 0, sizeof dl->segs);
    dl->have_size = 0;
    dl->single = 1;
    dl->single_src = SIZE_MAX;
    entry_error(e, "SHA-256 mismatch over bytes from %zu sources; fetching "
                "from one source at a time to find the liar", writers);
    fs_log(inst, SSS_LOG_WARN, "block %s: %s", e->resource, e->last_error);
    char serr[SSS_ERROR_SIZE];
    int rc = fs_stage_open(&e->stage, sss_options_staging_dir(&t->opt),
                           e->resource, serr);
    if (rc) {
      fs_task_fetch_failed(inst, t, idx, rc, serr);
      return;
    }
    if ((e->in.flags & SSS_ENTRY_HAS_SIZE) &&
        size_learned(dl, e, e->in.size, t->opt.parallel_sources, 0) != 0) {
      fs_task_fetch_failed(inst, t, idx, SSS_ERR_NO_MEMORY, dl->fatal_msg);
      return;
    }
  }
  if (ftruncate(e->stage.fd, 0) != 0 || md_reset(dl, e) != 0) {
    fs_task_fetch_failed(inst, t, idx, SSS_ERR_IO, "cannot restart the staged file");
    return;
  }
}

void fs_fetch_step(fs_instance *inst, fs_task *t, size_t idx) {
  fs_entry *e = &t->entries[idx];
  fs_dl *dl = e->dl;
  if (!dl || e->state != FS_ENTRY_FETCHING) return;
  for (int round = 0; round < 4; round++) {
    if (dl->fatal) {
      stop_conns(inst, dl);
      fs_task_fetch_failed(inst, t, idx, SSS_ERR_IO, dl->fatal_msg);
      return;
    }
    watch(inst, t, e, fs_now_ms());
    supersede(dl);
    if (dl->have_size && fs_segs_complete(&dl->segs)) {
      finish(inst, t, idx);
      if (e->state != FS_ENTRY_FETCHING) return;
      continue; /* a mismatch restarted the download */
    }
    /* In one-source mode, a source that failed leaves a copy mixed with
     * nobody's: start over with the next one. */
    if (dl->single && dl->single_src != SIZE_MAX && dl->n_conns == 0 &&
        dl->srcs[dl->single_src].dropped) {
      dl->single_src = SIZE_MAX;
      forget_marks(dl); /* that copy was never verified */
      if (dl->have_size) fs_segs_clear(&dl->segs);
      if (ftruncate(e->stage.fd, 0) != 0 || md_reset(dl, e) != 0) {
        fs_task_fetch_failed(inst, t, idx, SSS_ERR_IO, "cannot restart the staged file");
        return;
      }
    }
    schedule(inst, t, e);
    if (dl->n_conns > 0 || dl->fatal) {
      if (dl->fatal) continue;
      return;
    }
    if (usable_sources(dl) == 0 || round == 3) {
      if (!e->last_error[0]) entry_error(e, "no usable source in this cycle");
      fs_task_cycle_exhausted(inst, t, idx);
      return;
    }
  }
}

void fs_fetch_stop(fs_instance *inst, fs_entry *e) {
  if (!e->dl) return;
  stop_conns(inst, e->dl);
  close_suspect(e->dl);
}

void fs_fetch_free(fs_entry *e) {
  fs_dl *dl = e->dl;
  if (!dl) return;
  for (size_t i = 0; i < dl->n_srcs; i++) free(dl->srcs[i].url);
  free(dl->srcs);
  free(dl->urls);
  free(dl->bytes);
  fs_segs_release(&dl->segs);
  close_suspect(dl);
  EVP_MD_CTX_free(dl->md);
  free(dl->buf);
  free(dl);
  e->dl = NULL;
}

size_t fs_fetch_sources(const fs_entry *e, const char *const **urls,
                        const uint64_t **bytes) {
  fs_dl *dl = e->dl;
  if (!dl) return 0;
  size_t n = 0;
  for (size_t i = 0; i < dl->n_srcs; i++) {
    if (!dl->srcs[i].bytes) continue;
    dl->urls[n] = dl->srcs[i].url;
    dl->bytes[n] = dl->srcs[i].bytes;
    n++;
  }
  *urls = dl->urls;
  *bytes = dl->bytes;
  return n;
}

int fs_fetch_busy(const fs_entry *e) { return e->dl && e->dl->n_conns > 0; }
