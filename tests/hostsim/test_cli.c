/* End-to-end runs of the sss-host-sim binary. Paths of the binary and of
 * the backends come from CMake (HS_BINARY, HS_STUB, HS_FILESHARES...). */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "share_dir.h"

#include "sim_run.h"

/* The integer after "key": in a JSON document (first occurrence). */
static long json_int(const char *doc, const char *key) {
  char pat[128];
  snprintf(pat, sizeof pat, "\"%s\":", key);
  const char *p = strstr(doc, pat);
  cr_assert_not_null(p, "no %s in %s", key, doc);
  return strtol(p + strlen(pat), NULL, 10);
}

static int json_true(const char *doc, const char *key) {
  char pat[128];
  snprintf(pat, sizeof pat, "\"%s\":true", key);
  return strstr(doc, pat) != NULL;
}

Test(cli, help_exits_zero_and_lists_the_flags, .timeout = 30) {
  const char *args[] = {"--help", NULL};
  sim_output r = sim_run(NULL, args);
  cr_assert_eq(r.exit_code, 0);
  for (const char *f = "--plugin\0--fault\0--json\0--small\0"; *f;
       f += strlen(f) + 1)
    cr_assert(strstr(r.out, f) != NULL, "--help lacks %s", f);
  sim_output_free(&r);
}

Test(cli, missing_plugin_file_is_one_sentence, .timeout = 30) {
  const char *args[] = {"--plugin", "/nonexistent/libsss_nothing.so", NULL};
  sim_output r = sim_run(NULL, args);
  cr_assert_eq(r.exit_code, 2);
  cr_assert(strstr(r.err, "/nonexistent/libsss_nothing.so"), "%s", r.err);
  cr_assert(strstr(r.err, "No such file"), "%s", r.err);
  cr_assert(strstr(r.err, "--plugin"), "no fix named: %s", r.err);
  sim_output_free(&r);
}

Test(cli, file_that_is_no_shared_object_names_dlerror, .timeout = 30) {
  char path[256];
  snprintf(path, sizeof path, "%s/hs-notso-XXXXXX",
           getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
  int fd = mkstemp(path);
  cr_assert_geq(fd, 0);
  cr_assert_eq(write(fd, "hello\n", 6), 6);
  close(fd);
  const char *args[] = {"--plugin", path, "--json", NULL};
  sim_output r = sim_run(NULL, args);
  unlink(path);
  cr_assert_eq(r.exit_code, 2);
  cr_assert(strstr(r.err, "is not a loadable shared object"), "%s", r.err);
  cr_assert(strstr(r.err, path), "%s", r.err);
  /* dlerror's text is included ("invalid ELF header" or "file too short"). */
  cr_assert(strstr(r.err, "ELF") || strstr(r.err, "too short"), "%s", r.err);
  sim_output_free(&r);
}

Test(cli, shared_object_without_the_entry_symbol, .timeout = 30) {
  const char *args[] = {"--plugin", HS_NOSYM, NULL};
  sim_output r = sim_run(NULL, args);
  cr_assert_eq(r.exit_code, 2);
  cr_assert(strstr(r.err, "does not export sss_plugin_entry"), "%s", r.err);
  sim_output_free(&r);
}

Test(cli, other_major_version_names_both, .timeout = 30) {
  const char *args[] = {"--plugin", HS_V2, NULL};
  sim_output r = sim_run(NULL, args);
  cr_assert_eq(r.exit_code, 2);
  cr_assert(strstr(r.err, "speaks ABI 2.3 but this host speaks ABI 1."), "%s",
            r.err);
  sim_output_free(&r);
}

Test(cli, bad_flags_are_sentences_and_exit_2, .timeout = 30) {
  const char *a1[] = {"--threads", "zero", NULL};
  sim_output r = sim_run(NULL, a1);
  cr_assert_eq(r.exit_code, 2);
  cr_assert(strstr(r.err, "--threads 'zero'"), "%s", r.err);
  sim_output_free(&r);
}

#ifdef HS_STUB
/* True when dir holds nothing (the simulator removed its temp dir). */
static int dir_is_empty(const char *dir) {
  DIR *d = opendir(dir);
  cr_assert_not_null(d);
  int empty = 1;
  struct dirent *e;
  while ((e = readdir(d)))
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) empty = 0;
  closedir(d);
  return empty;
}

Test(stub, run_fails_with_the_stubs_sentence_and_cleans_up, .timeout = 60) {
  char tmp[256];
  snprintf(tmp, sizeof tmp, "%s/hs-stub-XXXXXX",
           getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
  cr_assert_not_null(mkdtemp(tmp));
  const char *args[] = {"--plugin", HS_STUB, "--json", "--small", NULL};
  sim_output r = sim_run(tmp, args);
  cr_assert_eq(r.exit_code, 1, "stdout: %s\nstderr: %s", r.out, r.err);
  cr_assert(strstr(r.out, "\"ok\":false"), "%s", r.out);
  cr_assert(strstr(r.out, "\"task_status\":\"failed\""), "%s", r.out);
  cr_assert(strstr(r.out, "loads nothing"), "%s", r.out);
  cr_assert_eq(json_int(r.out, "results_received"), 1);
  cr_assert_eq(json_int(r.out, "threads_installed"), 0);
  cr_assert(dir_is_empty(tmp), "the simulator left files in %s", tmp);
  hs_remove_tree(tmp);
  sim_output_free(&r);
}

Test(stub, refused_option_is_the_plugins_sentence, .timeout = 60) {
  const char *args[] = {"--plugin", HS_STUB, "--small", "--set",
                        "no_such_key=1", NULL};
  sim_output r = sim_run(NULL, args);
  cr_assert_eq(r.exit_code, 2);
  cr_assert(strstr(r.err, "no_such_key"), "%s", r.err);
  sim_output_free(&r);
}

Test(stub, table_output_says_why, .timeout = 60) {
  const char *args[] = {"--plugin", HS_STUB, "--small", NULL};
  sim_output r = sim_run(NULL, args);
  cr_assert_eq(r.exit_code, 1);
  cr_assert(strstr(r.out, "verdict: FAIL"), "%s", r.out);
  cr_assert(strstr(r.out, "loads nothing"), "%s", r.out);
  sim_output_free(&r);
}
#endif

#ifdef HS_FILESHARES
/* Runs the default cluster with the fileshares backend plus extra flags and
 * asserts a complete, verified install that never asked an outsider. */
static void assert_installs_with(const char *mode, const char *fault) {
  const char *args[16] = {"--plugin", HS_FILESHARES, "--json",
                          "--size",   "1M",          "--fault",
                          "node1=none", "--fault",   "node2=none"};
  size_t n = 9;
  if (mode) args[n++] = mode;
  if (fault) {
    args[n++] = "--fault";
    args[n++] = fault;
  }
  args[n] = NULL;
  sim_output r = sim_run(NULL, args);
  cr_assert_eq(r.exit_code, 0, "fault %s\nstdout: %s\nstderr: %s",
               fault ? fault : "none", r.out, r.err);
  cr_assert(json_true(r.out, "ok"), "%s", r.out);
  cr_assert_eq(json_int(r.out, "results_received"), 1);
  cr_assert_eq(json_int(r.out, "threads_installed"), 3, "%s", r.out);
  cr_assert_eq(json_int(r.out, "threads_verified"), 3, "%s", r.out);
  cr_assert_eq(json_int(r.out, "non_bk_requests"), 0, "%s", r.out);
  sim_output_free(&r);
}

/* Over HTTP (the backend's transport) and through the host's blob service,
 * the default cluster without the default scenario's faults plus one. */
static void assert_installs_all(const char *fault) {
  assert_installs_with(NULL, fault);
  assert_installs_with("--host-blob-service", fault);
}

Test(fileshares, default_scenario_installs_every_thread, .timeout = 120) {
  const char *args[] = {"--plugin", HS_FILESHARES, "--json", "--size", "1M",
                        NULL};
  sim_output r = sim_run(NULL, args);
  cr_assert_eq(r.exit_code, 0, "stdout: %s\nstderr: %s", r.out, r.err);
  cr_assert_eq(json_int(r.out, "threads_verified"), 3, "%s", r.out);
  cr_assert_eq(json_int(r.out, "non_bk_requests"), 0, "%s", r.out);
  sim_output_free(&r);
}
Test(fileshares, installs_every_thread_from_honest_nodes, .timeout = 120) {
  assert_installs_all(NULL);
}
Test(fileshares, survives_a_stalling_node, .timeout = 120) {
  assert_installs_with(NULL, "node3=stall:1000");
}
Test(fileshares, survives_a_redirecting_node, .timeout = 120) {
  assert_installs_all("node3=redirect");
}
Test(fileshares, survives_a_node_without_ranges, .timeout = 120) {
  assert_installs_with(NULL, "node3=norange");
}
Test(fileshares, survives_a_corrupt_node, .timeout = 120) {
  assert_installs_all("node0=corrupt");
}
Test(fileshares, survives_a_404_node, .timeout = 120) {
  assert_installs_all("node1=404");
}
Test(fileshares, survives_a_down_node, .timeout = 120) {
  assert_installs_all("node2=down");
}
Test(fileshares, survives_a_truncating_static_storage, .timeout = 120) {
  assert_installs_all("static=truncate");
}

Test(fileshares, timeout_cancels_with_exactly_one_result, .timeout = 120) {
  /* 1 MiB at 100 kB/s from every source takes 10 s; --timeout 1 must
   * reset_sync, get the one CANCELLED result and exit 1 quickly. */
  const char *args[] = {"--plugin",
                        HS_FILESHARES,
                        "--json",
                        "--size",
                        "1M",
                        "--timeout",
                        "1",
                        "--fault",
                        "node0=slow:100000",
                        "--fault",
                        "node1=slow:100000",
                        "--fault",
                        "node2=slow:100000",
                        "--fault",
                        "node3=slow:100000",
                        "--fault",
                        "static=slow:100000",
                        NULL};
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  sim_output r = sim_run(NULL, args);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  cr_assert_eq(r.exit_code, 1, "stdout: %s\nstderr: %s", r.out, r.err);
  cr_assert(strstr(r.out, "\"task_status\":\"cancelled\""), "%s", r.out);
  cr_assert_eq(json_int(r.out, "results_received"), 1);
  cr_assert(strstr(r.err, "reset_sync"), "%s", r.err);
  cr_assert_lt(t1.tv_sec - t0.tv_sec, 8, "cancellation was not prompt");
  sim_output_free(&r);
}
#endif
