#include "itest.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "share_dir.h"

uint64_t itest_now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u;
}

void itest_sleep_ms(unsigned ms) {
  struct timespec t = {.tv_sec = ms / 1000,
                       .tv_nsec = (long)(ms % 1000) * 1000000L};
  while (nanosleep(&t, &t) != 0 && errno == EINTR) {
  }
}

static int count_fd_entries(int sockets_only) {
  DIR *d = opendir("/proc/self/fd");
  if (!d) return -1;
  int self = dirfd(d), n = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    int fd = atoi(e->d_name);
    if (fd == self) continue;
    if (sockets_only) {
      char path[300], target[256];
      snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
      ssize_t len = readlink(path, target, sizeof target - 1);
      if (len <= 0) continue;
      target[len] = '\0';
      if (strncmp(target, "socket:", 7) != 0) continue;
    }
    n++;
  }
  closedir(d);
  return n;
}

int itest_count_fds(void) {
  return count_fd_entries(0);
}
int itest_count_sockets(void) {
  return count_fd_entries(1);
}

int itest_dir_entries(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return -1;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)))
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
  closedir(d);
  return n;
}

static int produce(void *ctx, uint64_t offset, void *buf, size_t len) {
  const itest *t = ctx;
  memcpy(buf, t->data + offset, len);
  return 0;
}

void itest_setup(itest *t, uint64_t seed, uint64_t size) {
  memset(t, 0, sizeof *t);
  const char *tmp = getenv("TMPDIR");
  snprintf(t->root, sizeof t->root, "%s/sss-itest-XXXXXX",
           tmp && *tmp ? tmp : "/tmp");
  if (!mkdtemp(t->root)) {
    t->root[0] = '\0';
    cr_assert_fail("mkdtemp failed: %s", strerror(errno));
  }
  snprintf(t->staging, sizeof t->staging, "%s/staging", t->root);
  char why[HS_ERR_SIZE];
  cr_assert_eq(hs_mkdirs(t->staging, why), 0, "%s", why);
  cr_assert_eq(hs_snapshot_init(&t->snap, seed, 0, size), 0,
               "OpenSSL could not hash the snapshot");
  t->data = malloc(size ? size : 1);
  cr_assert_not_null(t->data);
  hs_snapshot_fill(&t->snap, 0, t->data, size);
  memcpy(t->hex, t->snap.resource_name, sizeof t->hex);
}

void itest_publish(const itest *t, const char *dir, const char *relpath) {
  char why[HS_ERR_SIZE];
  cr_assert_eq(hs_share_write(dir, relpath ? relpath : t->hex, t->snap.size,
                              produce, (void *)t, why),
               0, "%s", why);
}

void itest_create(itest *t) {
  char err[SSS_ERROR_SIZE] = "";
  if (!t->host.vt)
    cr_assert_eq(mini_open(&t->host, SSS_FILESHARES_PATH, err, sizeof err), 0,
                 "%s", err);
  t->fds_before = itest_count_fds();
  t->sockets_before = itest_count_sockets();
  cr_assert_eq(mini_create(&t->host, err), SSS_OK, "create: %s", err);
  itest_set(t, "staging_dir", t->staging);
  itest_set(t, "retry_download_timeout_ms", "100");
  itest_set(t, "max_download_tries", "3");
  itest_set(t, "connect_timeout_ms", "1000");
  itest_set(t, "download_deadline_timeout_ms", "20000");
}

void itest_set(itest *t, const char *key, const char *value) {
  char err[SSS_ERROR_SIZE] = "";
  cr_assert_eq(mini_set(&t->host, key, value, err), SSS_OK,
               "set_option %s=%s: %s", key, value, err);
}

void itest_load(itest *t, int with_sha, int with_size) {
  char err[SSS_ERROR_SIZE] = "";
  cr_assert_eq(mini_load(&t->host, &t->snap.block_id,
                         with_sha ? t->snap.sha256 : NULL, t->snap.size,
                         with_size, err),
               SSS_OK, "add_load_state_task: %s", err);
}

void itest_wait(itest *t, int timeout_ms) {
  int got = mini_wait(&t->host, timeout_ms);
  if (!got) {
    sss_stats st = {.struct_size = sizeof st};
    t->host.vt->get_stats(t->host.inst, &st);
    cr_assert_fail("no result within %d ms (fetched %llu bytes, %u requests, "
                   "%u failed, %u cycles); plugin log:%s",
                   timeout_ms, (unsigned long long)st.bytes_fetched,
                   st.sources_tried, st.sources_failed, st.cycles,
                   t->host.log_tail);
  }
}

void itest_destroy_and_check_leaks(itest *t) {
  mini_destroy(&t->host);
  cr_assert_eq(t->host.result.received, 1,
               "on_result was called %d times, not exactly once",
               t->host.result.received);
  int staged = itest_dir_entries(t->staging);
  cr_assert_eq(staged, 0, "%d file(s) left in the staging dir %s", staged,
               t->staging);
  /* Servers in this process (libmicrohttpd peers) close their side of a
   * connection once the client closed its own: give them a moment. */
  int fds = -1, sockets = -1;
  uint64_t until = itest_now_ms() + 3000;
  do {
    fds = itest_count_fds();
    sockets = itest_count_sockets();
    if (fds <= t->fds_before && sockets <= t->sockets_before) break;
    itest_sleep_ms(20);
  } while (itest_now_ms() < until);
  cr_assert_leq(sockets, t->sockets_before,
                "%d socket(s) open after destroy, %d before create: a "
                "connection was left open",
                sockets, t->sockets_before);
  cr_assert_leq(fds, t->fds_before,
                "%d fds open after destroy, %d before create: an fd leaked",
                fds, t->fds_before);
}

void itest_assert_installed(itest *t) {
  mini_result *r = &t->host.result;
  cr_assert_eq(r->received, 1, "on_result calls: %d", r->received);
  cr_assert_eq(r->status, SSS_TASK_OK,
               "task status %d, not OK: %s; entry: %s; plugin log:%s",
               r->status, r->message, r->entry_message, t->host.log_tail);
  cr_assert_eq(r->entry_status, SSS_OK, "entry status %d: %s", r->entry_status,
               r->entry_message);
  cr_assert_eq(r->entry_bytes, t->snap.size, "entry bytes %llu, want %llu",
               (unsigned long long)r->entry_bytes,
               (unsigned long long)t->snap.size);
  cr_assert_eq(t->host.installed, 1, "the repository installed %d times",
               t->host.installed);
  cr_assert_eq(t->host.len, t->snap.size, "installed %llu bytes, want %llu",
               (unsigned long long)t->host.len,
               (unsigned long long)t->snap.size);
  cr_assert_eq(memcmp(t->host.data, t->data, t->snap.size), 0,
               "the installed bytes differ from the snapshot");
  cr_assert_eq(t->host.reader_path_size, (long long)t->snap.size,
               "the reader's path (ABI 1.1) names a file of %lld bytes, not "
               "the verified %llu", t->host.reader_path_size,
               (unsigned long long)t->snap.size);
}

void itest_assert_failed_nothing_installed(itest *t) {
  mini_result *r = &t->host.result;
  cr_assert_eq(r->received, 1, "on_result calls: %d", r->received);
  cr_assert_eq(r->status, SSS_TASK_FAILED, "task status %d, not FAILED: %s",
               r->status, r->message);
  cr_assert_neq(r->entry_status, SSS_OK, "the entry says installed");
  cr_assert(r->entry_message[0], "the failed entry has no sentence");
  cr_assert(r->message[0], "the failed task has no summary sentence");
  cr_assert_eq(t->host.applies, 0,
               "the repository was called %d times (%llu bytes) though no "
               "source was honest",
               t->host.applies, (unsigned long long)t->host.bytes_offered);
  cr_assert_eq(t->host.installed, 0);
}

void itest_teardown(itest *t) {
  mini_close(&t->host);
  free(t->data);
  t->data = NULL;
  if (t->root[0]) hs_remove_tree(t->root);
  t->root[0] = '\0';
}
