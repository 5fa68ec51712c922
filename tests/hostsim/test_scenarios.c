/* Every named scenario (--scenario NAME) run through the sss-host-sim binary
 * with the fileshares backend over real HTTP, its --json summary parsed with
 * jansson and asserted: every thread installed and verified, zero requests
 * to nodes outside the BK set, banned sources only among the liars, and what
 * each scenario is about (the churn's joiners used, the partitioned nodes
 * used before they went down...). HS_BINARY and HS_FILESHARES come from
 * CMake. Sizes are small so that the whole suite stays within seconds. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "share_dir.h"

#include "sim_run.h"

typedef struct run_out {
  int exit_code;
  char *out, *err;
  json_t *doc; /* stdout parsed, or NULL */
} run_out;

/* Runs the simulator with args (NULL-terminated), capturing and parsing. */
static run_out run_sim(const char *const *args) {
  sim_output o = sim_run(NULL, args);
  json_error_t jerr;
  run_out r = {o.exit_code, o.out, o.err, json_loads(o.out, 0, &jerr)};
  return r;
}

static void run_free(run_out *r) {
  json_decref(r->doc);
  free(r->out);
  free(r->err);
}

static json_int_t get_int(json_t *obj, const char *key) {
  json_t *v = json_object_get(obj, key);
  cr_assert(json_is_integer(v), "no integer '%s'", key);
  return json_integer_value(v);
}

static const char *get_str(json_t *obj, const char *key) {
  json_t *v = json_object_get(obj, key);
  cr_assert(json_is_string(v), "no string '%s'", key);
  return json_string_value(v);
}

static json_t *node(run_out *r, const char *name) {
  json_t *nodes = json_object_get(r->doc, "nodes"), *n;
  size_t i;
  json_array_foreach(nodes, i, n) if (!strcmp(get_str(n, "name"), name))
      return n;
  cr_assert_fail("no node %s in the summary", name);
  return NULL;
}

/* True when some banned source belongs to the node called name. */
static int banned(run_out *r, const char *name) {
  json_t *b, *list = json_object_get(r->doc, "banned");
  size_t i;
  json_array_foreach(list, i, b) {
    json_t *nn = json_object_get(b, "node");
    if (json_is_string(nn) && !strcmp(json_string_value(nn), name)) return 1;
  }
  return 0;
}

/* Every banned source is one of the liars (a NULL-terminated list). */
static void assert_only_liars_banned(run_out *r, const char *const *liars) {
  json_t *b, *list = json_object_get(r->doc, "banned");
  size_t i;
  json_array_foreach(list, i, b) {
    json_t *nn = json_object_get(b, "node");
    cr_assert(json_is_string(nn), "banned source %s is no node's",
              get_str(b, "source"));
    int liar = 0;
    for (const char *const *l = liars; *l; l++)
      liar |= !strcmp(*l, json_string_value(nn));
    cr_assert(liar, "honest node %s was banned: %s (%s)",
              json_string_value(nn), get_str(b, "reason"),
              get_str(b, "source"));
  }
}

/* Runs --scenario name with the fileshares backend and checks what every
 * scenario must give: exit 0, one OK result, every thread installed and
 * verified, zero requests to nodes outside the BK set (outsider0 asked
 * nothing at all). */
static run_out run_scenario(const char *name, const char *size) {
  const char *args[] = {"--plugin",   HS_FILESHARES, "--json", "-q",
                        "--scenario", name,          "--size", size,
                        "--timeout",  "60",          NULL};
  run_out r = run_sim(args);
  cr_assert_not_null(r.doc, "stdout is not one JSON document\nstdout: %s\n"
                            "stderr: %s",
                     r.out, r.err);
  cr_assert_eq(r.exit_code, 0, "exit %d\nstdout: %s\nstderr: %s", r.exit_code,
               r.out, r.err);
  cr_assert(json_is_true(json_object_get(r.doc, "ok")), "%s", r.out);
  cr_assert_str_eq(get_str(r.doc, "scenario"), name);
  cr_assert_str_eq(get_str(r.doc, "transport"), "backend");
  cr_assert_eq(get_int(r.doc, "results_received"), 1);
  cr_assert_str_eq(get_str(r.doc, "task_status"), "ok");
  json_int_t total = get_int(r.doc, "threads_total");
  cr_assert_eq(total, 3);
  cr_assert_eq(get_int(r.doc, "threads_installed"), total, "%s", r.out);
  cr_assert_eq(get_int(r.doc, "threads_verified"), total, "%s", r.out);
  cr_assert_eq(get_int(r.doc, "non_bk_requests"), 0, "%s", r.out);
  cr_assert_eq(get_int(node(&r, "outsider0"), "requests"), 0, "%s", r.out);
  json_t *t, *threads = json_object_get(r.doc, "threads");
  size_t i;
  json_array_foreach(threads, i, t) {
    cr_assert(json_is_true(json_object_get(t, "verified")));
    cr_assert_eq(get_int(t, "bytes"), get_int(t, "size"));
    /* ABI 1.1: the backend says where the bytes came from. */
    cr_assert_gt(json_array_size(json_object_get(t, "sources")), 0, "%s",
                 r.out);
  }
  json_t *n, *nodes = json_object_get(r.doc, "nodes");
  json_array_foreach(nodes, i, n)
      cr_assert_eq(get_int(n, "non_bk_requests"), 0, "node %s: %s",
                   get_str(n, "name"), r.out);
  return r;
}

TestSuite(scenario, .timeout = 90);

Test(scenario, default_demo) {
  run_out r = run_scenario("default", "2M");
  const char *liars[] = {"node1", NULL};
  assert_only_liars_banned(&r, liars);
  run_free(&r);
}

Test(scenario, all_honest) {
  run_out r = run_scenario("all-honest", "2M");
  cr_assert_eq(json_array_size(json_object_get(r.doc, "banned")), 0, "%s",
               r.out);
  run_free(&r);
}

Test(scenario, churn) {
  run_out r = run_scenario("churn", "2M");
  /* Every event fired mid-run, and the plugin took the new view at a later
   * retry cycle: the joiners served, the leavers had served before. */
  json_t *e, *events = json_object_get(r.doc, "events");
  size_t i;
  cr_assert_eq(json_array_size(events), 4);
  json_array_foreach(events, i, e)
      cr_assert(json_is_true(json_object_get(e, "fired")), "%s", r.out);
  cr_assert_gt(get_int(node(&r, "node0"), "requests"), 0, "%s", r.out);
  cr_assert_gt(get_int(node(&r, "node1"), "requests"), 0, "%s", r.out);
  cr_assert_gt(get_int(node(&r, "node2"), "requests") +
                   get_int(node(&r, "node3"), "requests"),
               0, "the joiners were never asked: %s", r.out);
  cr_assert_eq(get_int(node(&r, "static"), "bytes_served"), 0);
  const char *none[] = {NULL};
  assert_only_liars_banned(&r, none);
  run_free(&r);
}

Test(scenario, liars) {
  run_out r = run_scenario("liars", "2M");
  const char *liars[] = {"node0", "node1", "node2", "static", NULL};
  assert_only_liars_banned(&r, liars);
  /* The oversized node states its lie in every answer. */
  if (get_int(node(&r, "node1"), "requests") > 0)
    cr_assert(banned(&r, "node1"), "%s", r.out);
  cr_assert_gt(json_array_size(json_object_get(r.doc, "banned")), 0);
  cr_assert_gt(get_int(node(&r, "node3"), "requests"), 0);
  run_free(&r);
}

Test(scenario, slow) {
  run_out r = run_scenario("slow", "2M");
  const char *none[] = {NULL};
  assert_only_liars_banned(&r, none);
  /* node0 needs 8 s for a 512 KiB segment at 64 KiB/s: a backend that
   * waited for the slow nodes instead of dropping them takes longer. */
  cr_assert_lt(get_int(r.doc, "elapsed_ms"), 8000, "%s", r.out);
  run_free(&r);
}

Test(scenario, partition) {
  run_out r = run_scenario("partition", "2M");
  json_t *e, *events = json_object_get(r.doc, "events");
  size_t i;
  json_int_t asked_before = 0;
  cr_assert_eq(json_array_size(events), 2);
  json_array_foreach(events, i, e) {
    cr_assert(json_is_true(json_object_get(e, "fired")), "%s", r.out);
    asked_before += get_int(e, "node_requests_before");
  }
  /* Mid-transfer: the nodes had been asked before they went down. */
  cr_assert_gt(asked_before, 0, "%s", r.out);
  cr_assert_str_eq(get_str(node(&r, "node0"), "fault"), "down");
  const char *none[] = {NULL};
  assert_only_liars_banned(&r, none);
  run_free(&r);
}

/* The same story through the host's blob service instead of HTTP. */
Test(scenario, default_through_the_host_blob_service) {
  const char *args[] = {"--plugin", HS_FILESHARES, "--json",
                        "-q",       "--size",      "1M",
                        "--host-blob-service",     NULL};
  run_out r = run_sim(args);
  cr_assert_not_null(r.doc, "%s", r.out);
  cr_assert_eq(r.exit_code, 0, "stdout: %s\nstderr: %s", r.out, r.err);
  cr_assert_str_eq(get_str(r.doc, "transport"), "host-blob-service");
  cr_assert_eq(get_int(r.doc, "threads_verified"), 3);
  cr_assert_eq(get_int(r.doc, "non_bk_requests"), 0);
  run_free(&r);
}

#ifdef HS_STUB
Test(scenario, stub_fails_and_says_why) {
  const char *args[] = {"--plugin", HS_STUB, "--json", "-q", "--small", NULL};
  run_out r = run_sim(args);
  cr_assert_not_null(r.doc, "%s", r.out);
  cr_assert_eq(r.exit_code, 1, "stdout: %s\nstderr: %s", r.out, r.err);
  cr_assert(json_is_false(json_object_get(r.doc, "ok")));
  cr_assert_str_eq(get_str(r.doc, "task_status"), "failed");
  cr_assert(strstr(get_str(r.doc, "verdict"), "the stub backend loads nothing"),
            "%s", r.out);
  cr_assert_eq(get_int(r.doc, "threads_installed"), 0);
  run_free(&r);
}
#endif
