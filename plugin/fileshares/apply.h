/* apply.h: hands a verified staged file to the host's repository through a
 * pull reader. Only called after fs_verify_end accepted the bytes. */
#ifndef FS_APPLY_H
#define FS_APPLY_H

#include "instance.h"

/* Calls host->apply_snapshot for entry e of task t with a reader over the
 * first `size` bytes of e's staged file. Returns SSS_OK when the repository
 * accepted it, SSS_ERR_REJECTED with its sentence in why otherwise, or
 * SSS_ERR_IO when the staged file could not be read. */
int fs_apply(fs_instance *inst, fs_task *t, fs_entry *e, uint64_t size,
             char *why);

#endif
