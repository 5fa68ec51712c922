/* test_peers_transport.c: the fileshares backend's built-in transport (the
 * host gives no load_blob) against real libmicrohttpd peers on loopback
 * (host-sim/peers.c), honest and faulty. Every test ends with destroy and
 * the leak probes: staging dir empty, fd and socket counts back at their
 * baseline. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "itest.h"
#include "peers.h"

#define NPEERS_MAX 4
#define WAIT_MS 25000

static itest t;
static sss_peer *peers[NPEERS_MAX];
static size_t n_peers;

static void teardown(void) {
  mini_destroy(&t.host);
  for (size_t i = 0; i < n_peers; i++)
    peer_stop(peers[i]);
  n_peers = 0;
  itest_teardown(&t);
}

TestSuite(transport, .fini = teardown, .timeout = 40);
TestSuite(faults, .fini = teardown, .timeout = 40);

/* Starts n peers on 127.0.0.(10+i), each with its own share dir holding the
 * snapshot at relpath (NULL: the share root, as a static storage). */
static void start_peers(size_t n, const char *relpath) {
  char err[PEER_ERROR_SIZE] = "";
  for (size_t i = 0; i < n; i++) {
    char dir[PATH_MAX + 16], addr[32];
    snprintf(dir, sizeof dir, "%s/peer%zu", t.root, i);
    snprintf(addr, sizeof addr, "127.0.0.%zu", 10 + i);
    itest_publish(&t, dir, relpath);
    peers[i] = peer_start_at(dir, addr, err);
    cr_assert_not_null(peers[i], "peer_start_at %s: %s", addr, err);
    n_peers++;
  }
}

static void set_fault(sss_peer *p, const char *text) {
  peer_fault f;
  char err[PEER_ERROR_SIZE] = "";
  cr_assert_eq(peer_fault_parse(text, &f, err), 0, "%s", err);
  cr_assert_eq(peer_set_fault(p, f.kind, f.arg, err), 0, "%s", err);
}

/* static_storages = every peer's base URL. */
static void use_peers_as_static_storages(void) {
  char list[NPEERS_MAX * 64] = "";
  for (size_t i = 0; i < n_peers; i++) {
    if (i) strcat(list, ",");
    strcat(list, peer_base_url(peers[i]));
  }
  itest_set(&t, "static_storages", list);
}

static uint64_t path_requests(const sss_peer *p, const char *relpath) {
  char path[256];
  snprintf(path, sizeof path, "/%s", relpath ? relpath : t.hex);
  return peer_path_requests(p, path);
}

static int starts_with(const char *s, const char *prefix) {
  return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* ---- Honest peers ------------------------------------------------------ */

Test(transport, parallel_segmented_download_uses_several_peers) {
  itest_setup(&t, 1, (8u << 20) + 12345);
  start_peers(3, NULL);
  itest_create(&t);
  use_peers_as_static_storages();
  itest_set(&t, "parallel_sources", "4");
  itest_load(&t, 1, 1);
  itest_wait(&t, WAIT_MS);
  itest_destroy_and_check_leaks(&t);
  itest_assert_installed(&t);
  int served = 0;
  for (size_t i = 0; i < n_peers; i++)
    if (path_requests(peers[i], NULL) > 0) served++;
  cr_assert_geq(served, 2,
                "only %d of %zu peers served the snapshot: the download was "
                "not spread over several sources (requests: %llu, %llu, %llu)",
                served, n_peers,
                (unsigned long long)path_requests(peers[0], NULL),
                (unsigned long long)path_requests(peers[1], NULL),
                (unsigned long long)path_requests(peers[2], NULL));
  mini_result *r = &t.host.result;
  cr_assert(r->has_source_list, "the entry result lacks the ABI 1.1 fields");
  cr_assert_geq(r->n_sources, 2, "the result names %zu source(s)",
                r->n_sources);
  uint64_t sum = 0;
  for (size_t i = 0; i < r->n_sources; i++) {
    int known = 0;
    for (size_t k = 0; k < n_peers; k++)
      known |= starts_with(r->source_urls[i], peer_base_url(peers[k]));
    cr_assert(known, "result source %s is none of the peers",
              r->source_urls[i]);
    sum += r->source_bytes[i];
  }
  cr_assert_geq(sum, t.snap.size, "sources sent %llu bytes in all, < %llu",
                (unsigned long long)sum, (unsigned long long)t.snap.size);
}

Test(transport, parallel_sources_1_still_installs) {
  itest_setup(&t, 2, (2u << 20) + 1);
  start_peers(2, NULL);
  itest_create(&t);
  use_peers_as_static_storages();
  itest_set(&t, "parallel_sources", "1");
  itest_load(&t, 1, 1);
  itest_wait(&t, WAIT_MS);
  itest_destroy_and_check_leaks(&t);
  itest_assert_installed(&t);
}

Test(transport, installs_without_expected_size_or_sha256) {
  itest_setup(&t, 3, (3u << 20) + 77);
  start_peers(2, NULL);
  itest_create(&t);
  use_peers_as_static_storages();
  itest_load(&t, 0, 0);
  itest_wait(&t, WAIT_MS);
  itest_destroy_and_check_leaks(&t);
  itest_assert_installed(&t);
}

Test(transport, gossip_bk_peers_are_used_and_outsiders_never_asked) {
  char rel[128];
  itest_setup(&t, 4, (4u << 20) + 3);
  snprintf(rel, sizeof rel, "v2/storage/%s", t.hex);
  start_peers(3, rel); /* peer2 is outside the BK set */
  itest_create(&t);
  mini_add_node(&t.host, "bk0", peer_base_url(peers[0]), 1);
  mini_add_node(&t.host, "bk1", peer_base_url(peers[1]), 1);
  mini_add_node(&t.host, "outsider", peer_base_url(peers[2]), 0);
  itest_load(&t, 1, 1);
  itest_wait(&t, WAIT_MS);
  itest_destroy_and_check_leaks(&t);
  itest_assert_installed(&t);
  cr_assert_eq(peer_requests(peers[2]), 0,
               "the node outside the BK set got %llu requests",
               (unsigned long long)peer_requests(peers[2]));
  cr_assert_gt(path_requests(peers[0], rel) + path_requests(peers[1], rel), 0);
}

Test(transport, one_byte_snapshot_installs) {
  itest_setup(&t, 5, 1);
  start_peers(2, NULL);
  itest_create(&t);
  use_peers_as_static_storages();
  itest_load(&t, 1, 1);
  itest_wait(&t, WAIT_MS);
  itest_destroy_and_check_leaks(&t);
  itest_assert_installed(&t);
}

/* ---- One fault, one honest source -------------------------------------- */

/* peers[0] has the fault, peers[1] is honest; the snapshot must install
 * exactly. key/value: an extra option, or NULL. */
static void one_fault_one_honest(const char *fault, const char *key,
                                 const char *value) {
  itest_setup(&t, 100, (2u << 20) + 4321);
  start_peers(2, NULL);
  set_fault(peers[0], fault);
  itest_create(&t); /* after the fault: "down" closes the listening socket */
  use_peers_as_static_storages();
  if (key) itest_set(&t, key, value);
  uint64_t t0 = itest_now_ms();
  itest_load(&t, 1, 1);
  itest_wait(&t, WAIT_MS);
  uint64_t took = itest_now_ms() - t0;
  itest_destroy_and_check_leaks(&t);
  itest_assert_installed(&t);
  cr_assert_gt(path_requests(peers[1], NULL), 0,
               "the honest peer was never asked");
  /* The fault was met: every kind but "down" (refused before any request)
   * shows up as a request at the faulty peer. */
  if (strcmp(fault, "down") != 0)
    cr_assert_gt(peer_requests(peers[0]), 0,
                 "the faulty peer (%s) was never asked: the fault was not "
                 "exercised",
                 fault);
  cr_log_info("fault %s: installed in %llu ms; faulty peer %llu requests, "
              "honest %llu",
              fault, (unsigned long long)took,
              (unsigned long long)peer_requests(peers[0]),
              (unsigned long long)peer_requests(peers[1]));
}

Test(faults, down_plus_honest_installs) {
  one_fault_one_honest("down", NULL, NULL);
}

Test(faults, http_404_plus_honest_installs) {
  one_fault_one_honest("404", NULL, NULL);
}

Test(faults, http_500_plus_honest_installs) {
  one_fault_one_honest("500", NULL, NULL);
}

Test(faults, slow_below_min_speed_plus_honest_installs) {
  one_fault_one_honest("slow:32768", "min_source_speed_bps", "1000000");
}

Test(faults, stall_plus_honest_installs) {
  one_fault_one_honest("stall:65536", NULL, NULL);
}

Test(faults, truncate_plus_honest_installs) {
  one_fault_one_honest("truncate:100000", NULL, NULL);
}

Test(faults, corrupt_plus_honest_installs) {
  one_fault_one_honest("corrupt:12345", NULL, NULL);
}

Test(faults, norange_plus_honest_installs) {
  one_fault_one_honest("norange", NULL, NULL);
}

Test(faults, redirect_to_ftp_plus_honest_installs) {
  one_fault_one_honest("redirect", NULL, NULL);
}

Test(faults, oversized_plus_honest_installs) {
  one_fault_one_honest("oversized:1000", NULL, NULL);
}

/* ---- Banning ----------------------------------------------------------- */

/* The honest peer answers 404 until the corrupt one has been banned, so the
 * corrupt peer is certainly the one that delivered the bad bytes; then it
 * turns honest and a later cycle installs from it. */
Test(faults, corrupt_source_is_banned_with_a_reason) {
  itest_setup(&t, 200, (1u << 20) + 99);
  start_peers(2, NULL);
  set_fault(peers[0], "corrupt:54321");
  set_fault(peers[1], "404");
  itest_create(&t);
  use_peers_as_static_storages();
  itest_set(&t, "max_download_tries", "20");
  itest_set(&t, "retry_download_timeout_ms", "200");
  itest_load(&t, 1, 1);
  uint64_t until = itest_now_ms() + 15000;
  sss_stats st = {.struct_size = sizeof st};
  for (;;) {
    cr_assert_eq(t.host.vt->get_stats(t.host.inst, &st), SSS_OK);
    if (st.sources_banned >= 1 || !st.running) break;
    cr_assert_lt(itest_now_ms(), until,
                 "the corrupt peer was not banned within 15 s (%u requests, "
                 "%u failed); plugin log:%s",
                 st.sources_tried, st.sources_failed, t.host.log_tail);
    itest_sleep_ms(10);
  }
  set_fault(peers[1], "none");
  itest_wait(&t, WAIT_MS);

  /* get_banned (ABI 1.1) before destroy: the list of the last task. */
  cr_assert(t.host.vt->struct_size >=
                    offsetof(sss_plugin, get_banned) + sizeof(void *) &&
                t.host.vt->get_banned,
            "the backend's vtable has no get_banned");
  char url[MINI_TEXT], reason[MINI_TEXT];
  size_t n = 0, corrupt_hits = 0;
  while (t.host.vt->get_banned(t.host.inst, n, url, sizeof url, reason,
                               sizeof reason) == SSS_OK) {
    cr_assert(reason[0], "get_banned(%zu) gave no reason for %s", n, url);
    cr_assert(!starts_with(url, peer_base_url(peers[1])),
              "the honest peer %s was banned: %s", url, reason);
    if (starts_with(url, peer_base_url(peers[0]))) corrupt_hits++;
    n++;
    cr_assert_lt(n, 100, "get_banned never returns SSS_ERR_NOT_FOUND");
  }
  cr_assert_eq(t.host.vt->get_banned(t.host.inst, n, url, sizeof url, reason,
                                     sizeof reason),
               SSS_ERR_NOT_FOUND);
  cr_assert_geq(corrupt_hits, 1, "get_banned does not list the corrupt peer");

  itest_destroy_and_check_leaks(&t);
  itest_assert_installed(&t);
  mini_result *r = &t.host.result;
  size_t in_result = 0;
  for (size_t i = 0; i < r->n_banned; i++) {
    cr_assert(r->banned_reasons[i][0], "banned %s has no reason",
              r->banned_urls[i]);
    cr_assert(!starts_with(r->banned_urls[i], peer_base_url(peers[1])),
              "the honest peer was banned: %s", r->banned_reasons[i]);
    if (starts_with(r->banned_urls[i], peer_base_url(peers[0]))) in_result++;
  }
  cr_assert_geq(in_result, 1,
                "the task result's banned list (%zu) lacks the corrupt peer %s",
                r->n_banned, peer_base_url(peers[0]));
  cr_assert_eq(r->n_banned, n, "result bans %zu, get_banned lists %zu",
               r->n_banned, n);
}

/* ---- Only faulty sources: the task fails, nothing is installed ---------- */

Test(faults, only_corrupt_sources_fail_and_install_nothing) {
  itest_setup(&t, 300, (1u << 20) + 5);
  start_peers(2, NULL);
  set_fault(peers[0], "corrupt:100");
  set_fault(peers[1], "corrupt:700000");
  itest_create(&t);
  use_peers_as_static_storages();
  itest_load(&t, 1, 1);
  itest_wait(&t, WAIT_MS);
  itest_destroy_and_check_leaks(&t);
  itest_assert_failed_nothing_installed(&t);
  cr_log_info("only corrupt: %s / %s", t.host.result.message,
              t.host.result.entry_message);
}

Test(faults, only_unreachable_sources_fail_with_a_sentence) {
  itest_setup(&t, 301, 200000);
  start_peers(3, NULL);
  set_fault(peers[0], "404");
  set_fault(peers[1], "500");
  set_fault(peers[2], "down");
  itest_create(&t);
  use_peers_as_static_storages();
  uint64_t t0 = itest_now_ms();
  itest_load(&t, 1, 1);
  itest_wait(&t, WAIT_MS);
  uint64_t took = itest_now_ms() - t0;
  itest_destroy_and_check_leaks(&t);
  itest_assert_failed_nothing_installed(&t);
  cr_log_info("404+500+down failed in %llu ms: %s / %s",
              (unsigned long long)took, t.host.result.message,
              t.host.result.entry_message);
  cr_assert_eq(t.host.result.n_banned, 0,
               "unreachable sources are not liars, yet %zu were banned",
               t.host.result.n_banned);
}

Test(faults, max_snapshot_bytes_below_the_size_fails_and_installs_nothing) {
  itest_setup(&t, 302, (1u << 20) + 1);
  start_peers(2, NULL);
  itest_create(&t);
  use_peers_as_static_storages();
  char limit[32];
  snprintf(limit, sizeof limit, "%llu",
           (unsigned long long)(t.snap.size - 1000));
  itest_set(&t, "max_snapshot_bytes", limit);
  itest_load(&t, 1, 0); /* the size is learnt from the sources */
  itest_wait(&t, WAIT_MS);
  itest_destroy_and_check_leaks(&t);
  itest_assert_failed_nothing_installed(&t);
  cr_assert_eq(t.host.result.entry_status, SSS_ERR_TOO_LARGE,
               "entry status %d (%s), not SSS_ERR_TOO_LARGE",
               t.host.result.entry_status, t.host.result.entry_message);
}

/* ---- One faulty source alone: bounded failure, or success when it is
 * merely slow but fast enough -----------------------------------------------
 */

/* peers[0] alone with the fault; returns how long the task took. */
static uint64_t alone(const char *fault, uint64_t size, const char *key,
                      const char *value) {
  itest_setup(&t, 400, size);
  start_peers(1, NULL);
  set_fault(peers[0], fault);
  itest_create(&t);
  use_peers_as_static_storages();
  itest_set(&t, "max_download_tries", "2");
  if (key) itest_set(&t, key, value);
  uint64_t t0 = itest_now_ms();
  itest_load(&t, 1, 1);
  itest_wait(&t, WAIT_MS);
  uint64_t took = itest_now_ms() - t0;
  itest_destroy_and_check_leaks(&t);
  cr_log_info("%s alone: %llu ms: %s / %s", fault, (unsigned long long)took,
              t.host.result.message, t.host.result.entry_message);
  return took;
}

Test(faults, stalled_only_source_fails_in_bounded_time) {
  /* Stall detection: no byte for connect_timeout_ms (1000 here). */
  uint64_t took = alone("stall:1000", 1u << 20, NULL, NULL);
  itest_assert_failed_nothing_installed(&t);
  cr_assert_lt(took, 10000, "a stalled source held the task %llu ms",
               (unsigned long long)took);
}

Test(faults, slow_only_source_below_min_speed_fails_in_bounded_time) {
  /* 20000 B/s for 1 MiB would take 52 s; the minimum is 500000 B/s. */
  uint64_t took =
      alone("slow:20000", 1u << 20, "min_source_speed_bps", "500000");
  itest_assert_failed_nothing_installed(&t);
  cr_assert_lt(took, 15000,
               "a source below the minimum speed held the task "
               "%llu ms",
               (unsigned long long)took);
}

Test(faults, slow_only_source_above_min_speed_installs) {
  /* 600000 B/s for 1 MiB: about 1.7 s, above the 100000 B/s minimum. */
  alone("slow:600000", 1u << 20, "min_source_speed_bps", "100000");
  itest_assert_installed(&t);
}
