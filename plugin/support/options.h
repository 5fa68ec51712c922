/* options.h: the documented configuration keys, their defaults and their
 * strict validation. Shared by every backend so that set_option behaves the
 * same whichever .so the host loads. */
#ifndef SSS_SUPPORT_OPTIONS_H
#define SSS_SUPPORT_OPTIONS_H

#include <stddef.h>
#include <stdint.h>

typedef struct sss_options {
  char **static_storages; /* owned; base URLs as given, validated */
  size_t n_static_storages;
  uint32_t max_download_tries;           /* retry cycles per entry, >= 1 */
  uint64_t retry_download_timeout_ms;    /* wait between cycles */
  uint64_t download_deadline_timeout_ms; /* whole task */
  uint64_t connect_timeout_ms;
  char *storage_path;   /* joined to a gossip node's URL */
  char *gossip_url_key; /* gossip key holding a node's API URL */
  char *staging_dir;    /* "" = $TMPDIR or /tmp */
  uint32_t parallel_sources;
  uint64_t max_snapshot_bytes;   /* 0 = unlimited */
  uint64_t min_source_speed_bps; /* 0 = no minimum */
  int tls_verify;                /* 1 = verify peer and host (default) */
  char *tls_ca_file;             /* NULL = system CA store */
} sss_options;

/* Fills o with the defaults. Returns 0, or -1 when out of memory. */
int sss_options_init(sss_options *o);

/* Frees what o owns; o may then be re-initialised. */
void sss_options_release(sss_options *o);

/* Deep copy of src into dst (dst uninitialised). Returns 0 or -1 (memory). */
int sss_options_copy(sss_options *dst, const sss_options *src);

/* Sets key to value after validating it. Returns SSS_OK, or
 * SSS_ERR_UNKNOWN_OPTION / SSS_ERR_BAD_OPTION_VALUE / SSS_ERR_INVALID_ARGUMENT
 * with a sentence naming the key and the value in err; o is then unchanged. */
int sss_options_set(sss_options *o, const char *key, const char *value,
                    char *err);

/* The staging directory to use: staging_dir, else $TMPDIR, else "/tmp". */
const char *sss_options_staging_dir(const sss_options *o);

#endif
