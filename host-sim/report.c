/* report.c: the end-of-run summary, as a table or one JSON document, and the
 * verdict that decides the exit status. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "hex.h"
#include "sim.h"

static const char *const role_names[] = {"bk", "outsider", "static"};
static const char *const kind_names[] = {"",      "download",   "verify",
                                         "apply", "no_sources", "timeout",
                                         "local", "other"};

static const char *task_status_name(int status) {
  switch (status) {
  case SSS_TASK_OK: return "ok";
  case SSS_TASK_FAILED: return "failed";
  case SSS_TASK_CANCELLED: return "cancelled";
  default: return "unknown";
  }
}

/* The result entry for thread t, or NULL when the plugin left it out. */
static const sim_entry *entry_for(const sim *s, size_t t) {
  for (size_t i = 0; i < s->result.n_entries; i++)
    if (!memcmp(&s->result.entries[i].thread_id, &s->snaps[t].thread_id,
                sizeof(sss_thread_id)))
      return &s->result.entries[i];
  return NULL;
}

typedef struct verdict {
  size_t installed, verified;
  uint64_t non_bk;
  int ok;
  char why[1024];
} verdict;

static void judge(sim *s, verdict *v) {
  memset(v, 0, sizeof *v);
  for (size_t t = 0; t < s->cfg.n_threads; t++) {
    const sim_entry *e = entry_for(s, t);
    hs_install in = hs_repository_get(&s->repo, t);
    if (e && e->status == SSS_OK) v->installed++;
    if (in.installed) v->verified++;
  }
  v->non_bk = hs_cluster_non_bk_requests(&s->cluster);
  size_t n = s->cfg.n_threads;
  const char *msg = s->result.message ? s->result.message : "no message";
  if (s->result.received == 0)
    snprintf(v->why, sizeof v->why, "the backend delivered no result%s",
             s->timed_out ? " within --timeout" : "");
  else if (s->result.received > 1)
    snprintf(v->why, sizeof v->why,
             "the backend delivered %d results for "
             "one task instead of exactly one",
             s->result.received);
  else if (s->result.status != SSS_TASK_OK)
    snprintf(v->why, sizeof v->why, "the task ended %s: %s",
             task_status_name(s->result.status), msg);
  else if (v->installed < n || v->verified < n)
    snprintf(v->why, sizeof v->why,
             "%zu of %zu thread states were reported "
             "installed and %zu verified by the repository",
             v->installed, n, v->verified);
  else if (v->non_bk > 0)
    snprintf(v->why, sizeof v->why,
             "%" PRIu64 " request(s) reached a node "
             "outside the BK set, whose URLs must never be used",
             v->non_bk);
  else {
    v->ok = 1;
    snprintf(v->why, sizeof v->why,
             "all %zu thread states were installed "
             "and verified; no node outside the BK set was asked",
             n);
  }
}

static void json_str(FILE *f, const char *str) {
  if (!str) {
    fputs("null", f);
    return;
  }
  fputc('"', f);
  for (const unsigned char *p = (const unsigned char *)str; *p; p++) {
    if (*p == '"' || *p == '\\')
      fprintf(f, "\\%c", *p);
    else if (*p == '\n')
      fputs("\\n", f);
    else if (*p < 0x20)
      fprintf(f, "\\u%04x", *p);
    else
      fputc(*p, f);
  }
  fputc('"', f);
}

static double rate_of(uint64_t bytes, uint64_t ms) {
  return ms ? (double)bytes * 1000.0 / (double)ms : 0;
}

static void print_json(sim *s, const verdict *v) {
  FILE *f = stdout;
  const sss_plugin *vt = s->plugin.vt;
  fprintf(f, "{\"ok\":%s,\"verdict\":", v->ok ? "true" : "false");
  json_str(f, v->why);
  fputs(",\"backend\":", f);
  json_str(f, vt->backend_name);
  fputs(",\"backend_version\":", f);
  json_str(f, vt->backend_version);
  fprintf(f, ",\"abi\":\"%u.%u\",\"results_received\":%d,\"task_status\":",
          vt->abi_major, vt->abi_minor, s->result.received);
  json_str(f, s->result.received ? task_status_name(s->result.status) : NULL);
  fputs(",\"message\":", f);
  json_str(f, s->result.message);
  fprintf(f,
          ",\"threads_total\":%zu,\"threads_installed\":%zu,"
          "\"threads_verified\":%zu,\"non_bk_requests\":%" PRIu64
          ",\"elapsed_ms\":%" PRIu64 ",\"seed\":%" PRIu64 ",\"threads\":[",
          s->cfg.n_threads, v->installed, v->verified, v->non_bk, s->elapsed_ms,
          s->cfg.seed);
  for (size_t t = 0; t < s->cfg.n_threads; t++) {
    const sim_entry *e = entry_for(s, t);
    hs_install in = hs_repository_get(&s->repo, t);
    char tid[2 * SSS_THREAD_ID_LEN + 1], sha[2 * SSS_SHA256_LEN + 1];
    sss_hex_encode(s->snaps[t].thread_id.bytes, SSS_THREAD_ID_LEN, tid);
    sss_hex_encode(s->snaps[t].sha256, SSS_SHA256_LEN, sha);
    fprintf(f,
            "%s{\"index\":%zu,\"thread_id\":\"%s\",\"block_id\":\"%s\","
            "\"sha256\":\"%s\",\"size\":%" PRIu64 ",\"installed\":%s,"
            "\"verified\":%s,\"status\":",
            t ? "," : "", t, tid, s->snaps[t].resource_name, sha,
            s->snaps[t].size, e && e->status == SSS_OK ? "true" : "false",
            in.installed ? "true" : "false");
    json_str(f, e ? vt->strerror(e->status) : NULL);
    fputs(",\"message\":", f);
    json_str(f, e ? e->message : "the backend's result has no entry for it");
    fputs(",\"source\":", f);
    json_str(f, e ? e->source : NULL);
    fprintf(f,
            ",\"bytes\":%" PRIu64 ",\"time_ms\":%" PRIu64
            ",\"throughput_bps\":%.0f,\"applies\":%u,\"rejects\":%u,"
            "\"last_reject\":",
            in.bytes, in.done_ms, rate_of(in.bytes, in.done_ms), in.applies,
            in.rejects);
    json_str(f, in.rejects ? in.last_reject : NULL);
    fputc('}', f);
  }
  fputs("],\"nodes\":[", f);
  pthread_mutex_lock(&s->cluster.mu);
  for (size_t i = 0; i < s->cluster.n_nodes; i++) {
    const hs_node *n = &s->cluster.nodes[i];
    fprintf(f,
            "%s{\"name\":\"%s\",\"role\":\"%s\",\"url\":\"%s\","
            "\"in_bk\":%s,\"fault\":\"%s\",\"requests\":%" PRIu64
            ",\"bytes_served\":%" PRIu64 ",\"failures\":%" PRIu64
            ",\"non_bk_requests\":%" PRIu64 "}",
            i ? "," : "", n->name, role_names[n->role], n->base_url,
            n->in_bk ? "true" : "false", hs_fault_name(n->fault.kind),
            n->requests, n->bytes_served, n->failures, n->non_bk_requests);
  }
  fprintf(f, "],\"unknown_requests\":%" PRIu64 ",\"banned\":[",
          s->cluster.unknown_requests);
  pthread_mutex_unlock(&s->cluster.mu);
  for (size_t i = 0; i < s->result.n_banned; i++) {
    fprintf(f, "%s{\"source\":", i ? "," : "");
    json_str(f, s->result.banned_sources[i]);
    fputs(",\"reason\":", f);
    json_str(f, s->result.banned_reasons[i]);
    fputc('}', f);
  }
  pthread_mutex_lock(&s->mu);
  fprintf(f,
          "],\"metrics\":{\"state_requests\":%" PRIu64
          ",\"progress_calls\":%" PRIu64 ",\"errors\":{",
          s->state_requests, s->progress_calls);
  for (int k = 1; k <= 7; k++)
    fprintf(f, "%s\"%s\":%" PRIu64, k > 1 ? "," : "", kind_names[k],
            s->errors_by_kind[k]);
  fprintf(f,
          "}},\"stats\":{\"bytes_expected\":%" PRIu64
          ",\"bytes_fetched\":%" PRIu64 ",\"bytes_verified\":%" PRIu64
          ",\"sources_tried\":%u,\"sources_failed\":%u,\"sources_banned\":%u"
          ",\"cycles\":%u}}\n",
          s->last_stats.bytes_expected, s->last_stats.bytes_fetched,
          s->last_stats.bytes_verified, s->last_stats.sources_tried,
          s->last_stats.sources_failed, s->last_stats.sources_banned,
          s->last_stats.cycles);
  pthread_mutex_unlock(&s->mu);
}

static void print_table(sim *s, const verdict *v) {
  char size[32], b[32], rate[32];
  sim_format_bytes(s->cfg.size, size, sizeof size);
  printf("cluster: %zu BK nodes, %zu outside the BK set, 1 static storage; "
         "%zu threads of %s (seed %" PRIu64 ")\n",
         s->cfg.n_bk, s->cfg.n_outsiders, s->cfg.n_threads, size, s->cfg.seed);
  if (s->result.received)
    printf("result: %s after %.2f s: %s\n", task_status_name(s->result.status),
           s->elapsed_ms / 1000.0,
           s->result.message ? s->result.message : "(no message)");
  else
    printf("result: none after %.2f s\n", s->elapsed_ms / 1000.0);

  printf("\n%-6s  %-16s  %-9s  %-8s  %-10s  %-8s  %-12s  %s\n", "thread",
         "block", "installed", "verified", "bytes", "time", "throughput",
         "source");
  for (size_t t = 0; t < s->cfg.n_threads; t++) {
    const sim_entry *e = entry_for(s, t);
    hs_install in = hs_repository_get(&s->repo, t);
    sim_format_bytes((uint64_t)rate_of(in.bytes, in.done_ms), b, sizeof b);
    snprintf(rate, sizeof rate, "%.24s/s", b);
    sim_format_bytes(in.bytes, b, sizeof b);
    char time_s[32];
    snprintf(time_s, sizeof time_s, "%.2f s", in.done_ms / 1000.0);
    printf("%-6zu  %.16s  %-9s  %-8s  %-10s  %-8s  %-12s  %s\n", t,
           s->snaps[t].resource_name, e && e->status == SSS_OK ? "yes" : "no",
           in.installed ? "yes" : "no", in.installed ? b : "-",
           in.installed ? time_s : "-", in.installed ? rate : "-",
           e && e->source ? e->source : "-");
  }
  for (size_t t = 0; t < s->cfg.n_threads; t++) {
    const sim_entry *e = entry_for(s, t);
    hs_install in = hs_repository_get(&s->repo, t);
    if (s->result.received && !e)
      printf("  thread %zu: the backend's result has no entry for it\n", t);
    else if (e && e->status != SSS_OK)
      printf("  thread %zu: %s\n", t,
             e->message ? e->message : s->plugin.vt->strerror(e->status));
    if (in.rejects)
      printf("  thread %zu: the repository rejected %u apply(s); last: %s\n", t,
             in.rejects, in.last_reject);
  }

  printf("\n%-10s  %-8s  %-24s  %-12s  %-8s  %-10s  %s\n", "node", "role",
         "url", "fault", "requests", "served", "failed");
  pthread_mutex_lock(&s->cluster.mu);
  for (size_t i = 0; i < s->cluster.n_nodes; i++) {
    const hs_node *n = &s->cluster.nodes[i];
    char fault[32];
    if (n->fault.has_arg)
      snprintf(fault, sizeof fault, "%s:%" PRIu64, hs_fault_name(n->fault.kind),
               n->fault.arg);
    else
      snprintf(fault, sizeof fault, "%s", hs_fault_name(n->fault.kind));
    sim_format_bytes(n->bytes_served, b, sizeof b);
    printf("%-10s  %-8s  %-24s  %-12s  %-8" PRIu64 "  %-10s  %" PRIu64 "\n",
           n->name, role_names[n->role], n->base_url, fault, n->requests, b,
           n->failures);
  }
  pthread_mutex_unlock(&s->cluster.mu);

  if (s->result.n_banned) printf("\nbanned sources:\n");
  for (size_t i = 0; i < s->result.n_banned; i++)
    printf("  %s: %s\n",
           s->result.banned_sources[i] ? s->result.banned_sources[i] : "?",
           s->result.banned_reasons[i] ? s->result.banned_reasons[i] : "?");
  pthread_mutex_lock(&s->mu);
  printf("\nmetrics: %" PRIu64 " state requests; errors:", s->state_requests);
  for (int k = 1; k <= 7; k++)
    printf(" %s %" PRIu64 "%s", kind_names[k], s->errors_by_kind[k],
           k < 7 ? "," : "\n");
  pthread_mutex_unlock(&s->mu);
  printf("verdict: %s: %s.\n", v->ok ? "PASS" : "FAIL", v->why);
}

int sim_report(sim *s) {
  verdict v;
  judge(s, &v);
  if (s->cfg.json)
    print_json(s, &v);
  else
    print_table(s, &v);
  fflush(stdout);
  return v.ok ? 0 : 1;
}
