/* cluster.h: the simulated cluster seen by the joining node: nodes with a
 * share directory and a base URL, the gossip view (each node advertises its
 * URL under api_advertise_addr), the BK set, per-node faults and request
 * counters. The view may change while the plugin runs: every accessor takes
 * the cluster's mutex.
 *
 * Two ways to serve the share directories:
 *   - real HTTP (hs_cluster_start_peers): each node gets a libmicrohttpd
 *     peer (peers.h) on 127.0.0.1 at an ephemeral port; its base URL is the
 *     peer's, its faults are the peer's fault switch and its counters are
 *     the peer's request counters;
 *   - the host's file-mapped blob service (blob_service.h): URLs are
 *     http://127.0.0.1:<base_port+i>/ and nothing listens there; the blob
 *     service routes by port and counts through hs_cluster_route. */
#ifndef HS_CLUSTER_H
#define HS_CLUSTER_H

#include <limits.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "sss_plugin.h"

struct sss_peer;

#define HS_GOSSIP_URL_KEY "api_advertise_addr"
#define HS_NODE_NAME_MAX 32

enum hs_fault_kind {
  HS_FAULT_NONE = 0,
  HS_FAULT_DOWN,     /* connection refused: SSS_ERR_NETWORK, status 0 */
  HS_FAULT_404,      /* SSS_ERR_NOT_FOUND, 404 */
  HS_FAULT_500,      /* SSS_ERR_NETWORK, 500 */
  HS_FAULT_CORRUPT,  /* inverts the byte at offset arg (0: the middle) */
  HS_FAULT_TRUNCATE, /* cuts the body after arg bytes (0: half) */
  HS_FAULT_SLOW,     /* delivers arg bytes per second */
  HS_FAULT_STALL,    /* arg bytes (0: half), then silence until cancelled */
  HS_FAULT_NORANGE,  /* ignores Range: whole body, no Accept-Ranges */
  HS_FAULT_REDIRECT, /* 302 to ftp:// (a protocol the plugin must refuse) */
  HS_FAULT_OVERSIZED, /* every file looks arg bytes longer (0: 65536) */
  HS_FAULT_GARBAGE    /* publishes a wrong copy: one byte in every arg
                         (0: 4096) inverted, served honestly; set before
                         publishing (it changes the file, not the server) */
};
#define HS_FAULT_LAST HS_FAULT_GARBAGE

typedef struct hs_fault {
  enum hs_fault_kind kind;
  uint64_t arg;
  int has_arg;
} hs_fault;

enum hs_node_role {
  HS_ROLE_BK,       /* gossips its URL and is in the BK set */
  HS_ROLE_OUTSIDER, /* gossips its URL but is not in the BK set */
  HS_ROLE_STATIC    /* the static storage: configured, not gossiped */
};

typedef struct hs_node {
  char name[HS_NODE_NAME_MAX];
  enum hs_node_role role;
  int port;
  char base_url[64]; /* http://127.0.0.1:<port>/ */
  char share_dir[PATH_MAX];
  struct sss_peer *peer; /* its HTTP server, or NULL (blob service mode) */
  /* The rest is guarded by the cluster's mutex. */
  int in_bk;      /* listed by bk_set */
  int advertised; /* listed by gossip_nodes */
  hs_fault fault;
  /* Blob service mode: counted by hs_cluster_route/count_result. With a
   * peer, read them through hs_cluster_counts instead. */
  uint64_t requests; /* blob requests addressed to this node */
  uint64_t bytes_served;
  uint64_t failures;        /* requests that did not end with the whole body */
  uint64_t non_bk_requests; /* requests while it was a gossip node not in BK */
  /* Peer mode: requests while not in the BK set, closed intervals, and the
   * peer's request count when the open interval began. */
  uint64_t non_bk_closed, non_bk_base;
} hs_node;

/* A consistent copy of a node's counters, whichever mode serves it. */
typedef struct hs_node_counts {
  uint64_t requests, bytes_served, failures, non_bk_requests;
} hs_node_counts;

typedef struct hs_cluster {
  pthread_mutex_t mu;
  hs_node *nodes;
  size_t n_nodes;
  uint64_t unknown_requests; /* requests to a host:port of no node */
  uint64_t file_size;        /* snapshot size, for default fault arguments */
  int peers;                 /* the nodes are served by HTTP peers */
} hs_cluster;

/* Lays out n_bk BK nodes ("node0".."), n_outsiders gossip nodes outside the
 * BK set ("outsider0"..) and one static storage ("static"), with ports from
 * base_port on and a share directory each under root. Returns 0, or -1 with
 * a sentence in err (HS_ERR_SIZE bytes). */
int hs_cluster_init(hs_cluster *c, const char *root, size_t n_bk,
                    size_t n_outsiders, int base_port, char *err);
void hs_cluster_release(hs_cluster *c);

/* Starts one HTTP peer per node on 127.0.0.1 (ephemeral ports) serving its
 * share directory, rewrites port and base_url to the peer's and applies the
 * faults set so far. file_size is the snapshot size (default arguments of
 * corrupt, truncate and stall). Returns 0, or -1 with a sentence in err
 * (HS_ERR_SIZE bytes); then the peers started are stopped. */
int hs_cluster_start_peers(hs_cluster *c, uint64_t file_size, char *err);
/* Stops every peer (prompt whatever clients do). Counters stay readable. */
void hs_cluster_stop_peers(hs_cluster *c);

/* The node's counters (from its peer in peer mode). */
hs_node_counts hs_cluster_counts(hs_cluster *c, const hs_node *n);

/* The node called name, or NULL. */
hs_node *hs_cluster_find(hs_cluster *c, const char *name);
/* The static storage node. */
hs_node *hs_cluster_static(hs_cluster *c);

/* Changes the view during a run. set_fault also switches the node's peer
 * (a DOWN peer stops listening; another kind brings it back on its port);
 * it returns 0, or -1 with a sentence in err (NULL allowed) when the peer
 * refused. */
void hs_cluster_set_bk(hs_cluster *c, hs_node *n, int in_bk);
void hs_cluster_set_advertised(hs_cluster *c, hs_node *n, int advertised);
int hs_cluster_set_fault(hs_cluster *c, hs_node *n, hs_fault f, char *err);

/* Parses "KIND[:ARG]" (kinds: none, down, 404, 500, slow:BPS, stall[:N],
 * truncate[:N], corrupt[:OFFSET], norange, redirect, oversized[:N],
 * garbage[:EVERY]) into
 * *f. `spec` is named in the sentence. Returns 0, or -1 with a sentence. */
int hs_fault_parse(const char *spec, const char *kind, hs_fault *f,
                   char *err);
/* Parses "NODE=KIND[:ARG]" and applies it. Returns 0, or -1 with a
 * sentence in err. */
int hs_cluster_parse_fault(hs_cluster *c, const char *spec, char *err);
const char *hs_fault_name(enum hs_fault_kind kind);
/* "corrupt:4096", "slow:1048576", "none"... into out. */
void hs_fault_format(const hs_fault *f, char *out, size_t len);

/* Host callbacks over the view; ctx is the hs_cluster. */
int hs_cluster_gossip_nodes(hs_cluster *c, sss_gossip_visit_fn visit,
                            void *visit_ctx);
int hs_cluster_bk_set(hs_cluster *c, sss_node_visit_fn visit, void *visit_ctx);

/* Finds the node serving host:port, counts the request against it and
 * copies its fault into *fault. NULL (counted as unknown) when no node
 * listens there. */
hs_node *hs_cluster_route(hs_cluster *c, const char *host, int port,
                          hs_fault *fault);

/* Records the end of a request that delivered `bytes` (ok: all of it). */
void hs_cluster_count_result(hs_cluster *c, hs_node *n, uint64_t bytes, int ok);

/* Requests sent to gossip nodes that were not in the BK set at the time
 * (the static storage excluded). */
uint64_t hs_cluster_non_bk_requests(hs_cluster *c);

#endif
