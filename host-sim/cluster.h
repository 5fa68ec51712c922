/* cluster.h: the simulated cluster seen by the joining node: nodes with a
 * share directory and a base URL, the gossip view (each node advertises its
 * URL under api_advertise_addr), the BK set, per-node faults and request
 * counters. The view may change while the plugin runs: every accessor takes
 * the cluster's mutex. */
#ifndef HS_CLUSTER_H
#define HS_CLUSTER_H

#include <limits.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "sss_plugin.h"

#define HS_GOSSIP_URL_KEY "api_advertise_addr"
#define HS_NODE_NAME_MAX 32

enum hs_fault_kind {
  HS_FAULT_NONE = 0,
  HS_FAULT_DOWN,     /* connection refused: SSS_ERR_NETWORK, status 0 */
  HS_FAULT_404,      /* SSS_ERR_NOT_FOUND, 404 */
  HS_FAULT_500,      /* SSS_ERR_NETWORK, 500 */
  HS_FAULT_CORRUPT,  /* inverts the byte at offset arg (0: the middle) */
  HS_FAULT_TRUNCATE, /* cuts the body after arg bytes (0: half) */
  HS_FAULT_SLOW      /* delivers arg bytes per second */
};

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
  /* The rest is guarded by the cluster's mutex. */
  int in_bk;      /* listed by bk_set */
  int advertised; /* listed by gossip_nodes */
  hs_fault fault;
  uint64_t requests; /* blob requests addressed to this node */
  uint64_t bytes_served;
  uint64_t failures;        /* requests that did not end with the whole body */
  uint64_t non_bk_requests; /* requests while it was a gossip node not in BK */
} hs_node;

typedef struct hs_cluster {
  pthread_mutex_t mu;
  hs_node *nodes;
  size_t n_nodes;
  uint64_t unknown_requests; /* requests to a host:port of no node */
} hs_cluster;

/* Lays out n_bk BK nodes ("node0".."), n_outsiders gossip nodes outside the
 * BK set ("outsider0"..) and one static storage ("static"), with ports from
 * base_port on and a share directory each under root. Returns 0, or -1 with
 * a sentence in err (HS_ERR_SIZE bytes). */
int hs_cluster_init(hs_cluster *c, const char *root, size_t n_bk,
                    size_t n_outsiders, int base_port, char *err);
void hs_cluster_release(hs_cluster *c);

/* The node called name, or NULL. */
hs_node *hs_cluster_find(hs_cluster *c, const char *name);
/* The static storage node. */
hs_node *hs_cluster_static(hs_cluster *c);

/* Changes the view during a run. */
void hs_cluster_set_bk(hs_cluster *c, hs_node *n, int in_bk);
void hs_cluster_set_advertised(hs_cluster *c, hs_node *n, int advertised);
void hs_cluster_set_fault(hs_cluster *c, hs_node *n, hs_fault f);

/* Parses "NODE=KIND[:ARG]" (kinds: down, 404, 500, corrupt, truncate, slow)
 * and applies it. Returns 0, or -1 with a sentence in err. */
int hs_cluster_parse_fault(hs_cluster *c, const char *spec, char *err);
const char *hs_fault_name(enum hs_fault_kind kind);

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

/* Requests sent to gossip nodes that were not in the BK set at the time. */
uint64_t hs_cluster_non_bk_requests(hs_cluster *c);

#endif
