/* report.c: the end-of-run summary, as a table or one JSON document, and the
 * verdict that decides the exit status. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
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

/* The node serving url (its base URL is a prefix of it), or NULL. */
static const hs_node *node_of_url(const sim *s, const char *url) {
  if (!url) return NULL;
  for (size_t i = 0; i < s->cluster.n_nodes; i++) {
    const char *base = s->cluster.nodes[i].base_url;
    if (!strncmp(url, base, strlen(base))) return &s->cluster.nodes[i];
  }
  return NULL;
}

static const char *node_name_of_url(const sim *s, const char *url) {
  const hs_node *n = node_of_url(s, url);
  return n ? n->name : NULL;
}

/* The banned list: the result's, plus what get_banned listed that the
 * result did not (a backend should list the same sources in both). */
typedef struct banned_list {
  const char **urls, **reasons;
  size_t n;
} banned_list;

static void banned_collect(const sim *s, banned_list *b) {
  size_t cap = s->result.n_banned + s->n_gb;
  b->urls = calloc(cap ? cap : 1, sizeof *b->urls);
  b->reasons = calloc(cap ? cap : 1, sizeof *b->reasons);
  b->n = 0;
  if (!b->urls || !b->reasons) return;
  for (size_t i = 0; i < s->result.n_banned; i++) {
    b->urls[b->n] = s->result.banned_sources[i];
    b->reasons[b->n++] = s->result.banned_reasons[i];
  }
  for (size_t i = 0; i < s->n_gb; i++) {
    int dup = 0;
    for (size_t k = 0; k < s->result.n_banned && !dup; k++)
      dup = s->result.banned_sources[k] &&
            !strcmp(s->result.banned_sources[k], s->gb_sources[i]);
    if (dup) continue;
    b->urls[b->n] = s->gb_sources[i];
    b->reasons[b->n++] = s->gb_reasons[i];
  }
}

static void banned_release(banned_list *b) {
  free(b->urls);
  free(b->reasons);
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

/* Shared with fetch_cmd.c (declared in sim.h). */
void sim_json_str(FILE *f, const char *str) { json_str(f, str); }

static double rate_of(uint64_t bytes, uint64_t ms) {
  return ms ? (double)bytes * 1000.0 / (double)ms : 0;
}

static void print_json(sim *s, const verdict *v) {
  FILE *f = stdout;
  const sss_plugin *vt = s->plugin.vt;
  fprintf(f, "{\"ok\":%s,\"verdict\":", v->ok ? "true" : "false");
  json_str(f, v->why);
  fputs(",\"scenario\":", f);
  json_str(f, s->scenario ? s->scenario->name : NULL);
  fprintf(f, ",\"transport\":\"%s\"",
          s->cfg.blob_service ? "host-blob-service" : "backend");
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
    fputs(",\"sources\":[", f);
    for (size_t k = 0; e && k < e->n_sources; k++) {
      fprintf(f, "%s{\"url\":", k ? "," : "");
      json_str(f, e->source_urls[k]);
      fputs(",\"node\":", f);
      json_str(f, node_name_of_url(s, e->source_urls[k]));
      fprintf(f, ",\"bytes\":%" PRIu64 "}", e->source_bytes[k]);
    }
    fputs("]}", f);
  }
  fputs("],\"nodes\":[", f);
  for (size_t i = 0; i < s->cluster.n_nodes; i++) {
    hs_node_counts k = hs_cluster_counts(&s->cluster, &s->cluster.nodes[i]);
    pthread_mutex_lock(&s->cluster.mu);
    hs_node n = s->cluster.nodes[i];
    pthread_mutex_unlock(&s->cluster.mu);
    char fault[48];
    hs_fault_format(&n.fault, fault, sizeof fault);
    fprintf(f,
            "%s{\"name\":\"%s\",\"role\":\"%s\",\"url\":\"%s\","
            "\"in_bk\":%s,\"advertised\":%s,\"fault\":\"%s\","
            "\"requests\":%" PRIu64 ",\"bytes_served\":%" PRIu64
            ",\"failures\":%" PRIu64 ",\"non_bk_requests\":%" PRIu64 "}",
            i ? "," : "", n.name, role_names[n.role], n.base_url,
            n.in_bk ? "true" : "false",
            n.advertised && n.role != HS_ROLE_STATIC ? "true" : "false", fault,
            k.requests, k.bytes_served, k.failures, k.non_bk_requests);
  }
  pthread_mutex_lock(&s->cluster.mu);
  uint64_t unknown = s->cluster.unknown_requests;
  pthread_mutex_unlock(&s->cluster.mu);
  fprintf(f, "],\"unknown_requests\":%" PRIu64 ",\"events\":[", unknown);
  for (size_t i = 0; i < s->n_events; i++) {
    const sim_event *e = &s->events[i];
    fprintf(f, "%s{\"node\":\"%s\",\"what\":", i ? "," : "", e->node);
    json_str(f, e->what);
    fprintf(f,
            ",\"fired\":%s,\"at_ms\":%" PRIu64 ",\"bytes_fetched\":%" PRIu64
            ",\"node_requests_before\":%" PRIu64 "}",
            e->fired ? "true" : "false", e->fired_ms, e->fired_bytes,
            e->node_requests);
  }
  banned_list bl;
  banned_collect(s, &bl);
  fprintf(f, "],\"get_banned\":%s,\"banned\":[",
          s->has_get_banned ? "true" : "false");
  for (size_t i = 0; i < bl.n; i++) {
    fprintf(f, "%s{\"source\":", i ? "," : "");
    json_str(f, bl.urls[i]);
    fputs(",\"node\":", f);
    json_str(f, node_name_of_url(s, bl.urls[i]));
    fputs(",\"reason\":", f);
    json_str(f, bl.reasons[i]);
    fputc('}', f);
  }
  banned_release(&bl);
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

/* "16.0M", "512K", "100B": bytes in at most 6 characters. */
static void short_bytes(uint64_t b, char *out, size_t len) {
  if (b >= (1ull << 30))
    snprintf(out, len, "%.1fG", (double)b / (1ull << 30));
  else if (b >= (1ull << 20))
    snprintf(out, len, "%.1fM", (double)b / (1ull << 20));
  else if (b >= 1024)
    snprintf(out, len, "%.0fK", (double)b / 1024);
  else
    snprintf(out, len, "%" PRIu64 "B", b);
}

/* "node0 16.0M, static 48.0M": every source of e and its bytes. */
static void sources_text(const sim *s, const sim_entry *e, char *out,
                         size_t len) {
  out[0] = '\0';
  if (!e) {
    snprintf(out, len, "-");
    return;
  }
  if (!e->n_sources) { /* the backend did not say: its install source */
    const char *name = node_name_of_url(s, e->source);
    snprintf(out, len, "%s", name ? name : e->source ? e->source : "-");
    return;
  }
  size_t used = 0;
  for (size_t k = 0; k < e->n_sources && used + 1 < len; k++) {
    char b[16];
    short_bytes(e->source_bytes[k], b, sizeof b);
    const char *name = node_name_of_url(s, e->source_urls[k]);
    int w = snprintf(out + used, len - used, "%s%s %s", k ? ", " : "",
                     name ? name : e->source_urls[k], b);
    if (w < 0) break;
    used += (size_t)w;
  }
}

static void print_table(sim *s, const verdict *v) {
  char size[32], b[32], rate[32];
  sim_format_bytes(s->cfg.size, size, sizeof size);
  printf("scenario %s: %zu BK nodes, %zu outside the BK set, 1 static "
         "storage, %s; %zu threads of %s (seed %" PRIu64 ")\n",
         s->scenario ? s->scenario->name : "?", s->cfg.n_bk,
         s->cfg.n_outsiders,
         s->cfg.blob_service
             ? "files through the host's blob service (--host-blob-service)"
             : "served over HTTP on 127.0.0.1, fetched by the backend's own "
               "transport",
         s->cfg.n_threads, size, s->cfg.seed);
  if (s->result.received)
    printf("result: %s after %.2f s: %s\n", task_status_name(s->result.status),
           s->elapsed_ms / 1000.0,
           s->result.message ? s->result.message : "(no message)");
  else
    printf("result: none after %.2f s\n", s->elapsed_ms / 1000.0);

  printf("\n%-6s  %-16s  %-9s  %-8s  %-10s  %-8s  %-12s  %s\n", "thread",
         "block", "installed", "verified", "bytes", "time", "throughput",
         "sources (bytes each)");
  for (size_t t = 0; t < s->cfg.n_threads; t++) {
    const sim_entry *e = entry_for(s, t);
    hs_install in = hs_repository_get(&s->repo, t);
    sim_format_bytes((uint64_t)rate_of(in.bytes, in.done_ms), b, sizeof b);
    snprintf(rate, sizeof rate, "%.24s/s", b);
    sim_format_bytes(in.bytes, b, sizeof b);
    char time_s[32], srcs[1024];
    snprintf(time_s, sizeof time_s, "%.2f s", in.done_ms / 1000.0);
    sources_text(s, e, srcs, sizeof srcs);
    printf("%-6zu  %.16s  %-9s  %-8s  %-10s  %-8s  %-12s  %s\n", t,
           s->snaps[t].resource_name, e && e->status == SSS_OK ? "yes" : "no",
           in.installed ? "yes" : "no", in.installed ? b : "-",
           in.installed ? time_s : "-", in.installed ? rate : "-", srcs);
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

  printf("\n%-10s  %-8s  %-5s  %-24s  %-16s  %-8s  %-10s  %s\n", "node", "role",
         "in BK", "url", "fault", "requests", "served", "non-BK asks");
  for (size_t i = 0; i < s->cluster.n_nodes; i++) {
    hs_node_counts k = hs_cluster_counts(&s->cluster, &s->cluster.nodes[i]);
    pthread_mutex_lock(&s->cluster.mu);
    hs_node n = s->cluster.nodes[i];
    pthread_mutex_unlock(&s->cluster.mu);
    char fault[48];
    hs_fault_format(&n.fault, fault, sizeof fault);
    sim_format_bytes(k.bytes_served, b, sizeof b);
    printf("%-10s  %-8s  %-5s  %-24s  %-16s  %-8" PRIu64 "  %-10s  %" PRIu64
           "\n",
           n.name, role_names[n.role],
           n.role == HS_ROLE_STATIC ? "-" : n.in_bk ? "yes" : "no", n.base_url,
           fault, k.requests, b, k.non_bk_requests);
  }

  if (s->n_events) printf("\nevents:\n");
  for (size_t i = 0; i < s->n_events; i++) {
    const sim_event *e = &s->events[i];
    sim_format_bytes(e->fired_bytes, b, sizeof b);
    if (e->fired)
      printf("  at %.1f s (%s fetched): %s\n", e->fired_ms / 1000.0, b,
             e->what);
    else
      printf("  not fired (the task ended first): %s\n", e->what);
  }

  banned_list bl;
  banned_collect(s, &bl);
  printf("\nbanned sources:%s\n", bl.n ? "" : " none");
  for (size_t i = 0; i < bl.n; i++) {
    const char *name = node_name_of_url(s, bl.urls[i]);
    printf("  %s%s%s: %s\n", name ? name : "", name ? " " : "",
           bl.urls[i] ? bl.urls[i] : "?", bl.reasons[i] ? bl.reasons[i] : "?");
  }
  banned_release(&bl);
  pthread_mutex_lock(&s->mu);
  printf("\nmetrics: %" PRIu64 " state requests; errors:", s->state_requests);
  for (int k = 1; k <= 7; k++)
    printf(" %s %" PRIu64 "%s", kind_names[k], s->errors_by_kind[k],
           k < 7 ? "," : "\n");
  printf("stats: %u requests started, %u failed, %u sources banned, %u retry "
         "cycles\n",
         s->last_stats.sources_tried, s->last_stats.sources_failed,
         s->last_stats.sources_banned, s->last_stats.cycles);
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
