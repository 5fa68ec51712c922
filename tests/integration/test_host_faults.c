/* Faults of the machine rather than of a peer, against the built-in
 * transport: a full staging disk (a 1 MiB tmpfs in the test's own mount
 * namespace), a peer host cut off mid-transfer (a network namespace and a
 * veth pair the test creates and deletes), and connection reuse. Tests that
 * need root skip with a sentence where namespaces are unavailable. */
#include "itest.h"
#include "peers.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#define MIB ((uint64_t)1 << 20)

static itest T;
static sss_peer *local_peer, *ns_peer;
static char ns_name[32], veth_host[16], veth_ns[16];
static int mounted;

static void fini(void) {
  /* Runs whatever the test did, asserts included. */
  peer_stop(ns_peer);
  ns_peer = NULL;
  peer_stop(local_peer);
  local_peer = NULL;
  if (mounted) umount2(T.staging, MNT_DETACH);
  mounted = 0;
  char cmd[256];
  if (ns_name[0]) {
    snprintf(cmd, sizeof cmd,
             "ip link del %s 2>/dev/null; ip netns del %s 2>/dev/null",
             veth_host, ns_name);
    if (system(cmd) != 0) { /* best effort: already gone */
    }
    ns_name[0] = '\0';
  }
  itest_teardown(&T);
}

TestSuite(host_faults, .fini = fini, .timeout = 60);

static char *share_dir(void) {
  static char dir[700];
  snprintf(dir, sizeof dir, "%s/share", T.root);
  mkdir(dir, 0700);
  itest_publish(&T, dir, NULL);
  return dir;
}

static void start_local_peer(const char *dir) {
  char err[PEER_ERROR_SIZE];
  local_peer = peer_start(dir, err);
  cr_assert_not_null(local_peer, "%s", err);
}

Test(host_faults, a_full_staging_disk_fails_clearly_and_installs_nothing) {
  itest_setup(&T, 41, 8 * MIB);
  start_local_peer(share_dir());
  if (unshare(CLONE_NEWNS) != 0 ||
      mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
    cr_skip_test("needs root for a private mount namespace: %s",
                 strerror(errno));
  if (mount("sss-full", T.staging, "tmpfs", 0, "size=1m") != 0)
    cr_skip_test("cannot mount a 1 MiB tmpfs: %s", strerror(errno));
  mounted = 1;
  itest_create(&T);
  itest_set(&T, "static_storages", peer_base_url(local_peer));
  itest_set(&T, "max_download_tries", "1");
  itest_load(&T, 1, 1);
  itest_wait(&T, 20000);
  itest_assert_failed_nothing_installed(&T);
  cr_assert_eq(T.host.result.entry_status, SSS_ERR_IO, "status %d: %s",
               T.host.result.entry_status, T.host.result.entry_message);
  cr_assert(strstr(T.host.result.entry_message, "No space left on device"),
            "the sentence names the system error: %s",
            T.host.result.entry_message);
  cr_assert(strstr(T.host.result.entry_message, "nothing was installed"), "%s",
            T.host.result.entry_message);
  itest_destroy_and_check_leaks(&T);
}

Test(host_faults, connections_are_reused_across_range_requests) {
  itest_setup(&T, 42, 16 * MIB);
  start_local_peer(share_dir());
  itest_create(&T);
  itest_set(&T, "static_storages", peer_base_url(local_peer));
  itest_set(&T, "parallel_sources", "1");
  itest_load(&T, 1, 1);
  itest_wait(&T, 20000);
  itest_assert_installed(&T);
  uint64_t req = peer_requests(local_peer),
           conns = peer_connections(local_peer);
  cr_assert_geq(req, 8, "16 MiB in chunks of at most 2 MiB: %llu requests",
                (unsigned long long)req);
  cr_assert_eq(conns, 1,
               "%llu requests over %llu connections; one reused "
               "connection expected",
               (unsigned long long)req, (unsigned long long)conns);
  itest_destroy_and_check_leaks(&T);
}

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...) {
  char cmd[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(cmd, sizeof cmd, fmt, ap);
  va_end(ap);
  return system(cmd);
}

typedef struct ns_start {
  const char *dir, *addr;
  sss_peer *peer;
  char err[PEER_ERROR_SIZE];
} ns_start;

/* Enters the namespace on a thread of its own and starts the peer there:
 * its listening socket and its threads belong to the namespace. */
static void *start_in_ns(void *arg) {
  ns_start *s = arg;
  char path[128];
  snprintf(path, sizeof path, "/var/run/netns/%s", ns_name);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0 || setns(fd, CLONE_NEWNET) != 0) {
    snprintf(s->err, sizeof s->err, "cannot enter %s: %s", path,
             strerror(errno));
    if (fd >= 0) close(fd);
    return NULL;
  }
  close(fd);
  s->peer = peer_start_at(s->dir, s->addr, s->err);
  return NULL;
}

Test(host_faults, a_peer_host_cut_off_mid_transfer_is_resumed_elsewhere) {
  itest_setup(&T, 43, 8 * MIB);
  const char *dir = share_dir();
  int id = (int)(getpid() % 200) + 20;
  snprintf(ns_name, sizeof ns_name, "sss-test-%d", (int)getpid());
  snprintf(veth_host, sizeof veth_host, "sssh%d", (int)getpid() % 100000);
  snprintf(veth_ns, sizeof veth_ns, "sssn%d", (int)getpid() % 100000);
  if (sh("ip netns add %s 2>/dev/null", ns_name) != 0) {
    ns_name[0] = '\0';
    cr_skip_test("network namespaces are unavailable here (not root, or no "
                 "'ip'); the cut-off test needs them");
  }
  cr_assert_eq(sh("ip link add %s type veth peer name %s && "
                  "ip link set %s netns %s && "
                  "ip addr add 10.213.%d.1/24 dev %s && ip link set %s up && "
                  "ip netns exec %s ip addr add 10.213.%d.2/24 dev %s && "
                  "ip netns exec %s ip link set %s up && "
                  "ip netns exec %s ip link set lo up",
                  veth_host, veth_ns, veth_ns, ns_name, id, veth_host,
                  veth_host, ns_name, id, veth_ns, ns_name, veth_ns, ns_name),
               0, "setting up the veth pair failed");
  char addr[32];
  snprintf(addr, sizeof addr, "10.213.%d.2", id);
  ns_start s = {.dir = dir, .addr = addr};
  pthread_t th;
  pthread_create(&th, NULL, start_in_ns, &s);
  pthread_join(th, NULL);
  ns_peer = s.peer;
  cr_assert_not_null(ns_peer, "%s", s.err);
  start_local_peer(dir);
  /* Both paced at 2 MiB/s so the cut lands mid-transfer. */
  char err[PEER_ERROR_SIZE];
  cr_assert_eq(peer_set_fault(ns_peer, PEER_FAULT_SLOW, 2 * MIB, err), 0, "%s",
               err);
  cr_assert_eq(peer_set_fault(local_peer, PEER_FAULT_SLOW, 2 * MIB, err), 0,
               "%s", err);
  itest_create(&T);
  char sources[512];
  snprintf(sources, sizeof sources, "%s,%s", peer_base_url(ns_peer),
           peer_base_url(local_peer));
  itest_set(&T, "static_storages", sources);
  itest_set(&T, "connect_timeout_ms", "500"); /* also the stall limit */
  itest_set(&T, "max_download_tries", "1");
  itest_load(&T, 1, 1);
  /* Wait until the namespace peer has sent something, then cut its link. */
  uint64_t until = itest_now_ms() + 5000;
  while (peer_bytes_sent(ns_peer) < MIB && itest_now_ms() < until)
    itest_sleep_ms(20);
  cr_assert_geq(peer_bytes_sent(ns_peer), MIB,
                "the namespace peer never got going");
  cr_assert_eq(sh("ip link set %s down", veth_host), 0);
  itest_wait(&T, 30000);
  itest_assert_installed(&T);
  mini_result *r = &T.host.result;
  cr_assert(r->has_source_list);
  uint64_t total = 0, from_ns = 0;
  for (size_t i = 0; i < r->n_sources; i++) {
    total += r->source_bytes[i];
    if (strstr(r->source_urls[i], addr)) from_ns = r->source_bytes[i];
  }
  cr_assert_gt(from_ns, 0, "the cut-off peer contributed before the cut");
  cr_assert_lt(from_ns, T.snap.size,
               "the cut-off peer could not have sent it all");
  cr_assert_leq(total, T.snap.size + 2 * MIB,
                "%llu bytes fetched for %llu: the cut chunk was resumed, not "
                "refetched whole",
                (unsigned long long)total, (unsigned long long)T.snap.size);
  /* The namespace peer's server side cannot see the client close while the
   * link is down; stop it before counting sockets. */
  peer_stop(ns_peer);
  ns_peer = NULL;
  itest_destroy_and_check_leaks(&T);
}
