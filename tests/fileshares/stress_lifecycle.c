/* stress_lifecycle: the fileshares backend's lifecycle under concurrency, as a
 * plain program so that it also runs in the ThreadSanitizer build, where
 * Criterion cannot start (Criterion issue #274: its BoxFort arena collides
 * with TSan's memory layout). Each round races reset_sync, destroy, get_stats
 * and late host completions against a running task and checks the
 * exactly-one-result and no-callback-after-destroy rules. Exit 0 = all held.
 *   stress_lifecycle [ROUNDS]   (default 30; bounded, no network) */
#include "fake_host.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const sss_plugin *P;
static int failures;

#define CHECK(cond, ...)                                                       \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "stress_lifecycle: round %d: ", round);                  \
      fprintf(stderr, __VA_ARGS__);                                            \
      fprintf(stderr, "\n");                                                   \
      failures++;                                                              \
    }                                                                          \
  } while (0)

typedef struct poller {
  sss_instance *inst;
  int stop;
} poller;

static void *poll_stats(void *arg) {
  poller *p = arg;
  while (!__atomic_load_n(&p->stop, __ATOMIC_SEQ_CST)) {
    sss_stats st = {.struct_size = sizeof st};
    P->get_stats(p->inst, &st);
    usleep(500);
  }
  return NULL;
}

static void run_round(int round, const char *staging) {
  fake_host f;
  fake_init(&f);
  fake_snapshot *s[3];
  sss_load_entry e[3];
  for (int i = 0; i < 3; i++) {
    s[i] = fake_add_snapshot(&f, i, 20000 + (uint64_t)round * 10);
    e[i] = fake_entry(s[i], 1, 1);
  }
  fake_set_behaviour(&f, "bad", FAKE_404);
  if (round % 3 == 0) f.corrupt_first_n = 1;
  if (round % 4 == 1) f.hold_snap = s[2];
  sss_instance *inst = NULL;
  char err[SSS_ERROR_SIZE] = "";
  if (P->create(&f.host, &inst, err) != SSS_OK) {
    CHECK(0, "create: %s", err);
    fake_release(&f);
    return;
  }
  f.plugin = P;
  f.instance = inst;
  P->set_option(inst, "static_storages", "http://bad/,http://one/,http://two/", err);
  P->set_option(inst, "staging_dir", staging, err);
  P->set_option(inst, "retry_download_timeout_ms", "5", err);
  f.readd_on_result = round % 5 == 2;
  poller pl = {.inst = inst};
  pthread_t th;
  pthread_create(&th, NULL, poll_stats, &pl);
  sss_task_output out = fake_output(&f);
  int rc = P->add_load_state_task(inst, e, 3, NULL, &out, err);
  CHECK(rc == SSS_OK, "add_load_state_task: %d %s", rc, err);
  usleep((useconds_t)(round % 7) * 300);
  int mode = round % 3; /* 0: reset, 1: destroy mid-task, 2: let it run */
  if (mode == 0) {
    rc = P->reset_sync(inst);
    CHECK(rc == SSS_OK || rc == SSS_IDLE, "reset_sync returned %d", rc);
    pthread_mutex_lock(&f.mu); /* a re-added task may be delivering now */
    int results = f.results;
    pthread_mutex_unlock(&f.mu);
    if (rc == SSS_OK) CHECK(results >= 1, "reset returned before the result");
  } else if (mode == 2 && !f.hold_snap) {
    CHECK(fake_wait_results(&f, 1, 10000) >= 1, "no result within 10 s");
  }
  __atomic_store_n(&pl.stop, 1, __ATOMIC_SEQ_CST);
  pthread_join(th, NULL);
  P->destroy(inst);
  __atomic_store_n(&f.destroyed, 1, __ATOMIC_SEQ_CST);
  int expected = f.readd_status == SSS_OK ? 2 : 1;
  CHECK(f.results == expected, "%d results, expected %d", f.results, expected);
  fake_release_held(&f, 1); /* late completions into released sinks */
  fake_release(&f);
  CHECK(f.callbacks_after_destroy == 0, "%lld callbacks after destroy",
        (long long)f.callbacks_after_destroy);
}

int main(int argc, char **argv) {
  int rounds = argc > 1 ? atoi(argv[1]) : 30;
  void *dl = dlopen(SSS_FILESHARES_PATH, RTLD_NOW | RTLD_LOCAL);
  if (!dl) {
    fprintf(stderr, "stress_lifecycle: %s\n", dlerror());
    return 1;
  }
  P = ((sss_plugin_entry_fn)dlsym(dl, "sss_plugin_entry"))(SSS_ABI_MAJOR);
  char staging[] = "/tmp/sss-stress-XXXXXX";
  if (!mkdtemp(staging)) return 1;
  for (int round = 0; round < rounds; round++) run_round(round, staging);
  int left = rmdir(staging); /* fails when a staged file was left */
  if (left) {
    fprintf(stderr, "stress_lifecycle: staged files were left in %s\n", staging);
    failures++;
  }
  dlclose(dl);
  printf("stress_lifecycle: %d rounds, %d failures\n", rounds, failures);
  return failures ? 1 : 0;
}
