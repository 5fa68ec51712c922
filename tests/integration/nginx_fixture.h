/* nginx_fixture.h: a real nginx on loopback for the integration tests.
 *
 * nginx_start writes a generated nginx.conf into a fresh temp directory
 * (pid file, logs and every client/proxy temp path inside it; daemon off,
 * master_process off, one worker, sendfile on), picks a free port by binding
 * 127.0.0.1:0 first, starts `nginx -p DIR/ -c DIR/nginx.conf -e DIR/error.log`
 * as a child (which dies with the test process: PR_SET_PDEATHSIG) and waits
 * (at most 5 s) until it accepts connections. The served root is
 * DIR/share. nginx_stop stops it (SIGTERM, then SIGKILL after a bounded
 * wait) and removes the temp directory; it is idempotent, so a test's fini
 * can call it whatever happened. */
#ifndef SSS_NGINX_FIXTURE_H
#define SSS_NGINX_FIXTURE_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define NGINX_DEFAULT_BINARY "/usr/sbin/nginx"

typedef struct nginx_fixture {
  pid_t pid;       /* 0 when not running */
  char dir[512];   /* temp dir: conf, logs, temp paths; "" when none */
  char share[600]; /* the root nginx serves (dir/share) */
  uint16_t port;
  char base_url[64]; /* "http://127.0.0.1:PORT/" */
} nginx_fixture;

/* The nginx binary to use: $SSS_NGINX if set, else /usr/sbin/nginx. */
const char *nginx_binary(void);

/* 1 when nginx_binary() exists and is executable. */
int nginx_available(void);

/* Knobs of one nginx; a zeroed struct (or NULL) is plain HTTP, unpaced. */
typedef struct nginx_options {
  /* NULL, or an nginx size such as "256k": bytes per second per
   * connection (the first second's worth goes at once). */
  const char *limit_rate;
  /* Both set: listen with TLS (ssl) using this PEM certificate and key;
   * base_url is then https://. */
  const char *tls_cert, *tls_key;
} nginx_options;

/* Starts nginx serving n->share. Returns 0, or -1 with a sentence in err
 * (the tail of nginx's error log when it did not start); nothing is left
 * running or on disk on failure. */
int nginx_start(nginx_fixture *n, const nginx_options *opt, char *err,
                size_t err_len);

/* Stops nginx and removes its temp dir. Safe on a zeroed or stopped n. */
void nginx_stop(nginx_fixture *n);

/* Requests nginx received so far (lines in its access log). */
int nginx_requests(const nginx_fixture *n);

/* A plain-socket HTTP/1.0 GET of path (starting with '/') on
 * 127.0.0.1:port, with an optional Range header value ("bytes=0-9").
 * Returns 0 and the status and body (malloc'd; free it), or -1. */
int plain_http_get(uint16_t port, const char *path, const char *range,
                   int *status, uint8_t **body, size_t *len);

#endif
