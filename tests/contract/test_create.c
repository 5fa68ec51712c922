/* create: the host table checks. */
#include "harness.h"

#include <criterion/criterion.h>
#include <string.h>

static void expect_create_fails(const sss_host *host, int status,
                                const char *named) {
  const sss_plugin *p = th_backend();
  char err[SSS_ERROR_SIZE] = "";
  sss_instance *inst = (sss_instance *)(void *)&inst; /* not NULL */
  int rc = p->create(host, &inst, err);
  cr_assert_eq(rc, status, "create returned %d (%s), expected %d", rc,
               p->strerror(rc), status);
  cr_assert_null(inst, "a failed create must leave *out NULL");
  cr_assert(strstr(err, named), "the sentence '%s' does not name '%s'", err,
            named);
}

Test(create, null_host_table) {
  expect_create_fails(NULL, SSS_ERR_HOST_TABLE, "host");
}

Test(create, struct_size_too_small) {
  test_host h;
  th_init(&h);
  h.host.struct_size = offsetof(sss_host, apply_snapshot); /* one short */
  expect_create_fails(&h.host, SSS_ERR_HOST_TABLE, "struct_size");
  h.host.struct_size = 0;
  expect_create_fails(&h.host, SSS_ERR_HOST_TABLE, "struct_size");
  th_release(&h);
}

Test(create, missing_gossip_nodes_is_named) {
  test_host h;
  th_init(&h);
  h.host.gossip_nodes = NULL;
  expect_create_fails(&h.host, SSS_ERR_MISSING_CALLBACK, "gossip_nodes");
  th_release(&h);
}

Test(create, missing_bk_set_is_named) {
  test_host h;
  th_init(&h);
  h.host.bk_set = NULL;
  expect_create_fails(&h.host, SSS_ERR_MISSING_CALLBACK, "bk_set");
  th_release(&h);
}

Test(create, missing_apply_snapshot_is_named) {
  test_host h;
  th_init(&h);
  h.host.apply_snapshot = NULL;
  expect_create_fails(&h.host, SSS_ERR_MISSING_CALLBACK, "apply_snapshot");
  th_release(&h);
}

Test(create, null_out_is_invalid) {
  test_host h;
  th_init(&h);
  char err[SSS_ERROR_SIZE] = "";
  cr_assert_eq(h.p->create(&h.host, NULL, err), SSS_ERR_INVALID_ARGUMENT);
  cr_assert(strstr(err, "out"), "'%s' does not name out", err);
  th_release(&h);
}

/* An older host whose table ends after the required callbacks is accepted,
 * and the members beyond its struct_size are never read. */
Test(create, short_host_table_with_only_required_callbacks) {
  test_host h;
  th_init(&h);
  h.host.struct_size = offsetof(sss_host, save_object);
  th_create(&h);
  sss_state st = {.struct_size = sizeof st};
  char err[SSS_ERROR_SIZE] = "";
  int rc = h.p->save_state_for_sharing(h.inst, &st, err);
  cr_assert_eq(rc, SSS_ERR_UNSUPPORTED,
               "save_object lies beyond the host's struct_size and must be "
               "treated as absent (got %d)",
               rc);
  cr_assert_eq(h.saves, 0);
  th_destroy(&h);
  th_release(&h);
}

Test(create, many_instances_are_independent) {
  enum { N = 8 };
  test_host h[N];
  for (int i = 0; i < N; i++) {
    th_init(&h[i]);
    th_create(&h[i]);
    for (int j = 0; j < i; j++)
      cr_assert_neq(h[i].inst, h[j].inst);
  }
  for (int i = 0; i < N; i++) {
    th_destroy(&h[i]);
    th_release(&h[i]);
  }
}
