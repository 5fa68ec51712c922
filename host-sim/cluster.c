#include "cluster.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "share_dir.h"

static const char *const fault_names[] = {
    [HS_FAULT_NONE] = "none",       [HS_FAULT_DOWN] = "down",
    [HS_FAULT_404] = "404",         [HS_FAULT_500] = "500",
    [HS_FAULT_CORRUPT] = "corrupt", [HS_FAULT_TRUNCATE] = "truncate",
    [HS_FAULT_SLOW] = "slow"};

const char *hs_fault_name(enum hs_fault_kind kind) {
  return kind <= HS_FAULT_SLOW ? fault_names[kind] : "unknown";
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

void hs_cluster_set_bk(hs_cluster *c, hs_node *n, int in_bk) {
  pthread_mutex_lock(&c->mu);
  n->in_bk = in_bk;
  pthread_mutex_unlock(&c->mu);
}

void hs_cluster_set_advertised(hs_cluster *c, hs_node *n, int advertised) {
  pthread_mutex_lock(&c->mu);
  n->advertised = advertised;
  pthread_mutex_unlock(&c->mu);
}

void hs_cluster_set_fault(hs_cluster *c, hs_node *n, hs_fault f) {
  pthread_mutex_lock(&c->mu);
  n->fault = f;
  pthread_mutex_unlock(&c->mu);
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
    snprintf(err, HS_ERR_SIZE,
             "--fault '%s' names node '%s', which does not exist: use node0.."
             "node%zu, outsider0 or static",
             spec, name, c->n_nodes > 2 ? c->n_nodes - 3 : 0);
    return -1;
  }
  const char *kind = eq + 1, *colon = strchr(kind, ':');
  size_t klen = colon ? (size_t)(colon - kind) : strlen(kind);
  hs_fault f = {HS_FAULT_NONE, 0, 0};
  for (int k = HS_FAULT_DOWN; k <= HS_FAULT_SLOW; k++)
    if (strlen(fault_names[k]) == klen && !strncmp(kind, fault_names[k], klen))
      f.kind = (enum hs_fault_kind)k;
  if (f.kind == HS_FAULT_NONE) {
    snprintf(err, HS_ERR_SIZE,
             "--fault '%s': kind '%.*s' is unknown: use down, 404, 500, "
             "corrupt[:OFFSET], truncate[:BYTES] or slow:BYTES_PER_SECOND",
             spec, (int)klen, kind);
    return -1;
  }
  if (colon) {
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(colon + 1, &end, 10);
    int takes_arg = f.kind == HS_FAULT_CORRUPT || f.kind == HS_FAULT_TRUNCATE ||
                    f.kind == HS_FAULT_SLOW;
    if (!takes_arg || errno || !end || *end || end == colon + 1 ||
        colon[1] == '-') {
      snprintf(err, HS_ERR_SIZE,
               "--fault '%s': argument '%s' is not valid for %s: give a "
               "decimal byte count to corrupt, truncate or slow only",
               spec, colon + 1, hs_fault_name(f.kind));
      return -1;
    }
    f.arg = v;
    f.has_arg = 1;
  }
  if (f.kind == HS_FAULT_SLOW && (!f.has_arg || f.arg == 0)) {
    snprintf(err, HS_ERR_SIZE,
             "--fault '%s': slow needs a rate above 0: write e.g. "
             "%s=slow:1048576 for 1 MiB/s",
             spec, name);
    return -1;
  }
  hs_cluster_set_fault(c, n, f);
  return 0;
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
  pthread_mutex_lock(&c->mu);
  for (size_t i = 0; i < c->n_nodes; i++)
    total += c->nodes[i].non_bk_requests;
  pthread_mutex_unlock(&c->mu);
  return total;
}
