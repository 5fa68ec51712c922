/* peers.c: simulated HTTP peers on libmicrohttpd (see peers.h).
 *
 * The daemon runs one thread per connection, so a paced or stalled body may
 * block its own thread without holding up anyone else. Such a body waits in
 * poll() on the peer's wake pipe and on its connection's socket: writing the
 * pipe (before stopping the daemon) or the client hanging up ends it at once,
 * and nothing spins while it waits. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* POLLRDHUP */
#endif
#include "peers.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <uthash.h>

/* Largest body chunk produced per callback. */
#define PEER_BLOCK_SIZE (64u * 1024u)

struct path_count {
  UT_hash_handle hh;
  uint64_t n;
  char path[]; /* the key */
};

struct sss_peer {
  char root[PATH_MAX]; /* realpath of the share directory */
  char addr_text[INET_ADDRSTRLEN];
  char base_url[64];
  struct sockaddr_in addr; /* sin_port is fixed once the first bind chose it */

  pthread_mutex_t ctl;       /* serialises daemon start and stop */
  struct MHD_Daemon *daemon; /* NULL while down; under ctl */
  int wake[2];               /* readable while the daemon is being stopped */

  pthread_mutex_t lock; /* fault and paths */
  peer_fault fault;
  struct path_count *paths;

  _Atomic uint64_t requests;
  _Atomic uint64_t connections;
  _Atomic uint64_t bytes_sent;
};

/* A body produced by body_read: one per faulty (or paced) file response. */
struct body {
  sss_peer *p;
  peer_fault fault;
  int fd;
  MHD_socket conn_fd;
  uint64_t file_size; /* real bytes in the file */
  uint64_t start;     /* offset of the first body byte in the (virtual) file */
  uint64_t len;
  struct timespec t0; /* CLOCK_MONOTONIC at response creation, for pacing */
};

/* Per-request state (req_cls), freed by on_completed. */
struct req {
  uint64_t fd_body_len; /* honest body, counted once sending completed */
};

static int fail(char *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int fail(char *err, const char *fmt, ...) {
  if (err) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, PEER_ERROR_SIZE, fmt, ap);
    va_end(ap);
  }
  return -1;
}

/* ---- Fault names ------------------------------------------------------- */

enum arg_rule { ARG_NONE, ARG_ANY, ARG_POSITIVE };

static const struct {
  peer_fault_kind kind;
  const char *name;
  enum arg_rule arg;
  const char *meaning; /* of the argument */
  const char *example;
} fault_table[] = {
    {PEER_FAULT_NONE, "none", ARG_NONE, NULL, "none"},
    {PEER_FAULT_DOWN, "down", ARG_NONE, NULL, "down"},
    {PEER_FAULT_404, "404", ARG_NONE, NULL, "404"},
    {PEER_FAULT_500, "500", ARG_NONE, NULL, "500"},
    {PEER_FAULT_SLOW, "slow", ARG_POSITIVE, "bytes per second", "slow:1048576"},
    {PEER_FAULT_STALL, "stall", ARG_ANY, "bytes sent before the stall",
     "stall:65536"},
    {PEER_FAULT_TRUNCATE, "truncate", ARG_ANY, "bytes sent before the close",
     "truncate:1000"},
    {PEER_FAULT_CORRUPT, "corrupt", ARG_ANY, "offset of the inverted byte",
     "corrupt:4096"},
    {PEER_FAULT_NORANGE, "norange", ARG_NONE, NULL, "norange"},
    {PEER_FAULT_REDIRECT, "redirect", ARG_NONE, NULL, "redirect"},
    {PEER_FAULT_OVERSIZED, "oversized", ARG_POSITIVE, "extra bytes",
     "oversized:100"},
};
#define N_FAULTS (sizeof fault_table / sizeof fault_table[0])

#define FAULT_LIST                                                             \
  "none, down, 404, 500, slow:BPS, stall:N, truncate:N, corrupt:OFFSET, "      \
  "norange, redirect or oversized:N"

const char *peer_fault_name(peer_fault_kind kind) {
  for (size_t i = 0; i < N_FAULTS; i++)
    if (fault_table[i].kind == kind) return fault_table[i].name;
  return "unknown";
}

/* Reads a plain decimal uint64 (digits only, no sign, no spaces). */
static int parse_u64_text(const char *s, uint64_t *v) {
  if (*s < '0' || *s > '9') return -1;
  for (const char *c = s; *c; c++)
    if (*c < '0' || *c > '9') return -1;
  errno = 0;
  unsigned long long x = strtoull(s, NULL, 10);
  if (errno == ERANGE) return -1;
  *v = x;
  return 0;
}

int peer_fault_parse(const char *text, peer_fault *out, char *err) {
  if (!text || !*text)
    return fail(err,
                "fault '': the text is empty; write one of " FAULT_LIST ".");
  const char *colon = strchr(text, ':');
  size_t name_len = colon ? (size_t)(colon - text) : strlen(text);
  size_t i = 0;
  while (i < N_FAULTS && (strlen(fault_table[i].name) != name_len ||
                          strncasecmp(fault_table[i].name, text, name_len)))
    i++;
  if (i == N_FAULTS)
    return fail(err,
                "fault '%s' is not a known kind; write one of " FAULT_LIST ".",
                text);
  uint64_t arg = 0;
  switch (fault_table[i].arg) {
  case ARG_NONE:
    if (colon)
      return fail(err, "fault '%s': '%s' takes no argument; write just '%s'.",
                  text, fault_table[i].name, fault_table[i].name);
    break;
  case ARG_ANY:
  case ARG_POSITIVE:
    if (!colon)
      return fail(err,
                  "fault '%s' needs a number after a colon (the %s), like "
                  "'%s'.",
                  text, fault_table[i].meaning, fault_table[i].example);
    if (parse_u64_text(colon + 1, &arg))
      return fail(err,
                  "fault '%s': '%s' is not a decimal number below 2^64 (the "
                  "%s); write it like '%s'.",
                  text, colon + 1, fault_table[i].meaning,
                  fault_table[i].example);
    if (fault_table[i].arg == ARG_POSITIVE && arg == 0)
      return fail(err, "fault '%s': the %s must be at least 1, like '%s'.",
                  text, fault_table[i].meaning, fault_table[i].example);
    break;
  }
  out->kind = fault_table[i].kind;
  out->arg = arg;
  return 0;
}

/* ---- Files and ranges -------------------------------------------------- */

/* Opens the regular file that url names under the share directory. Returns
 * the fd and its size, or -1 for anything missing, not regular, or outside
 * the directory (a ".." component, or a symlink leading out). */
static int open_share_file(const sss_peer *p, const char *url, uint64_t *size) {
  if (url[0] != '/') return -1;
  for (const char *c = url; *c;) {
    const char *end = strchrnul(c, '/');
    if (end - c == 2 && c[0] == '.' && c[1] == '.') return -1;
    c = *end ? end + 1 : end;
  }
  char path[PATH_MAX], real[PATH_MAX];
  int n = snprintf(path, sizeof path, "%s%s", p->root, url);
  if (n < 0 || (size_t)n >= sizeof path) return -1;
  if (!realpath(path, real)) return -1;
  size_t rl = strlen(p->root);
  if (strcmp(p->root, "/") != 0 &&
      (strncmp(real, p->root, rl) != 0 || real[rl] != '/'))
    return -1;
  int fd = open(real, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return -1;
  }
  *size = (uint64_t)st.st_size;
  return fd;
}

enum range_result { RANGE_IGNORED, RANGE_OK, RANGE_UNSATISFIABLE };

/* Reads digits at *s into *v, advancing *s. */
static int take_u64(const char **s, uint64_t *v) {
  const char *c = *s;
  uint64_t x = 0;
  if (*c < '0' || *c > '9') return -1;
  for (; *c >= '0' && *c <= '9'; c++) {
    unsigned d = (unsigned)(*c - '0');
    if (x > (UINT64_MAX - d) / 10) return -1;
    x = x * 10 + d;
  }
  *s = c;
  *v = x;
  return 0;
}

/* Parses a single byte range against size (RFC 9110 14.1.2). Multiple ranges
 * and invalid syntax are ignored (answered 200 in full), as the RFC allows. */
static enum range_result parse_range(const char *h, uint64_t size,
                                     uint64_t *start, uint64_t *len) {
  while (*h == ' ' || *h == '\t')
    h++;
  if (strncasecmp(h, "bytes=", 6) != 0) return RANGE_IGNORED;
  h += 6;
  if (strchr(h, ',')) return RANGE_IGNORED;
  while (*h == ' ' || *h == '\t')
    h++;
  uint64_t a, b;
  if (*h == '-') {
    h++;
    if (take_u64(&h, &b) || (*h && *h != ' ')) return RANGE_IGNORED;
    if (b == 0 || size == 0) return RANGE_UNSATISFIABLE;
    *start = size - (b < size ? b : size);
    *len = size - *start;
    return RANGE_OK;
  }
  if (take_u64(&h, &a) || *h++ != '-') return RANGE_IGNORED;
  b = UINT64_MAX;
  if (*h >= '0' && *h <= '9' && take_u64(&h, &b)) return RANGE_IGNORED;
  if ((*h && *h != ' ') || b < a) return RANGE_IGNORED;
  if (a >= size) return RANGE_UNSATISFIABLE;
  if (b > size - 1) b = size - 1;
  *start = a;
  *len = b - a + 1;
  return RANGE_OK;
}

/* ---- Faulty bodies ----------------------------------------------------- */

/* Waits until *deadline (CLOCK_MONOTONIC; NULL = forever). Returns 0 at the
 * deadline, -1 as soon as the peer is stopping or the client hung up. */
static int body_wait(const struct body *b, const struct timespec *deadline) {
  struct pollfd fds[2] = {{.fd = b->p->wake[0], .events = POLLIN},
                          {.fd = b->conn_fd, .events = POLLRDHUP}};
  nfds_t nfds = b->conn_fd == MHD_INVALID_SOCKET ? 1 : 2;
  for (;;) {
    int timeout_ms = -1;
    if (deadline) {
      struct timespec now;
      clock_gettime(CLOCK_MONOTONIC, &now);
      int64_t ns = (int64_t)(deadline->tv_sec - now.tv_sec) * 1000000000 +
                   (deadline->tv_nsec - now.tv_nsec);
      if (ns <= 0) return 0;
      int64_t ms = (ns + 999999) / 1000000; /* never wake early */
      timeout_ms = ms > INT_MAX ? INT_MAX : (int)ms;
    }
    int r = poll(fds, nfds, timeout_ms);
    if (r < 0 && errno == EINTR) continue;
    if (r != 0) return -1;
  }
}

/* Fills buf with n bytes of the body's virtual file from offset off: the
 * file's bytes, then (oversized) made-up ones, with the corrupt byte flipped.
 * Returns 0, or -1 when the file cannot be read. */
static int body_fill(const struct body *b, uint64_t off, char *buf, size_t n) {
  size_t done = 0;
  while (done < n && off + done < b->file_size) {
    uint64_t want = b->file_size - (off + done);
    if (want > n - done) want = n - done;
    ssize_t r = pread(b->fd, buf + done, want, (off_t)(off + done));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    done += (size_t)r;
  }
  for (; done < n; done++)
    buf[done] = (char)(0x5a ^ (uint8_t)(off + done));
  uint64_t bad = b->fault.arg;
  if (b->fault.kind == PEER_FAULT_CORRUPT && bad >= off && bad - off < n)
    buf[bad - off] = (char)~buf[bad - off];
  return 0;
}

static ssize_t body_read(void *cls, uint64_t pos, char *buf, size_t max) {
  struct body *b = cls;
  if (pos >= b->len) return MHD_CONTENT_READER_END_OF_STREAM;
  uint64_t n = b->len - pos;
  if (n > max) n = max;
  uint64_t arg = b->fault.arg;
  switch (b->fault.kind) {
  case PEER_FAULT_TRUNCATE:
    if (pos >= arg) return MHD_CONTENT_READER_END_WITH_ERROR;
    if (n > arg - pos) n = arg - pos;
    break;
  case PEER_FAULT_STALL:
    if (pos >= arg) {
      body_wait(b, NULL);
      return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    if (n > arg - pos) n = arg - pos;
    break;
  case PEER_FAULT_SLOW: {
    uint64_t chunk = arg / 10 ? arg / 10 : 1; /* about ten sends a second */
    if (n > chunk) n = chunk;
    /* Send only once the bytes up to the end of this chunk are due. */
    double due = (double)(pos + n) / (double)arg;
    struct timespec at = b->t0;
    at.tv_sec += (time_t)due;
    at.tv_nsec += (long)((due - (double)(time_t)due) * 1e9);
    if (at.tv_nsec >= 1000000000) {
      at.tv_sec++;
      at.tv_nsec -= 1000000000;
    }
    if (body_wait(b, &at) != 0) return MHD_CONTENT_READER_END_WITH_ERROR;
    break;
  }
  default: break;
  }
  if (body_fill(b, b->start + pos, buf, (size_t)n) != 0)
    return MHD_CONTENT_READER_END_WITH_ERROR;
  atomic_fetch_add(&b->p->bytes_sent, n);
  return (ssize_t)n;
}

static void body_free(void *cls) {
  struct body *b = cls;
  close(b->fd);
  free(b);
}

/* ---- Request handling -------------------------------------------------- */

static enum MHD_Result answer_text(struct MHD_Connection *c, unsigned status,
                                   const char *text, const char *hname,
                                   const char *hvalue) {
  struct MHD_Response *r = MHD_create_response_from_buffer(
      strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY);
  if (!r) return MHD_NO;
  MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain");
  if (hname) MHD_add_response_header(r, hname, hvalue);
  enum MHD_Result ret = MHD_queue_response(c, status, r);
  MHD_destroy_response(r);
  return ret;
}

static void count_path(sss_peer *p, const char *url) {
  pthread_mutex_lock(&p->lock);
  struct path_count *pc;
  HASH_FIND_STR(p->paths, url, pc);
  if (!pc) {
    size_t len = strlen(url) + 1;
    pc = calloc(1, sizeof *pc + len);
    if (pc) {
      memcpy(pc->path, url, len);
      HASH_ADD_STR(p->paths, path, pc);
    }
  }
  if (pc) pc->n++;
  pthread_mutex_unlock(&p->lock);
}

/* Builds the response for a file body of len bytes from virtual offset
 * start: from the fd when the peer is honest, else through body_read. Takes
 * fd in every case. */
static struct MHD_Response *file_response(sss_peer *p, struct MHD_Connection *c,
                                          peer_fault fault, int fd,
                                          uint64_t file_size, uint64_t start,
                                          uint64_t len) {
  if (fault.kind == PEER_FAULT_NONE || fault.kind == PEER_FAULT_NORANGE)
    return MHD_create_response_from_fd_at_offset64(len, fd, (int64_t)start);
  struct body *b = calloc(1, sizeof *b);
  if (!b) {
    close(fd);
    return NULL;
  }
  const union MHD_ConnectionInfo *ci =
      MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
  *b = (struct body){.p = p,
                     .fault = fault,
                     .fd = fd,
                     .conn_fd = ci ? ci->connect_fd : MHD_INVALID_SOCKET,
                     .file_size = file_size,
                     .start = start,
                     .len = len};
  clock_gettime(CLOCK_MONOTONIC, &b->t0);
  struct MHD_Response *r = MHD_create_response_from_callback(
      len, PEER_BLOCK_SIZE, body_read, b, body_free);
  if (!r) body_free(b);
  return r;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
                                  const char *url, const char *method,
                                  const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **req_cls) {
  sss_peer *p = cls;
  (void)version;
  (void)upload_data;
  /* Answer only once the whole request is in: a response queued earlier
   * makes libmicrohttpd close the connection after it (no keep-alive). */
  if (!*req_cls) {
    struct req *rq = calloc(1, sizeof *rq);
    if (!rq) return MHD_NO;
    *req_cls = rq;
    return MHD_YES;
  }
  if (*upload_data_size) { /* a body nobody asked for: discard it */
    *upload_data_size = 0;
    return MHD_YES;
  }
  struct req *rq = *req_cls;

  atomic_fetch_add(&p->requests, 1);
  count_path(p, url);
  pthread_mutex_lock(&p->lock);
  peer_fault fault = p->fault;
  pthread_mutex_unlock(&p->lock);

  if (fault.kind == PEER_FAULT_DOWN) return MHD_NO; /* going down: close */
  bool head = strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
  if (!head && strcmp(method, MHD_HTTP_METHOD_GET) != 0)
    return answer_text(c, MHD_HTTP_METHOD_NOT_ALLOWED,
                       "only GET and HEAD are served\n", MHD_HTTP_HEADER_ALLOW,
                       "GET, HEAD");
  if (fault.kind == PEER_FAULT_404)
    return answer_text(c, MHD_HTTP_NOT_FOUND, "not found (fault 404)\n", NULL,
                       NULL);
  if (fault.kind == PEER_FAULT_500)
    return answer_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR,
                       "internal error (fault 500)\n", NULL, NULL);
  if (fault.kind == PEER_FAULT_REDIRECT) {
    char location[PATH_MAX + 64];
    snprintf(location, sizeof location, "ftp://%s:%u%s", p->addr_text,
             (unsigned)ntohs(p->addr.sin_port), url);
    return answer_text(c, MHD_HTTP_FOUND, "moved to ftp (fault redirect)\n",
                       MHD_HTTP_HEADER_LOCATION, location);
  }

  uint64_t file_size;
  int fd = open_share_file(p, url, &file_size);
  if (fd < 0)
    return answer_text(c, MHD_HTTP_NOT_FOUND, "not found\n", NULL, NULL);
  uint64_t size = file_size;
  if (fault.kind == PEER_FAULT_OVERSIZED) size += fault.arg;

  uint64_t start = 0, len = size;
  unsigned status = MHD_HTTP_OK;
  const char *range =
      MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_RANGE);
  if (range && fault.kind != PEER_FAULT_NORANGE) {
    switch (parse_range(range, size, &start, &len)) {
    case RANGE_IGNORED: break;
    case RANGE_OK: status = MHD_HTTP_PARTIAL_CONTENT; break;
    case RANGE_UNSATISFIABLE: {
      close(fd);
      char cr[64];
      snprintf(cr, sizeof cr, "bytes */%llu", (unsigned long long)size);
      return answer_text(c, MHD_HTTP_RANGE_NOT_SATISFIABLE,
                         "range not satisfiable\n",
                         MHD_HTTP_HEADER_CONTENT_RANGE, cr);
    }
    }
  }

  struct MHD_Response *r =
      file_response(p, c, fault, fd, file_size, start, len);
  if (!r) return MHD_NO;
  MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                          "application/octet-stream");
  if (fault.kind != PEER_FAULT_NORANGE)
    MHD_add_response_header(r, MHD_HTTP_HEADER_ACCEPT_RANGES, "bytes");
  if (status == MHD_HTTP_PARTIAL_CONTENT) {
    char cr[96];
    snprintf(cr, sizeof cr, "bytes %llu-%llu/%llu", (unsigned long long)start,
             (unsigned long long)(start + len - 1), (unsigned long long)size);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_RANGE, cr);
  }
  enum MHD_Result ret = MHD_queue_response(c, status, r);
  MHD_destroy_response(r);
  if (ret == MHD_YES && !head &&
      (fault.kind == PEER_FAULT_NONE || fault.kind == PEER_FAULT_NORANGE))
    rq->fd_body_len = len; /* counted by on_completed */
  return ret;
}

/* Counts TCP connections accepted, so tests can tell reuse from reconnects. */
static void on_connection(void *cls, struct MHD_Connection *c, void **socket_ctx,
                          enum MHD_ConnectionNotificationCode code) {
  (void)c, (void)socket_ctx;
  sss_peer *p = cls;
  if (code == MHD_CONNECTION_NOTIFY_STARTED) atomic_fetch_add(&p->connections, 1);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **req_cls,
                         enum MHD_RequestTerminationCode toe) {
  sss_peer *p = cls;
  (void)c;
  struct req *rq = *req_cls;
  if (!rq) return;
  if (toe == MHD_REQUEST_TERMINATED_COMPLETED_OK)
    atomic_fetch_add(&p->bytes_sent, rq->fd_body_len);
  free(rq);
  *req_cls = NULL;
}

/* ---- Daemon lifecycle (ctl held) --------------------------------------- */

static int daemon_start(sss_peer *p, char *err) {
  /* No MHD_OPTION_CONNECTION_TIMEOUT: with a thread per connection,
   * libmicrohttpd 0.9.75 then answers "Connection: close" to everything.
   * An idle keep-alive connection keeps its thread until the client closes
   * it or the daemon stops. */
  unsigned flags = MHD_USE_THREAD_PER_CONNECTION |
                   MHD_USE_POLL_INTERNAL_THREAD | MHD_USE_ITC;
  struct MHD_Daemon *d = MHD_start_daemon(
      flags, 0, NULL, NULL, on_request, p, MHD_OPTION_SOCK_ADDR,
      (struct sockaddr *)&p->addr, MHD_OPTION_LISTENING_ADDRESS_REUSE,
      (unsigned)1, MHD_OPTION_NOTIFY_COMPLETED, on_completed, p,
      MHD_OPTION_NOTIFY_CONNECTION, on_connection, p, MHD_OPTION_END);
  if (!d)
    return fail(err,
                "peer for '%s': libmicrohttpd could not listen on %s:%u; "
                "check that the address is local and the port is free.",
                p->root, p->addr_text, (unsigned)ntohs(p->addr.sin_port));
  if (p->addr.sin_port == 0) {
    const union MHD_DaemonInfo *di =
        MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    if (!di || di->port == 0) {
      MHD_stop_daemon(d);
      return fail(err,
                  "peer for '%s': libmicrohttpd did not report the port it "
                  "bound on %s; use libmicrohttpd 0.9.67 or later.",
                  p->root, p->addr_text);
    }
    p->addr.sin_port = htons(di->port);
  }
  p->daemon = d;
  return 0;
}

static void daemon_stop(sss_peer *p) {
  if (!p->daemon) return;
  char one = 1, sink[64];
  /* Wake paced and stalled bodies first: MHD_stop_daemon joins them. */
  if (write(p->wake[1], &one, 1) < 0) {
    /* Only EAGAIN is possible: the pipe is full, hence readable already. */
  }
  MHD_stop_daemon(p->daemon);
  p->daemon = NULL;
  while (read(p->wake[0], sink, sizeof sink) > 0) {
  }
}

/* ---- Public API -------------------------------------------------------- */

sss_peer *peer_start(const char *root_dir, char *err) {
  return peer_start_at(root_dir, "127.0.0.1", err);
}

sss_peer *peer_start_at(const char *root_dir, const char *ipv4_loopback,
                        char *err) {
  struct in_addr ia;
  if (!root_dir || !ipv4_loopback) {
    fail(err, "peer_start: the share directory and the address must not be "
              "NULL; pass a directory path and e.g. \"127.0.0.1\".");
    return NULL;
  }
  /* 127.0.0.0/8, or 10.0.0.0/8 for an address inside a network namespace
   * that a test created itself (veth pairs); nothing else. */
  uint32_t top = inet_pton(AF_INET, ipv4_loopback, &ia) == 1
                     ? ntohl(ia.s_addr) >> 24 : 0;
  if (top != 127 && top != 10) {
    fail(err,
         "peer address '%s' is not an IPv4 loopback address; use one in "
         "127.0.0.0/8 such as 127.0.0.1 (or 10.0.0.0/8 inside a test's own "
         "network namespace).",
         ipv4_loopback);
    return NULL;
  }
  struct stat st;
  errno = 0;
  sss_peer *p = calloc(1, sizeof *p);
  if (!p) {
    fail(err, "peer for '%s': out of memory; free some memory and retry.",
         root_dir);
    return NULL;
  }
  if (!realpath(root_dir, p->root) || stat(p->root, &st) != 0 ||
      !S_ISDIR(st.st_mode)) {
    fail(err,
         "peer share directory '%s' is not an existing directory (%s); "
         "create it or pass another path.",
         root_dir, errno ? strerror(errno) : "not a directory");
    free(p);
    return NULL;
  }
  if (pipe2(p->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
    fail(err, "peer for '%s': pipe2 failed (%s); raise the open file limit.",
         root_dir, strerror(errno));
    free(p);
    return NULL;
  }
  inet_ntop(AF_INET, &ia, p->addr_text, sizeof p->addr_text);
  p->addr.sin_family = AF_INET;
  p->addr.sin_addr = ia;
  p->addr.sin_port = 0;
  pthread_mutex_init(&p->ctl, NULL);
  pthread_mutex_init(&p->lock, NULL);
  if (daemon_start(p, err) != 0) {
    peer_stop(p);
    return NULL;
  }
  snprintf(p->base_url, sizeof p->base_url, "http://%s:%u/", p->addr_text,
           (unsigned)ntohs(p->addr.sin_port));
  return p;
}

void peer_stop(sss_peer *p) {
  if (!p) return;
  pthread_mutex_lock(&p->ctl);
  daemon_stop(p);
  pthread_mutex_unlock(&p->ctl);
  close(p->wake[0]);
  close(p->wake[1]);
  struct path_count *pc, *tmp;
  HASH_ITER(hh, p->paths, pc, tmp) {
    HASH_DEL(p->paths, pc);
    free(pc);
  }
  pthread_mutex_destroy(&p->lock);
  pthread_mutex_destroy(&p->ctl);
  free(p);
}

uint16_t peer_port(const sss_peer *p) {
  return ntohs(p->addr.sin_port);
}

const char *peer_base_url(const sss_peer *p) {
  return p->base_url;
}

int peer_set_fault(sss_peer *p, peer_fault_kind kind, uint64_t arg, char *err) {
  bool known = false;
  for (size_t i = 0; i < N_FAULTS; i++) {
    if (fault_table[i].kind != kind) continue;
    known = true;
    if (fault_table[i].arg == ARG_POSITIVE && arg == 0)
      return fail(err,
                  "peer %s: fault '%s' needs its argument (the %s) to be at "
                  "least 1, got 0; pass e.g. %s.",
                  p->base_url, fault_table[i].name, fault_table[i].meaning,
                  fault_table[i].example + strlen(fault_table[i].name) + 1);
    if (fault_table[i].arg == ARG_NONE) arg = 0;
  }
  if (!known)
    return fail(err,
                "peer %s: fault kind %d is not a peer_fault_kind; pass one of "
                "the PEER_FAULT_* values.",
                p->base_url, (int)kind);
  int rc = 0;
  pthread_mutex_lock(&p->ctl);
  pthread_mutex_lock(&p->lock);
  p->fault = (peer_fault){.kind = kind, .arg = arg};
  pthread_mutex_unlock(&p->lock);
  if (kind == PEER_FAULT_DOWN) {
    daemon_stop(p);
  } else if (!p->daemon && daemon_start(p, err) != 0) {
    pthread_mutex_lock(&p->lock);
    p->fault = (peer_fault){.kind = PEER_FAULT_DOWN};
    pthread_mutex_unlock(&p->lock);
    rc = -1;
  }
  pthread_mutex_unlock(&p->ctl);
  return rc;
}

peer_fault peer_get_fault(const sss_peer *p) {
  sss_peer *q = (sss_peer *)p; /* the lock is not part of the value */
  pthread_mutex_lock(&q->lock);
  peer_fault f = q->fault;
  pthread_mutex_unlock(&q->lock);
  return f;
}

int peer_set_down(sss_peer *p, bool down, char *err) {
  return peer_set_fault(p, down ? PEER_FAULT_DOWN : PEER_FAULT_NONE, 0, err);
}

uint64_t peer_requests(const sss_peer *p) {
  return atomic_load(&p->requests);
}

uint64_t peer_connections(const sss_peer *p) {
  return atomic_load(&p->connections);
}

uint64_t peer_bytes_sent(const sss_peer *p) {
  return atomic_load(&p->bytes_sent);
}

uint64_t peer_path_requests(const sss_peer *p, const char *url_path) {
  sss_peer *q = (sss_peer *)p;
  struct path_count *pc;
  pthread_mutex_lock(&q->lock);
  HASH_FIND_STR(q->paths, url_path, pc);
  uint64_t n = pc ? pc->n : 0;
  pthread_mutex_unlock(&q->lock);
  return n;
}

void peer_visit_paths(const sss_peer *p,
                      void (*visit)(void *ctx, const char *url_path,
                                    uint64_t requests),
                      void *ctx) {
  sss_peer *q = (sss_peer *)p;
  pthread_mutex_lock(&q->lock);
  for (struct path_count *pc = q->paths; pc; pc = pc->hh.next)
    visit(ctx, pc->path, pc->n);
  pthread_mutex_unlock(&q->lock);
}

void peer_reset_counters(sss_peer *p) {
  pthread_mutex_lock(&p->lock);
  struct path_count *pc, *tmp;
  HASH_ITER(hh, p->paths, pc, tmp) {
    HASH_DEL(p->paths, pc);
    free(pc);
  }
  atomic_store(&p->requests, 0);
  atomic_store(&p->connections, 0);
  atomic_store(&p->bytes_sent, 0);
  pthread_mutex_unlock(&p->lock);
}
