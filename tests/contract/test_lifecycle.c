/* reset_sync, destroy during work, many instances, get_stats. */
#include "harness.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

static void add_ok(test_host *h, const sss_load_entry *e, size_t n,
                   sss_task_output *out) {
  char err[SSS_ERROR_SIZE] = "";
  int rc = h->p->add_load_state_task(h->inst, e, n, NULL, out, err);
  cr_assert_eq(rc, SSS_OK, "add_load_state_task: %d %s", rc, err);
}

Test(reset, idle_instance_says_idle) {
  test_host h;
  th_init(&h);
  th_create(&h);
  cr_assert_eq(h.p->reset_sync(h.inst), SSS_IDLE);
  th_destroy(&h);
  th_release(&h);
}

Test(reset, after_the_result_says_idle) {
  test_host h;
  th_init(&h);
  th_create(&h);
  th_options_fast(&h);
  sss_load_entry e[1];
  th_entries(e, 1, 10);
  sss_task_output out = th_output(&h);
  add_ok(&h, e, 1, &out);
  cr_assert_eq(th_wait_results(&h, 1, TH_RESULT_WAIT_MS), 1);
  cr_assert_eq(h.p->reset_sync(h.inst), SSS_IDLE,
               "the task had ended; there was nothing to cancel");
  cr_assert_eq(th_wait_results(&h, 2, TH_QUIET_MS), 1);
  th_destroy(&h);
  th_release(&h);
}

Test(reset, cancels_a_running_task_with_exactly_one_result) {
  test_host h;
  th_init(&h);
  th_create(&h);
  th_options_slow(&h);
  sss_load_entry e[2];
  th_entries(e, 2, 11);
  sss_task_output out = th_output(&h);
  add_ok(&h, e, 2, &out);
  cr_assert_eq(h.p->reset_sync(h.inst), SSS_OK);
  cr_assert_eq(th_wait_results(&h, 1, TH_RESULT_WAIT_MS), 1,
               "the cancelled task's result never came");
  cr_assert_eq(th_wait_results(&h, 2, TH_QUIET_MS), 1, "a second result");
  cr_assert_eq(h.recorded[0].status, SSS_TASK_CANCELLED);
  cr_assert_eq(h.recorded[0].n_entries, 2);
  cr_assert(h.recorded[0].entries_ok);
  cr_assert_eq(h.recorded[0].first_entry_status, SSS_ERR_CANCELLED);
  cr_assert_eq(h.p->reset_sync(h.inst), SSS_IDLE, "already cancelled");
  th_destroy(&h);
  cr_assert_eq(h.results, 1);
  th_release(&h);
}

/* After reset_sync returns the slot is free: the host's usual "reset, then
 * load something else" gets a new task, not SSS_ALREADY_LOADING. */
Test(reset, a_new_task_is_accepted_right_after) {
  test_host h;
  th_init(&h);
  th_create(&h);
  th_options_slow(&h);
  sss_load_entry a[1], b[1];
  th_entries(a, 1, 12);
  th_entries(b, 1, 13);
  sss_task_output out = th_output(&h);
  add_ok(&h, a, 1, &out);
  cr_assert_eq(h.p->reset_sync(h.inst), SSS_OK);
  add_ok(&h, b, 1, &out);
  cr_assert_eq(th_wait_results(&h, 1, TH_RESULT_WAIT_MS), 1);
  cr_assert_eq(h.recorded[0].status, SSS_TASK_CANCELLED);
  cr_assert_arr_eq(&h.recorded[0].first_block_id, &a[0].block_id,
                   sizeof(sss_block_id), "the first result is the first task");
  th_destroy(&h);
  cr_assert_eq(h.results, 2,
               "the second task's result (delivered by "
               "destroy at the latest) is missing");
  cr_assert_arr_eq(&h.recorded[1].first_block_id, &b[0].block_id,
                   sizeof(sss_block_id));
  cr_assert(th_is_task_status(h.recorded[1].status));
  th_release(&h);
}

Test(destroy, while_a_task_runs_delivers_one_result_and_then_nothing) {
  test_host h;
  th_init(&h);
  th_create(&h);
  th_options_slow(&h);
  sss_load_entry e[4];
  th_entries(e, 4, 14);
  sss_task_output out = th_output(&h);
  add_ok(&h, e, 4, &out);
  th_destroy(&h);
  /* destroy returned: the result is in, and nothing may follow. */
  cr_assert_eq(h.results, 1, "destroy must deliver the running task's result");
  cr_assert_eq(h.recorded[0].status, SSS_TASK_CANCELLED);
  cr_assert(h.recorded[0].entries_ok);
  cr_assert_eq(th_late_calls_after(&h, TH_QUIET_MS), 0,
               "a host callback ran after destroy returned");
  cr_assert_eq(h.results, 1);
  th_release(&h);
}

static void *destroy_main(void *arg) {
  test_host *h = arg;
  th_destroy(h);
  return NULL;
}

/* destroy waits for an on_result that is running on the loader thread. */
Test(destroy, waits_for_a_running_on_result) {
  test_host h;
  th_init(&h);
  th_create(&h);
  th_options_fast(&h);
  h.block_in_result = 1;
  sss_load_entry e[1];
  th_entries(e, 1, 15);
  sss_task_output out = th_output(&h);
  add_ok(&h, e, 1, &out);
  cr_assert(th_wait_in_result(&h, TH_RESULT_WAIT_MS), "no result came");
  pthread_t t;
  cr_assert_eq(pthread_create(&t, NULL, destroy_main, &h), 0);
  /* While on_result is held, destroy must not return. */
  cr_assert_eq(th_late_calls_after(&h, TH_QUIET_MS), 0);
  cr_assert_eq(atomic_load(&h.destroyed), 0,
               "destroy returned while on_result was still running");
  th_release_result(&h);
  pthread_join(t, NULL);
  cr_assert_eq(atomic_load(&h.destroyed), 1);
  cr_assert_eq(h.results, 1);
  cr_assert_eq(th_late_calls_after(&h, TH_QUIET_MS), 0);
  th_release(&h);
}

Test(destroy, right_after_create_and_after_a_finished_task) {
  test_host a, b;
  th_init(&a);
  th_create(&a);
  th_destroy(&a);
  cr_assert_eq(a.calls - a.logs, 0, "an instance with no task called back");
  th_release(&a);

  th_init(&b);
  th_create(&b);
  th_options_fast(&b);
  sss_load_entry e[1];
  th_entries(e, 1, 16);
  sss_task_output out = th_output(&b);
  add_ok(&b, e, 1, &out);
  cr_assert_eq(th_wait_results(&b, 1, TH_RESULT_WAIT_MS), 1);
  th_destroy(&b);
  cr_assert_eq(b.results, 1, "destroy must not deliver a finished task again");
  cr_assert_eq(th_late_calls_after(&b, TH_QUIET_MS), 0);
  th_release(&b);
}

/* ---- Many instances, each driven from its own thread ------------------- */

enum { N_INSTANCES = 8 };

typedef struct worker {
  test_host h;
  uint8_t seed;
  int ok; /* 1 when every check passed */
  char why[128];
} worker;

static void *worker_main(void *arg) {
  worker *w = arg;
  test_host *h = &w->h;
  sss_load_entry e[2];
  th_entries(e, 2, w->seed);
  sss_task_output out = th_output(h);
  snprintf(w->why, sizeof w->why, "add_load_state_task failed");
  if (h->p->add_load_state_task(h->inst, e, 2, NULL, &out, NULL) != SSS_OK)
    return NULL;
  snprintf(w->why, sizeof w->why, "no result");
  if (th_wait_results(h, 1, TH_RESULT_WAIT_MS) != 1) return NULL;
  snprintf(w->why, sizeof w->why, "more than one result");
  if (th_wait_results(h, 2, TH_QUIET_MS) != 1) return NULL;
  snprintf(w->why, sizeof w->why, "another instance's result");
  if (memcmp(&h->recorded[0].first_block_id, &e[0].block_id,
             sizeof(sss_block_id)))
    return NULL;
  w->ok = 1;
  return NULL;
}

Test(instances, eight_instances_work_in_parallel) {
  static worker w[N_INSTANCES];
  pthread_t t[N_INSTANCES];
  for (int i = 0; i < N_INSTANCES; i++) {
    th_init(&w[i].h);
    th_create(&w[i].h);
    th_options_fast(&w[i].h);
    w[i].seed = (uint8_t)(100 + i);
  }
  for (int i = 0; i < N_INSTANCES; i++)
    cr_assert_eq(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
  for (int i = 0; i < N_INSTANCES; i++)
    pthread_join(t[i], NULL);
  for (int i = 0; i < N_INSTANCES; i++) {
    cr_assert(w[i].ok, "instance %d: %s", i, w[i].why);
    th_destroy(&w[i].h);
    cr_assert_eq(w[i].h.results, 1);
    th_release(&w[i].h);
  }
}

/* ---- get_stats --------------------------------------------------------- */

Test(stats, before_during_and_after_a_task) {
  test_host h;
  th_init(&h);
  th_create(&h);
  sss_stats s = {.struct_size = sizeof s};
  cr_assert_eq(h.p->get_stats(h.inst, &s), SSS_OK);
  cr_assert_eq(s.task_id, 0);
  cr_assert_eq(s.running, 0);
  cr_assert_eq(s.last_status, -1);

  th_options_slow(&h);
  sss_load_entry e[3];
  th_entries(e, 3, 17);
  sss_task_output out = th_output(&h);
  add_ok(&h, e, 3, &out);
  cr_assert_eq(h.p->get_stats(h.inst, &s), SSS_OK);
  cr_assert_eq(s.running, 1);
  cr_assert_neq(s.task_id, 0);
  cr_assert_eq(s.entries_total, 3);
  cr_assert_eq(s.entries_done, 0);
  uint64_t running_id = s.task_id;
  cr_assert_eq(h.p->reset_sync(h.inst), SSS_OK);
  cr_assert_eq(th_wait_results(&h, 1, TH_RESULT_WAIT_MS), 1);
  cr_assert_eq(h.recorded[0].task_id, running_id);

  th_options_fast(&h);
  add_ok(&h, e, 3, &out);
  cr_assert_eq(th_wait_results(&h, 2, TH_RESULT_WAIT_MS), 2);
  cr_assert_eq(h.p->get_stats(h.inst, &s), SSS_OK);
  cr_assert_eq(s.running, 0);
  cr_assert_eq(s.task_id, h.recorded[1].task_id);
  cr_assert_eq(s.last_status, h.recorded[1].status);
  cr_assert_eq(s.entries_done + s.entries_failed, 3);
  th_destroy(&h);
  th_release(&h);
}

/* An older host's shorter sss_stats: nothing beyond its struct_size is
 * written. */
Test(stats, fills_only_the_callers_struct_size) {
  test_host h;
  th_init(&h);
  th_create(&h);
  sss_stats s;
  memset(&s, 0xab, sizeof s);
  s.struct_size = offsetof(sss_stats, last_status);
  cr_assert_eq(h.p->get_stats(h.inst, &s), SSS_OK);
  cr_assert_eq(s.struct_size, offsetof(sss_stats, last_status));
  cr_assert_eq(s.task_id, 0, "task_id lies within struct_size");
  cr_assert_eq(s.running, 0, "running lies within struct_size");
  const unsigned char *tail = (const unsigned char *)&s.last_status;
  for (size_t i = 0; i < sizeof s - offsetof(sss_stats, last_status); i++)
    cr_assert_eq(tail[i], 0xab, "byte %zu past struct_size was written", i);
  cr_assert_eq(h.p->get_stats(h.inst, NULL), SSS_ERR_INVALID_ARGUMENT);
  th_destroy(&h);
  th_release(&h);
}
