/* The host's file-mapped blob service (host-sim/blob_service.c) and the
 * cluster view it routes by (host-sim/cluster.c). */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "blob_service.h"
#include "cluster.h"
#include "share_dir.h"
#include "snapshot.h"

#define FILE_SIZE 700001u /* three chunks of 256 KiB and a bit */

static char root[256];
static hs_cluster cluster;
static hs_blob_service *svc;
static hs_snapshot snap;

static int produce(void *ctx, uint64_t off, void *buf, size_t len) {
  hs_snapshot_fill(ctx, off, buf, len);
  return 0;
}

static void setup(void) {
  char err[HS_ERR_SIZE];
  snprintf(root, sizeof root, "%s/hs-blob-XXXXXX",
           getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
  cr_assert_not_null(mkdtemp(root));
  cr_assert_eq(hs_cluster_init(&cluster, root, 2, 1, 30000, err), 0, "%s", err);
  hs_snapshot_init(&snap, 5, 0, FILE_SIZE);
  for (size_t i = 0; i < cluster.n_nodes; i++)
    cr_assert_eq(hs_share_write(cluster.nodes[i].share_dir, "v2/storage/f",
                                FILE_SIZE, produce, &snap, err),
                 0);
  cr_assert_eq(hs_blob_service_start(&svc, &cluster, 2, 256 * 1024, err), 0);
}

static void teardown(void) {
  hs_blob_service_stop(svc);
  hs_cluster_release(&cluster);
  hs_remove_tree(root);
}

/* A sink that collects the body and records finish. */
typedef struct sink_state {
  pthread_mutex_t mu;
  pthread_cond_t cond;
  uint8_t *body;
  size_t len, stop_after; /* stop_after: write returns 1 past it (0: never) */
  int writes_after_stop;
  int finishes, status, http;
  char message[512];
} sink_state;

static int sink_write(void *ctx, const void *data, size_t len) {
  sink_state *s = ctx;
  pthread_mutex_lock(&s->mu);
  if (s->stop_after && s->len >= s->stop_after) s->writes_after_stop++;
  s->body = realloc(s->body, s->len + len);
  memcpy(s->body + s->len, data, len);
  s->len += len;
  int stop = s->stop_after && s->len >= s->stop_after;
  pthread_mutex_unlock(&s->mu);
  return stop;
}

static void sink_finish(void *ctx, int status, int http, const char *msg) {
  sink_state *s = ctx;
  pthread_mutex_lock(&s->mu);
  s->finishes++;
  s->status = status;
  s->http = http;
  snprintf(s->message, sizeof s->message, "%s", msg ? msg : "");
  pthread_cond_broadcast(&s->cond);
  pthread_mutex_unlock(&s->mu);
}

static void sink_init(sink_state *s) {
  memset(s, 0, sizeof *s);
  pthread_mutex_init(&s->mu, NULL);
  pthread_cond_init(&s->cond, NULL);
}

/* Waits at most `secs` for finish. Returns the number of finishes. */
static int sink_wait(sink_state *s, int secs) {
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += secs;
  pthread_mutex_lock(&s->mu);
  while (!s->finishes &&
         pthread_cond_timedwait(&s->cond, &s->mu, &until) == 0) {
  }
  int n = s->finishes;
  pthread_mutex_unlock(&s->mu);
  return n;
}

static int load(sink_state *s, const char *url, char *err) {
  sss_blob_request req = {.struct_size = sizeof req, .url = url};
  sss_blob_sink sink = {.struct_size = sizeof sink,
                        .sink_ctx = s,
                        .write = sink_write,
                        .finish = sink_finish};
  return hs_blob_load(svc, &req, &sink, err);
}

static void url_of(char *out, size_t len, const char *node, const char *rel) {
  snprintf(out, len, "%s%s", hs_cluster_find(&cluster, node)->base_url, rel);
}

static void set_fault(const char *spec) {
  char err[HS_ERR_SIZE];
  cr_assert_eq(hs_cluster_parse_fault(&cluster, spec, err), 0, "%s", err);
}

TestSuite(blob, .init = setup, .fini = teardown, .timeout = 30);

Test(blob, delivers_the_file_in_chunks_and_finishes_once_ok) {
  sink_state s;
  sink_init(&s);
  char url[128], err[SSS_ERROR_SIZE];
  url_of(url, sizeof url, "node1", "v2/storage/f");
  cr_assert_eq(load(&s, url, err), SSS_OK, "%s", err);
  cr_assert_eq(sink_wait(&s, 10), 1);
  cr_assert_eq(s.status, SSS_OK, "%s", s.message);
  cr_assert_eq(s.http, 200);
  cr_assert_eq(s.len, FILE_SIZE);
  uint8_t *want = malloc(FILE_SIZE);
  hs_snapshot_fill(&snap, 0, want, FILE_SIZE);
  cr_assert_eq(memcmp(want, s.body, FILE_SIZE), 0);
  free(want);
  cr_assert_eq(hs_cluster_find(&cluster, "node1")->requests, 1);
  cr_assert_eq(hs_cluster_find(&cluster, "node0")->requests, 0);
  free(s.body);
}

Test(blob, missing_file_is_not_found_404) {
  sink_state s;
  sink_init(&s);
  char url[128], err[SSS_ERROR_SIZE];
  url_of(url, sizeof url, "node0", "v2/storage/nope");
  cr_assert_eq(load(&s, url, err), SSS_OK);
  cr_assert_eq(sink_wait(&s, 10), 1);
  cr_assert_eq(s.status, SSS_ERR_NOT_FOUND);
  cr_assert_eq(s.http, 404);
  cr_assert(strstr(s.message, "node0") != NULL, "%s", s.message);
}

Test(blob, static_storage_maps_the_path_below_its_root) {
  sink_state s;
  sink_init(&s);
  char url[128], err[SSS_ERROR_SIZE];
  url_of(url, sizeof url, "static", "v2/storage/f");
  cr_assert_eq(load(&s, url, err), SSS_OK);
  cr_assert_eq(sink_wait(&s, 10), 1);
  cr_assert_eq(s.status, SSS_OK, "%s", s.message);
  free(s.body);
}

Test(blob, faults_down_404_500) {
  const struct {
    const char *spec;
    int status, http;
  } cases[] = {{"node0=down", SSS_ERR_NETWORK, 0},
               {"node0=404", SSS_ERR_NOT_FOUND, 404},
               {"node0=500", SSS_ERR_NETWORK, 500}};
  for (size_t i = 0; i < 3; i++) {
    set_fault(cases[i].spec);
    sink_state s;
    sink_init(&s);
    char url[128], err[SSS_ERROR_SIZE];
    url_of(url, sizeof url, "node0", "v2/storage/f");
    cr_assert_eq(load(&s, url, err), SSS_OK);
    cr_assert_eq(sink_wait(&s, 10), 1);
    cr_assert_eq(s.status, cases[i].status, "%s", cases[i].spec);
    cr_assert_eq(s.http, cases[i].http, "%s", cases[i].spec);
    cr_assert_eq(s.len, 0);
    cr_assert(strstr(s.message, "simulated") != NULL, "%s", s.message);
  }
}

Test(blob, corrupt_inverts_one_byte_at_the_offset) {
  set_fault("node0=corrupt:300000");
  sink_state s;
  sink_init(&s);
  char url[128], err[SSS_ERROR_SIZE];
  url_of(url, sizeof url, "node0", "v2/storage/f");
  cr_assert_eq(load(&s, url, err), SSS_OK);
  cr_assert_eq(sink_wait(&s, 10), 1);
  cr_assert_eq(s.status, SSS_OK);
  cr_assert_eq(s.len, FILE_SIZE);
  uint8_t *want = malloc(FILE_SIZE);
  hs_snapshot_fill(&snap, 0, want, FILE_SIZE);
  size_t diffs = 0;
  for (size_t i = 0; i < FILE_SIZE; i++)
    if (want[i] != s.body[i]) {
      diffs++;
      cr_assert_eq(i, 300000);
      cr_assert_eq(s.body[i], (uint8_t)~want[i]);
    }
  cr_assert_eq(diffs, 1);
  free(want);
  free(s.body);
}

Test(blob, truncate_delivers_a_prefix_then_fails) {
  set_fault("node0=truncate:1000");
  sink_state s;
  sink_init(&s);
  char url[128], err[SSS_ERROR_SIZE];
  url_of(url, sizeof url, "node0", "v2/storage/f");
  cr_assert_eq(load(&s, url, err), SSS_OK);
  cr_assert_eq(sink_wait(&s, 10), 1);
  cr_assert_eq(s.len, 1000);
  cr_assert_eq(s.status, SSS_ERR_NETWORK);
  cr_assert(strstr(s.message, "1000 of 700001") != NULL, "%s", s.message);
  free(s.body);
}

Test(blob, write_refusal_stops_delivery_and_finishes_once) {
  sink_state s;
  sink_init(&s);
  s.stop_after = 1;
  char url[128], err[SSS_ERROR_SIZE];
  url_of(url, sizeof url, "node0", "v2/storage/f");
  cr_assert_eq(load(&s, url, err), SSS_OK);
  cr_assert_eq(sink_wait(&s, 10), 1);
  cr_assert_neq(s.status, SSS_OK);
  cr_assert_eq(s.writes_after_stop, 0, "the host wrote after a refusal");
  cr_assert_eq(s.len, 256 * 1024);
  free(s.body);
}

Test(blob, cancel_ends_a_slow_transfer_promptly) {
  set_fault("node0=slow:10000"); /* the whole file would take 70 s */
  sink_state s;
  sink_init(&s);
  char url[128], err[SSS_ERROR_SIZE];
  url_of(url, sizeof url, "node0", "v2/storage/f");
  cr_assert_eq(load(&s, url, err), SSS_OK);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  sss_blob_sink sink = {.struct_size = sizeof sink,
                        .sink_ctx = &s,
                        .write = sink_write,
                        .finish = sink_finish};
  hs_blob_cancel(svc, &sink);
  cr_assert_eq(sink_wait(&s, 5), 1, "no finish within 5 s of cancel_blob");
  clock_gettime(CLOCK_MONOTONIC, &t1);
  cr_assert_eq(s.status, SSS_ERR_CANCELLED);
  cr_assert_lt(t1.tv_sec - t0.tv_sec, 3);
  cr_assert_lt(s.len, FILE_SIZE);
  free(s.body);
}

Test(blob, slow_paces_the_body) {
  set_fault("node1=slow:2000000"); /* 700 KB at 2 MB/s: about 0.35 s */
  sink_state s;
  sink_init(&s);
  char url[128], err[SSS_ERROR_SIZE];
  url_of(url, sizeof url, "node1", "v2/storage/f");
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  cr_assert_eq(load(&s, url, err), SSS_OK);
  cr_assert_eq(sink_wait(&s, 10), 1);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double secs =
      (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
  cr_assert_eq(s.status, SSS_OK);
  cr_assert_geq(secs, 0.3, "700 KB at 2 MB/s took only %.3f s", secs);
  free(s.body);
}

Test(blob, bad_urls_are_refused_at_once_without_finish) {
  const char *urls[] = {"not a url", "ftp://127.0.0.1:30000/v2/storage/f",
                        "http://127.0.0.1:30000/",
                        "http://127.0.0.1:30000/a/%2e%2e/%2e%2e/etc/passwd"};
  for (size_t i = 0; i < 4; i++) {
    sink_state s;
    sink_init(&s);
    char err[SSS_ERROR_SIZE] = "";
    cr_assert_lt(load(&s, urls[i], err), 0, "%s was accepted", urls[i]);
    cr_assert_neq(err[0], '\0');
    cr_assert_eq(s.finishes, 0);
  }
}

Test(blob, dot_segments_stay_inside_the_share_dir) {
  /* CURLU resolves "/a/../../etc/passwd" to "/etc/passwd", which maps to
   * share_dir/etc/passwd: absent, so 404, and never the system file. */
  sink_state s;
  sink_init(&s);
  char err[SSS_ERROR_SIZE];
  cr_assert_eq(load(&s, "http://127.0.0.1:30000/a/../../etc/passwd", err),
               SSS_OK);
  cr_assert_eq(sink_wait(&s, 10), 1);
  cr_assert_eq(s.status, SSS_ERR_NOT_FOUND);
  cr_assert_eq(s.len, 0);
}

Test(blob, unknown_port_is_connection_refused) {
  sink_state s;
  sink_init(&s);
  char err[SSS_ERROR_SIZE];
  cr_assert_eq(load(&s, "http://127.0.0.1:29999/v2/storage/f", err), SSS_OK);
  cr_assert_eq(sink_wait(&s, 10), 1);
  cr_assert_eq(s.status, SSS_ERR_NETWORK);
  cr_assert_eq(cluster.unknown_requests, 1);
}

Test(blob, requests_to_nodes_outside_the_bk_set_are_counted) {
  sink_state s;
  sink_init(&s);
  char url[128], err[SSS_ERROR_SIZE];
  url_of(url, sizeof url, "outsider0", "v2/storage/f");
  cr_assert_eq(hs_cluster_non_bk_requests(&cluster), 0);
  cr_assert_eq(load(&s, url, err), SSS_OK);
  cr_assert_eq(sink_wait(&s, 10), 1);
  cr_assert_eq(hs_cluster_non_bk_requests(&cluster), 1);
  free(s.body);
}

Test(blob, stop_finishes_queued_and_running_requests_once) {
  set_fault("node0=slow:1000");
  sink_state s[4];
  char url[128], err[SSS_ERROR_SIZE];
  url_of(url, sizeof url, "node0", "v2/storage/f");
  for (int i = 0; i < 4; i++) {
    sink_init(&s[i]);
    cr_assert_eq(load(&s[i], url, err), SSS_OK); /* 2 workers: 2 queued */
  }
  hs_blob_service_stop(svc);
  svc = NULL;
  for (int i = 0; i < 4; i++) {
    cr_assert_eq(s[i].finishes, 1, "request %d finished %d times", i,
                 s[i].finishes);
    cr_assert_eq(s[i].status, SSS_ERR_CANCELLED);
    free(s[i].body);
  }
}

/* ---- cluster view ---- */

typedef struct seen {
  char names[16][32];
  char urls[16][64];
  size_t n;
} seen;

static void visit_gossip(void *ctx, const char *id, const char *const *keys,
                         const char *const *values, size_t n) {
  seen *s = ctx;
  cr_assert_eq(n, 1);
  cr_assert_str_eq(keys[0], HS_GOSSIP_URL_KEY);
  snprintf(s->names[s->n], 32, "%s", id);
  snprintf(s->urls[s->n++], 64, "%s", values[0]);
}

static void visit_node(void *ctx, const char *id) {
  seen *s = ctx;
  snprintf(s->names[s->n++], 32, "%s", id);
}

Test(blob, gossip_lists_every_node_but_static_and_bk_excludes_outsiders) {
  seen g = {0}, bk = {0};
  hs_cluster_gossip_nodes(&cluster, visit_gossip, &g);
  hs_cluster_bk_set(&cluster, visit_node, &bk);
  cr_assert_eq(g.n, 3);
  cr_assert_str_eq(g.names[2], "outsider0");
  cr_assert_str_eq(g.urls[0], "http://127.0.0.1:30000/");
  cr_assert_eq(bk.n, 2);
  cr_assert_str_eq(bk.names[0], "node0");
  cr_assert_str_eq(bk.names[1], "node1");

  hs_cluster_set_bk(&cluster, hs_cluster_find(&cluster, "node0"), 0);
  hs_cluster_set_advertised(&cluster, hs_cluster_find(&cluster, "node1"), 0);
  seen g2 = {0}, bk2 = {0};
  hs_cluster_gossip_nodes(&cluster, visit_gossip, &g2);
  hs_cluster_bk_set(&cluster, visit_node, &bk2);
  cr_assert_eq(g2.n, 2);
  cr_assert_eq(bk2.n, 1);
  cr_assert_str_eq(bk2.names[0], "node1");
}

Test(blob, bad_fault_specs_are_sentences) {
  const char *bad[] = {"node0",      "nodeX=down",   "node0=melt",
                       "node0=slow", "node0=down:5", "node0=truncate:-1"};
  for (size_t i = 0; i < 6; i++) {
    char err[HS_ERR_SIZE] = "";
    cr_assert_eq(hs_cluster_parse_fault(&cluster, bad[i], err), -1, "%s",
                 bad[i]);
    cr_assert(strstr(err, bad[i]) != NULL, "'%s' not named in: %s", bad[i],
              err);
  }
}
