/* A source that speaks HTTP/1.0 and ends the body by closing, with no
 * Content-Length and no ranges: `openssl s_server -WWW` on loopback, over
 * TLS with a certificate from a private CA the test makes (so tls_ca_file is
 * exercised too). The built-in transport must stream it whole and take the
 * size from the close. (TLS against nginx, with ranges, is in
 * test_nginx.c.) */
#include "itest.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define MIB ((uint64_t)1 << 20)

static itest T;
static pid_t server;
static char ca_file[700], base_url[64];

static void fini(void) {
  if (server > 0) {
    kill(server, SIGTERM);
    waitpid(server, NULL, 0);
  }
  server = 0;
  itest_teardown(&T);
}

TestSuite(http10, .fini = fini, .timeout = 60);

static int free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof a;
  if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
      getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
    if (fd >= 0) close(fd);
    return -1;
  }
  close(fd);
  return ntohs(a.sin_port);
}

static int can_connect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  int ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
  if (fd >= 0) close(fd);
  return ok;
}

/* Makes a private CA and a server certificate for 127.0.0.1, publishes the
 * snapshot and starts s_server in the share directory. */
static void start_https(void) {
  if (system("command -v openssl >/dev/null 2>&1") != 0)
    cr_skip_test("the openssl command is not installed (package openssl)");
  itest_setup(&T, 51, 3 * MIB);
  char dir[700], cmd[4096];
  snprintf(dir, sizeof dir, "%s/share", T.root);
  snprintf(cmd, sizeof cmd,
           "set -e; cd '%s'; mkdir -p share;"
           "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
           "-nodes -keyout ca.key -out ca.crt -days 2 -subj '/CN=sss test CA' 2>/dev/null;"
           "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
           "-keyout srv.key -out srv.csr -subj '/CN=127.0.0.1' 2>/dev/null;"
           "printf 'subjectAltName=IP:127.0.0.1\\n' > ext;"
           "openssl x509 -req -in srv.csr -CA ca.crt -CAkey ca.key -CAcreateserial "
           "-out srv.crt -days 2 -extfile ext 2>/dev/null",
           T.root);
  cr_assert_eq(system(cmd), 0, "making the test CA failed");
  snprintf(ca_file, sizeof ca_file, "%s/ca.crt", T.root);
  itest_publish(&T, dir, NULL);
  int port = free_port();
  cr_assert_gt(port, 0);
  char accept[32], cert[720], key[720];
  snprintf(accept, sizeof accept, "127.0.0.1:%d", port);
  snprintf(cert, sizeof cert, "%s/srv.crt", T.root);
  snprintf(key, sizeof key, "%s/srv.key", T.root);
  server = fork();
  cr_assert_geq(server, 0);
  if (server == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (chdir(dir) != 0) _exit(127);
    int devnull = open("/dev/null", 0);
    if (devnull >= 0) {
      dup2(devnull, 0);
      dup2(devnull, 1);
      dup2(devnull, 2);
    }
    execlp("openssl", "openssl", "s_server", "-WWW", "-quiet", "-accept", accept,
           "-cert", cert, "-key", key, (char *)NULL);
    _exit(127);
  }
  uint64_t until = itest_now_ms() + 5000;
  while (!can_connect(port) && itest_now_ms() < until) itest_sleep_ms(20);
  cr_assert(can_connect(port), "openssl s_server did not start on %s", accept);
  snprintf(base_url, sizeof base_url, "https://127.0.0.1:%d/", port);
}

Test(http10, a_length_less_stream_installs_and_its_size_comes_from_the_close) {
  start_https();
  itest_create(&T);
  itest_set(&T, "static_storages", base_url);
  itest_set(&T, "tls_ca_file", ca_file);
  itest_load(&T, 1, 0); /* no size given: only the close tells it */
  itest_wait(&T, 20000);
  itest_assert_installed(&T);
  itest_destroy_and_check_leaks(&T);
}

Test(http10, a_length_less_stream_past_max_snapshot_bytes_is_refused) {
  start_https();
  itest_create(&T);
  itest_set(&T, "static_storages", base_url);
  itest_set(&T, "tls_ca_file", ca_file);
  itest_set(&T, "max_snapshot_bytes", "1000000");
  itest_set(&T, "max_download_tries", "1");
  itest_load(&T, 1, 0);
  itest_wait(&T, 20000);
  itest_assert_failed_nothing_installed(&T);
  cr_assert_eq(T.host.result.entry_status, SSS_ERR_TOO_LARGE, "%d: %s",
               T.host.result.entry_status, T.host.result.entry_message);
  cr_assert(strstr(T.host.result.entry_message, "max_snapshot_bytes"), "%s",
            T.host.result.entry_message);
  itest_destroy_and_check_leaks(&T);
}
