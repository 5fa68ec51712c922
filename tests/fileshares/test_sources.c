/* Unit tests of sources.c: which URLs a cycle uses and why others are not. */
#include "sources.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

typedef struct node {
  const char *id, *key, *url;
} node;

typedef struct view {
  node nodes[8];
  int n_nodes;
  const char *bk[8];
  int n_bk;
  char skips[16][512];
  int n_skips;
} view;

static int gossip(void *ctx, sss_gossip_visit_fn visit, void *vctx) {
  view *v = ctx;
  for (int i = 0; i < v->n_nodes; i++) {
    const char *k[] = {"other", v->nodes[i].key}, *val[] = {"x", v->nodes[i].url};
    visit(vctx, v->nodes[i].id, k, val, v->nodes[i].key ? 2 : 1);
  }
  return 0;
}

static int bk(void *ctx, sss_node_visit_fn visit, void *vctx) {
  view *v = ctx;
  for (int i = 0; i < v->n_bk; i++) visit(vctx, v->bk[i]);
  return 0;
}

static void on_skip(void *ctx, const char *why) {
  view *v = ctx;
  if (v->n_skips < 16) snprintf(v->skips[v->n_skips++], 512, "%s", why);
}

static const char *RES = "00ff";

static fs_sources build(view *v, const char *statics) {
  sss_options o;
  cr_assert_eq(sss_options_init(&o), 0);
  char err[SSS_ERROR_SIZE];
  if (statics) cr_assert_eq(sss_options_set(&o, "static_storages", statics, err), 0, "%s", err);
  sss_host h = {.struct_size = sizeof h, .ctx = v, .gossip_nodes = gossip, .bk_set = bk};
  fs_sources s;
  cr_assert_eq(fs_sources_build(&o, &h, RES, &s, on_skip, v), 0);
  sss_options_release(&o);
  return s;
}

static int skipped_with(view *v, const char *text) {
  for (int i = 0; i < v->n_skips; i++)
    if (strstr(v->skips[i], text)) return 1;
  return 0;
}

Test(sources, static_only_joins_resource_as_directory) {
  view v = {0};
  fs_sources s = build(&v, "http://a:1/snap, https://b/x/y/, http://c/dir");
  cr_assert_eq(s.n, 3);
  cr_assert_str_eq(s.urls[0], "http://a:1/snap/00ff");
  cr_assert_str_eq(s.urls[1], "https://b/x/y/00ff");
  cr_assert_str_eq(s.urls[2], "http://c/dir/00ff", "no trailing slash still a directory");
  fs_sources_release(&s);
}

Test(sources, gossip_only_uses_storage_path) {
  view v = {.nodes = {{"n1", "api_advertise_addr", "http://10.0.0.1:8600"},
                      {"n2", "api_advertise_addr", "http://h2:8600/api/"}},
            .n_nodes = 2, .bk = {"n1", "n2"}, .n_bk = 2};
  fs_sources s = build(&v, NULL);
  cr_assert_eq(s.n, 2);
  cr_assert_str_eq(s.urls[0], "http://10.0.0.1:8600/v2/storage/00ff");
  cr_assert_str_eq(s.urls[1], "http://h2:8600/api/v2/storage/00ff");
  fs_sources_release(&s);
}

Test(sources, nodes_outside_bk_set_are_skipped) {
  view v = {.nodes = {{"in", "api_advertise_addr", "http://in/"},
                      {"out", "api_advertise_addr", "http://out/"}},
            .n_nodes = 2, .bk = {"in", "other"}, .n_bk = 2};
  fs_sources s = build(&v, NULL);
  cr_assert_eq(s.n, 1);
  cr_assert_str_eq(s.urls[0], "http://in/v2/storage/00ff");
  cr_assert(skipped_with(&v, "gossip node out: not in the BK set"));
  cr_assert_eq(s.n_gossip, 2);
  cr_assert_eq(s.n_bk, 2);
  cr_assert_eq(s.n_gossip_in_bk, 1);
  fs_sources_release(&s);
}

Test(sources, junk_and_other_schemes_are_skipped_with_reason) {
  view v = {.nodes = {{"j", "api_advertise_addr", "not a url at all"},
                      {"f", "api_advertise_addr", "ftp://files/"},
                      {"e", "api_advertise_addr", ""},
                      {"k", NULL, NULL},
                      {"ok", "api_advertise_addr", "http://ok/"}},
            .n_nodes = 5, .bk = {"j", "f", "e", "k", "ok"}, .n_bk = 5};
  fs_sources s = build(&v, NULL);
  cr_assert_eq(s.n, 1);
  cr_assert_str_eq(s.urls[0], "http://ok/v2/storage/00ff");
  cr_assert(skipped_with(&v, "gossip node j:"));
  cr_assert(skipped_with(&v, "'ftp://files/' is not http or https"));
  cr_assert(skipped_with(&v, "gossip node e:"));
  cr_assert(skipped_with(&v, "gossip node k: no 'api_advertise_addr' key"));
  fs_sources_release(&s);
}

Test(sources, bare_host_port_means_http) {
  view v = {.nodes = {{"n", "api_advertise_addr", "127.0.0.1:8600"},
                      {"m", "api_advertise_addr", "[::1]:9000"}},
            .n_nodes = 2, .bk = {"n", "m"}, .n_bk = 2};
  fs_sources s = build(&v, NULL);
  cr_assert_eq(s.n, 2);
  cr_assert_str_eq(s.urls[0], "http://127.0.0.1:8600/v2/storage/00ff");
  cr_assert_str_eq(s.urls[1], "http://[::1]:9000/v2/storage/00ff");
  fs_sources_release(&s);
}

Test(sources, duplicates_are_removed) {
  view v = {.nodes = {{"a", "api_advertise_addr", "http://h/"},
                      {"b", "api_advertise_addr", "h"},
                      {"c", "api_advertise_addr", "http://h"}},
            .n_nodes = 3, .bk = {"a", "b", "c", "a"}, .n_bk = 4};
  fs_sources s = build(&v, "http://s/, http://s/");
  cr_assert_eq(s.n, 2, "got %zu", s.n);
  cr_assert_str_eq(s.urls[0], "http://s/00ff");
  cr_assert_str_eq(s.urls[1], "http://h/v2/storage/00ff");
  cr_assert_eq(s.n_bk, 3, "a BK id listed twice counts once");
  cr_assert(skipped_with(&v, "duplicate"));
  fs_sources_release(&s);
}

Test(sources, empty_list_is_explained) {
  view v = {.nodes = {{"a", "api_advertise_addr", "http://a/"},
                      {"b", "api_advertise_addr", "http://b/"}},
            .n_nodes = 2, .bk = {"x", "y", "z", "w"}, .n_bk = 4};
  fs_sources s = build(&v, NULL);
  cr_assert_eq(s.n, 0);
  char why[256];
  fs_sources_explain_empty(&s, why, sizeof why);
  cr_assert_str_eq(why, "no sources: 0 static storages, 2 gossip nodes, none "
                        "in the BK set of 4");
  fs_sources_release(&s);
}

Test(sources, shuffle_is_a_permutation_and_varies) {
  view v = {0};
  fs_sources s = build(&v, "http://a/,http://b/,http://c/,http://d/,http://e/");
  uint64_t rng = 12345;
  int moved = 0;
  for (int round = 0; round < 20; round++) {
    fs_sources_shuffle(&s, &rng);
    int seen[5] = {0};
    for (size_t i = 0; i < s.n; i++) seen[s.urls[i][7] - 'a']++;
    for (int k = 0; k < 5; k++) cr_assert_eq(seen[k], 1);
    if (s.urls[0][7] != 'a') moved++;
  }
  cr_assert_gt(moved, 0, "the order changes");
  fs_sources_release(&s);
}

Test(sources, url_join_rejects_non_http) {
  char *out = NULL;
  char why[SSS_ERROR_SIZE];
  cr_assert_eq(fs_url_join("file:///etc/", "x", &out, why), -1);
  cr_assert_null(out);
  cr_assert_not_null(strstr(why, "not http or https"), "%s", why);
  cr_assert_eq(fs_url_join("https://h/base?q=1#f", "v2/storage/x", &out, why), 0);
  cr_assert_str_eq(out, "https://h/base/v2/storage/x");
  free(out);
}
