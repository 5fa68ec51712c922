/* scenario.c: the simulator's named scenarios (--scenario NAME). Each one
 * shapes the cluster laid out by --nodes/--outsiders: faults per node, the
 * initial gossip and BK view, changes during the run (events, fired by the
 * main loop in main.c) and plugin options for the joining node. The
 * --fault flags are applied after the scenario and override it. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "share_dir.h"
#include "sim.h"

#define KIB 1024ull
#define MIB (1024ull * 1024ull)

/* The node called name, or NULL with a sentence naming the flag to fix. */
static hs_node *need(struct sim *s, const char *name, char *err) {
  hs_node *n = hs_cluster_find(&s->cluster, name);
  if (!n)
    snprintf(err, HS_ERR_SIZE,
             "--scenario %s uses node %s, which this cluster does not have: "
             "give --nodes 4 or more",
             s->scenario->name, name);
  return n;
}

static int set_fault(struct sim *s, const char *name, enum hs_fault_kind kind,
                     int has_arg, uint64_t arg, char *err) {
  hs_node *n = need(s, name, err);
  if (!n) return -1;
  hs_fault f = {kind, arg, has_arg};
  return hs_cluster_set_fault(&s->cluster, n, f, err);
}

/* A rate (bytes per second) at which n_sources sources together move every
 * snapshot in about `seconds`, so that a change "mid-transfer" happens
 * mid-transfer whatever --size says; at least 64 KiB/s. */
static uint64_t pace(const struct sim *s, unsigned n_sources, double seconds) {
  double total = (double)s->cfg.size * (double)s->cfg.n_threads;
  uint64_t r = (uint64_t)(total / n_sources / seconds);
  return r < 64 * KIB ? 64 * KIB : r;
}

static int add_event(struct sim *s, double at_fraction, uint64_t at_ms,
                     enum sim_action action, const char *node, hs_fault fault,
                     char *err) {
  if (!need(s, node, err)) return -1;
  if (s->n_events == SIM_MAX_EVENTS) {
    snprintf(err, HS_ERR_SIZE, "--scenario %s has more than %d events",
             s->scenario->name, SIM_MAX_EVENTS);
    return -1;
  }
  sim_event *e = &s->events[s->n_events++];
  memset(e, 0, sizeof *e);
  e->at_fraction = at_fraction;
  e->at_ms = at_ms;
  e->action = action;
  e->fault = fault;
  snprintf(e->node, sizeof e->node, "%s", node);
  char f[48];
  hs_fault_format(&fault, f, sizeof f);
  switch (action) {
  case SIM_ACT_FAULT:
    snprintf(e->what, sizeof e->what, "%s turns %s", node, f);
    break;
  case SIM_ACT_LEAVE:
    snprintf(e->what, sizeof e->what,
             "%s leaves: out of gossip and the BK set, and down", node);
    break;
  case SIM_ACT_JOIN:
    snprintf(e->what, sizeof e->what,
             "%s joins: advertises its URL and enters the BK set", node);
    break;
  case SIM_ACT_ENTER_BK:
    snprintf(e->what, sizeof e->what, "%s enters the BK set", node);
    break;
  }
  return 0;
}

static int set_option(struct sim *s, const char *key, const char *value,
                      char *err) {
  if (s->n_scen_opts == SIM_MAX_SCENARIO_OPTIONS) {
    snprintf(err, HS_ERR_SIZE, "--scenario %s sets too many options",
             s->scenario->name);
    return -1;
  }
  snprintf(s->scen_opts[s->n_scen_opts][0], 64, "%s", key);
  snprintf(s->scen_opts[s->n_scen_opts][1], 64, "%s", value);
  s->n_scen_opts++;
  return 0;
}

/* ---- The scenarios ----------------------------------------------------- */

static int apply_default(struct sim *s, char *err) {
  return set_fault(s, "node1", HS_FAULT_GARBAGE, 0, 0, err) ||
         set_fault(s, "node2", HS_FAULT_SLOW, 1, 512 * KIB, err) ||
         set_option(s, "min_source_speed_bps", "1048576", err);
}

static int apply_all_honest(struct sim *s, char *err) {
  (void)s;
  (void)err;
  return 0;
}

static int apply_churn(struct sim *s, char *err) {
  hs_node *n2 = need(s, "node2", err), *n3 = need(s, "node3", err);
  if (!n2 || !n3) return -1;
  uint64_t rate = pace(s, 2, 3.0);
  hs_fault none = {HS_FAULT_NONE, 0, 0};
  /* node2 is not known yet; node3 gossips but is outside the BK set. */
  hs_cluster_set_advertised(&s->cluster, n2, 0);
  hs_cluster_set_bk(&s->cluster, n2, 0);
  hs_cluster_set_bk(&s->cluster, n3, 0);
  return set_fault(s, "node0", HS_FAULT_SLOW, 1, rate, err) ||
         set_fault(s, "node1", HS_FAULT_SLOW, 1, rate, err) ||
         set_fault(s, "static", HS_FAULT_404, 0, 0, err) ||
         add_event(s, 0.3, 1500, SIM_ACT_LEAVE, "node0", none, err) ||
         add_event(s, 0.3, 1500, SIM_ACT_LEAVE, "node1", none, err) ||
         add_event(s, 0.3, 1500, SIM_ACT_JOIN, "node2", none, err) ||
         add_event(s, 0.3, 1500, SIM_ACT_ENTER_BK, "node3", none, err);
}

static int apply_liars(struct sim *s, char *err) {
  uint64_t last = s->cfg.size ? s->cfg.size - 1 : 0;
  return set_fault(s, "node0", HS_FAULT_GARBAGE, 0, 0, err) ||
         set_fault(s, "node1", HS_FAULT_OVERSIZED, 1, 4096, err) ||
         set_fault(s, "node2", HS_FAULT_CORRUPT, 1, 0, err) ||
         set_fault(s, "static", HS_FAULT_CORRUPT, 1, last, err) ||
         !need(s, "node3", err);
}

static int apply_slow(struct sim *s, char *err) {
  return set_fault(s, "node0", HS_FAULT_SLOW, 1, 64 * KIB, err) ||
         set_fault(s, "node1", HS_FAULT_SLOW, 1, 256 * KIB, err) ||
         !need(s, "node3", err) ||
         set_option(s, "min_source_speed_bps", "1048576", err);
}

static int apply_partition(struct sim *s, char *err) {
  uint64_t rate = pace(s, 5, 3.0);
  static const char *const all[] = {"node0", "node1", "node2", "node3",
                                    "static"};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
    if (set_fault(s, all[i], HS_FAULT_SLOW, 1, rate, err)) return -1;
  hs_fault down = {HS_FAULT_DOWN, 0, 0};
  return add_event(s, 0.3, 1500, SIM_ACT_FAULT, "node0", down, err) ||
         add_event(s, 0.3, 1500, SIM_ACT_FAULT, "node1", down, err);
}

static const sim_scenario scenarios[] = {
    {"default",
     "      the README's demo: the BK nodes and the static storage serve,\n"
     "      outsider0 gossips its URL but is outside the BK set (it must never\n"
     "      be asked), node1 serves corrupt bytes (it published a wrong copy,\n"
     "      one byte in every 4 KiB inverted: it must be banned once used),\n"
     "      node2 is slow (512 KiB/s) and the joining node sets\n"
     "      min_source_speed_bps=1048576, as an operator would.\n",
     apply_default},
    {"all-honest",
     "      every node and the static storage serve honestly and fast.\n",
     apply_all_honest},
    {"churn",
     "      the BK set turns over mid-run. At first only node0 and node1 are\n"
     "      in it (both rate-limited so that the transfer takes seconds),\n"
     "      node3 gossips but is outside the BK set, node2 is not in gossip\n"
     "      and the static storage has no copy (404). At 30% of the bytes (or\n"
     "      1.5 s) node0 and node1 leave (out of gossip and BK, down) and\n"
     "      node2 joins and node3 enters the BK set: the plugin must see that\n"
     "      at its next retry cycle (the simulator sets\n"
     "      retry_download_timeout_ms=200) and finish from them.\n",
     apply_churn},
    {"liars",
     "      several sources lie, one BK node stays honest: node0 published a\n"
     "      wrong copy (garbage: one byte in every 4 KiB inverted), node1 makes\n"
     "      every file 4096 bytes longer (oversized), node2 inverts the first\n"
     "      byte and the static storage the last byte of every body covering\n"
     "      it (corrupt); node3 is honest. A liar is banned when its lie is\n"
     "      seen; an honest source never is.\n",
     apply_liars},
    {"slow",
     "      node0 (64 KiB/s) and node1 (256 KiB/s) are very slow; the joining\n"
     "      node sets min_source_speed_bps=1048576, so the plugin must drop\n"
     "      them and finish from the fast sources.\n",
     apply_slow},
    {"partition",
     "      every source is rate-limited (as over a WAN) so that the transfer\n"
     "      takes a few seconds; at 30% of the bytes (or 1.5 s) node0 and\n"
     "      node1 go down mid-transfer (connections cut, then refused). The\n"
     "      plugin must resume their parts from the others.\n",
     apply_partition},
};
#define N_SCENARIOS (sizeof scenarios / sizeof scenarios[0])

const sim_scenario *sim_scenario_find(const char *name) {
  for (size_t i = 0; i < N_SCENARIOS; i++)
    if (!strcmp(scenarios[i].name, name)) return &scenarios[i];
  return NULL;
}

void sim_scenarios_help(FILE *f) {
  for (size_t i = 0; i < N_SCENARIOS; i++)
    fprintf(f, "    %s\n%s", scenarios[i].name, scenarios[i].help);
}

const char *sim_scenario_names(void) {
  return "default, all-honest, churn, liars, slow or partition";
}
