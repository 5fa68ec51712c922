/* Orchestration of the fileshares backend (libsss_fileshares.so, loaded with
 * dlopen) against the deterministic host blob service of fake_host.c. */
#include "fake_host.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void *dl;
static const sss_plugin *P;
static sss_instance *inst;
static fake_host F;
static char staging[64];

static void set(const char *k, const char *v) {
  char err[SSS_ERROR_SIZE] = "";
  cr_assert_eq(P->set_option(inst, k, v, err), SSS_OK, "%s=%s: %s", k, v, err);
}

static void setup(void) {
  dl = dlopen(SSS_FILESHARES_PATH, RTLD_NOW | RTLD_LOCAL);
  cr_assert_not_null(dl, "%s", dlerror());
  sss_plugin_entry_fn entry = (sss_plugin_entry_fn)dlsym(dl, "sss_plugin_entry");
  cr_assert_not_null(entry);
  P = entry(SSS_ABI_MAJOR);
  cr_assert_not_null(P);
  fake_init(&F);
  char err[SSS_ERROR_SIZE] = "";
  cr_assert_eq(P->create(&F.host, &inst, err), SSS_OK, "%s", err);
  F.plugin = P;
  F.instance = inst;
  snprintf(staging, sizeof staging, "/tmp/sss-orch-XXXXXX");
  cr_assert_not_null(mkdtemp(staging));
  set("staging_dir", staging);
  set("retry_download_timeout_ms", "50");
}

static int staging_files(void) {
  DIR *d = opendir(staging);
  if (!d) return -1;
  int n = 0;
  struct dirent *de;
  while ((de = readdir(d)))
    if (de->d_name[0] != '.') n++;
  closedir(d);
  return n;
}

static void teardown(void) {
  if (inst) P->destroy(inst);
  inst = NULL;
  fake_release(&F);
  rmdir(staging);
  dlclose(dl);
}

static int start(const sss_load_entry *e, size_t n) {
  sss_task_output out = fake_output(&F);
  char err[SSS_ERROR_SIZE] = "";
  int rc = P->add_load_state_task(inst, e, n, NULL, &out, err);
  cr_assert_eq(rc, SSS_OK, "add_load_state_task: %s", err);
  return rc;
}

TestSuite(orchestration, .init = setup, .fini = teardown, .timeout = 30);

Test(orchestration, first_source_fails_then_second_succeeds) {
  fake_snapshot *s = fake_add_snapshot(&F, 0, 100000);
  set("static_storages", "http://one/, http://two/");
  set("retry_download_timeout_ms", "5000");
  F.fail_first_n = 1; /* whichever source the shuffle puts first */
  sss_load_entry e = fake_entry(s, 1, 1);
  start(&e, 1);
  cr_assert_eq(fake_wait_results(&F, 1, 10000), 1);
  cr_assert_eq(F.result_status, SSS_TASK_OK, "%s / %s", F.result_message,
               F.entry_messages[0]);
  cr_assert_eq(F.n_requests, 2);
  cr_assert_str_neq(F.requests[0], F.requests[1], "the second try used another source");
  cr_assert_lt(F.request_ms[1] - F.request_ms[0], 2500,
               "the second source was tried in the same cycle, without the retry wait");
  cr_assert_eq(F.installed, 1);
  cr_assert_eq(F.errors_by_kind[SSS_ERROR_KIND_DOWNLOAD], 1);
  cr_assert_eq(staging_files(), 0, "no staged file is left");
}

Test(orchestration, all_fail_after_exactly_max_tries_with_waits) {
  fake_snapshot *s = fake_add_snapshot(&F, 0, 1000);
  set("static_storages", "http://one/,http://two/");
  fake_set_behaviour(&F, "one", FAKE_404);
  fake_set_behaviour(&F, "two", FAKE_404);
  set("max_download_tries", "3");
  set("retry_download_timeout_ms", "150");
  sss_load_entry e = fake_entry(s, 1, 1);
  start(&e, 1);
  cr_assert_eq(fake_wait_results(&F, 1, 10000), 1);
  cr_assert_eq(F.result_status, SSS_TASK_FAILED);
  cr_assert_eq(F.n_requests, 6, "2 sources x 3 cycles, got %d", F.n_requests);
  cr_assert_geq(F.request_ms[2] - F.request_ms[1], 150, "wait before cycle 2");
  cr_assert_geq(F.request_ms[4] - F.request_ms[3], 150, "wait before cycle 3");
  cr_assert_not_null(strstr(F.entry_messages[0], "3 cycles"), "%s", F.entry_messages[0]);
  cr_assert_not_null(strstr(F.entry_messages[0], "HTTP 404"), "%s", F.entry_messages[0]);
  cr_assert_eq(F.installed, 0);
  cr_assert_eq(F.applies, 0, "the repository saw nothing");
  cr_assert_eq(staging_files(), 0);
  sss_stats st = {.struct_size = sizeof st};
  cr_assert_eq(P->get_stats(inst, &st), SSS_OK);
  cr_assert_eq(st.cycles, 3);
  cr_assert_eq(st.sources_tried, 6);
  cr_assert_eq(st.sources_failed, 6);
  cr_assert_eq(st.entries_failed, 1);
  cr_assert_eq(st.running, 0);
}

Test(orchestration, deadline_expiry_fails_and_cancels_the_request) {
  fake_snapshot *s = fake_add_snapshot(&F, 0, 1000);
  set("static_storages", "http://slow/");
  fake_set_behaviour(&F, "slow", FAKE_HOLD);
  set("download_deadline_timeout_ms", "300");
  sss_load_entry e = fake_entry(s, 1, 1);
  uint64_t t0 = fake_now_ms();
  start(&e, 1);
  cr_assert_eq(fake_wait_results(&F, 1, 10000), 1);
  uint64_t took = fake_now_ms() - t0;
  cr_assert_geq(took, 290);
  cr_assert_lt(took, 3000);
  cr_assert_eq(F.result_status, SSS_TASK_FAILED);
  cr_assert_not_null(strstr(F.entry_messages[0], "deadline of 300 ms"), "%s",
                     F.entry_messages[0]);
  cr_assert_eq(F.cancels, 1, "the held request was cancelled at the host");
  cr_assert_eq(staging_files(), 0);
  fake_release_held(&F, 1); /* a late completion: released, never applied */
  fake_release(&F);
  cr_assert_eq(F.applies, 0);
  cr_assert_eq(F.results, 1);
  fake_init(&F); /* teardown releases again */
}

Test(orchestration, digest_mismatch_bans_the_liar_and_finishes_elsewhere) {
  fake_snapshot *s = fake_add_snapshot(&F, 0, 50000);
  set("static_storages", "http://one/,http://two/");
  F.corrupt_first_n = 1;
  sss_load_entry e = fake_entry(s, 1, 1);
  start(&e, 1);
  cr_assert_eq(fake_wait_results(&F, 1, 10000), 1);
  cr_assert_eq(F.result_status, SSS_TASK_OK, "%s", F.entry_messages[0]);
  cr_assert_eq(F.n_requests, 2);
  cr_assert_eq(F.n_banned, 1);
  cr_assert_str_eq(F.banned[0], F.requests[0], "the first (lying) source is banned");
  cr_assert_eq(F.errors_by_kind[SSS_ERROR_KIND_VERIFY], 1);
  cr_assert_eq(F.applies, 1, "corrupt bytes never reached the repository");
  sss_stats st = {.struct_size = sizeof st};
  P->get_stats(inst, &st);
  cr_assert_eq(st.sources_banned, 1);
}

Test(orchestration, size_mismatch_without_digest_is_caught) {
  fake_snapshot *s = fake_add_snapshot(&F, 0, 5000);
  set("static_storages", "http://one/");
  set("max_download_tries", "1");
  sss_load_entry e = fake_entry(s, 0, 1);
  e.size = 4000; /* the host expects fewer bytes than the source sends */
  start(&e, 1);
  cr_assert_eq(fake_wait_results(&F, 1, 10000), 1);
  cr_assert_eq(F.result_status, SSS_TASK_FAILED);
  cr_assert_not_null(strstr(F.entry_messages[0], "4000"), "%s", F.entry_messages[0]);
  cr_assert_eq(F.applies, 0);
  cr_assert_eq(staging_files(), 0);
}

Test(orchestration, repository_rejection_moves_to_next_source) {
  fake_snapshot *s = fake_add_snapshot(&F, 0, 20000);
  set("static_storages", "http://one/,http://two/");
  F.reject_next = 1;
  sss_load_entry e = fake_entry(s, 1, 1);
  start(&e, 1);
  cr_assert_eq(fake_wait_results(&F, 1, 10000), 1);
  cr_assert_eq(F.result_status, SSS_TASK_OK, "%s", F.entry_messages[0]);
  cr_assert_eq(F.applies, 2);
  cr_assert_eq(F.installed, 1);
  cr_assert_eq(F.n_requests, 2);
  cr_assert_str_neq(F.requests[0], F.requests[1]);
  cr_assert_eq(F.errors_by_kind[SSS_ERROR_KIND_APPLY], 1);
}

Test(orchestration, completion_after_reset_is_released_not_applied) {
  fake_snapshot *s = fake_add_snapshot(&F, 0, 30000);
  set("static_storages", "http://one/");
  F.hold_snap = s;
  sss_load_entry e = fake_entry(s, 1, 1);
  start(&e, 1);
  cr_assert_eq(fake_wait_held(&F, 1, 5000), 1);
  cr_assert_eq(P->reset_sync(inst), SSS_OK);
  cr_assert_eq(F.results, 1, "the CANCELLED result was delivered before reset returned");
  cr_assert_eq(F.result_status, SSS_TASK_CANCELLED);
  cr_assert_eq(staging_files(), 0, "reset removed the staged file");
  cr_assert_eq(F.cancels, 1);
  fake_release_held(&F, 1); /* the host delivers anyway, late */
  fake_release(&F);         /* joins the worker that wrote and finished */
  cr_assert_eq(F.applies, 0);
  cr_assert_eq(F.results, 1);
  cr_assert_eq(staging_files(), 0);
  cr_assert_eq(P->reset_sync(inst), SSS_IDLE);
  fake_init(&F);
}

Test(orchestration, output_callback_may_add_a_task) {
  fake_snapshot *s = fake_add_snapshot(&F, 0, 1000);
  set("static_storages", "http://one/");
  F.readd_on_result = 1;
  sss_load_entry e = fake_entry(s, 1, 1);
  start(&e, 1);
  cr_assert_eq(fake_wait_results(&F, 2, 10000), 2, "the re-added task ran");
  cr_assert_eq(F.readd_status, SSS_OK);
  cr_assert_eq(F.installed, 2);
}

typedef struct reset_call {
  int rc, returned;
} reset_call;

static void *do_reset(void *arg) {
  reset_call *c = arg;
  c->rc = P->reset_sync(inst);
  __atomic_store_n(&c->returned, 1, __ATOMIC_SEQ_CST);
  return NULL;
}

Test(orchestration, reset_while_applying_waits_for_the_repository) {
  fake_snapshot *a = fake_add_snapshot(&F, 0, 10000);
  fake_snapshot *b = fake_add_snapshot(&F, 1, 10000);
  set("static_storages", "http://one/");
  F.hold_snap = b;
  F.gate_apply = 1;
  sss_load_entry e[2] = {fake_entry(a, 1, 1), fake_entry(b, 1, 1)};
  start(e, 2);
  cr_assert_eq(fake_wait_in_apply(&F, 5000), 1);
  cr_assert_eq(fake_wait_held(&F, 1, 5000), 1);
  reset_call c = {0};
  pthread_t th;
  pthread_create(&th, NULL, do_reset, &c);
  usleep(150 * 1000);
  cr_assert_eq(__atomic_load_n(&c.returned, __ATOMIC_SEQ_CST), 0,
               "reset_sync waits while the repository is applying");
  fake_open_gate(&F);
  pthread_join(th, NULL);
  cr_assert_eq(c.rc, SSS_OK);
  cr_assert_eq(F.results, 1);
  cr_assert_eq(F.result_status, SSS_TASK_CANCELLED);
  cr_assert_eq(F.applies, 1, "no repository call started for the cancelled entry");
  cr_assert_eq(F.installed, 1);
  cr_assert_eq(staging_files(), 0);
}

Test(orchestration, destroy_mid_task_delivers_one_cancelled_result) {
  fake_snapshot *s = fake_add_snapshot(&F, 0, 10000);
  set("static_storages", "http://one/");
  F.hold_snap = s;
  sss_load_entry e = fake_entry(s, 1, 1);
  start(&e, 1);
  cr_assert_eq(fake_wait_held(&F, 1, 5000), 1);
  P->destroy(inst);
  inst = NULL;
  __atomic_store_n(&F.destroyed, 1, __ATOMIC_SEQ_CST);
  cr_assert_eq(F.results, 1);
  cr_assert_eq(F.result_status, SSS_TASK_CANCELLED);
  cr_assert_eq(staging_files(), 0);
  fake_release_held(&F, 1); /* completes into the destroyed instance's sink */
  fake_release(&F);
  cr_assert_eq(F.callbacks_after_destroy, 0);
  cr_assert_eq(F.applies, 0);
  fake_init(&F);
}

Test(orchestration, gossip_peer_appearing_during_retries_is_used) {
  fake_snapshot *s = fake_add_snapshot(&F, 0, 4000);
  set("retry_download_timeout_ms", "300");
  fake_add_node(&F, "outsider", "http://outsider:9/", 0);
  sss_load_entry e = fake_entry(s, 1, 1);
  start(&e, 1);
  cr_assert_eq(fake_wait_errors(&F, SSS_ERROR_KIND_NO_SOURCES, 1, 5000), 1,
               "cycle 1 found no source");
  fake_add_node(&F, "peer", "peer:8080", 1);
  cr_assert_eq(fake_wait_results(&F, 1, 10000), 1);
  cr_assert_eq(F.result_status, SSS_TASK_OK, "%s", F.entry_messages[0]);
  cr_assert_eq(F.n_requests, 1);
  cr_assert(strncmp(F.requests[0], "http://peer:8080/v2/storage/", 28) == 0, "%s",
            F.requests[0]);
  cr_assert_eq(F.errors_by_kind[SSS_ERROR_KIND_NO_SOURCES], 1,
               "the peer was used in cycle 2, right after the empty cycle 1");
}

Test(orchestration, no_sources_sentence_names_the_counts) {
  fake_snapshot *s = fake_add_snapshot(&F, 0, 4000);
  set("max_download_tries", "1");
  fake_add_node(&F, "n1", "http://n1/", 0);
  fake_add_node(&F, "n2", "http://n2/", 0);
  pthread_mutex_lock(&F.mu);
  F.bk[F.n_bk++] = strdup("somebody-else");
  pthread_mutex_unlock(&F.mu);
  sss_load_entry e = fake_entry(s, 1, 1);
  start(&e, 1);
  cr_assert_eq(fake_wait_results(&F, 1, 10000), 1);
  cr_assert_eq(F.result_status, SSS_TASK_FAILED);
  cr_assert_not_null(strstr(F.entry_messages[0],
                            "no sources: 0 static storages, 2 gossip nodes, "
                            "none in the BK set of 1"),
                     "%s", F.entry_messages[0]);
  cr_assert_eq(F.n_requests, 0, "nodes outside the BK set are never asked");
}

Test(orchestration, several_entries_metrics_and_stats) {
  fake_snapshot *s[3];
  sss_load_entry e[3];
  for (int i = 0; i < 3; i++) {
    s[i] = fake_add_snapshot(&F, i, 10000 + (uint64_t)i * 1000);
    e[i] = fake_entry(s[i], 1, 1);
  }
  set("static_storages", "http://one/");
  start(e, 3);
  cr_assert_eq(P->add_load_state_task(inst, e, 1, NULL, &(sss_task_output){
                   sizeof(sss_task_output), &F, fake_output(&F).on_result}, NULL),
               SSS_ALREADY_LOADING);
  cr_assert_eq(fake_wait_results(&F, 1, 10000), 1);
  cr_assert_eq(F.result_status, SSS_TASK_OK);
  cr_assert_eq(F.installed, 3);
  cr_assert_eq(F.state_requests, 3, "one state request per entry");
  sss_stats st = {.struct_size = sizeof st};
  cr_assert_eq(P->get_stats(inst, &st), SSS_OK);
  cr_assert_eq(st.entries_total, 3);
  cr_assert_eq(st.entries_done, 3);
  cr_assert_eq(st.bytes_expected, 33000);
  cr_assert_eq(st.bytes_verified, 33000);
  cr_assert_eq(st.bytes_fetched, 33000);
  cr_assert_eq(st.last_status, SSS_TASK_OK);
  cr_assert_eq(fake_wait_results(&F, 2, 300), 1, "exactly one result");
}

static long ctxt_switches(pid_t tid) {
  char path[64], line[256];
  snprintf(path, sizeof path, "/proc/self/task/%d/status", (int)tid);
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  long total = 0;
  while (fgets(line, sizeof line, f)) {
    long v;
    if (sscanf(line, "voluntary_ctxt_switches: %ld", &v) == 1) total += v;
    if (sscanf(line, "nonvoluntary_ctxt_switches: %ld", &v) == 1) total += v;
  }
  fclose(f);
  return total;
}

static pid_t find_loader_tid(void) {
  DIR *d = opendir("/proc/self/task");
  struct dirent *de;
  pid_t found = 0;
  while (d && (de = readdir(d))) {
    char path[300], comm[32] = "";
    snprintf(path, sizeof path, "/proc/self/task/%s/comm", de->d_name);
    FILE *f = fopen(path, "r");
    if (!f) continue;
    if (fgets(comm, sizeof comm, f) && !strncmp(comm, "sss-loader", 10))
      found = (pid_t)atoi(de->d_name);
    fclose(f);
  }
  if (d) closedir(d);
  return found;
}

Test(orchestration, idle_loader_thread_does_not_wake) {
  fake_snapshot *s = fake_add_snapshot(&F, 0, 1000);
  set("static_storages", "http://one/");
  sss_load_entry e = fake_entry(s, 1, 1);
  start(&e, 1);
  cr_assert_eq(fake_wait_results(&F, 1, 10000), 1);
  usleep(50 * 1000); /* let the loader go back to sleep */
  pid_t tid = find_loader_tid();
  cr_assert_gt(tid, 0, "the loader thread is named sss-loader");
  long before = ctxt_switches(tid);
  sleep(1);
  long after = ctxt_switches(tid);
  cr_assert_geq(before, 0);
  cr_assert_leq(after - before, 1, "idle loader woke %ld times in 1 s",
                after - before);
}

Test(orchestration, without_load_blob_the_builtin_transport_is_used_and_idles) {
  /* No host blob service: the plugin fetches by itself. Port 1 on loopback
   * refuses, so the entry fails with libcurl's reason and the URL. Then the
   * loader sleeps in curl_multi_poll and must not wake while idle. */
  fake_snapshot *s = fake_add_snapshot(&F, 0, 1000);
  sss_host h = F.host;
  h.load_blob = NULL;
  h.cancel_blob = NULL;
  sss_instance *other = NULL;
  char err[SSS_ERROR_SIZE] = "";
  cr_assert_eq(P->create(&h, &other, err), SSS_OK, "%s", err);
  cr_assert_eq(P->set_option(other, "static_storages", "http://127.0.0.1:1/", err), SSS_OK);
  cr_assert_eq(P->set_option(other, "max_download_tries", "1", err), SSS_OK);
  sss_load_entry e = fake_entry(s, 1, 1);
  sss_task_output out = fake_output(&F);
  cr_assert_eq(P->add_load_state_task(other, &e, 1, NULL, &out, err), SSS_OK);
  cr_assert_eq(fake_wait_results(&F, 1, 5000), 1);
  cr_assert_eq(F.result_status, SSS_TASK_FAILED);
  cr_assert_not_null(strstr(F.entry_messages[0], "GET http://127.0.0.1:1/"), "%s",
                     F.entry_messages[0]);
  cr_assert_not_null(strstr(F.entry_messages[0], "connect"), "%s",
                     F.entry_messages[0]);
  cr_assert_eq(F.n_requests, 0, "the host's blob service was not asked");
  usleep(50 * 1000);
  pid_t tid = find_loader_tid(); /* the only loader: F's never had a task */
  cr_assert_gt(tid, 0, "the loader thread is named sss-loader");
  long before = ctxt_switches(tid);
  sleep(1);
  long after = ctxt_switches(tid);
  cr_assert_geq(before, 0);
  cr_assert_leq(after - before, 1, "idle loader (curl_multi_poll) woke %ld "
                "times in 1 s", after - before);
  P->destroy(other);
}
