#include "cluster.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "peers.h"
#include "share_dir.h"

static const char *const fault_names[] = {
    [HS_FAULT_NONE] = "none",         [HS_FAULT_DOWN] = "down",
    [HS_FAULT_404] = "404",           [HS_FAULT_500] = "500",
    [HS_FAULT_CORRUPT] = "corrupt",   [HS_FAULT_TRUNCATE] = "truncate",
    [HS_FAULT_SLOW] = "slow",         [HS_FAULT_STALL] = "stall",
    [HS_FAULT_NORANGE] = "norange",   [HS_FAULT_REDIRECT] = "redirect",
    [HS_FAULT_OVERSIZED] = "oversized", [HS_FAULT_GARBAGE] = "garbage"};

const char *hs_fault_name(enum hs_fault_kind kind) {
  return kind <= HS_FAULT_LAST ? fault_names[kind] : "unknown";
}

void hs_fault_format(const hs_fault *f, char *out, size_t len) {
  if (f->has_arg)
    snprintf(out, len, "%s:%" PRIu64, hs_fault_name(f->kind), f->arg);
  else
    snprintf(out, len, "%s", hs_fault_name(f->kind));
}

/* The peer fault that f means for files of file_size bytes. */
static peer_fault to_peer_fault(const hs_fault *f, uint64_t file_size) {
  peer_fault p = {PEER_FAULT_NONE, f->arg};
  switch (f->kind) {
  case HS_FAULT_NONE: p.kind = PEER_FAULT_NONE; break;
  case HS_FAULT_DOWN: p.kind = PEER_FAULT_DOWN; break;
  case HS_FAULT_404: p.kind = PEER_FAULT_404; break;
  case HS_FAULT_500: p.kind = PEER_FAULT_500; break;
  case HS_FAULT_SLOW: p.kind = PEER_FAULT_SLOW; break;
  case HS_FAULT_NORANGE: p.kind = PEER_FAULT_NORANGE; break;
  case HS_FAULT_REDIRECT: p.kind = PEER_FAULT_REDIRECT; break;
  case HS_FAULT_CORRUPT:
    p.kind = PEER_FAULT_CORRUPT;
    if (!f->has_arg) p.arg = file_size / 2;
    break;
  case HS_FAULT_TRUNCATE:
    p.kind = PEER_FAULT_TRUNCATE;
    if (!f->has_arg) p.arg = file_size / 2;
    break;
  case HS_FAULT_STALL:
    p.kind = PEER_FAULT_STALL;
    if (!f->has_arg) p.arg = file_size / 2;
    break;
  case HS_FAULT_OVERSIZED:
    p.kind = PEER_FAULT_OVERSIZED;
    if (!f->has_arg || !p.arg) p.arg = 65536;
    break;
  case HS_FAULT_GARBAGE: p.kind = PEER_FAULT_NONE; break; /* the file lies */
  }
  if (p.kind == PEER_FAULT_NONE || p.kind == PEER_FAULT_DOWN ||
      p.kind == PEER_FAULT_404 || p.kind == PEER_FAULT_500 ||
      p.kind == PEER_FAULT_NORANGE || p.kind == PEER_FAULT_REDIRECT)
    p.arg = 0;
  return p;
}

static int init_node(hs_node *n, const char *root, const char *name,
                     enum hs_node_role role, int port, char *err) {
  snprintf(n->name, sizeof n->name, "%s", name);
  n->role = role;
  n->port = port;
  snprintf(n->base_url, sizeof n->base_url, "http://127.0.0.1:%d/", port);
  if (snprintf(n->share_dir, sizeof n->share_dir, "%s/%s", root, name) >=
      (int)sizeof n->share_dir) {
    snprintf(err, HS_ERR_SIZE,
             "share directory root '%s' is too long: use a shorter TMPDIR",
             root);
    return -1;
  }
  n->in_bk = role == HS_ROLE_BK;
  n->advertised = role != HS_ROLE_STATIC;
  return hs_mkdirs(n->share_dir, err);
}

int hs_cluster_init(hs_cluster *c, const char *root, size_t n_bk,
                    size_t n_outsiders, int base_port, char *err) {
  memset(c, 0, sizeof *c);
  size_t total = n_bk + n_outsiders + 1;
  if (base_port < 1 || base_port + (int)total - 1 > 65535) {
    snprintf(err, HS_ERR_SIZE,
             "base port %d leaves no room for %zu nodes: choose a base port "
             "between 1 and %d",
             base_port, total, 65535 - (int)total + 1);
    return -1;
  }
  c->nodes = calloc(total, sizeof *c->nodes);
  if (!c->nodes) {
    snprintf(err, HS_ERR_SIZE, "out of memory laying out %zu nodes", total);
    return -1;
  }
  pthread_mutex_init(&c->mu, NULL);
  c->n_nodes = total;
  int port = base_port;
  for (size_t i = 0; i < total; i++, port++) {
    char name[HS_NODE_NAME_MAX];
    enum hs_node_role role;
    if (i < n_bk) {
      snprintf(name, sizeof name, "node%zu", i);
      role = HS_ROLE_BK;
    } else if (i < n_bk + n_outsiders) {
      snprintf(name, sizeof name, "outsider%zu", i - n_bk);
      role = HS_ROLE_OUTSIDER;
    } else {
      snprintf(name, sizeof name, "static");
      role = HS_ROLE_STATIC;
    }
    if (init_node(&c->nodes[i], root, name, role, port, err) != 0) {
      hs_cluster_release(c);
      return -1;
    }
  }
  return 0;
}

void hs_cluster_release(hs_cluster *c) {
  if (!c->nodes) return;
  hs_cluster_stop_peers(c);
  pthread_mutex_destroy(&c->mu);
  free(c->nodes);
  c->nodes = NULL;
  c->n_nodes = 0;
}

hs_node *hs_cluster_find(hs_cluster *c, const char *name) {
  for (size_t i = 0; i < c->n_nodes; i++)
    if (strcmp(c->nodes[i].name, name) == 0) return &c->nodes[i];
  return NULL;
}

hs_node *hs_cluster_static(hs_cluster *c) {
  for (size_t i = 0; i < c->n_nodes; i++)
    if (c->nodes[i].role == HS_ROLE_STATIC) return &c->nodes[i];
  return NULL;
}

/* Peer mode: the node is "not in the BK set" for the non-BK count (the
 * static storage never is). Called with the mutex held. */
static int counts_as_non_bk(const hs_node *n) {
  return n->role != HS_ROLE_STATIC && !n->in_bk;
}

void hs_cluster_set_bk(hs_cluster *c, hs_node *n, int in_bk) {
  pthread_mutex_lock(&c->mu);
  int was = counts_as_non_bk(n);
  n->in_bk = in_bk;
  int now = counts_as_non_bk(n);
  if (n->peer && was && !now)
    n->non_bk_closed += peer_requests(n->peer) - n->non_bk_base;
  else if (n->peer && !was && now)
    n->non_bk_base = peer_requests(n->peer);
  pthread_mutex_unlock(&c->mu);
}

void hs_cluster_set_advertised(hs_cluster *c, hs_node *n, int advertised) {
  pthread_mutex_lock(&c->mu);
  n->advertised = advertised;
  pthread_mutex_unlock(&c->mu);
}

int hs_cluster_set_fault(hs_cluster *c, hs_node *n, hs_fault f, char *err) {
  pthread_mutex_lock(&c->mu);
  n->fault = f;
  sss_peer *peer = n->peer;
  uint64_t size = c->file_size;
  pthread_mutex_unlock(&c->mu);
  if (!peer) return 0;
  /* Outside the mutex: stopping a peer waits for its connections, and the
   * plugin's loader thread may be inside gossip_nodes meanwhile. */
  peer_fault pf = to_peer_fault(&f, size);
  char why[PEER_ERROR_SIZE];
  if (peer_set_fault(peer, pf.kind, pf.arg, why) != 0) {
    if (err)
      snprintf(err, HS_ERR_SIZE, "node %s: cannot switch its HTTP peer to %s: %s",
               n->name, hs_fault_name(f.kind), why);
    return -1;
  }
  return 0;
}

int hs_fault_parse(const char *spec, const char *kind, hs_fault *out,
                   char *err) {
  const char *colon = strchr(kind, ':');
  size_t klen = colon ? (size_t)(colon - kind) : strlen(kind);
  hs_fault f = {HS_FAULT_NONE, 0, 0};
  int found = 0;
  for (int k = HS_FAULT_NONE; k <= HS_FAULT_LAST; k++)
    if (strlen(fault_names[k]) == klen &&
        !strncmp(kind, fault_names[k], klen)) {
      f.kind = (enum hs_fault_kind)k;
      found = 1;
    }
  if (!found) {
    snprintf(err, HS_ERR_SIZE,
             "--fault '%s': kind '%.*s' is unknown: use none, down, 404, 500, "
             "slow:BYTES_PER_SECOND, stall[:BYTES], truncate[:BYTES], "
             "corrupt[:OFFSET], norange, redirect, oversized[:BYTES] or "
             "garbage[:EVERY]",
             spec, (int)klen, kind);
    return -1;
  }
  int takes_arg = f.kind == HS_FAULT_CORRUPT || f.kind == HS_FAULT_TRUNCATE ||
                  f.kind == HS_FAULT_SLOW || f.kind == HS_FAULT_STALL ||
                  f.kind == HS_FAULT_OVERSIZED || f.kind == HS_FAULT_GARBAGE;
  if (colon) {
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(colon + 1, &end, 10);
    if (!takes_arg || errno || !end || *end || end == colon + 1 ||
        colon[1] < '0' || colon[1] > '9') {
      snprintf(err, HS_ERR_SIZE,
               "--fault '%s': argument '%s' is not valid for %s: give a "
               "decimal byte count to corrupt, truncate, stall, oversized, "
               "garbage or slow only",
               spec, colon + 1, hs_fault_name(f.kind));
      return -1;
    }
    f.arg = v;
    f.has_arg = 1;
  }
  if (f.kind == HS_FAULT_SLOW && (!f.has_arg || f.arg == 0)) {
    snprintf(err, HS_ERR_SIZE,
             "--fault '%s': slow needs a rate above 0: write e.g. "
             "slow:1048576 for 1 MiB/s",
             spec);
    return -1;
  }
  if ((f.kind == HS_FAULT_OVERSIZED || f.kind == HS_FAULT_GARBAGE) &&
      f.has_arg && f.arg == 0) {
    snprintf(err, HS_ERR_SIZE,
             "--fault '%s': the argument must be at least 1: write e.g. "
             "oversized:4096 or garbage:4096",
             spec);
    return -1;
  }
  *out = f;
  return 0;
}

int hs_cluster_parse_fault(hs_cluster *c, const char *spec, char *err) {
  const char *eq = strchr(spec, '=');
  if (!eq || eq == spec) {
    snprintf(err, HS_ERR_SIZE,
             "--fault '%s' is not NODE=KIND[:ARG]: write e.g. node1=corrupt",
             spec);
    return -1;
  }
  char name[HS_NODE_NAME_MAX];
  snprintf(name, sizeof name, "%.*s", (int)(eq - spec), spec);
  hs_node *n = hs_cluster_find(c, name);
  if (!n) {
    size_t n_bk = 0, n_out = 0;
    for (size_t i = 0; i < c->n_nodes; i++) {
      n_bk += c->nodes[i].role == HS_ROLE_BK;
      n_out += c->nodes[i].role == HS_ROLE_OUTSIDER;
    }
    char outs[64] = "";
    if (n_out == 1)
      snprintf(outs, sizeof outs, ", outsider0");
    else if (n_out)
      snprintf(outs, sizeof outs, ", outsider0..outsider%zu", n_out - 1);
    snprintf(err, HS_ERR_SIZE,
             "--fault '%s' names node '%s', which does not exist: use node0.."
             "node%zu%s or static",
             spec, name, n_bk ? n_bk - 1 : 0, outs);
    return -1;
  }
  hs_fault f;
  if (hs_fault_parse(spec, eq + 1, &f, err) != 0) return -1;
  return hs_cluster_set_fault(c, n, f, err);
}

int hs_cluster_start_peers(hs_cluster *c, uint64_t file_size, char *err) {
  c->file_size = file_size;
  for (size_t i = 0; i < c->n_nodes; i++) {
    hs_node *n = &c->nodes[i];
    char why[PEER_ERROR_SIZE];
    sss_peer *p = peer_start(n->share_dir, why);
    if (!p) {
      snprintf(err, HS_ERR_SIZE, "node %s: cannot start its HTTP peer: %s",
               n->name, why);
      hs_cluster_stop_peers(c);
      return -1;
    }
    pthread_mutex_lock(&c->mu);
    n->peer = p;
    n->port = peer_port(p);
    snprintf(n->base_url, sizeof n->base_url, "%s", peer_base_url(p));
    n->non_bk_closed = 0;
    n->non_bk_base = 0;
    hs_fault f = n->fault;
    pthread_mutex_unlock(&c->mu);
    if (hs_cluster_set_fault(c, n, f, err) != 0) {
      hs_cluster_stop_peers(c);
      return -1;
    }
  }
  c->peers = 1;
  return 0;
}

void hs_cluster_stop_peers(hs_cluster *c) {
  for (size_t i = 0; i < c->n_nodes; i++) {
    hs_node *n = &c->nodes[i];
    if (!n->peer) continue;
    /* Keep the final counts in the node: they may be read after the peers
     * are gone. */
    hs_node_counts k = hs_cluster_counts(c, n);
    pthread_mutex_lock(&c->mu);
    sss_peer *p = n->peer;
    n->peer = NULL;
    n->requests = k.requests;
    n->bytes_served = k.bytes_served;
    n->non_bk_requests = k.non_bk_requests;
    pthread_mutex_unlock(&c->mu);
    peer_stop(p);
  }
}

hs_node_counts hs_cluster_counts(hs_cluster *c, const hs_node *n) {
  hs_node_counts k = {0};
  pthread_mutex_lock(&c->mu);
  if (n->peer) {
    k.requests = peer_requests(n->peer);
    k.bytes_served = peer_bytes_sent(n->peer);
    k.non_bk_requests = n->non_bk_closed;
    if (counts_as_non_bk(n)) k.non_bk_requests += k.requests - n->non_bk_base;
  } else {
    k.requests = n->requests;
    k.bytes_served = n->bytes_served;
    k.failures = n->failures;
    k.non_bk_requests = n->non_bk_requests;
  }
  pthread_mutex_unlock(&c->mu);
  return k;
}

int hs_cluster_gossip_nodes(hs_cluster *c, sss_gossip_visit_fn visit,
                            void *visit_ctx) {
  pthread_mutex_lock(&c->mu);
  for (size_t i = 0; i < c->n_nodes; i++) {
    hs_node *n = &c->nodes[i];
    if (!n->advertised || n->role == HS_ROLE_STATIC) continue;
    const char *keys[] = {HS_GOSSIP_URL_KEY};
    const char *values[] = {n->base_url};
    visit(visit_ctx, n->name, keys, values, 1);
  }
  pthread_mutex_unlock(&c->mu);
  return 0;
}

int hs_cluster_bk_set(hs_cluster *c, sss_node_visit_fn visit, void *visit_ctx) {
  pthread_mutex_lock(&c->mu);
  for (size_t i = 0; i < c->n_nodes; i++)
    if (c->nodes[i].in_bk) visit(visit_ctx, c->nodes[i].name);
  pthread_mutex_unlock(&c->mu);
  return 0;
}

hs_node *hs_cluster_route(hs_cluster *c, const char *host, int port,
                          hs_fault *fault) {
  int loopback = !strcmp(host, "127.0.0.1") || !strcmp(host, "localhost");
  hs_node *found = NULL;
  pthread_mutex_lock(&c->mu);
  for (size_t i = 0; loopback && i < c->n_nodes; i++)
    if (c->nodes[i].port == port) found = &c->nodes[i];
  if (found) {
    found->requests++;
    if (found->role != HS_ROLE_STATIC && !found->in_bk)
      found->non_bk_requests++;
    *fault = found->fault;
  } else {
    c->unknown_requests++;
  }
  pthread_mutex_unlock(&c->mu);
  return found;
}

void hs_cluster_count_result(hs_cluster *c, hs_node *n, uint64_t bytes,
                             int ok) {
  pthread_mutex_lock(&c->mu);
  n->bytes_served += bytes;
  if (!ok) n->failures++;
  pthread_mutex_unlock(&c->mu);
}

uint64_t hs_cluster_non_bk_requests(hs_cluster *c) {
  uint64_t total = 0;
  for (size_t i = 0; i < c->n_nodes; i++)
    total += hs_cluster_counts(c, &c->nodes[i]).non_bk_requests;
  return total;
}
