/* set_option: every documented key, valid, unknown and malformed. */
#include "harness.h"

#include <criterion/criterion.h>
#include <string.h>

typedef struct opt_case {
  const char *key, *good, *bad;
} opt_case;

/* Every key docs/ABI.md documents, a value it accepts and one it rejects
 * (NULL: the key accepts every string, so only a NULL value is bad). */
static const opt_case CASES[] = {
    {"static_storages", "http://127.0.0.1:1/a/, https://127.0.0.1:2/b",
     "ftp://127.0.0.1/x"},
    {"max_download_tries", "5", "0"},
    {"retry_download_timeout_ms", "100", "-1"},
    {"download_deadline_timeout_ms", "1000", "0"},
    {"connect_timeout_ms", "100", "12x"},
    {"storage_path", "x/y/", NULL},
    {"gossip_url_key", "api_url", ""}, /* must not be empty */
    {"staging_dir", "/tmp", NULL},
    {"parallel_sources", "2", "65"},
    {"max_snapshot_bytes", "1000", "18446744073709551616"},
    {"min_source_speed_bps", "10", "fast"},
    {"tls_verify", "0", "maybe"},
    {"tls_ca_file", "", "/nonexistent/sss-contract/ca.pem"},
};
#define N_CASES (sizeof CASES / sizeof CASES[0])

Test(options, every_key_accepts_a_valid_value) {
  test_host h;
  th_init(&h);
  th_create(&h);
  for (size_t i = 0; i < N_CASES; i++) {
    char err[SSS_ERROR_SIZE] = "";
    int rc = h.p->set_option(h.inst, CASES[i].key, CASES[i].good, err);
    cr_assert_eq(rc, SSS_OK, "%s=%s: %d %s", CASES[i].key, CASES[i].good, rc,
                 err);
  }
  /* A readable file is a valid CA file; the backend itself is one. */
  char err[SSS_ERROR_SIZE] = "";
  cr_assert_eq(h.p->set_option(h.inst, "tls_ca_file", th_backend_path(), err),
               SSS_OK, "%s", err);
  th_destroy(&h);
  th_release(&h);
}

Test(options, unknown_key_is_named) {
  test_host h;
  th_init(&h);
  th_create(&h);
  char err[SSS_ERROR_SIZE] = "";
  int rc = h.p->set_option(h.inst, "no_such_option", "1", err);
  cr_assert_eq(rc, SSS_ERR_UNKNOWN_OPTION);
  cr_assert(strstr(err, "no_such_option"), "'%s' does not name the key", err);
  err[0] = '\0';
  rc = h.p->set_option(h.inst, "Max_Download_Tries", "3", err);
  cr_assert_eq(rc, SSS_ERR_UNKNOWN_OPTION, "keys are case-sensitive");
  cr_assert(strstr(err, "Max_Download_Tries"), "'%s'", err);
  cr_assert_eq(h.p->set_option(h.inst, NULL, "1", NULL),
               SSS_ERR_INVALID_ARGUMENT);
  th_destroy(&h);
  th_release(&h);
}

Test(options, bad_value_names_key_and_value) {
  test_host h;
  th_init(&h);
  th_create(&h);
  for (size_t i = 0; i < N_CASES; i++) {
    const opt_case *c = &CASES[i];
    char err[SSS_ERROR_SIZE] = "";
    if (!c->bad) continue;
    int rc = h.p->set_option(h.inst, c->key, c->bad, err);
    cr_assert_eq(rc, SSS_ERR_BAD_OPTION_VALUE, "%s=%s gave %d", c->key, c->bad,
                 rc);
    cr_assert(strstr(err, c->key), "'%s' does not name the key %s", err,
              c->key);
    cr_assert(strstr(err, c->bad), "'%s' does not name the value %s", err,
              c->bad); /* trivially true for "": nothing to name */
  }
  th_destroy(&h);
  th_release(&h);
}

Test(options, null_value_is_invalid_for_every_key) {
  test_host h;
  th_init(&h);
  th_create(&h);
  for (size_t i = 0; i < N_CASES; i++) {
    char err[SSS_ERROR_SIZE] = "";
    int rc = h.p->set_option(h.inst, CASES[i].key, NULL, err);
    cr_assert_eq(rc, SSS_ERR_INVALID_ARGUMENT, "%s=NULL gave %d", CASES[i].key,
                 rc);
    cr_assert(strstr(err, CASES[i].key), "'%s' does not name %s", err,
              CASES[i].key);
  }
  th_destroy(&h);
  th_release(&h);
}
