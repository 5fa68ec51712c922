/* options.c: defaults, every key valid and invalid, the static storage list,
 * copy and release. */
#include "options.h"
#include "status.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static sss_options o;
static char ca_file[64] = "";

static void setup(void) {
  cr_assert_eq(sss_options_init(&o), 0);
}

static void teardown(void) {
  sss_options_release(&o);
  if (ca_file[0]) unlink(ca_file);
}

TestSuite(options, .init = setup, .fini = teardown);

/* Sets key=value and asserts the status; returns err for more checks. */
static const char *set(const char *key, const char *value, int want) {
  static char err[SSS_ERROR_SIZE];
  err[0] = '\0';
  int rc = sss_options_set(&o, key, value, err);
  cr_assert_eq(rc, want, "%s=%s: got %d (%s), want %d", key,
               value ? value : "(null)", rc, err, want);
  if (want != SSS_OK)
    cr_assert(!key || strstr(err, key), "'%s' does not name the key %s", err,
              key);
  return err;
}

Test(options, defaults_match_the_reference_node) {
  cr_assert_eq(o.n_static_storages, 0);
  cr_assert_null(o.static_storages);
  cr_assert_eq(o.max_download_tries, 3);
  cr_assert_eq(o.retry_download_timeout_ms, 2000);
  cr_assert_eq(o.download_deadline_timeout_ms, 120000);
  cr_assert_eq(o.connect_timeout_ms, 3000);
  cr_assert_str_eq(o.storage_path, "v2/storage/");
  cr_assert_str_eq(o.gossip_url_key, "api_advertise_addr");
  cr_assert_str_eq(o.staging_dir, "");
  cr_assert_eq(o.parallel_sources, 4);
  cr_assert_eq(o.max_snapshot_bytes, 64ULL << 30);
  cr_assert_eq(o.min_source_speed_bps, 0);
  cr_assert_eq(o.tls_verify, 1);
  cr_assert_null(o.tls_ca_file);
}

Test(options, numbers_within_bounds_are_set) {
  set("max_download_tries", "1", SSS_OK);
  cr_assert_eq(o.max_download_tries, 1);
  set("max_download_tries", "1000", SSS_OK);
  cr_assert_eq(o.max_download_tries, 1000);
  set("retry_download_timeout_ms", "0", SSS_OK);
  cr_assert_eq(o.retry_download_timeout_ms, 0);
  set("download_deadline_timeout_ms", "604800000", SSS_OK);
  cr_assert_eq(o.download_deadline_timeout_ms, 604800000ULL);
  set("connect_timeout_ms", " 250", SSS_OK); /* leading blanks allowed */
  cr_assert_eq(o.connect_timeout_ms, 250);
  set("parallel_sources", "64", SSS_OK);
  cr_assert_eq(o.parallel_sources, 64);
  set("max_snapshot_bytes", "18446744073709551615", SSS_OK);
  cr_assert_eq(o.max_snapshot_bytes, UINT64_MAX);
  set("max_snapshot_bytes", "0", SSS_OK);
  cr_assert_eq(o.max_snapshot_bytes, 0);
  set("min_source_speed_bps", "1024", SSS_OK);
  cr_assert_eq(o.min_source_speed_bps, 1024);
}

Test(options, numbers_out_of_bounds_or_malformed_are_rejected) {
  const struct {
    const char *key, *value, *named;
  } bad[] = {
      {"max_download_tries", "0", "1..1000"},
      {"max_download_tries", "1001", "1001"},
      {"retry_download_timeout_ms", "86400001", "86400001"},
      {"download_deadline_timeout_ms", "0", "out of range"},
      {"connect_timeout_ms", "600001", "600001"},
      {"parallel_sources", "0", "1..64"},
      {"parallel_sources", "65", "65"},
      {"max_snapshot_bytes", "18446744073709551616", "18446744073709551616"},
      {"min_source_speed_bps", "-1", "-1"},
      {"max_download_tries", "", "not a non-negative integer"},
      {"max_download_tries", "3 ", "'3 '"},
      {"max_download_tries", "+3", "+3"},
      {"connect_timeout_ms", "1e3", "1e3"},
      {"retry_download_timeout_ms", "ten", "ten"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    const char *err = set(bad[i].key, bad[i].value, SSS_ERR_BAD_OPTION_VALUE);
    cr_assert(strstr(err, bad[i].named), "'%s' lacks '%s'", err, bad[i].named);
  }
  /* Nothing changed. */
  cr_assert_eq(o.max_download_tries, 3);
  cr_assert_eq(o.parallel_sources, 4);
  cr_assert_eq(o.connect_timeout_ms, 3000);
  cr_assert_eq(o.max_snapshot_bytes, 64ULL << 30);
}

Test(options, strings) {
  set("storage_path", "", SSS_OK);
  cr_assert_str_eq(o.storage_path, "");
  set("storage_path", "snap/", SSS_OK);
  cr_assert_str_eq(o.storage_path, "snap/");
  set("gossip_url_key", "api_url", SSS_OK);
  cr_assert_str_eq(o.gossip_url_key, "api_url");
  set("gossip_url_key", "", SSS_ERR_BAD_OPTION_VALUE);
  cr_assert_str_eq(o.gossip_url_key, "api_url", "rejected value applied");
  set("staging_dir", "/var/tmp/sss", SSS_OK);
  cr_assert_str_eq(o.staging_dir, "/var/tmp/sss");
}

Test(options, booleans) {
  const char *off[] = {"0", "false", "no"}, *on[] = {"1", "true", "yes"};
  for (int i = 0; i < 3; i++) {
    set("tls_verify", off[i], SSS_OK);
    cr_assert_eq(o.tls_verify, 0, "%s", off[i]);
    set("tls_verify", on[i], SSS_OK);
    cr_assert_eq(o.tls_verify, 1, "%s", on[i]);
  }
  const char *err = set("tls_verify", "on", SSS_ERR_BAD_OPTION_VALUE);
  cr_assert(strstr(err, "'on'"), "%s", err);
  set("tls_verify", "", SSS_ERR_BAD_OPTION_VALUE);
  cr_assert_eq(o.tls_verify, 1);
}

Test(options, tls_ca_file_must_be_readable) {
  snprintf(ca_file, sizeof ca_file, "/tmp/sss-unit-ca-XXXXXX");
  int fd = mkstemp(ca_file);
  cr_assert_geq(fd, 0);
  close(fd);
  set("tls_ca_file", ca_file, SSS_OK);
  cr_assert_str_eq(o.tls_ca_file, ca_file);
  const char *err =
      set("tls_ca_file", "/nonexistent/sss/ca.pem", SSS_ERR_BAD_OPTION_VALUE);
  cr_assert(strstr(err, "/nonexistent/sss/ca.pem"), "%s", err);
  cr_assert_str_eq(o.tls_ca_file, ca_file, "rejected value applied");
  set("tls_ca_file", "", SSS_OK);
  cr_assert_null(o.tls_ca_file, "'' means the system CA store");
}

Test(options, unknown_key_and_null_arguments) {
  const char *err = set("max_tries", "3", SSS_ERR_UNKNOWN_OPTION);
  cr_assert(strstr(err, "'max_tries'"), "%s", err);
  set("", "3", SSS_ERR_UNKNOWN_OPTION);
  char buf[SSS_ERROR_SIZE] = "";
  cr_assert_eq(sss_options_set(&o, NULL, "3", buf), SSS_ERR_INVALID_ARGUMENT);
  cr_assert(strstr(buf, "key"), "%s", buf);
  set("storage_path", NULL, SSS_ERR_INVALID_ARGUMENT);
  cr_assert_str_eq(o.storage_path, "v2/storage/");
}

Test(options, static_storages_are_trimmed_and_empty_items_skipped) {
  set("static_storages",
      "  http://127.0.0.1:8080/a/ ,,\thttps://cdn.example/snap , ", SSS_OK);
  cr_assert_eq(o.n_static_storages, 2);
  cr_assert_str_eq(o.static_storages[0], "http://127.0.0.1:8080/a/");
  cr_assert_str_eq(o.static_storages[1], "https://cdn.example/snap");
  set("static_storages", "http://127.0.0.1/only", SSS_OK);
  cr_assert_eq(o.n_static_storages, 1, "a new list replaces the old one");
  set("static_storages", "", SSS_OK);
  cr_assert_eq(o.n_static_storages, 0, "'' clears the list");
  set("static_storages", " , ,", SSS_OK);
  cr_assert_eq(o.n_static_storages, 0);
}

Test(options, static_storages_reject_other_schemes_and_non_urls) {
  set("static_storages", "http://127.0.0.1/a", SSS_OK);
  const char *err =
      set("static_storages", "http://127.0.0.1/b, ftp://127.0.0.1/c",
          SSS_ERR_BAD_OPTION_VALUE);
  cr_assert(strstr(err, "'ftp://127.0.0.1/c'"), "%s", err);
  cr_assert(strstr(err, "http or https"), "%s", err);
  err = set("static_storages", "not a url", SSS_ERR_BAD_OPTION_VALUE);
  cr_assert(strstr(err, "'not a url'"), "%s", err);
  err = set("static_storages", "file:///etc/", SSS_ERR_BAD_OPTION_VALUE);
  cr_assert(strstr(err, "file:///etc/"), "%s", err);
  cr_assert_eq(o.n_static_storages, 1, "a rejected list changed the old");
  cr_assert_str_eq(o.static_storages[0], "http://127.0.0.1/a");
}

Test(options, copy_is_deep_and_release_clears) {
  set("static_storages", "http://127.0.0.1/a,https://127.0.0.1/b", SSS_OK);
  set("storage_path", "p/", SSS_OK);
  set("max_download_tries", "7", SSS_OK);
  set("tls_ca_file", "", SSS_OK);
  sss_options c;
  cr_assert_eq(sss_options_copy(&c, &o), 0);
  cr_assert_neq(c.static_storages, o.static_storages);
  cr_assert_neq(c.storage_path, o.storage_path);
  sss_options_release(&o); /* the copy must not share anything */
  cr_assert_eq(o.n_static_storages, 0);
  cr_assert_null(o.storage_path);
  cr_assert_eq(c.n_static_storages, 2);
  cr_assert_str_eq(c.static_storages[1], "https://127.0.0.1/b");
  cr_assert_str_eq(c.storage_path, "p/");
  cr_assert_str_eq(c.gossip_url_key, "api_advertise_addr");
  cr_assert_eq(c.max_download_tries, 7);
  cr_assert_null(c.tls_ca_file);
  sss_options_release(&c);
  sss_options_release(&c); /* releasing a released struct is harmless */
  cr_assert_eq(sss_options_init(&o), 0); /* for teardown */
}

Test(options, staging_dir_falls_back_to_tmpdir_then_tmp) {
  set("staging_dir", "/srv/stage", SSS_OK);
  cr_assert_str_eq(sss_options_staging_dir(&o), "/srv/stage");
  set("staging_dir", "", SSS_OK);
  setenv("TMPDIR", "/var/tmp", 1);
  cr_assert_str_eq(sss_options_staging_dir(&o), "/var/tmp");
  unsetenv("TMPDIR");
  cr_assert_str_eq(sss_options_staging_dir(&o), "/tmp");
}
