/* test_nginx.c: the nginx fixture itself, the fileshares backend's built-in
 * transport against a real nginx static storage, and `sss-host-sim fetch`
 * end to end against nginx. Tests skip when nginx is not installed. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hex.h"
#include "itest.h"
#include "nginx_fixture.h"
#include "peers.h"
#include "share_dir.h"

#define WAIT_MS 25000

static itest t;
static nginx_fixture ngx;
static sss_peer *peer;

static void teardown(void) {
  mini_destroy(&t.host);
  peer_stop(peer);
  peer = NULL;
  nginx_stop(&ngx);
  itest_teardown(&t);
}

TestSuite(nginx_fixture, .fini = teardown, .timeout = 30);
TestSuite(nginx, .fini = teardown, .timeout = 40);
TestSuite(nginx_tls, .fini = teardown, .timeout = 40);
TestSuite(fetch_cli, .fini = teardown, .timeout = 40);

static void start_nginx_with(const nginx_options *opt) {
  if (!nginx_available())
    cr_skip_test("nginx is not installed at %s (apt-get install "
                 "nginx-light, or set SSS_NGINX): skipping",
                 nginx_binary());
  char err[1024] = "";
  cr_assert_eq(nginx_start(&ngx, opt, err, sizeof err), 0, "%s", err);
}

static void start_nginx(const char *limit_rate) {
  nginx_options opt = {.limit_rate = limit_rate};
  start_nginx_with(&opt);
}

/* nginx over TLS with a fresh self-signed certificate for 127.0.0.1
 * (cert at t.root/cert.pem). */
static void start_nginx_tls(char *cert, size_t cert_len) {
  if (access("/usr/bin/openssl", X_OK) != 0)
    cr_skip_test("the openssl command is not installed: skipping TLS tests");
  char key[PATH_MAX + 16], cmd[3 * PATH_MAX];
  snprintf(cert, cert_len, "%s/cert.pem", t.root);
  snprintf(key, sizeof key, "%s/key.pem", t.root);
  snprintf(cmd, sizeof cmd,
           "/usr/bin/openssl req -x509 -newkey ec -pkeyopt "
           "ec_paramgen_curve:prime256v1 -nodes -keyout '%s' -out '%s' "
           "-days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 "
           ">/dev/null 2>&1",
           key, cert);
  cr_assert_eq(system(cmd), 0, "openssl could not make a certificate: %s", cmd);
  nginx_options opt = {.tls_cert = cert, .tls_key = key};
  start_nginx_with(&opt);
}

static uint8_t *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t cap = 1 << 16, used = 0;
  uint8_t *buf = malloc(cap);
  size_t got;
  while (buf && (got = fread(buf + used, 1, cap - used, f)) > 0) {
    used += got;
    if (used == cap) {
      uint8_t *grown = realloc(buf, cap * 2);
      if (!grown) {
        free(buf);
        buf = NULL;
        break;
      }
      buf = grown;
      cap *= 2;
    }
  }
  fclose(f);
  *len = used;
  return buf;
}

/* ---- The fixture ------------------------------------------------------- */

Test(nginx_fixture, serves_the_file_ranges_and_404_over_a_plain_socket) {
  itest_setup(&t, 11, 300001);
  start_nginx(NULL);
  itest_publish(&t, ngx.share, NULL);
  char path[128];
  snprintf(path, sizeof path, "/%s", t.hex);
  int status = 0;
  uint8_t *body = NULL;
  size_t len = 0;
  cr_assert_eq(plain_http_get(ngx.port, path, NULL, &status, &body, &len), 0,
               "GET %s on nginx failed", path);
  cr_assert_eq(status, 200);
  cr_assert_eq(len, t.snap.size, "body of %zu bytes", len);
  cr_assert_eq(memcmp(body, t.data, len), 0, "the body differs");
  free(body);
  cr_assert_eq(
      plain_http_get(ngx.port, path, "bytes=1000-1999", &status, &body, &len),
      0);
  cr_assert_eq(status, 206, "a range got status %d", status);
  cr_assert_eq(len, 1000);
  cr_assert_eq(memcmp(body, t.data + 1000, 1000), 0);
  free(body);
  cr_assert_eq(plain_http_get(ngx.port, "/missing", NULL, &status, &body, &len),
               0);
  cr_assert_eq(status, 404);
  free(body);
  cr_assert_eq(nginx_requests(&ngx), 3, "access log has %d lines",
               nginx_requests(&ngx));
}

Test(nginx_fixture, stop_kills_nginx_and_removes_its_dir) {
  start_nginx(NULL);
  pid_t pid = ngx.pid;
  char dir[PATH_MAX];
  snprintf(dir, sizeof dir, "%s", ngx.dir);
  uint16_t port = ngx.port;
  nginx_stop(&ngx);
  cr_assert_eq(ngx.pid, 0);
  cr_assert(kill(pid, 0) != 0 && errno == ESRCH, "nginx %d still exists",
            (int)pid);
  struct stat st;
  cr_assert_neq(stat(dir, &st), 0, "%s still exists", dir);
  int status;
  uint8_t *body = NULL;
  size_t len;
  cr_assert_neq(plain_http_get(port, "/", NULL, &status, &body, &len), 0,
                "port %u still answers", (unsigned)port);
  nginx_stop(&ngx); /* idempotent */
}

Test(nginx_fixture, limit_rate_paces_the_body) {
  itest_setup(&t, 12, 400000);
  start_nginx("200k");
  itest_publish(&t, ngx.share, NULL);
  char path[128];
  snprintf(path, sizeof path, "/%s", t.hex);
  int status = 0;
  uint8_t *body = NULL;
  size_t len = 0;
  uint64_t t0 = itest_now_ms();
  cr_assert_eq(plain_http_get(ngx.port, path, NULL, &status, &body, &len), 0);
  uint64_t took = itest_now_ms() - t0;
  cr_assert_eq(status, 200);
  cr_assert_eq(len, t.snap.size);
  free(body);
  /* nginx lets the first second's worth (204800 bytes) go at once, then
   * paces: about 1 s for the remaining 195200 bytes. Unpaced it takes a
   * few ms. */
  cr_assert_geq(took, 700, "400000 bytes at limit_rate 200k took %llu ms",
                (unsigned long long)took);
}

/* ---- The built-in transport against nginx ------------------------------- */

Test(nginx, installs_from_nginx_as_a_static_storage) {
  itest_setup(&t, 21, (6u << 20) + 4097);
  start_nginx(NULL);
  itest_publish(&t, ngx.share, NULL);
  itest_create(&t);
  itest_set(&t, "static_storages", ngx.base_url);
  itest_load(&t, 1, 1);
  itest_wait(&t, WAIT_MS);
  itest_destroy_and_check_leaks(&t);
  itest_assert_installed(&t);
  cr_assert_geq(nginx_requests(&ngx), 1);
  cr_assert(strncmp(t.host.result.entry_source, ngx.base_url,
                    strlen(ngx.base_url)) == 0,
            "installed from '%s', not from nginx", t.host.result.entry_source);
  mini_result *r = &t.host.result;
  if (r->has_source_list && r->n_sources) {
    uint64_t sum = 0;
    for (size_t i = 0; i < r->n_sources; i++)
      sum += r->source_bytes[i];
    cr_assert_geq(sum, t.snap.size, "nginx sent %llu bytes in all",
                  (unsigned long long)sum);
  }
}

Test(nginx, base_without_trailing_slash_is_a_directory) {
  itest_setup(&t, 22, 500000);
  start_nginx(NULL);
  char rel[128], base[128];
  snprintf(rel, sizeof rel, "snaps/%s", t.hex);
  itest_publish(&t, ngx.share, rel);
  snprintf(base, sizeof base, "%ssnaps", ngx.base_url);
  itest_create(&t);
  itest_set(&t, "static_storages", base);
  itest_load(&t, 1, 0);
  itest_wait(&t, WAIT_MS);
  itest_destroy_and_check_leaks(&t);
  itest_assert_installed(&t);
}

Test(nginx, rate_limited_nginx_and_a_fast_peer_install_exactly) {
  itest_setup(&t, 23, (4u << 20) + 1);
  start_nginx("256k");
  itest_publish(&t, ngx.share, NULL);
  char dir[PATH_MAX + 16], err[PEER_ERROR_SIZE] = "", list[256];
  snprintf(dir, sizeof dir, "%s/peer", t.root);
  itest_publish(&t, dir, NULL);
  peer = peer_start_at(dir, "127.0.0.30", err);
  cr_assert_not_null(peer, "%s", err);
  itest_create(&t);
  snprintf(list, sizeof list, "%s,%s", ngx.base_url, peer_base_url(peer));
  itest_set(&t, "static_storages", list);
  uint64_t t0 = itest_now_ms();
  itest_load(&t, 1, 1);
  itest_wait(&t, WAIT_MS);
  uint64_t took = itest_now_ms() - t0;
  itest_destroy_and_check_leaks(&t);
  itest_assert_installed(&t);
  cr_log_info("nginx at 256k + fast peer: %llu ms, nginx %d requests, peer "
              "%llu requests",
              (unsigned long long)took, nginx_requests(&ngx),
              (unsigned long long)peer_requests(peer));
}

Test(nginx, max_snapshot_bytes_below_the_known_size_fails) {
  itest_setup(&t, 24, 300000);
  start_nginx(NULL);
  itest_publish(&t, ngx.share, NULL);
  itest_create(&t);
  itest_set(&t, "static_storages", ngx.base_url);
  itest_set(&t, "max_snapshot_bytes", "299999");
  itest_load(&t, 1, 1);
  itest_wait(&t, WAIT_MS);
  itest_destroy_and_check_leaks(&t);
  itest_assert_failed_nothing_installed(&t);
  cr_assert_eq(t.host.result.entry_status, SSS_ERR_TOO_LARGE,
               "entry status %d: %s", t.host.result.entry_status,
               t.host.result.entry_message);
}

/* ---- TLS: tls_verify and tls_ca_file against nginx over https ---------- */

Test(nginx_tls, installs_over_https_with_tls_ca_file) {
  itest_setup(&t, 41, (2u << 20) + 3);
  char cert[PATH_MAX + 16];
  start_nginx_tls(cert, sizeof cert);
  itest_publish(&t, ngx.share, NULL);
  itest_create(&t);
  itest_set(&t, "static_storages", ngx.base_url);
  itest_set(&t, "tls_ca_file", cert);
  itest_load(&t, 1, 1);
  itest_wait(&t, WAIT_MS);
  itest_destroy_and_check_leaks(&t);
  itest_assert_installed(&t);
  cr_assert(strncmp(t.host.result.entry_source, "https://", 8) == 0,
            "installed from %s", t.host.result.entry_source);
}

Test(nginx_tls, https_with_an_unknown_ca_fails_and_installs_nothing) {
  itest_setup(&t, 42, 100000);
  char cert[PATH_MAX + 16];
  start_nginx_tls(cert, sizeof cert);
  itest_publish(&t, ngx.share, NULL);
  itest_create(&t);
  itest_set(&t, "static_storages", ngx.base_url);
  itest_load(&t, 1, 1);
  itest_wait(&t, WAIT_MS);
  itest_destroy_and_check_leaks(&t);
  itest_assert_failed_nothing_installed(&t);
  cr_log_info("unknown CA: %s", t.host.result.entry_message);
}

Test(nginx_tls, tls_verify_0_accepts_the_self_signed_certificate) {
  itest_setup(&t, 43, 100000);
  char cert[PATH_MAX + 16];
  start_nginx_tls(cert, sizeof cert);
  itest_publish(&t, ngx.share, NULL);
  itest_create(&t);
  itest_set(&t, "static_storages", ngx.base_url);
  itest_set(&t, "tls_verify", "0");
  itest_load(&t, 1, 1);
  itest_wait(&t, WAIT_MS);
  itest_destroy_and_check_leaks(&t);
  itest_assert_installed(&t);
}

/* ---- sss-host-sim fetch -------------------------------------------------- */

#ifdef HS_BINARY
/* Runs sss-host-sim with args (NULL-terminated), stdout and stderr into
 * files under t.root. Returns the exit status (-1 when killed). */
static int run_cli(const char *const *args, char *out_path, char *err_path) {
  sprintf(out_path, "%s/cli.out", t.root);
  sprintf(err_path, "%s/cli.err", t.root);
  const char *argv[32];
  size_t n = 0;
  argv[n++] = HS_BINARY;
  for (; args[n - 1] && n < 31; n++)
    argv[n] = args[n - 1];
  argv[n] = NULL;
  pid_t pid = fork();
  cr_assert_geq(pid, 0, "fork: %s", strerror(errno));
  if (pid == 0) {
    int o = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int e = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (o < 0 || e < 0) _exit(126);
    dup2(o, 1);
    dup2(e, 2);
    execv(HS_BINARY, (char *const *)argv);
    _exit(127);
  }
  uint64_t until = itest_now_ms() + 30000;
  int status;
  for (;;) {
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    if (itest_now_ms() > until) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return -1;
    }
    itest_sleep_ms(10);
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static char *read_text(const char *path) {
  size_t len = 0;
  uint8_t *b = read_file(path, &len);
  if (!b) return strdup("");
  char *s = realloc(b, len + 1);
  s[len] = '\0';
  return s;
}

Test(fetch_cli, installs_into_the_out_file_and_prints_json) {
  itest_setup(&t, 31, (3u << 20) + 11);
  start_nginx(NULL);
  itest_publish(&t, ngx.share, NULL);
  char sha[65], out[PATH_MAX + 16], so[PATH_MAX + 16], se[PATH_MAX + 16],
      size[32];
  sss_hex_encode(t.snap.sha256, 32, sha);
  snprintf(out, sizeof out, "%s/installed.bin", t.root);
  snprintf(size, sizeof size, "%llu", (unsigned long long)t.snap.size);
  char staging[PATH_MAX + 32];
  snprintf(staging, sizeof staging, "staging_dir=%s", t.staging);
  const char *args[] = {"fetch",    "--plugin",   SSS_FILESHARES_PATH,
                        "--source", ngx.base_url, "--block",
                        t.hex,      "--sha256",   sha,
                        "--size",   size,         "--out",
                        out,        "--json",     "--set",
                        staging,    NULL};
  int rc = run_cli(args, so, se);
  char *stdout_text = read_text(so), *stderr_text = read_text(se);
  cr_assert_eq(rc, 0, "exit %d; stdout: %s; stderr: %s", rc, stdout_text,
               stderr_text);
  cr_assert(strstr(stdout_text, "\"installed\":true"), "JSON: %s", stdout_text);
  char want[128];
  snprintf(want, sizeof want, "\"sha256\":\"%s\"", sha);
  cr_assert(strstr(stdout_text, want), "JSON lacks %s: %s", want, stdout_text);
  cr_assert(strstr(stdout_text, "\"sources\":[{\"url\":\"http://127.0.0.1:"),
            "JSON names no source: %s", stdout_text);
  cr_assert_eq(strchr(stdout_text, '\n'), stdout_text + strlen(stdout_text) - 1,
               "not one JSON line: %s", stdout_text);
  size_t len = 0;
  uint8_t *got = read_file(out, &len);
  cr_assert_not_null(got, "no --out file %s", out);
  cr_assert_eq(len, t.snap.size);
  cr_assert_eq(memcmp(got, t.data, len), 0, "the --out file differs");
  free(got);
  cr_assert_eq(itest_dir_entries(t.staging), 0, "staged files left");
  /* Only the output, the two logs and the staging dir: no temp file left. */
  cr_assert_eq(itest_dir_entries(t.root), 4, "stray files in %s", t.root);
  free(stdout_text);
  free(stderr_text);
}

Test(fetch_cli, wrong_sha256_exits_1_and_writes_nothing) {
  itest_setup(&t, 32, 200000);
  start_nginx(NULL);
  itest_publish(&t, ngx.share, NULL);
  char sha[65], out[PATH_MAX + 16], so[PATH_MAX + 16], se[PATH_MAX + 16];
  uint8_t wrong[32];
  memcpy(wrong, t.snap.sha256, 32);
  wrong[0] ^= 1;
  sss_hex_encode(wrong, 32, sha);
  snprintf(out, sizeof out, "%s/installed.bin", t.root);
  const char *args[] = {"fetch",
                        "--plugin",
                        SSS_FILESHARES_PATH,
                        "--source",
                        ngx.base_url,
                        "--block",
                        t.hex,
                        "--sha256",
                        sha,
                        "--out",
                        out,
                        "-q",
                        "--set",
                        "max_download_tries=1",
                        NULL};
  int rc = run_cli(args, so, se);
  char *stderr_text = read_text(se);
  cr_assert_eq(rc, 1, "exit %d; stderr: %s", rc, stderr_text);
  cr_assert(strstr(stderr_text, "failed"), "no failure sentence: %s",
            stderr_text);
  struct stat st;
  cr_assert_neq(stat(out, &st), 0, "%s exists after a failed fetch", out);
  free(stderr_text);
}

Test(fetch_cli, usage_errors_exit_2_naming_the_flag) {
  itest_setup(&t, 33, 1);
  char so[PATH_MAX + 16], se[PATH_MAX + 16];
  const char *bad_block[] = {"fetch",
                             "--plugin",
                             SSS_FILESHARES_PATH,
                             "--source",
                             "http://127.0.0.1:9/",
                             "--block",
                             "xyz",
                             NULL};
  int rc = run_cli(bad_block, so, se);
  char *e = read_text(se);
  cr_assert_eq(rc, 2, "exit %d: %s", rc, e);
  cr_assert(strstr(e, "--block"), "the sentence does not name --block: %s", e);
  free(e);
  const char *no_source[] = {"fetch",   "--plugin", SSS_FILESHARES_PATH,
                             "--block", t.hex,      NULL};
  rc = run_cli(no_source, so, se);
  e = read_text(se);
  cr_assert_eq(rc, 2, "exit %d: %s", rc, e);
  cr_assert(strstr(e, "--source"), "the sentence does not name --source: %s",
            e);
  free(e);
  const char *bad_set[] = {"fetch",
                           "--plugin",
                           SSS_FILESHARES_PATH,
                           "--source",
                           "http://127.0.0.1:9/",
                           "--block",
                           t.hex,
                           "--set",
                           "max_download_tries=0",
                           NULL};
  rc = run_cli(bad_set, so, se);
  e = read_text(se);
  cr_assert_eq(rc, 2, "exit %d: %s", rc, e);
  cr_assert(strstr(e, "max_download_tries"),
            "the sentence does not name the option: %s", e);
  free(e);
}
#endif
