/* add_load_state_task: validation, exactly one result, busy, re-entry. */
#include "harness.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

static void expect_invalid(test_host *h, const sss_load_entry *e, size_t n,
                           const sss_task_output *out, const char *named) {
  char err[SSS_ERROR_SIZE] = "";
  int rc = h->p->add_load_state_task(h->inst, e, n, NULL, out, err);
  cr_assert_eq(rc, SSS_ERR_INVALID_ARGUMENT,
               "expected an error naming %s, "
               "got %d",
               named, rc);
  cr_assert(strstr(err, named), "'%s' does not name %s", err, named);
}

Test(task, bad_input_is_an_error_and_starts_nothing) {
  th_warm_threads();
  int threads = th_count_threads();
  test_host h;
  th_init(&h);
  th_create(&h);
  cr_assert_eq(th_count_threads(), threads, "create must start no thread");
  sss_load_entry e[3];
  th_entries(e, 3, 1);
  sss_task_output out = th_output(&h);

  expect_invalid(&h, e, 0, &out, "entr"); /* no entries */
  expect_invalid(&h, NULL, 2, &out, "entries");
  expect_invalid(&h, e, 3, NULL, "output");
  sss_task_output no_fn = out;
  no_fn.on_result = NULL;
  expect_invalid(&h, e, 3, &no_fn, "on_result");
  sss_load_entry small[1];
  th_entries(small, 1, 1);
  small[0].struct_size = 0;
  expect_invalid(&h, small, 1, &out, "struct_size");

  sss_load_entry twice[3];
  th_entries(twice, 3, 1);
  twice[2].thread_id = twice[0].thread_id;
  twice[2].block_id.bytes[0] ^= 0xff; /* same thread, another block */
  char hex[2 * SSS_THREAD_ID_LEN + 1];
  for (int i = 0; i < SSS_THREAD_ID_LEN; i++)
    sprintf(hex + 2 * i, "%02x", twice[0].thread_id.bytes[i]);
  expect_invalid(&h, twice, 3, &out, hex);

  cr_assert_eq(th_count_threads(), threads, "bad input started a thread");
  cr_assert_eq(th_wait_results(&h, 1, TH_QUIET_MS), 0,
               "bad input produced a result");
  pthread_mutex_lock(&h.mu);
  int requests = h.state_requests;
  pthread_mutex_unlock(&h.mu);
  cr_assert_eq(requests, 0, "bad input was counted as a state request");
  th_destroy(&h);
  cr_assert_eq(h.results, 0);
  th_release(&h);
}

Test(task, loader_thread_starts_with_the_first_task_and_is_joined) {
  th_warm_threads();
  int threads = th_count_threads();
  test_host h;
  th_init(&h);
  th_create(&h);
  th_options_slow(&h);
  sss_load_entry e[2];
  th_entries(e, 2, 2);
  sss_task_output out = th_output(&h);
  cr_assert_eq(h.p->add_load_state_task(h.inst, e, 2, NULL, &out, NULL),
               SSS_OK);
  cr_assert_eq(th_count_threads(), threads + 1,
               "one loader thread per instance, started by the first task");
  th_destroy(&h);
  cr_assert_eq(th_wait_thread_count(threads, 2000), threads,
               "destroy must join the loader thread");
  th_release(&h);
}

Test(task, exactly_one_result_per_task) {
  test_host h;
  th_init(&h);
  th_create(&h);
  th_options_fast(&h);
  sss_load_entry e[3];
  th_entries(e, 3, 3);
  sss_task_output out = th_output(&h);
  char err[SSS_ERROR_SIZE] = "";
  int rc = h.p->add_load_state_task(h.inst, e, 3, NULL, &out, err);
  cr_assert_eq(rc, SSS_OK, "%d %s", rc, err);
  cr_assert_eq(th_wait_results(&h, 1, TH_RESULT_WAIT_MS), 1, "no result");
  cr_assert_eq(th_wait_results(&h, 2, TH_QUIET_MS), 1, "a second result");

  pthread_mutex_lock(&h.mu);
  th_result r = h.recorded[0];
  int requests = h.state_requests, errors = h.errors;
  int bad_kinds = h.bad_error_kinds, bad_logs = h.bad_logs;
  int applies = h.applies, blobs = h.blob_requests;
  pthread_mutex_unlock(&h.mu);
  cr_assert(th_is_task_status(r.status), "status %d", r.status);
  /* With no gossip nodes and no static storages there is nothing to load
   * from: every backend must fail. */
  cr_assert_eq(r.status, SSS_TASK_FAILED);
  cr_assert_neq(r.task_id, 0);
  cr_assert_eq(r.n_entries, 3);
  cr_assert(r.entries_ok, "entries lack struct_size or a failure sentence");
  cr_assert_arr_eq(&r.first_block_id, &e[0].block_id, sizeof(sss_block_id));
  cr_assert_lt(r.first_entry_status, 0);
  cr_assert_eq(applies, 0, "nothing was fetched, so nothing to apply");
  cr_assert_eq(blobs, 0, "no source exists, yet a blob was requested");
  cr_assert_eq(requests, 3, "one report_state_request per entry");
  cr_assert_geq(errors, 1, "a failed task reports its errors");
  cr_assert_eq(bad_kinds, 0, "report_error with an unknown kind");
  cr_assert_eq(bad_logs, 0, "log lines need a level and no newline");
  th_destroy(&h);
  cr_assert_eq(h.results, 1);
  th_release(&h);
}

Test(task, consecutive_tasks_get_growing_ids_and_one_result_each) {
  test_host h;
  th_init(&h);
  th_create(&h);
  th_options_fast(&h);
  sss_load_entry e[1];
  th_entries(e, 1, 4);
  sss_task_output out = th_output(&h);
  for (int i = 1; i <= 3; i++) {
    cr_assert_eq(h.p->add_load_state_task(h.inst, e, 1, NULL, &out, NULL),
                 SSS_OK, "task %d not accepted after the previous ended", i);
    cr_assert_eq(th_wait_results(&h, i, TH_RESULT_WAIT_MS), i);
  }
  cr_assert_eq(th_wait_results(&h, 4, TH_QUIET_MS), 3);
  cr_assert_lt(h.recorded[0].task_id, h.recorded[1].task_id);
  cr_assert_lt(h.recorded[1].task_id, h.recorded[2].task_id);
  th_destroy(&h);
  th_release(&h);
}

Test(task, already_loading_while_busy) {
  test_host h;
  th_init(&h);
  th_create(&h);
  th_options_slow(&h);
  sss_load_entry first[2], second[2];
  th_entries(first, 2, 5);
  th_entries(second, 2, 6);
  sss_task_output out = th_output(&h);
  cr_assert_eq(h.p->add_load_state_task(h.inst, first, 2, NULL, &out, NULL),
               SSS_OK);
  int rc = h.p->add_load_state_task(h.inst, second, 2, NULL, &out, NULL);
  cr_assert_eq(rc, SSS_ALREADY_LOADING, "got %d", rc);
  /* Bad input is still an error while busy, not ALREADY_LOADING. */
  cr_assert_eq(h.p->add_load_state_task(h.inst, second, 0, NULL, &out, NULL),
               SSS_ERR_INVALID_ARGUMENT);
  th_destroy(&h);
  cr_assert_eq(h.results, 1, "the skipped task must produce no result");
  cr_assert_arr_eq(&h.recorded[0].first_block_id, &first[0].block_id,
                   sizeof(sss_block_id), "the result is the first task's");
  th_release(&h);
}

Test(task, on_result_may_add_a_task_again) {
  test_host h;
  th_init(&h);
  th_create(&h);
  th_options_fast(&h);
  sss_load_entry e[2];
  th_entries(e, 2, 7);
  h.task_entries = e;
  h.task_n = 2;
  h.reenter = 1;
  sss_task_output out = th_output(&h);
  cr_assert_eq(h.p->add_load_state_task(h.inst, e, 2, NULL, &out, NULL),
               SSS_OK);
  cr_assert_eq(th_wait_results(&h, 2, TH_RESULT_WAIT_MS), 2,
               "the task added from on_result never ended (deadlock?)");
  cr_assert_eq(th_wait_results(&h, 3, TH_QUIET_MS), 2);
  pthread_mutex_lock(&h.mu);
  int rc = h.reenter_rc;
  pthread_mutex_unlock(&h.mu);
  cr_assert_eq(rc, SSS_OK,
               "inside on_result the task is over: a new one is accepted");
  cr_assert_lt(h.recorded[0].task_id, h.recorded[1].task_id);
  th_destroy(&h);
  th_release(&h);
}

Test(task, entries_with_an_older_shorter_struct_are_accepted) {
  test_host h;
  th_init(&h);
  th_create(&h);
  th_options_fast(&h);
  /* An older host's entries: only thread and block id, packed at that
   * stride. */
  enum { OLD = offsetof(sss_load_entry, flags) };
  _Alignas(sss_load_entry) unsigned char buf[3 * sizeof(sss_load_entry)];
  memset(buf, 0, sizeof buf); /* the old struct's tail padding: zero */
  sss_load_entry full[3];
  th_entries(full, 3, 8);
  size_t stride = (OLD + _Alignof(sss_load_entry) - 1) /
                  _Alignof(sss_load_entry) * _Alignof(sss_load_entry);
  for (int i = 0; i < 3; i++) {
    full[i].struct_size = stride;
    memcpy(buf + i * stride, &full[i], OLD);
  }
  sss_task_output out = th_output(&h);
  char err[SSS_ERROR_SIZE] = "";
  int rc = h.p->add_load_state_task(h.inst, (const sss_load_entry *)buf, 3,
                                    NULL, &out, err);
  cr_assert_eq(rc, SSS_OK, "%d %s", rc, err);
  cr_assert_eq(th_wait_results(&h, 1, TH_RESULT_WAIT_MS), 1);
  cr_assert_eq(h.recorded[0].n_entries, 3);
  cr_assert_arr_eq(&h.recorded[0].first_block_id, &full[0].block_id,
                   sizeof(sss_block_id));
  th_destroy(&h);
  th_release(&h);
}
