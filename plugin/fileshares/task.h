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

#endif
