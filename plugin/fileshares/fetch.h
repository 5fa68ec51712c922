/* fetch.h: the built-in HTTP transport, used when the host supplies no
 * load_blob. Everything runs on the loader thread through the instance's one
 * libcurl multi handle (inst->multi): all transfers of all entries at once,
 * connections reused across requests.
 *
 * Per entry, a download (fs_dl) fills the entry's staged file from the
 * cycle's sources: it learns the size, then fetches chunks (segments.h) with
 * HTTP Range requests from up to parallel_sources sources at once, one
 * connection per source. A source that fails, stalls, cuts a body short,
 * answers with the wrong size or is slower than min_source_speed_bps is
 * dropped for the cycle and its chunk is resumed from the byte reached by
 * another source. When every chunk is claimed, an idle fast source also
 * fetches the tail of the slowest chunk and the first to finish wins. A
 * source that ignores Range is used as one whole stream only when no source
 * that honours ranges is left.
 *
 * Bytes are hashed (SHA-256) as the in-order prefix grows. On a digest
 * mismatch with one contributor, that source is banned; with several, the
 * download starts over one source at a time while comparing with the suspect
 * copy, so the sources whose bytes differ from a verified copy are banned.
 *
 * The download reports back through the task (task.h): fs_task_fetched,
 * fs_task_cycle_exhausted, fs_task_fetch_failed, fs_task_ban. */
#ifndef FS_FETCH_H
#define FS_FETCH_H

#include "instance.h"

/* While transfers run, the loader also wakes this often (besides socket
 * events) to check stalls, speeds and the end-game. */
#define FS_FETCH_TICK_MS 100

/* Initialises libcurl once per process. Returns 0 or -1. */
int fs_fetch_global_init(void);

/* Starts a cycle of entry idx's download over e->srcs (banned ones are
 * skipped). Creates the download on the first cycle; later cycles resume
 * from the bytes already staged. */
void fs_fetch_cycle(fs_instance *inst, fs_task *t, size_t idx);

/* Lets libcurl move every transfer (curl_multi_perform) and hands finished
 * transfers to their downloads. */
void fs_fetch_perform(fs_instance *inst, fs_task *t);

/* Schedules entry idx's download: drops stalled and slow sources, starts
 * requests, starts end-game duplicates, and reports the outcome to the task
 * when the cycle ends. */
void fs_fetch_step(fs_instance *inst, fs_task *t, size_t idx);

/* Stops every transfer of e's download and closes its suspect copy; the
 * per-source byte counts stay for the result. Safe when there is none. */
void fs_fetch_stop(fs_instance *inst, fs_entry *e);

/* Frees e's download (after fs_fetch_stop). */
void fs_fetch_free(fs_entry *e);

/* The per-source byte counts for the result: fills *urls and *bytes (owned
 * by the download) and returns their count (0 when there is none). */
size_t fs_fetch_sources(const fs_entry *e, const char *const **urls,
                        const uint64_t **bytes);

/* True while e's download has transfers in flight. */
int fs_fetch_busy(const fs_entry *e);

#endif
