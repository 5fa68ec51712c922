/* loader.h: the instance's one background thread. It sleeps on a condition
 * variable until an event arrives (a new task, a cancel, a completion, a
 * progress tick) or a timer of the running task is due; idle, it never
 * wakes. */
#ifndef FS_LOADER_H
#define FS_LOADER_H

#include "instance.h"

/* Starts the loader thread if it is not running. Call with inst->mu held.
 * Returns 0, or an errno value from pthread_create. */
int fs_loader_ensure(fs_instance *inst);

/* Wakes the loader. Call with inst->mu held. */
void fs_loader_wake(fs_instance *inst);

/* True when the calling thread is inst's loader (inside a host callback). */
int fs_loader_is_self(fs_instance *inst);

#endif
