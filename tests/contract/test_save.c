/* save_state_for_sharing: through host->save_object, under the block id. */
#include "harness.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

static void state_for(sss_state *st) {
  memset(st, 0, sizeof *st);
  st->struct_size = sizeof *st;
  for (int i = 0; i < SSS_BLOCK_ID_LEN; i++)
    st->block_id.bytes[i] = (uint8_t)(0xf0 + i * 13);
  st->host_state = st;
}

static void expected_name(const sss_state *st, char *out) {
  for (int i = 0; i < SSS_BLOCK_ID_LEN; i++)
    sprintf(out + 2 * i, "%02x", st->block_id.bytes[i]);
}

Test(save, saves_under_the_lowercase_hex_of_the_block_id) {
  test_host h;
  th_init(&h);
  th_create(&h);
  sss_state st;
  state_for(&st);
  char err[SSS_ERROR_SIZE] = "";
  int rc = h.p->save_state_for_sharing(h.inst, &st, err);
  cr_assert_eq(rc, SSS_OK, "%d %s", rc, err);
  char want[SSS_BLOCK_ID_HEX_LEN + 1];
  expected_name(&st, want);
  cr_assert_eq(h.saves, 1, "save_object must be called exactly once");
  cr_assert_str_eq(h.saved_name, want);
  cr_assert_eq(strlen(h.saved_name), 64);
  cr_assert_eq(h.saved_state, &st, "the state must be passed through as is");
  th_destroy(&h);
  th_release(&h);
}

Test(save, the_hosts_failure_and_sentence_come_back) {
  test_host h;
  th_init(&h);
  h.save_fail = "disk full writing /shares/tmp.1; free some space";
  th_create(&h);
  sss_state st;
  state_for(&st);
  char err[SSS_ERROR_SIZE] = "";
  int rc = h.p->save_state_for_sharing(h.inst, &st, err);
  cr_assert_eq(rc, SSS_ERR_HOST, "got %d", rc);
  cr_assert(strstr(err, h.save_fail), "'%s' lacks the host's sentence", err);
  th_destroy(&h);
  th_release(&h);
}

Test(save, without_save_object_is_unsupported_and_named) {
  test_host h;
  th_init(&h);
  h.host.save_object = NULL;
  th_create(&h);
  sss_state st;
  state_for(&st);
  char err[SSS_ERROR_SIZE] = "";
  cr_assert_eq(h.p->save_state_for_sharing(h.inst, &st, err),
               SSS_ERR_UNSUPPORTED);
  cr_assert(strstr(err, "save_object"), "'%s' does not name save_object", err);
  th_destroy(&h);
  th_release(&h);
}

Test(save, null_state_is_invalid) {
  test_host h;
  th_init(&h);
  th_create(&h);
  char err[SSS_ERROR_SIZE] = "";
  cr_assert_eq(h.p->save_state_for_sharing(h.inst, NULL, err),
               SSS_ERR_INVALID_ARGUMENT);
  cr_assert(strstr(err, "state"), "'%s' does not name the state", err);
  cr_assert_eq(h.saves, 0);
  th_destroy(&h);
  th_release(&h);
}
