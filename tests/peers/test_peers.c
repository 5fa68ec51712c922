/* test_peers.c: the simulated peers of host-sim/peers.c, driven with libcurl.
 *
 * Each test gets a fresh temp dir holding share/snap.bin (256 KiB of seeded
 * pseudo-random bytes), share/sub/ (a directory), share/link (a symlink
 * leading out of the share) and secret.txt beside the share, plus a peer
 * serving share/. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "peers.h"

#include <criterion/criterion.h>
#include <curl/curl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define FILE_SIZE (256 * 1024)

static char tmp_dir[] = "/tmp/sss-test-peers-XXXXXX";
static bool tmp_made;
static char share_dir[512];
static uint8_t data[FILE_SIZE];
static sss_peer *peer;

static void write_file(const char *path, const void *bytes, size_t len) {
  FILE *f = fopen(path, "wb");
  cr_assert_not_null(f, "cannot create %s", path);
  cr_assert_eq(fwrite(bytes, 1, len, f), len, "cannot write %s", path);
  cr_assert_eq(fclose(f), 0);
}

static void setup(void) {
  cr_assert_eq(curl_global_init(CURL_GLOBAL_DEFAULT), CURLE_OK);
  cr_assert_not_null(mkdtemp(tmp_dir), "mkdtemp failed");
  tmp_made = true;
  char path[600];
  snprintf(share_dir, sizeof share_dir, "%s/share", tmp_dir);
  cr_assert_eq(mkdir(share_dir, 0700), 0);
  snprintf(path, sizeof path, "%s/sub", share_dir);
  cr_assert_eq(mkdir(path, 0700), 0);
  uint64_t x = 0x9e3779b97f4a7c15u; /* xorshift64, fixed seed */
  for (size_t i = 0; i < FILE_SIZE; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    data[i] = (uint8_t)x;
  }
  snprintf(path, sizeof path, "%s/snap.bin", share_dir);
  write_file(path, data, FILE_SIZE);
  snprintf(path, sizeof path, "%s/secret.txt", tmp_dir);
  write_file(path, "secret\n", 7);
  snprintf(path, sizeof path, "%s/link", share_dir);
  cr_assert_eq(symlink("../secret.txt", path), 0);

  char err[PEER_ERROR_SIZE] = "";
  peer = peer_start(share_dir, err);
  cr_assert_not_null(peer, "peer_start: %s", err);
}

static int remove_entry(const char *path, const struct stat *st, int flag,
                        struct FTW *ftw) {
  (void)st;
  (void)flag;
  (void)ftw;
  return remove(path);
}

static void teardown(void) {
  peer_stop(peer);
  peer = NULL;
  if (tmp_made) nftw(tmp_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
  curl_global_cleanup();
}

TestSuite(peers, .init = setup, .fini = teardown, .timeout = 20);

/* ---- Client helpers ---------------------------------------------------- */

struct resp {
  CURLcode rc;
  long status;
  uint8_t *body;
  size_t len;
  double seconds;
  long num_connects;
  curl_off_t content_length;
};

static size_t on_body(char *ptr, size_t size, size_t n, void *ud) {
  struct resp *r = ud;
  uint8_t *grown = realloc(r->body, r->len + size * n + 1);
  if (!grown) return 0;
  r->body = grown;
  memcpy(r->body + r->len, ptr, size * n);
  r->len += size * n;
  return size * n;
}

/* An easy handle for path on p (path without the leading slash). */
static CURL *easy(const sss_peer *p, const char *path, struct resp *r) {
  CURL *h = curl_easy_init();
  cr_assert_not_null(h);
  char url[512];
  snprintf(url, sizeof url, "%s%s", peer_base_url(p), path);
  memset(r, 0, sizeof *r);
  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(h, CURLOPT_TIMEOUT, 10L);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
  return h;
}

static void perform(CURL *h, struct resp *r) {
  free(r->body);
  r->body = NULL;
  r->len = 0;
  r->rc = curl_easy_perform(h);
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
  curl_easy_getinfo(h, CURLINFO_TOTAL_TIME, &r->seconds);
  curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &r->num_connects);
  curl_easy_getinfo(h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &r->content_length);
}

/* One request for path, optionally with a Range header value. */
static void get(const char *path, const char *range, struct resp *r) {
  CURL *h = easy(peer, path, r);
  if (range) curl_easy_setopt(h, CURLOPT_RANGE, range);
  perform(h, r);
  curl_easy_cleanup(h);
}

/* The value of a response header of h's last transfer, or NULL. */
static const char *header(CURL *h, const char *name) {
  struct curl_header *hd;
  if (curl_easy_header(h, name, 0, CURLH_HEADER, -1, &hd) != CURLHE_OK)
    return NULL;
  return hd->value;
}

static void set_fault(const char *text) {
  peer_fault f;
  char err[PEER_ERROR_SIZE] = "";
  cr_assert_eq(peer_fault_parse(text, &f, err), 0, "%s", err);
  cr_assert_eq(peer_set_fault(peer, f.kind, f.arg, err), 0, "%s", err);
}

static void assert_range(const char *range, uint64_t first, uint64_t last) {
  struct resp r;
  CURL *h = easy(peer, "snap.bin", &r);
  curl_easy_setopt(h, CURLOPT_RANGE, range);
  perform(h, &r);
  cr_assert_eq(r.rc, CURLE_OK, "range %s: %s", range, curl_easy_strerror(r.rc));
  cr_assert_eq(r.status, 206, "range %s: status %ld", range, r.status);
  cr_assert_eq(r.len, last - first + 1, "range %s: %zu bytes", range, r.len);
  cr_assert_eq(memcmp(r.body, data + first, r.len), 0, "range %s: bytes",
               range);
  char want[96];
  snprintf(want, sizeof want, "bytes %llu-%llu/%d", (unsigned long long)first,
           (unsigned long long)last, FILE_SIZE);
  const char *cr = header(h, "Content-Range");
  cr_assert(cr && strcmp(cr, want) == 0, "range %s: Content-Range '%s'", range,
            cr ? cr : "(none)");
  free(r.body);
  curl_easy_cleanup(h);
}

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* ---- Honest serving ---------------------------------------------------- */

Test(peers, get_full_file_bytes_and_headers) {
  struct resp r;
  CURL *h = easy(peer, "snap.bin", &r);
  perform(h, &r);
  cr_assert_eq(r.rc, CURLE_OK, "%s", curl_easy_strerror(r.rc));
  cr_assert_eq(r.status, 200);
  cr_assert_eq(r.content_length, FILE_SIZE);
  cr_assert_eq(r.len, FILE_SIZE);
  cr_assert_eq(memcmp(r.body, data, FILE_SIZE), 0);
  const char *ar = header(h, "Accept-Ranges");
  cr_assert(ar && strcmp(ar, "bytes") == 0, "Accept-Ranges '%s'",
            ar ? ar : "(none)");
  cr_assert_eq(strncmp(peer_base_url(peer), "http://127.0.0.1:", 17), 0);
  free(r.body);
  curl_easy_cleanup(h);
}

Test(peers, head_reports_size_without_body) {
  struct resp r;
  CURL *h = easy(peer, "snap.bin", &r);
  curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  perform(h, &r);
  cr_assert_eq(r.rc, CURLE_OK, "%s", curl_easy_strerror(r.rc));
  cr_assert_eq(r.status, 200);
  cr_assert_eq(r.content_length, FILE_SIZE);
  cr_assert_eq(r.len, 0);
  cr_assert_not_null(header(h, "Accept-Ranges"));
  curl_easy_cleanup(h);
}

Test(peers, ranges_answer_206_with_content_range) {
  assert_range("100-199", 100, 199);
  assert_range("1000-", 1000, FILE_SIZE - 1);
  assert_range("-500", FILE_SIZE - 500, FILE_SIZE - 1);
  assert_range("10-999999999", 10, FILE_SIZE - 1); /* end clamped */
  assert_range("-999999999", 0, FILE_SIZE - 1);    /* suffix longer */
  assert_range("0-0", 0, 0);
}

Test(peers, unsatisfiable_range_answers_416) {
  const char *ranges[] = {"262144-", "262144-262200", "-0"};
  for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++) {
    struct resp r;
    CURL *h = easy(peer, "snap.bin", &r);
    curl_easy_setopt(h, CURLOPT_RANGE, ranges[i]);
    perform(h, &r);
    cr_assert_eq(r.status, 416, "range %s: status %ld", ranges[i], r.status);
    const char *cr = header(h, "Content-Range");
    cr_assert(cr && strcmp(cr, "bytes */262144") == 0,
              "range %s: Content-Range '%s'", ranges[i], cr ? cr : "(none)");
    free(r.body);
    curl_easy_cleanup(h);
  }
}

Test(peers, multiple_ranges_answer_200_in_full) {
  struct resp r;
  get("snap.bin", "0-9,20-29", &r);
  cr_assert_eq(r.status, 200);
  cr_assert_eq(r.len, FILE_SIZE);
  cr_assert_eq(memcmp(r.body, data, FILE_SIZE), 0);
  free(r.body);
}

Test(peers, paths_outside_the_share_answer_404) {
  struct stat st;
  char secret[600];
  snprintf(secret, sizeof secret, "%s/secret.txt", tmp_dir);
  cr_assert_eq(stat(secret, &st), 0, "the file to escape to must exist");
  const char *paths[] = {"../secret.txt",
                         "%2e%2e/secret.txt",
                         "sub/../../secret.txt",
                         "link",
                         "sub",
                         "",
                         "missing.bin"};
  for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
    struct resp r;
    CURL *h = easy(peer, paths[i], &r);
    curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L); /* keep the dot segments */
    perform(h, &r);
    cr_assert_eq(r.status, 404, "path '/%s': status %ld", paths[i], r.status);
    cr_assert(r.len < 7 || !memmem(r.body, r.len, "secret", 6),
              "path '/%s' leaked the secret", paths[i]);
    free(r.body);
    curl_easy_cleanup(h);
  }
}

Test(peers, keep_alive_reuses_the_connection) {
  struct resp r;
  CURL *h = easy(peer, "snap.bin", &r);
  perform(h, &r);
  cr_assert_eq(r.rc, CURLE_OK);
  cr_assert_eq(r.num_connects, 1);
  curl_easy_setopt(h, CURLOPT_RANGE, "0-99");
  perform(h, &r);
  cr_assert_eq(r.rc, CURLE_OK);
  cr_assert_eq(r.status, 206);
  cr_assert_eq(r.num_connects, 0, "the second request opened a connection");
  free(r.body);
  curl_easy_cleanup(h);
}

/* ---- Counters ---------------------------------------------------------- */

struct seen {
  int n;
  char path[64];
  uint64_t count;
};

static void on_path(void *ctx, const char *path, uint64_t n) {
  struct seen *s = ctx;
  s->n++;
  snprintf(s->path, sizeof s->path, "%s", path);
  s->count = n;
}

Test(peers, counters_count_requests_bytes_and_paths) {
  char err[PEER_ERROR_SIZE] = "";
  sss_peer *idle = peer_start(share_dir, err);
  cr_assert_not_null(idle, "%s", err);
  cr_assert_eq(peer_requests(peer), 0);
  cr_assert_eq(peer_bytes_sent(peer), 0);

  struct resp r;
  CURL *h = easy(peer, "snap.bin", &r);
  perform(h, &r);
  cr_assert_eq(r.rc, CURLE_OK);
  /* A second request on the same connection is read only after the first
   * one's completion was recorded, so the honest body is counted by now. */
  curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  perform(h, &r);
  cr_assert_eq(r.num_connects, 0);
  cr_assert_eq(peer_requests(peer), 2);
  cr_assert_eq(peer_bytes_sent(peer), FILE_SIZE);
  cr_assert_eq(peer_path_requests(peer, "/snap.bin"), 2);
  cr_assert_eq(peer_path_requests(peer, "/other.bin"), 0);
  struct seen s = {0};
  peer_visit_paths(peer, on_path, &s);
  cr_assert_eq(s.n, 1);
  cr_assert_str_eq(s.path, "/snap.bin");
  cr_assert_eq(s.count, 2);

  /* Paced bodies count what they produced, 404s count as requests. */
  set_fault("corrupt:0");
  curl_easy_setopt(h, CURLOPT_NOBODY, 0L);
  curl_easy_setopt(h, CURLOPT_RANGE, "0-999");
  perform(h, &r);
  cr_assert_eq(r.status, 206);
  cr_assert_eq(peer_bytes_sent(peer), FILE_SIZE + 1000);
  struct resp r404;
  get("missing", NULL, &r404);
  cr_assert_eq(r404.status, 404);
  cr_assert_eq(peer_requests(peer), 4);
  cr_assert_eq(peer_path_requests(peer, "/missing"), 1);

  cr_assert_eq(peer_requests(idle), 0, "a peer never contacted counts 0");
  cr_assert_eq(peer_path_requests(idle, "/snap.bin"), 0);
  peer_reset_counters(peer);
  cr_assert_eq(peer_requests(peer), 0);
  cr_assert_eq(peer_bytes_sent(peer), 0);
  cr_assert_eq(peer_path_requests(peer, "/snap.bin"), 0);
  free(r.body);
  free(r404.body);
  curl_easy_cleanup(h);
  peer_stop(idle);
}

/* ---- Faults ------------------------------------------------------------ */

Test(peers, fault_404_and_500_answer_their_status) {
  struct resp r;
  set_fault("404");
  get("snap.bin", NULL, &r);
  cr_assert_eq(r.status, 404);
  free(r.body);
  set_fault("500");
  get("snap.bin", NULL, &r);
  cr_assert_eq(r.status, 500);
  free(r.body);
  set_fault("none");
  get("snap.bin", NULL, &r);
  cr_assert_eq(r.status, 200, "clearing the fault restores the file");
  free(r.body);
}

Test(peers, fault_down_refuses_then_restarts_on_the_same_port) {
  char err[PEER_ERROR_SIZE] = "";
  uint16_t port = peer_port(peer);
  cr_assert_eq(peer_set_down(peer, true, err), 0, "%s", err);
  cr_assert_eq(peer_get_fault(peer).kind, PEER_FAULT_DOWN);
  struct resp r;
  get("snap.bin", NULL, &r);
  cr_assert_eq(r.rc, CURLE_COULDNT_CONNECT, "got %s", curl_easy_strerror(r.rc));
  cr_assert_eq(peer_requests(peer), 0);
  free(r.body);
  cr_assert_eq(peer_set_down(peer, false, err), 0, "%s", err);
  cr_assert_eq(peer_port(peer), port);
  get("snap.bin", NULL, &r);
  cr_assert_eq(r.rc, CURLE_OK, "%s", curl_easy_strerror(r.rc));
  cr_assert_eq(r.len, FILE_SIZE);
  free(r.body);
}

Test(peers, fault_slow_paces_the_body) {
  set_fault("slow:262144"); /* 64 KiB at 256 KiB/s: at least 0.25 s */
  struct resp r;
  double t0 = now_s();
  get("snap.bin", "0-65535", &r);
  double took = now_s() - t0;
  cr_assert_eq(r.rc, CURLE_OK, "%s", curl_easy_strerror(r.rc));
  cr_assert_eq(r.len, 65536);
  cr_assert_eq(memcmp(r.body, data, 65536), 0);
  cr_assert_geq(took, 0.25, "64 KiB at 256 KiB/s took only %.3f s", took);
  cr_assert_lt(took, 3.0, "64 KiB at 256 KiB/s took %.3f s", took);
  free(r.body);
}

Test(peers, fault_stall_sends_n_bytes_then_nothing) {
  set_fault("stall:65536");
  struct resp r;
  CURL *h = easy(peer, "snap.bin", &r);
  /* curl's low-speed check averages over seconds; a deadline is quicker. */
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 700L);
  perform(h, &r);
  cr_assert_eq(r.rc, CURLE_OPERATION_TIMEDOUT, "got %s",
               curl_easy_strerror(r.rc));
  cr_assert_eq(r.status, 200);
  cr_assert_eq(r.len, 65536);
  cr_assert_eq(memcmp(r.body, data, r.len), 0);
  free(r.body);
  curl_easy_cleanup(h);
}

Test(peers, fault_truncate_closes_after_n_bytes) {
  set_fault("truncate:1000");
  struct resp r;
  get("snap.bin", NULL, &r);
  cr_assert_eq(r.rc, CURLE_PARTIAL_FILE, "got %s", curl_easy_strerror(r.rc));
  cr_assert_eq(r.content_length, FILE_SIZE, "the full length is announced");
  cr_assert_eq(r.len, 1000);
  cr_assert_eq(memcmp(r.body, data, 1000), 0);
  free(r.body);
}

Test(peers, fault_corrupt_inverts_exactly_the_byte_at_the_offset) {
  set_fault("corrupt:4096");
  struct resp r;
  get("snap.bin", NULL, &r);
  cr_assert_eq(r.rc, CURLE_OK);
  cr_assert_eq(r.len, FILE_SIZE);
  for (size_t i = 0; i < FILE_SIZE; i++)
    if (i == 4096)
      cr_assert_eq(r.body[i], (uint8_t)~data[i], "byte 4096 not inverted");
    else
      cr_assert_eq(r.body[i], data[i], "byte %zu differs", i);
  free(r.body);
  get("snap.bin", "4000-4199", &r); /* and inside a range covering it */
  cr_assert_eq(r.status, 206);
  cr_assert_eq(r.len, 200);
  cr_assert_eq(r.body[96], (uint8_t)~data[4096]);
  cr_assert_eq(memcmp(r.body, data + 4000, 96), 0);
  cr_assert_eq(memcmp(r.body + 97, data + 4097, 103), 0);
  free(r.body);
}

Test(peers, fault_norange_answers_200_in_full) {
  set_fault("norange");
  struct resp r;
  CURL *h = easy(peer, "snap.bin", &r);
  curl_easy_setopt(h, CURLOPT_RANGE, "100-199");
  perform(h, &r);
  cr_assert_eq(r.rc, CURLE_OK);
  cr_assert_eq(r.status, 200);
  cr_assert_eq(r.len, FILE_SIZE);
  cr_assert_eq(memcmp(r.body, data, FILE_SIZE), 0);
  cr_assert_null(header(h, "Accept-Ranges"));
  cr_assert_null(header(h, "Content-Range"));
  free(r.body);
  curl_easy_cleanup(h);
}

Test(peers, fault_redirect_points_to_ftp_which_curl_refuses) {
  set_fault("redirect");
  struct resp r;
  CURL *h = easy(peer, "snap.bin", &r);
  perform(h, &r);
  cr_assert_eq(r.status, 302);
  const char *loc = header(h, "Location");
  char want[64];
  snprintf(want, sizeof want, "ftp://127.0.0.1:%u/snap.bin",
           (unsigned)peer_port(peer));
  cr_assert(loc && strcmp(loc, want) == 0, "Location '%s'",
            loc ? loc : "(none)");
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  perform(h, &r);
  cr_assert_eq(r.rc, CURLE_UNSUPPORTED_PROTOCOL, "got %s",
               curl_easy_strerror(r.rc));
  free(r.body);
  curl_easy_cleanup(h);
}

Test(peers, fault_oversized_serves_extra_bytes) {
  set_fault("oversized:100");
  struct resp r;
  CURL *h = easy(peer, "snap.bin", &r);
  curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  perform(h, &r);
  cr_assert_eq(r.content_length, FILE_SIZE + 100);
  curl_easy_setopt(h, CURLOPT_NOBODY, 0L);
  curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
  perform(h, &r);
  cr_assert_eq(r.rc, CURLE_OK, "%s", curl_easy_strerror(r.rc));
  cr_assert_eq(r.len, FILE_SIZE + 100);
  cr_assert_eq(memcmp(r.body, data, FILE_SIZE), 0);
  curl_easy_setopt(h, CURLOPT_RANGE, "-50");
  perform(h, &r);
  cr_assert_eq(r.status, 206);
  cr_assert_eq(r.len, 50);
  cr_assert_str_eq(header(h, "Content-Range"), "bytes 262194-262243/262244");
  free(r.body);
  curl_easy_cleanup(h);
}

/* ---- Stopping while a body is paced or stalled ------------------------- */

struct client {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  size_t received;
  CURLcode rc;
  bool done;
  char url[256];
};

static size_t client_body(char *ptr, size_t size, size_t n, void *ud) {
  struct client *c = ud;
  (void)ptr;
  pthread_mutex_lock(&c->mu);
  c->received += size * n;
  pthread_cond_broadcast(&c->cv);
  pthread_mutex_unlock(&c->mu);
  return size * n;
}

static void *client_run(void *arg) {
  struct client *c = arg;
  CURL *h = curl_easy_init();
  curl_easy_setopt(h, CURLOPT_URL, c->url);
  curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(h, CURLOPT_TIMEOUT, 10L);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, client_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, c);
  CURLcode rc = curl_easy_perform(h);
  curl_easy_cleanup(h);
  pthread_mutex_lock(&c->mu);
  c->rc = rc;
  c->done = true;
  pthread_cond_broadcast(&c->cv);
  pthread_mutex_unlock(&c->mu);
  return NULL;
}

/* Starts a download with the fault, waits (at most 5 s) until `bytes`
 * arrived, then stops the peer (or takes it down) and asserts that this
 * returned within a second and ended the transfer. */
static void assert_stop_is_prompt(const char *fault, size_t bytes,
                                  bool down_only) {
  set_fault(fault);
  struct client c = {.rc = CURLE_OK};
  pthread_mutex_init(&c.mu, NULL);
  pthread_cond_init(&c.cv, NULL);
  snprintf(c.url, sizeof c.url, "%ssnap.bin", peer_base_url(peer));
  pthread_t t;
  cr_assert_eq(pthread_create(&t, NULL, client_run, &c), 0);

  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += 5;
  pthread_mutex_lock(&c.mu);
  int w = 0;
  while (c.received < bytes && !c.done && w == 0)
    w = pthread_cond_timedwait(&c.cv, &c.mu, &until);
  size_t got = c.received;
  pthread_mutex_unlock(&c.mu);

  char err[PEER_ERROR_SIZE] = "";
  int rc = 0;
  double t0 = now_s();
  if (down_only) {
    rc = peer_set_down(peer, true, err);
  } else {
    peer_stop(peer);
    peer = NULL;
  }
  double took = now_s() - t0;
  pthread_join(t, NULL);
  pthread_cond_destroy(&c.cv);
  pthread_mutex_destroy(&c.mu);
  cr_assert_eq(rc, 0, "%s", err);
  cr_assert_geq(got, bytes, "fault %s: %zu bytes arrived before the stop",
                fault, got);
  cr_assert_lt(took, 1.0, "fault %s: stopping took %.3f s", fault, took);
  cr_assert_neq(c.rc, CURLE_OK, "fault %s: the transfer cannot complete",
                fault);
  cr_assert_lt(c.received, FILE_SIZE);
}

Test(peers, stop_during_slow_transfer_is_prompt) {
  /* 4 KiB/s sends about 409 bytes every 0.1 s: 256 KiB would take 64 s. */
  assert_stop_is_prompt("slow:4096", 409, false);
}

Test(peers, stop_during_stalled_transfer_is_prompt) {
  assert_stop_is_prompt("stall:65536", 65536, false);
}

Test(peers, down_during_stalled_transfer_is_prompt_and_comes_back) {
  assert_stop_is_prompt("stall:1", 1, true);
  char err[PEER_ERROR_SIZE] = "";
  cr_assert_eq(peer_set_down(peer, false, err), 0, "%s", err);
  struct resp r;
  get("snap.bin", NULL, &r);
  cr_assert_eq(r.rc, CURLE_OK, "%s", curl_easy_strerror(r.rc));
  cr_assert_eq(r.len, FILE_SIZE);
  free(r.body);
}

/* ---- Setup errors and the fault parser --------------------------------- */

Test(peers, start_errors_name_the_directory_and_address) {
  char err[PEER_ERROR_SIZE] = "";
  cr_assert_null(peer_start("/nonexistent/share-dir", err));
  cr_assert(strstr(err, "/nonexistent/share-dir"), "err: %s", err);
  err[0] = 0;
  cr_assert_null(peer_start_at(share_dir, "192.0.2.7", err));
  cr_assert(strstr(err, "192.0.2.7") && strstr(err, "loopback"), "err: %s", err);
  err[0] = 0;
  cr_assert_eq(peer_set_fault(peer, PEER_FAULT_SLOW, 0, err), -1);
  cr_assert(strstr(err, "slow"), "err: %s", err);
}

Test(peers, start_at_another_loopback_address) {
  char err[PEER_ERROR_SIZE] = "";
  sss_peer *p2 = peer_start_at(share_dir, "127.0.0.2", err);
  cr_assert_not_null(p2, "%s", err);
  cr_assert_eq(strncmp(peer_base_url(p2), "http://127.0.0.2:", 17), 0);
  struct resp r;
  CURL *h = easy(p2, "snap.bin", &r);
  perform(h, &r);
  cr_assert_eq(r.rc, CURLE_OK, "%s", curl_easy_strerror(r.rc));
  cr_assert_eq(r.len, FILE_SIZE);
  free(r.body);
  curl_easy_cleanup(h);
  peer_stop(p2);
}

Test(peers, fault_parser_reads_kinds_and_arguments) {
  struct {
    const char *text;
    peer_fault_kind kind;
    uint64_t arg;
  } ok[] = {
      {"none", PEER_FAULT_NONE, 0},
      {"down", PEER_FAULT_DOWN, 0},
      {"404", PEER_FAULT_404, 0},
      {"500", PEER_FAULT_500, 0},
      {"slow:1048576", PEER_FAULT_SLOW, 1048576},
      {"stall:65536", PEER_FAULT_STALL, 65536},
      {"truncate:1000", PEER_FAULT_TRUNCATE, 1000},
      {"corrupt:4096", PEER_FAULT_CORRUPT, 4096},
      {"norange", PEER_FAULT_NORANGE, 0},
      {"redirect", PEER_FAULT_REDIRECT, 0},
      {"oversized:1", PEER_FAULT_OVERSIZED, 1},
  };
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    peer_fault f = {PEER_FAULT_NONE, 12345};
    char err[PEER_ERROR_SIZE] = "";
    cr_assert_eq(peer_fault_parse(ok[i].text, &f, err), 0, "%s: %s", ok[i].text,
                 err);
    cr_assert_eq(f.kind, ok[i].kind, "%s", ok[i].text);
    cr_assert_eq(f.arg, ok[i].arg, "%s", ok[i].text);
    cr_assert_str_eq(peer_fault_name(f.kind), strtok(strdupa(ok[i].text), ":"));
  }
}

Test(peers, fault_parser_explains_bad_input) {
  const char *bad[] = {"",
                       "bogus",
                       "slow",
                       "slow:abc",
                       "slow:0",
                       "404:1",
                       "truncate:-1",
                       "stall:",
                       "oversized:0",
                       "corrupt:1x",
                       "stall:99999999999999999999999"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    peer_fault f;
    char err[PEER_ERROR_SIZE] = "";
    cr_assert_eq(peer_fault_parse(bad[i], &f, err), -1, "'%s' was accepted",
                 bad[i]);
    char quoted[64];
    snprintf(quoted, sizeof quoted, "'%s'", bad[i]);
    cr_assert(strstr(err, quoted), "'%s': the sentence '%s' does not name it",
              bad[i], err);
    cr_assert(err[strlen(err) - 1] == '.', "'%s': '%s' is not a sentence",
              bad[i], err);
  }
}
