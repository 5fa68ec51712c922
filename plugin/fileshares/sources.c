#include "sources.h"

#include "status.h"

#include <curl/curl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

typedef struct id_item {
  UT_hash_handle hh;
  char key[]; /* node id or URL */
} id_item;

static int set_add(id_item **set, const char *key) {
  id_item *it = NULL;
  HASH_FIND_STR(*set, key, it);
  if (it) return 0;
  size_t len = strlen(key);
  it = malloc(sizeof *it + len + 1);
  if (!it) return -1;
  memcpy(it->key, key, len + 1);
  HASH_ADD_STR(*set, key, it);
  return 1;
}

static int set_has(id_item *set, const char *key) {
  id_item *it = NULL;
  HASH_FIND_STR(set, key, it);
  return it != NULL;
}

static void set_free(id_item **set) {
  id_item *it, *tmp;
  HASH_ITER(hh, *set, it, tmp) {
    HASH_DEL(*set, it);
    free(it);
  }
}

int fs_url_join(const char *base, const char *rel, char **out, char *why) {
  *out = NULL;
  if (!base || !*base)
    return sss_fail(why, -1, "the URL is empty");
  CURLU *u = curl_url();
  if (!u) return sss_fail(why, -1, "out of memory");
  int rc = -1;
  char *scheme = NULL, *path = NULL, *url = NULL;
  if (curl_url_set(u, CURLUPART_URL, base, CURLU_GUESS_SCHEME) != CURLUE_OK) {
    sss_fail(why, -1, "'%s' is not a URL", base);
    goto done;
  }
  if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
      (strcmp(scheme, "http") && strcmp(scheme, "https"))) {
    sss_fail(why, -1, "'%s' is not http or https", base);
    goto done;
  }
  /* A base is a directory: make sure its path ends with '/' so that the
   * relative join appends rather than replaces the last segment. */
  if (curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK) {
    sss_fail(why, -1, "'%s' has no path", base);
    goto done;
  }
  size_t plen = strlen(path);
  if (plen == 0 || path[plen - 1] != '/') {
    char *dir = malloc(plen + 2);
    if (!dir) {
      sss_fail(why, -1, "out of memory");
      goto done;
    }
    memcpy(dir, path, plen);
    dir[plen] = '/';
    dir[plen + 1] = '\0';
    CURLUcode set = curl_url_set(u, CURLUPART_PATH, dir, 0);
    free(dir);
    if (set != CURLUE_OK) {
      sss_fail(why, -1, "'%s': cannot use its path as a directory", base);
      goto done;
    }
  }
  curl_url_set(u, CURLUPART_QUERY, NULL, 0);
  curl_url_set(u, CURLUPART_FRAGMENT, NULL, 0);
  if (rel && *rel && curl_url_set(u, CURLUPART_URL, rel, 0) != CURLUE_OK) {
    sss_fail(why, -1, "'%s' cannot be joined with '%s'", base, rel);
    goto done;
  }
  if (curl_url_get(u, CURLUPART_URL, &url, 0) != CURLUE_OK) {
    sss_fail(why, -1, "'%s' cannot be joined with '%s'", base, rel);
    goto done;
  }
  *out = strdup(url);
  rc = *out ? 0 : sss_fail(why, -1, "out of memory");
done:
  curl_free(url);
  curl_free(path);
  curl_free(scheme);
  curl_url_cleanup(u);
  return rc;
}

typedef struct build_ctx {
  const sss_options *opt;
  const char *resource;
  fs_sources *out;
  id_item *bk;   /* node ids in the BK set */
  id_item *seen; /* URLs already in out */
  fs_skip_fn skip;
  void *skip_ctx;
  int oom;
} build_ctx;

static void skipped(build_ctx *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void skipped(build_ctx *b, const char *fmt, ...) {
  if (!b->skip) return;
  char why[SSS_ERROR_SIZE];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, sizeof why, fmt, ap);
  va_end(ap);
  b->skip(b->skip_ctx, why);
}

/* Appends url (taking ownership) unless it is a duplicate. */
static void add_url(build_ctx *b, char *url) {
  int fresh = set_add(&b->seen, url);
  if (fresh <= 0) {
    if (fresh < 0) b->oom = 1;
    else skipped(b, "source %s: duplicate, used once", url);
    free(url);
    return;
  }
  char **grown = realloc(b->out->urls, (b->out->n + 1) * sizeof(char *));
  if (!grown) {
    b->oom = 1;
    free(url);
    return;
  }
  b->out->urls = grown;
  b->out->urls[b->out->n++] = url;
}

static void visit_bk(void *ctx, const char *node_id) {
  build_ctx *b = ctx;
  if (!node_id) return;
  if (set_add(&b->bk, node_id) > 0) b->out->n_bk++;
  else if (!set_has(b->bk, node_id)) b->oom = 1;
}

static void visit_gossip(void *ctx, const char *node_id,
                         const char *const *keys, const char *const *values,
                         size_t n_pairs) {
  build_ctx *b = ctx;
  b->out->n_gossip++;
  if (!node_id) return;
  if (!set_has(b->bk, node_id)) {
    skipped(b, "gossip node %s: not in the BK set, not used as a source",
            node_id);
    return;
  }
  b->out->n_gossip_in_bk++;
  const char *base = NULL;
  for (size_t i = 0; i < n_pairs; i++)
    if (keys && keys[i] && values && !strcmp(keys[i], b->opt->gossip_url_key))
      base = values[i];
  if (!base) {
    skipped(b, "gossip node %s: no '%s' key, not used as a source", node_id,
            b->opt->gossip_url_key);
    return;
  }
  size_t plen = strlen(b->opt->storage_path), rlen = strlen(b->resource);
  char *rel = malloc(plen + rlen + 1);
  if (!rel) {
    b->oom = 1;
    return;
  }
  memcpy(rel, b->opt->storage_path, plen);
  memcpy(rel + plen, b->resource, rlen + 1);
  char why[SSS_ERROR_SIZE];
  char *url = NULL;
  if (fs_url_join(base, rel, &url, why) == 0)
    add_url(b, url);
  else
    skipped(b, "gossip node %s: %s: %s, not used as a source", node_id,
            b->opt->gossip_url_key, why);
  free(rel);
}

int fs_sources_build(const sss_options *o, const sss_host *host,
                     const char *resource, fs_sources *out, fs_skip_fn skip,
                     void *skip_ctx) {
  memset(out, 0, sizeof *out);
  build_ctx b = {.opt = o, .resource = resource, .out = out, .skip = skip,
                 .skip_ctx = skip_ctx};
  out->n_static = o->n_static_storages;
  char why[SSS_ERROR_SIZE];
  for (size_t i = 0; i < o->n_static_storages; i++) {
    char *url = NULL;
    if (fs_url_join(o->static_storages[i], resource, &url, why) == 0)
      add_url(&b, url);
    else
      skipped(&b, "static storage: %s, not used as a source", why);
  }
  if (host->bk_set && host->bk_set(host->ctx, visit_bk, &b) != 0)
    skipped(&b, "the host's BK set is unavailable; gossip nodes not used");
  else if (host->gossip_nodes &&
           host->gossip_nodes(host->ctx, visit_gossip, &b) != 0)
    skipped(&b, "the host's gossip view is unavailable; gossip nodes not used");
  set_free(&b.bk);
  set_free(&b.seen);
  if (b.oom) {
    fs_sources_release(out);
    return -1;
  }
  return 0;
}

uint64_t fs_rng_next(uint64_t *state) {
  uint64_t x = *state;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return *state = x;
}

void fs_sources_shuffle(fs_sources *s, uint64_t *rng) {
  for (size_t i = s->n; i > 1; i--) {
    size_t j = (size_t)(fs_rng_next(rng) % i);
    char *t = s->urls[i - 1];
    s->urls[i - 1] = s->urls[j];
    s->urls[j] = t;
  }
}

void fs_sources_explain_empty(const fs_sources *s, char *buf, size_t len) {
  char bk[96];
  if (s->n_gossip_in_bk)
    snprintf(bk, sizeof bk, "%zu in the BK set of %zu, none advertising a usable URL",
             s->n_gossip_in_bk, s->n_bk);
  else
    snprintf(bk, sizeof bk, "none in the BK set of %zu", s->n_bk);
  snprintf(buf, len,
           "no sources: %zu static storage%s%s, %zu gossip node%s, %s",
           s->n_static, s->n_static == 1 ? "" : "s",
           s->n_static ? " (none usable)" : "", s->n_gossip,
           s->n_gossip == 1 ? "" : "s", bk);
}

void fs_sources_release(fs_sources *s) {
  for (size_t i = 0; i < s->n; i++) free(s->urls[i]);
  free(s->urls);
  memset(s, 0, sizeof *s);
}
