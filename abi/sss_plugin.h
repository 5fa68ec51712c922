/*
 * sss_plugin.h: the state-sync service plugin ABI, major version 1.
 *
 * This header is the whole contract between a host runtime and a state-sync
 * backend loaded with dlopen. docs/ABI.md explains it at length; every
 * declaration below carries its own contract in short.
 *
 * Rules that hold for every struct crossing the boundary:
 *   - it starts with `size_t struct_size`, set by whoever fills it to
 *     sizeof(the struct as that side knows it);
 *   - members are only ever appended; a reader checks struct_size before
 *     touching a member (SSS_HAS_MEMBER below) and treats a missing one as
 *     NULL / 0;
 *   - whoever fills a struct zeroes it first (= {0} or memset), and a member
 *     appended in a later minor version starts at or after the previous
 *     sizeof, never in its tail padding, so an older peer's zeroed padding
 *     cannot be read as a new member;
 *   - handles (sss_instance) are opaque.
 *
 * Every call that can fail returns an int status: 0 is SSS_OK, negative is an
 * error, small positive is informative (SSS_ALREADY_LOADING). Calls that can
 * fail take `char *err`: NULL, or a buffer of at least SSS_ERROR_SIZE bytes
 * that receives one NUL-terminated sentence naming what was wrong and what to
 * do about it. On success err is left untouched.
 *
 * Strings and structs passed across the boundary in either direction are
 * valid only for the duration of the call that passes them; whoever wants to
 * keep one copies it.
 */
#ifndef SSS_PLUGIN_H
#define SSS_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SSS_ABI_MAJOR 1
#define SSS_ABI_MINOR 1

/* Size of the caller-supplied error buffer (like CURL_ERROR_SIZE). */
#define SSS_ERROR_SIZE 512

#define SSS_BLOCK_ID_LEN 32
#define SSS_THREAD_ID_LEN 34
#define SSS_SHA256_LEN 32
/* Length of a block id's text form (lowercase hex) without the NUL. */
#define SSS_BLOCK_ID_HEX_LEN (2 * SSS_BLOCK_ID_LEN)

/* True when a struct of the given (received) struct_size holds `member`. */
#define SSS_HAS_MEMBER(ptr, type, member)                                      \
  ((ptr)->struct_size >= offsetof(type, member) + sizeof(((type *)0)->member))

/* ---- Status codes ------------------------------------------------------ */

enum sss_status {
  SSS_OK = 0,
  /* Informative (positive). */
  SSS_ALREADY_LOADING = 1, /* add_load_state_task: a task runs; skipped */
  SSS_IDLE = 2,            /* reset_sync: there was no task to cancel */
  /* Errors (negative). */
  SSS_ERR_INVALID_ARGUMENT = -1, /* NULL where a value is needed, bad task */
  SSS_ERR_UNKNOWN_OPTION = -2,   /* set_option: no such key */
  SSS_ERR_BAD_OPTION_VALUE = -3, /* set_option: value does not parse */
  SSS_ERR_MISSING_CALLBACK = -4, /* host table lacks a required callback */
  SSS_ERR_HOST_TABLE = -5,       /* host table NULL or struct_size too small */
  SSS_ERR_NO_MEMORY = -6,
  SSS_ERR_SYSTEM = -7,      /* a system call failed (thread, file...) */
  SSS_ERR_HOST = -8,        /* a host callback reported failure */
  SSS_ERR_UNSUPPORTED = -9, /* the backend does not do this */
  SSS_ERR_IO = -10,         /* local file I/O failed (staging, disk full) */
  SSS_ERR_NETWORK = -11,    /* a transfer failed */
  SSS_ERR_VERIFY = -12,     /* size or SHA-256 mismatch */
  SSS_ERR_CANCELLED = -13,  /* reset_sync or destroy ended the work */
  SSS_ERR_TIMEOUT = -14,    /* the task's deadline passed */
  SSS_ERR_NOT_FOUND = -15,  /* no source has the snapshot */
  SSS_ERR_TOO_LARGE = -16,  /* exceeds max_snapshot_bytes */
  SSS_ERR_NO_SOURCES = -17, /* no usable source in a cycle */
  SSS_ERR_REJECTED = -18    /* the repository rejected the snapshot */
};

/* Outcome of a whole load task (sss_task_result.status). */
enum sss_task_status {
  SSS_TASK_OK = 0,       /* every entry installed */
  SSS_TASK_FAILED = 1,   /* at least one entry could not be installed */
  SSS_TASK_CANCELLED = 2 /* reset_sync or destroy ended it */
};

/* Log levels for sss_host.log. */
enum sss_log_level {
  SSS_LOG_ERROR = 0,
  SSS_LOG_WARN = 1,
  SSS_LOG_INFO = 2,
  SSS_LOG_DEBUG = 3
};

/* Error kinds for sss_host.report_error (one metric label each). */
enum sss_error_kind {
  SSS_ERROR_KIND_DOWNLOAD = 1, /* a source failed to deliver */
  SSS_ERROR_KIND_VERIFY = 2,   /* bytes did not match size or digest */
  SSS_ERROR_KIND_APPLY = 3,    /* the repository rejected a snapshot */
  SSS_ERROR_KIND_NO_SOURCES = 4,
  SSS_ERROR_KIND_TIMEOUT = 5, /* deadline passed */
  SSS_ERROR_KIND_LOCAL = 6    /* staging or other local failure */
};

/* ---- Identifiers ------------------------------------------------------- */

/* Passed by value; text form is lowercase hex. A snapshot's resource name is
 * the hex of its block id (64 characters). */
typedef struct sss_block_id {
  uint8_t bytes[SSS_BLOCK_ID_LEN];
} sss_block_id;

typedef struct sss_thread_id {
  uint8_t bytes[SSS_THREAD_ID_LEN];
} sss_thread_id;

/* ---- Data the host hands in ------------------------------------------- */

/* A state to publish with save_state_for_sharing. */
typedef struct sss_state {
  size_t struct_size;
  sss_thread_id thread_id;
  sss_block_id block_id;
  /* Opaque to the plugin; handed back unchanged to host->save_object, which
   * knows how to serialize it. */
  void *host_state;
} sss_state;

/* Flags for sss_load_entry.flags. */
#define SSS_ENTRY_HAS_SHA256 0x1u /* sha256 holds the expected digest */
#define SSS_ENTRY_HAS_SIZE 0x2u   /* size holds the expected byte count */

/* One thread's snapshot to load. Passed to add_load_state_task as an array
 * whose stride is entries[0].struct_size (all elements the same size). */
typedef struct sss_load_entry {
  size_t struct_size;
  sss_thread_id thread_id;
  sss_block_id block_id;
  uint32_t flags;
  uint8_t sha256[SSS_SHA256_LEN];
  uint64_t size;
} sss_load_entry;

/* ---- Pull reader over verified bytes (plugin -> host) ----------------- */

typedef struct sss_reader {
  size_t struct_size;
  void *reader_ctx;
  /* Copies up to len bytes of the snapshot into buf, in order. Returns the
   * number copied, 0 at the end, or -1 on a read error (the apply should then
   * fail). Valid only during the apply_snapshot call that received it;
   * callable only from the thread running that call. */
  int64_t (*read)(void *reader_ctx, void *buf, size_t len);
  /* Appended in 1.1: the verified bytes as a file, or NULL. A host that keeps
   * snapshots as files may link(2) this path into its repository (same
   * filesystem; EXDEV otherwise) instead of copying through read: the bytes
   * are exactly the verified `size`, and the plugin never writes the file
   * again. It must not be modified; the plugin removes its own name after
   * apply_snapshot returns. Valid only during that call. */
  const char *path;
} sss_reader;

/* ---- Host blob service (optional, host implements) -------------------- */

typedef struct sss_blob_request {
  size_t struct_size;
  const char *url;         /* absolute http(s) URL of the resource */
  uint64_t max_bytes;      /* 0 = unlimited; deliver no more than this */
  uint32_t connect_timeout_ms;
} sss_blob_request;

/* Where the host delivers a blob. Given to load_blob by the plugin; the host
 * must call finish exactly once for every request that load_blob accepted
 * (returned 0), from any thread, possibly from inside load_blob itself. */
typedef struct sss_blob_sink {
  size_t struct_size;
  void *sink_ctx;
  /* Appends the next bytes of the body, in order. Calls are not concurrent.
   * Returns 0 to go on, non-zero when the plugin no longer wants the data
   * (reset, deadline, limit): the host should stop and call finish. */
  int (*write)(void *sink_ctx, const void *data, size_t len);
  /* Ends the request. status: SSS_OK when the whole body was delivered,
   * otherwise a negative sss_status. http_status: the HTTP status, 0 if none.
   * message: NULL or a sentence saying what went wrong. The sink must not be
   * touched after finish. */
  void (*finish)(void *sink_ctx, int status, int http_status,
                 const char *message);
} sss_blob_sink;

/* ---- Host callbacks ---------------------------------------------------- */

struct sss_stats;

/* Visitor for gossip_nodes: one call per node with its id and its key/value
 * pairs (keys[i] -> values[i], n_pairs of them). */
typedef void (*sss_gossip_visit_fn)(void *visit_ctx, const char *node_id,
                                    const char *const *keys,
                                    const char *const *values, size_t n_pairs);

/* Visitor for bk_set: one call per node id in the current BK set. */
typedef void (*sss_node_visit_fn)(void *visit_ctx, const char *node_id);

/*
 * The host's services, handed to create. `ctx` is passed first to every
 * callback. Required at create: gossip_nodes, bk_set, apply_snapshot.
 * save_object is required only by save_state_for_sharing. The rest are
 * optional (NULL = absent). Unless said otherwise a callback runs on the
 * instance's loader thread and must not call destroy on the same instance.
 */
typedef struct sss_host {
  size_t struct_size;
  void *ctx;

  /* Visits every gossip node the host knows, synchronously, then returns 0
   * (non-zero = the view is unavailable for now). */
  int (*gossip_nodes)(void *ctx, sss_gossip_visit_fn visit, void *visit_ctx);

  /* Visits every node id of the current block-keeper set, synchronously,
   * then returns 0 (non-zero = unavailable for now). */
  int (*bk_set)(void *ctx, sss_node_visit_fn visit, void *visit_ctx);

  /* The repository's "set state from snapshot". `repository` is the pointer
   * given to add_load_state_task. reader yields exactly `size` verified bytes.
   * Return 0 to accept; non-zero rejects it (with a sentence in err, a buffer
   * of SSS_ERROR_SIZE bytes), and the plugin tries another source. */
  int (*apply_snapshot)(void *ctx, void *repository,
                        const sss_thread_id *thread_id,
                        const sss_block_id *block_id, const sss_reader *reader,
                        uint64_t size, char *err);

  /* The file-saving service: stores `state` so that it is served under
   * `resource_name` (64 lowercase hex characters). Called on the thread that
   * called save_state_for_sharing. Returns 0 or non-zero with err filled. */
  int (*save_object)(void *ctx, const sss_state *state,
                     const char *resource_name, char *err);

  /* Optional blob service. NULL: the backend uses its own transport. Starts
   * fetching req->url into sink and returns 0 (finish will follow exactly
   * once), or returns non-zero with err filled (finish will not be called).
   * Must not block on the network. */
  int (*load_blob)(void *ctx, const sss_blob_request *req,
                   const sss_blob_sink *sink, char *err);

  /* Optional, used with load_blob: asks the host to abort the request
   * delivering into sink (reset, deadline, destroy). The host still calls
   * finish for it; the plugin already ignores its bytes and releases the
   * sink at finish, so reset_sync and destroy do not wait for it. The host
   * must not dlclose the backend while a request is unfinished. The request
   * may have finished an instant before; the host then ignores the call.
   * Called without any plugin lock held; finish may be called from inside. */
  void (*cancel_blob)(void *ctx, const sss_blob_sink *sink);

  /* Optional metrics: one call per entry of every accepted task. */
  void (*report_state_request)(void *ctx);

  /* Optional metrics: one call per failure, with an sss_error_kind. */
  void (*report_error)(void *ctx, int kind);

  /* Optional log sink; message is one line without a newline. May run on
   * any thread that is inside a plugin call or on the loader thread. */
  void (*log)(void *ctx, int level, const char *message);

  /* Optional progress: called on the loader thread when the counters of the
   * running task change (at most a few times per second). */
  void (*progress)(void *ctx, const struct sss_stats *stats);
} sss_host;

/* ---- Task result (plugin -> host) -------------------------------------- */

typedef struct sss_entry_result {
  size_t struct_size;
  sss_thread_id thread_id;
  sss_block_id block_id;
  int status;          /* SSS_OK when installed, else a negative sss_status */
  const char *message; /* NULL when installed, else a sentence saying why */
  const char *source;  /* URL it was installed from, or NULL */
  uint64_t bytes;      /* size installed (0 if not) */
  /* Appended in 1.1: every source that sent bytes for this entry during the
   * task (all cycles, the banned ones included) and how many bytes each sent,
   * duplicates and discarded bytes included. n_sources is 0 when the backend
   * does not know (for example, the host's blob service fetched them). */
  size_t n_sources;
  const char *const *source_urls;
  const uint64_t *source_bytes;
} sss_entry_result;

typedef struct sss_task_result {
  size_t struct_size;
  uint64_t task_id;    /* as returned by add_load_state_task's counter */
  int status;          /* enum sss_task_status */
  const char *message; /* one-sentence summary */
  size_t n_entries;
  /* One per entry of the task, in the task's order; stride is
   * entries[0].struct_size. The installed thread->block map is the set of
   * entries whose status is SSS_OK. */
  const sss_entry_result *entries;
  size_t n_banned;
  const char *const *banned_sources; /* URLs banned during the task */
  const char *const *banned_reasons; /* why, one sentence each */
} sss_task_result;

/* How the host learns the outcome of a task. Copied by add_load_state_task.
 * on_result is called exactly once per accepted task, on the loader thread
 * (also when destroy cancels the task). It may call
 * add_load_state_task, reset_sync and get_stats; never destroy. */
typedef struct sss_task_output {
  size_t struct_size;
  void *output_ctx;
  void (*on_result)(void *output_ctx, const sss_task_result *result);
} sss_task_output;

/* ---- Stats ------------------------------------------------------------- */

/* Counters of the current task, or of the last one when none runs. The
 * caller sets struct_size; get_stats fills what fits. */
typedef struct sss_stats {
  size_t struct_size;
  uint64_t task_id;         /* 0 before the first task */
  int running;              /* 1 while a task runs */
  int last_status;          /* enum sss_task_status of the last task, -1 if none */
  uint32_t entries_total;
  uint32_t entries_done;    /* installed */
  uint32_t entries_failed;
  uint64_t bytes_expected;  /* sum of known sizes */
  uint64_t bytes_fetched;   /* received from sources, retries included */
  uint64_t bytes_verified;  /* verified and handed to the repository */
  uint32_t sources_tried;   /* requests started */
  uint32_t sources_failed;  /* requests that failed */
  uint32_t sources_banned;  /* sources banned for lying */
  uint32_t cycles;          /* retry cycles started, over all entries */
  uint64_t elapsed_ms;      /* since the task started */
} sss_stats;

/* ---- The plugin vtable ------------------------------------------------- */

typedef struct sss_instance sss_instance;

/*
 * The first three members are frozen across all major versions so that a
 * host can read the version of a vtable it does not speak.
 */
typedef struct sss_plugin {
  size_t struct_size;
  uint32_t abi_major;
  uint32_t abi_minor;
  const char *backend_name;    /* e.g. "fileshares", "stub" */
  const char *backend_version; /* the backend's own version string */

  /* Checks the host table (struct_size, required callbacks; a missing one is
   * named in err), copies it and creates an instance. Starts no thread. */
  int (*create)(const sss_host *host, sss_instance **out, char *err);

  /* Cancels all work, delivers the CANCELLED result of a running task (from
   * the loader thread, before returning), joins the loader thread and frees
   * the instance. When it
   * returns no host callback of this instance is running or can start. NULL
   * is a no-op. Must not be called from a callback of the same instance. */
  void (*destroy)(sss_instance *instance);

  /* String configuration (see docs/ABI.md for keys). An unknown key or bad
   * value is an error naming it; the previous value stays. A change made
   * while a task runs applies to the next task. */
  int (*set_option)(sss_instance *instance, const char *key, const char *value,
                    char *err);

  /* Publishes state through host->save_object under the hex of its block
   * id. Synchronous, on the calling thread; returns the host's status
   * (SSS_ERR_HOST with its sentence when it failed). */
  int (*save_state_for_sharing)(sss_instance *instance, const sss_state *state,
                                char *err);

  /* Starts loading the n entries in the background and returns at once with
   * SSS_OK; the result arrives through output->on_result exactly once.
   * SSS_ALREADY_LOADING when a task runs (nothing started, no result).
   * Invalid input (n = 0, a thread twice, NULL output or on_result) is an
   * error and starts nothing. `repository` is passed to apply_snapshot. */
  int (*add_load_state_task)(sss_instance *instance,
                             const sss_load_entry *entries, size_t n,
                             void *repository, const sss_task_output *output,
                             char *err);

  /* Cancels the running task. On return no transfer of it is in flight, its
   * staged files are gone and no repository call for it will start (one
   * already running is waited for); its CANCELLED result has been delivered
   * or is being delivered on the loader thread. SSS_IDLE when none ran. */
  int (*reset_sync)(sss_instance *instance);

  /* Fills stats (see sss_stats). Never blocks on the network. */
  int (*get_stats)(sss_instance *instance, struct sss_stats *stats);

  /* Static English name of a status code; never NULL. */
  const char *(*strerror)(int status);

  /* Appended in 1.1. Copies the index-th source banned by the current (or
   * last) task and the sentence saying why into the caller's buffers
   * (truncated, always NUL-terminated). Returns SSS_OK, or SSS_ERR_NOT_FOUND
   * when index is past the end: iterate from 0 until then. The list only
   * grows while a task runs and is cleared when the next task starts. Never
   * blocks on the network; callable from any thread, callbacks included. */
  int (*get_banned)(sss_instance *instance, size_t index, char *url,
                    size_t url_len, char *reason, size_t reason_len);
} sss_plugin;

/*
 * The one exported symbol. Returns the vtable for abi_major, or NULL when the
 * backend does not speak it. sss_plugin_entry(0) returns the newest vtable
 * the backend has, so that a host can report both versions on a mismatch.
 */
#define SSS_PLUGIN_ENTRY_SYMBOL "sss_plugin_entry"
typedef const sss_plugin *(*sss_plugin_entry_fn)(uint32_t abi_major);

#if defined(__GNUC__)
#define SSS_EXPORT __attribute__((visibility("default")))
#else
#define SSS_EXPORT
#endif

SSS_EXPORT const sss_plugin *sss_plugin_entry(uint32_t abi_major);

#ifdef __cplusplus
}
#endif

#endif /* SSS_PLUGIN_H */
