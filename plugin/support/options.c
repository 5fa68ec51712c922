#include "options.h"

#include "status.h"

#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum opt_kind { OPT_U32, OPT_U64, OPT_STR, OPT_BOOL, OPT_URLS, OPT_FILE };

typedef struct opt_desc {
  const char *key;
  enum opt_kind kind;
  size_t offset;
  uint64_t min, max; /* numeric bounds, inclusive */
  int allow_empty;   /* strings: may "" be set */
} opt_desc;

#define OFF(m) offsetof(sss_options, m)
static const opt_desc OPTS[] = {
    {"static_storages", OPT_URLS, OFF(static_storages), 0, 0, 1},
    {"max_download_tries", OPT_U32, OFF(max_download_tries), 1, 1000, 0},
    {"retry_download_timeout_ms", OPT_U64, OFF(retry_download_timeout_ms), 0,
     86400000, 0},
    {"download_deadline_timeout_ms", OPT_U64,
     OFF(download_deadline_timeout_ms), 1, 7 * 86400000ULL, 0},
    {"connect_timeout_ms", OPT_U64, OFF(connect_timeout_ms), 1, 600000, 0},
    {"storage_path", OPT_STR, OFF(storage_path), 0, 0, 1},
    {"gossip_url_key", OPT_STR, OFF(gossip_url_key), 0, 0, 0},
    {"staging_dir", OPT_STR, OFF(staging_dir), 0, 0, 1},
    {"parallel_sources", OPT_U32, OFF(parallel_sources), 1, 64, 0},
    {"max_snapshot_bytes", OPT_U64, OFF(max_snapshot_bytes), 0, UINT64_MAX,
     0},
    {"min_source_speed_bps", OPT_U64, OFF(min_source_speed_bps), 0,
     UINT64_MAX, 0},
    {"tls_verify", OPT_BOOL, OFF(tls_verify), 0, 1, 0},
    {"tls_ca_file", OPT_FILE, OFF(tls_ca_file), 0, 0, 1},
};
#undef OFF

static void free_urls(char **urls, size_t n) {
  for (size_t i = 0; i < n; i++) free(urls[i]);
  free(urls);
}

int sss_options_init(sss_options *o) {
  memset(o, 0, sizeof *o);
  o->max_download_tries = 3;
  o->retry_download_timeout_ms = 2000;
  o->download_deadline_timeout_ms = 120000;
  o->connect_timeout_ms = 3000;
  o->parallel_sources = 4;
  o->max_snapshot_bytes = 64ULL << 30;
  o->tls_verify = 1;
  o->storage_path = strdup("v2/storage/");
  o->gossip_url_key = strdup("api_advertise_addr");
  o->staging_dir = strdup("");
  if (!o->storage_path || !o->gossip_url_key || !o->staging_dir) {
    sss_options_release(o);
    return -1;
  }
  return 0;
}

void sss_options_release(sss_options *o) {
  free_urls(o->static_storages, o->n_static_storages);
  free(o->storage_path);
  free(o->gossip_url_key);
  free(o->staging_dir);
  free(o->tls_ca_file);
  memset(o, 0, sizeof *o);
}

static int dup_str(char **dst, const char *src) {
  *dst = NULL;
  if (!src) return 0;
  *dst = strdup(src);
  return *dst ? 0 : -1;
}

int sss_options_copy(sss_options *dst, const sss_options *src) {
  *dst = *src;
  dst->static_storages = NULL;
  dst->n_static_storages = 0;
  dst->storage_path = dst->gossip_url_key = dst->staging_dir = NULL;
  dst->tls_ca_file = NULL;
  if (src->n_static_storages) {
    dst->static_storages = calloc(src->n_static_storages, sizeof(char *));
    if (!dst->static_storages) goto fail;
    for (size_t i = 0; i < src->n_static_storages; i++) {
      dst->n_static_storages = i + 1;
      if (dup_str(&dst->static_storages[i], src->static_storages[i]))
        goto fail;
    }
  }
  if (dup_str(&dst->storage_path, src->storage_path) ||
      dup_str(&dst->gossip_url_key, src->gossip_url_key) ||
      dup_str(&dst->staging_dir, src->staging_dir) ||
      dup_str(&dst->tls_ca_file, src->tls_ca_file))
    goto fail;
  return 0;
fail:
  sss_options_release(dst);
  return -1;
}

static int parse_u64(const char *key, const char *value, uint64_t min,
                     uint64_t max, uint64_t *out, char *err) {
  const char *p = value;
  while (*p == ' ') p++;
  if (*p < '0' || *p > '9')
    return sss_fail(err, SSS_ERR_BAD_OPTION_VALUE,
                    "%s: '%s' is not a non-negative integer", key, value);
  errno = 0;
  char *end = NULL;
  unsigned long long v = strtoull(p, &end, 10);
  if (errno == ERANGE || *end != '\0')
    return sss_fail(err, SSS_ERR_BAD_OPTION_VALUE,
                    "%s: '%s' is not a non-negative integer", key, value);
  if (v < min || v > max)
    return sss_fail(err, SSS_ERR_BAD_OPTION_VALUE,
                    "%s: %llu is out of range; use %" PRIu64 "..%" PRIu64, key,
                    v, min, max);
  *out = v;
  return SSS_OK;
}

static int parse_bool(const char *key, const char *value, int *out,
                      char *err) {
  if (!strcmp(value, "1") || !strcmp(value, "true") || !strcmp(value, "yes"))
    *out = 1;
  else if (!strcmp(value, "0") || !strcmp(value, "false") ||
           !strcmp(value, "no"))
    *out = 0;
  else
    return sss_fail(err, SSS_ERR_BAD_OPTION_VALUE,
                    "%s: '%s' is not a boolean; use 1/0, true/false or yes/no",
                    key, value);
  return SSS_OK;
}

/* Checks that one static storage base URL is absolute http(s) with a host. */
static int check_base_url(const char *url, char *err) {
  CURLU *u = curl_url();
  if (!u) return sss_fail(err, SSS_ERR_NO_MEMORY, "static_storages: out of memory");
  int rc = SSS_OK;
  char *scheme = NULL, *host = NULL;
  if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
      curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
      curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
    rc = sss_fail(err, SSS_ERR_BAD_OPTION_VALUE,
                  "static_storages: '%s' is not an absolute URL such as "
                  "http://host:port/path/",
                  url);
  } else if (strcmp(scheme, "http") && strcmp(scheme, "https")) {
    rc = sss_fail(err, SSS_ERR_BAD_OPTION_VALUE,
                  "static_storages: '%s' is not http or https", url);
  }
  curl_free(scheme);
  curl_free(host);
  curl_url_cleanup(u);
  return rc;
}

/* Splits a comma-separated list of base URLs, trimming blanks; empty items are
 * skipped, so "" clears the list. */
static int parse_urls(const char *value, char ***out, size_t *n_out,
                      char *err) {
  char **urls = NULL;
  size_t n = 0;
  const char *p = value;
  while (*p) {
    const char *comma = strchr(p, ',');
    size_t len = comma ? (size_t)(comma - p) : strlen(p);
    const char *s = p, *e = p + len;
    while (s < e && (*s == ' ' || *s == '\t')) s++;
    while (e > s && (e[-1] == ' ' || e[-1] == '\t')) e--;
    if (e > s) {
      char *item = strndup(s, (size_t)(e - s));
      char **grown = item ? realloc(urls, (n + 1) * sizeof *urls) : NULL;
      if (!grown) {
        free(item);
        free_urls(urls, n);
        return sss_fail(err, SSS_ERR_NO_MEMORY, "static_storages: out of memory");
      }
      urls = grown;
      urls[n++] = item;
      int rc = check_base_url(item, err);
      if (rc) {
        free_urls(urls, n);
        return rc;
      }
    }
    p = comma ? comma + 1 : p + len;
  }
  *out = urls;
  *n_out = n;
  return SSS_OK;
}

static int set_string(char **slot, const char *key, const char *value,
                      int allow_empty, char *err) {
  if (!allow_empty && !*value)
    return sss_fail(err, SSS_ERR_BAD_OPTION_VALUE, "%s: must not be empty", key);
  char *copy = strdup(value);
  if (!copy) return sss_fail(err, SSS_ERR_NO_MEMORY, "%s: out of memory", key);
  free(*slot);
  *slot = copy;
  return SSS_OK;
}

int sss_options_set(sss_options *o, const char *key, const char *value,
                    char *err) {
  if (!key)
    return sss_fail(err, SSS_ERR_INVALID_ARGUMENT, "set_option: key is NULL");
  const opt_desc *d = NULL;
  for (size_t i = 0; i < sizeof OPTS / sizeof OPTS[0]; i++)
    if (!strcmp(OPTS[i].key, key)) d = &OPTS[i];
  if (!d)
    return sss_fail(err, SSS_ERR_UNKNOWN_OPTION,
                    "set_option: '%s' is not a known option; see docs/ABI.md "
                    "for the keys",
                    key);
  if (!value)
    return sss_fail(err, SSS_ERR_INVALID_ARGUMENT, "%s: value is NULL", key);
  char *slot = (char *)o + d->offset;
  uint64_t v = 0;
  int rc;
  switch (d->kind) {
  case OPT_U32:
  case OPT_U64:
    rc = parse_u64(key, value, d->min, d->max, &v, err);
    if (rc) return rc;
    if (d->kind == OPT_U32)
      *(uint32_t *)(void *)slot = (uint32_t)v;
    else
      *(uint64_t *)(void *)slot = v;
    return SSS_OK;
  case OPT_BOOL:
    return parse_bool(key, value, (int *)(void *)slot, err);
  case OPT_STR:
    return set_string((char **)(void *)slot, key, value, d->allow_empty, err);
  case OPT_FILE:
    if (*value && access(value, R_OK) != 0)
      return sss_fail(err, SSS_ERR_BAD_OPTION_VALUE,
                      "%s: '%s' is not a readable file", key, value);
    if (!*value) {
      free(o->tls_ca_file);
      o->tls_ca_file = NULL;
      return SSS_OK;
    }
    return set_string((char **)(void *)slot, key, value, 1, err);
  case OPT_URLS: {
    char **urls = NULL;
    size_t n = 0;
    rc = parse_urls(value, &urls, &n, err);
    if (rc) return rc;
    free_urls(o->static_storages, o->n_static_storages);
    o->static_storages = urls;
    o->n_static_storages = n;
    return SSS_OK;
  }
  }
  return sss_fail(err, SSS_ERR_UNKNOWN_OPTION, "set_option: '%s' is unknown", key);
}

const char *sss_options_staging_dir(const sss_options *o) {
  if (o->staging_dir && *o->staging_dir) return o->staging_dir;
  const char *t = getenv("TMPDIR");
  return t && *t ? t : "/tmp";
}
