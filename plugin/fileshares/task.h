/* task.h: one load task's life on the loader thread: per entry, retry
 * cycles over freshly built sources, fetch, verify, apply; then exactly one
 * result. Everything here runs on the loader thread, except fs_task_new and
 * fs_task_free, which touch no shared state. */
#ifndef FS_TASK_H
#define FS_TASK_H

#include "instance.h"

/* Validates the host's input and builds a task (options copied by the
 * caller). Returns SSS_OK with *out set, or SSS_ERR_INVALID_ARGUMENT /
 * SSS_ERR_NO_MEMORY with a sentence in err. */
int fs_task_new(const sss_load_entry *entries, size_t n, void *repository,
                const sss_task_output *output, fs_task **out, char *err);

void fs_task_free(fs_task *t);

/* Frees the instance's copy of the banned list. Call with inst->mu held (or
 * when no other thread can use inst). */
void fs_banned_clear(fs_instance *inst);

/* Starts the clock and the metrics of a task just taken from the mailbox. */
void fs_task_start(fs_instance *inst, fs_task *t);

/* Moves every entry as far as it can go now: starts requests, starts due
 * cycles, fails entries past the deadline. */
void fs_task_step(fs_instance *inst, fs_task *t);

/* Handles a finished request of this task (verify, apply or try the next
 * source). Consumes the completion's references. */
void fs_task_complete(fs_instance *inst, fs_task *t, fs_req *req);

/* Cancels what is still running: abandons requests (their late completions
 * are released unread), removes staged files, marks entries cancelled. */
void fs_task_cancel(fs_instance *inst, fs_task *t, const char *why);

/* The next time (monotonic ms) the task needs the loader without an event,
 * or 0 when it only waits for events. */
uint64_t fs_task_next_timer(const fs_task *t);

/* True when every entry is installed or failed. */
int fs_task_finished(const fs_task *t);

/* Builds the result and calls output->on_result; exactly once per task. */
void fs_task_deliver(fs_instance *inst, fs_task *t);

/* ---- called by the built-in transport (fetch.c) ------------------------ */

/* Entry idx's staged file holds the verified snapshot of `size` bytes, most
 * of it from `from`: apply it, or fail the entry. */
void fs_task_fetched(fs_instance *inst, fs_task *t, size_t idx,
                     const char *from, uint64_t size);

/* Entry idx used up this cycle's sources (e->last_error says why last):
 * wait for the next cycle or fail. */
void fs_task_cycle_exhausted(fs_instance *inst, fs_task *t, size_t idx);

/* A local failure (disk, memory) ends entry idx; nothing is installed. */
void fs_task_fetch_failed(fs_instance *inst, fs_task *t, size_t idx,
                          int status, const char *why);

/* Bans url for the rest of the task (result, get_banned, stats, log). */
void fs_task_ban(fs_instance *inst, fs_task *t, const char *url,
                 const char *reason);

int fs_task_is_banned(const fs_task *t, const char *url);

/* Records that url's source wrote bytes of a snapshot that verified; when
 * hunting a liar, such sources are asked first. Best effort. */
void fs_task_vouch(fs_task *t, const char *url);

int fs_task_is_vouched(const fs_task *t, const char *url);

/* Reports an error kind to the host's metrics. */
void fs_task_report(fs_instance *inst, int kind);

#endif
