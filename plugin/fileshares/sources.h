/* sources.h: the list of URLs a snapshot is fetched from, rebuilt for every
 * retry cycle from the static storages and the gossip nodes in the BK set. */
#ifndef FS_SOURCES_H
#define FS_SOURCES_H

#include "options.h"
#include "sss_plugin.h"

#include <stddef.h>
#include <stdint.h>

typedef struct fs_sources {
  char **urls; /* owned, absolute http(s) URLs, no duplicates */
  size_t n;
  /* What the list was built from, for the "no sources" sentence. */
  size_t n_static;      /* static storages configured */
  size_t n_gossip;      /* gossip nodes seen */
  size_t n_bk;          /* node ids in the BK set */
  size_t n_gossip_in_bk; /* gossip nodes that are in the BK set */
} fs_sources;

/* Called for every candidate that is skipped, with a sentence saying why. */
typedef void (*fs_skip_fn)(void *ctx, const char *why);

/* Joins base (a directory, trailing slash or not; a bare host:port means
 * http://host:port/) with the relative path rel. Only http and https are
 * accepted. Returns 0 with *out (free()) set, or -1 with a sentence in why
 * (SSS_ERROR_SIZE bytes). */
int fs_url_join(const char *base, const char *rel, char **out, char *why);

/* Builds the sources for resource (a block id's hex): the static storages
 * joined with resource, then every gossip node in the BK set whose value
 * under o->gossip_url_key is a usable URL, joined with o->storage_path and
 * resource. Duplicates are dropped; order is as built (see fs_sources_shuffle).
 * Calls the host's gossip_nodes and bk_set. Returns 0, or -1 when out of
 * memory. */
int fs_sources_build(const sss_options *o, const sss_host *host,
                     const char *resource, fs_sources *out, fs_skip_fn skip,
                     void *skip_ctx);

/* Fisher-Yates shuffle driven by the caller's xorshift64 state. */
void fs_sources_shuffle(fs_sources *s, uint64_t *rng);

/* Writes the sentence explaining an empty list, e.g. "no sources: 0 static
 * storages, 5 gossip nodes, none in the BK set of 4". */
void fs_sources_explain_empty(const fs_sources *s, char *buf, size_t len);

void fs_sources_release(fs_sources *s);

/* Next value of a xorshift64 generator (state must be non-zero). */
uint64_t fs_rng_next(uint64_t *state);

#endif
