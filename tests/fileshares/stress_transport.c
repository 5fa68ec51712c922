/* stress_transport: the built-in libcurl transport under concurrency, as a
 * plain program so that the ThreadSanitizer build runs it too (Criterion
 * cannot start under TSan, Criterion issue #274). Real HTTP peers on
 * loopback (libmicrohttpd, host-sim/peers.c), a real staged file, the real
 * .so. Each round starts a task over 3 peers (one paced, so transfers are in
 * flight) and then, by round: lets it finish, resets it mid-transfer, or
 * destroys the instance mid-transfer, while another thread polls get_stats
 * and get_banned. Checks: exactly one result, installed bytes match, no
 * staged file left, no fd leaked. Exit 0 = all held.
 *   stress_transport [ROUNDS]   (default 12; each round is bounded) */
#include "peers.h"
#include "sss_plugin.h"

#include <dirent.h>
#include <dlfcn.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SIZE (4u << 20)
static const char *HEX =
    "5151515151515151515151515151515151515151515151515151515151515151";

static const sss_plugin *P;
static int failures, round_no;
static unsigned char want[32];

#define CHECK(cond, ...)                                                       \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "stress_transport: round %d: ", round_no);               \
      fprintf(stderr, __VA_ARGS__);                                            \
      fprintf(stderr, "\n");                                                   \
      failures++;                                                              \
    }                                                                          \
  } while (0)

typedef struct state {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int results, installed_ok, status;
  sss_instance *inst;
  int stop;
} state;

static void on_result(void *ctx, const sss_task_result *r) {
  state *s = ctx;
  pthread_mutex_lock(&s->mu);
  s->results++;
  s->status = r->status;
  pthread_cond_broadcast(&s->cv);
  pthread_mutex_unlock(&s->mu);
}

static int apply(void *ctx, void *repo, const sss_thread_id *t,
                 const sss_block_id *b, const sss_reader *r, uint64_t size,
                 char *err) {
  (void)repo, (void)t, (void)b;
  state *s = ctx;
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  EVP_DigestInit_ex(md, EVP_sha256(), NULL);
  char buf[1 << 14];
  int64_t n;
  uint64_t total = 0;
  while ((n = r->read(r->reader_ctx, buf, sizeof buf)) > 0) {
    EVP_DigestUpdate(md, buf, (size_t)n);
    total += (uint64_t)n;
  }
  unsigned char got[32];
  unsigned len = 0;
  EVP_DigestFinal_ex(md, got, &len);
  EVP_MD_CTX_free(md);
  int ok = total == size && size == SIZE && memcmp(got, want, 32) == 0;
  pthread_mutex_lock(&s->mu);
  s->installed_ok += ok;
  pthread_mutex_unlock(&s->mu);
  if (!ok) snprintf(err, SSS_ERROR_SIZE, "the bytes differ");
  return ok ? 0 : 1;
}

static int no_gossip(void *c, sss_gossip_visit_fn v, void *vc) {
  (void)c, (void)v, (void)vc;
  return 0;
}
static int no_bk(void *c, sss_node_visit_fn v, void *vc) {
  (void)c, (void)v, (void)vc;
  return 0;
}

static void *poll_stats(void *arg) {
  state *s = arg;
  while (!__atomic_load_n(&s->stop, __ATOMIC_SEQ_CST)) {
    sss_stats st = {.struct_size = sizeof st};
    P->get_stats(s->inst, &st);
    char url[256], why[256];
    for (size_t i = 0; P->get_banned(s->inst, i, url, sizeof url, why, sizeof why) == SSS_OK; i++) {
    }
    usleep(300);
  }
  return NULL;
}

static int count_fds(void) {
  DIR *d = opendir("/proc/self/fd");
  int n = 0;
  if (!d) return -1;
  while (readdir(d)) n++;
  closedir(d);
  return n;
}

static int dir_is_empty(const char *path) {
  DIR *d = opendir(path);
  struct dirent *de;
  int n = 0;
  while (d && (de = readdir(d)))
    if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) n++;
  if (d) closedir(d);
  return n == 0;
}

/* The fds of the process with no instance alive. The in-process peers close
 * their side of a connection a moment after the client did, so a round's
 * end waits (bounded) for the count to come back to it. */
static int baseline_fds;

static int fds_settle(void) {
  int n = count_fds();
  for (int i = 0; i < 300 && n != baseline_fds; i++) {
    usleep(10000);
    n = count_fds();
  }
  return n;
}

static void run_round(const char *sources, const char *staging) {
  state s = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
  sss_host h = {.struct_size = sizeof h, .ctx = &s, .gossip_nodes = no_gossip,
                .bk_set = no_bk, .apply_snapshot = apply};
  char err[SSS_ERROR_SIZE] = "";
  if (P->create(&h, &s.inst, err) != SSS_OK) {
    CHECK(0, "create: %s", err);
    return;
  }
  P->set_option(s.inst, "static_storages", sources, err);
  P->set_option(s.inst, "staging_dir", staging, err);
  P->set_option(s.inst, "parallel_sources", round_no % 2 ? "3" : "2", err);
  sss_load_entry e = {.struct_size = sizeof e,
                      .flags = SSS_ENTRY_HAS_SHA256 | (round_no % 2 ? SSS_ENTRY_HAS_SIZE : 0),
                      .size = SIZE};
  for (int i = 0; i < 32; i++) sscanf(HEX + 2 * i, "%2hhx", &e.block_id.bytes[i]);
  memcpy(e.sha256, want, 32);
  sss_task_output out = {.struct_size = sizeof out, .output_ctx = &s, .on_result = on_result};
  pthread_t poller;
  pthread_create(&poller, NULL, poll_stats, &s);
  CHECK(P->add_load_state_task(s.inst, &e, 1, NULL, &out, err) == SSS_OK, "add: %s", err);
  int mode = round_no % 3; /* 0 finish, 1 reset, 2 destroy */
  if (mode == 0) {
    pthread_mutex_lock(&s.mu);
    while (!s.results) pthread_cond_wait(&s.cv, &s.mu);
    pthread_mutex_unlock(&s.mu);
    CHECK(s.status == SSS_TASK_OK && s.installed_ok == 1,
          "expected an install, got status %d, %d good installs", s.status, s.installed_ok);
  } else {
    usleep(20000 + 7000 * (unsigned)(round_no % 5));
    if (mode == 1) {
      int rc = P->reset_sync(s.inst);
      CHECK(rc == SSS_OK || rc == SSS_IDLE, "reset_sync: %d", rc);
      CHECK(s.results == 1, "reset_sync returned with %d results", s.results);
    }
  }
  __atomic_store_n(&s.stop, 1, __ATOMIC_SEQ_CST);
  pthread_join(poller, NULL);
  P->destroy(s.inst);
  CHECK(s.results == 1, "%d results, expected exactly 1", s.results);
  CHECK(dir_is_empty(staging), "a staged file was left in %s", staging);
  int fds = fds_settle();
  CHECK(fds == baseline_fds, "%d fds open after destroy, %d before the round",
        fds, baseline_fds);
}

int main(int argc, char **argv) {
  int rounds = argc > 1 ? atoi(argv[1]) : 12;
  void *so = dlopen(SSS_FILESHARES_PATH, RTLD_NOW | RTLD_LOCAL);
  if (!so) {
    fprintf(stderr, "stress_transport: %s\n", dlerror());
    return 1;
  }
  P = ((sss_plugin_entry_fn)dlsym(so, SSS_PLUGIN_ENTRY_SYMBOL))(1);
  char share[] = "/tmp/sss-stress-share-XXXXXX", staging[] = "/tmp/sss-stress-stage-XXXXXX";
  if (!mkdtemp(share) || !mkdtemp(staging)) return 1;
  char path[512];
  snprintf(path, sizeof path, "%s/%s", share, HEX);
  unsigned char *d = malloc(SIZE);
  uint64_t x = 0x9e3779b97f4a7c15ULL;
  for (size_t i = 0; i < SIZE; i++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    d[i] = (unsigned char)x;
  }
  FILE *f = fopen(path, "wb");
  fwrite(d, 1, SIZE, f);
  fclose(f);
  EVP_Digest(d, SIZE, want, NULL, EVP_sha256(), NULL);
  free(d);
  char err[PEER_ERROR_SIZE];
  sss_peer *peers[3];
  char sources[1024] = "";
  for (int i = 0; i < 3; i++) {
    peers[i] = peer_start(share, err);
    if (!peers[i]) {
      fprintf(stderr, "stress_transport: %s\n", err);
      return 1;
    }
    strcat(sources, peer_base_url(peers[i]));
    strcat(sources, ",");
  }
  peer_set_fault(peers[0], PEER_FAULT_SLOW, 2u << 20, err); /* 2 MiB/s */
  baseline_fds = count_fds();
  for (round_no = 0; round_no < rounds; round_no++) run_round(sources, staging);
  for (int i = 0; i < 3; i++) peer_stop(peers[i]);
  unlink(path);
  rmdir(share);
  rmdir(staging);
  if (failures) fprintf(stderr, "stress_transport: %d failures\n", failures);
  else printf("stress_transport: %d rounds held\n", rounds);
  return failures ? 1 : 0;
}
