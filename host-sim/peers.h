/* peers.h: simulated HTTP peers for the host simulator and the tests.
 *
 * A peer is a libmicrohttpd server on a loopback address and an ephemeral
 * port that serves the regular files under one share directory: GET and HEAD,
 * Content-Length, `Accept-Ranges: bytes`, single ranges (`bytes=a-b`,
 * `bytes=a-`, `bytes=-n`) answered 206 with Content-Range, 416 when
 * unsatisfiable, keep-alive, and 404 for anything missing or outside the
 * directory. Each peer has a fault switch, settable from any thread while it
 * runs, and counters a test can read to assert who was contacted.
 *
 * Every function may be called from any thread. Functions that can fail take
 * `char *err`: NULL or PEER_ERROR_SIZE bytes that receive one sentence. */
#ifndef SSS_HOST_SIM_PEERS_H
#define SSS_HOST_SIM_PEERS_H

#include <stdbool.h>
#include <stdint.h>

/* Size of an error buffer (the same as SSS_ERROR_SIZE in the ABI). */
#define PEER_ERROR_SIZE 512

typedef struct sss_peer sss_peer;

/* What a peer does wrong. A fault applies to requests that arrive after it
 * is set; a transfer already running keeps the fault it started with. */
typedef enum peer_fault_kind {
  PEER_FAULT_NONE = 0,  /* honest: file bodies sent from the fd */
  PEER_FAULT_DOWN,      /* daemon stopped: connections are refused */
  PEER_FAULT_404,       /* every request answers 404 */
  PEER_FAULT_500,       /* every request answers 500 */
  PEER_FAULT_SLOW,      /* bodies paced at arg bytes per second (arg > 0) */
  PEER_FAULT_STALL,     /* arg body bytes, then silence until the client
                           hangs up or the peer goes down or stops */
  PEER_FAULT_TRUNCATE,  /* full Content-Length, connection closed after arg
                           body bytes */
  PEER_FAULT_CORRUPT,   /* the byte at file offset arg is inverted (xor 0xff)
                           in every body that covers it; lengths unchanged */
  PEER_FAULT_NORANGE,   /* Range ignored: 200, whole body, no Accept-Ranges */
  PEER_FAULT_REDIRECT,  /* 302 to ftp://127.0.0.1:PORT/same-path */
  PEER_FAULT_OVERSIZED, /* every file looks arg bytes longer (arg > 0): the
                           extra bytes follow the real ones, in HEAD, GET and
                           ranges alike */
} peer_fault_kind;

typedef struct peer_fault {
  peer_fault_kind kind;
  uint64_t arg; /* meaning depends on kind (above); 0 where unused */
} peer_fault;

/* Parses "KIND[:ARG]" as the simulator's --fault flag takes it: none, down,
 * 404, 500, slow:BPS, stall:N, truncate:N, corrupt:OFFSET, norange, redirect,
 * oversized:N. Returns 0 and fills *out, or -1 with a sentence in err. */
int peer_fault_parse(const char *text, peer_fault *out, char *err);

/* Static name of a kind as peer_fault_parse reads it ("slow", "404"...). */
const char *peer_fault_name(peer_fault_kind kind);

/* Starts a peer serving root_dir on 127.0.0.1 at an ephemeral port.
 * Returns the peer (free it with peer_stop), or NULL with a sentence. */
sss_peer *peer_start(const char *root_dir, char *err);

/* peer_start on another loopback address (127.x.y.z, e.g. "127.0.0.2", so
 * that clients counting connections per host see distinct hosts), or on a
 * 10.x.y.z address that a test configured inside its own network namespace
 * (call it from a thread that entered the namespace). */
sss_peer *peer_start_at(const char *root_dir, const char *ipv4_loopback,
                        char *err);

/* Stops the server, wakes and ends every paced or stalled transfer, joins
 * the server's threads and frees p. Returns promptly whatever clients do.
 * NULL is a no-op. */
void peer_stop(sss_peer *p);

/* The TCP port, fixed for the peer's life (kept across down and up). */
uint16_t peer_port(const sss_peer *p);

/* "http://ADDR:PORT/", valid until peer_stop. */
const char *peer_base_url(const sss_peer *p);

/* Sets the fault for requests that arrive from now on. Setting DOWN stops
 * the daemon (after waking its paced and stalled transfers); setting any
 * other kind while down restarts it on the same port. Returns 0, or -1 with
 * a sentence (a bad arg, or the port was taken while the peer was down). */
int peer_set_fault(sss_peer *p, peer_fault_kind kind, uint64_t arg, char *err);

/* The fault in force now. */
peer_fault peer_get_fault(const sss_peer *p);

/* Shorthand: down = true sets PEER_FAULT_DOWN, false sets PEER_FAULT_NONE. */
int peer_set_down(sss_peer *p, bool down, char *err);

/* Requests received (any method, any answer) since start or reset. */
uint64_t peer_requests(const sss_peer *p);

/* Body bytes handed to the network since start or reset: what paced or
 * faulty bodies produced, plus the length of each honest body whose sending
 * completed. Headers and error pages are not counted. */
uint64_t peer_bytes_sent(const sss_peer *p);

/* TCP connections accepted since start (or the last reset); fewer than
 * peer_requests means clients reused connections. */
uint64_t peer_connections(const sss_peer *p);

/* Requests received for url_path (as the client sent it after decoding,
 * e.g. "/v2/storage/ab12..."), since start or reset. */
uint64_t peer_path_requests(const sss_peer *p, const char *url_path);

/* Calls visit once per distinct path requested since start or reset, with
 * its count, under the peer's lock: visit must not call into this peer. */
void peer_visit_paths(const sss_peer *p,
                      void (*visit)(void *ctx, const char *url_path,
                                    uint64_t requests),
                      void *ctx);

/* Sets every counter and the path list back to zero. */
void peer_reset_counters(sss_peer *p);

#endif
