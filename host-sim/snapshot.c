#include "snapshot.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "hex.h"

#define GOLDEN 0x9e3779b97f4a7c15ULL

/* Domains keep the byte stream and the two ids independent of each other. */
enum { DOMAIN_STREAM = 1, DOMAIN_THREAD_ID = 2, DOMAIN_BLOCK_ID = 3 };

/* splitmix64's output function: a bijective mix of one 64-bit word. */
static uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

static uint64_t derive_key(uint64_t seed, uint32_t index, uint64_t domain) {
  return mix64(mix64(seed + GOLDEN) ^ mix64(((uint64_t)index << 8) | domain));
}

/* Bytes [offset, offset+len) of the stream: word k is mix64(key+(k+1)*G),
 * laid out little-endian. */
static void fill_stream(uint64_t key, uint64_t offset, uint8_t *out,
                        size_t len) {
  while (len > 0) {
    uint64_t w = mix64(key + (offset / 8 + 1) * GOLDEN);
    size_t skip = (size_t)(offset % 8);
    size_t n = 8 - skip < len ? 8 - skip : len;
    for (size_t i = 0; i < n; i++)
      out[i] = (uint8_t)(w >> (8 * (skip + i)));
    out += n;
    offset += n;
    len -= n;
  }
}

void hs_snapshot_fill(const hs_snapshot *s, uint64_t offset, void *buf,
                      size_t len) {
  fill_stream(s->key, offset, buf, len);
}

int hs_snapshot_digest(const hs_snapshot *s, uint64_t size,
                       uint8_t out[SSS_SHA256_LEN]) {
  enum { CHUNK = 64 * 1024 };
  uint8_t *buf = malloc(CHUNK);
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  int rc = -1;
  if (!buf || !md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) goto done;
  for (uint64_t off = 0; off < size;) {
    size_t n = size - off < CHUNK ? (size_t)(size - off) : CHUNK;
    fill_stream(s->key, off, buf, n);
    if (EVP_DigestUpdate(md, buf, n) != 1) goto done;
    off += n;
  }
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(md, out, &len) != 1 || len != SSS_SHA256_LEN)
    goto done;
  rc = 0;
done:
  EVP_MD_CTX_free(md);
  free(buf);
  return rc;
}

int hs_snapshot_init(hs_snapshot *s, uint64_t seed, uint32_t index,
                     uint64_t size) {
  memset(s, 0, sizeof *s);
  s->seed = seed;
  s->index = index;
  s->size = size;
  s->key = derive_key(seed, index, DOMAIN_STREAM);
  fill_stream(derive_key(seed, index, DOMAIN_THREAD_ID), 0, s->thread_id.bytes,
              sizeof s->thread_id.bytes);
  fill_stream(derive_key(seed, index, DOMAIN_BLOCK_ID), 0, s->block_id.bytes,
              sizeof s->block_id.bytes);
  sss_hex_encode(s->block_id.bytes, SSS_BLOCK_ID_LEN, s->resource_name);
  return hs_snapshot_digest(s, size, s->sha256);
}
