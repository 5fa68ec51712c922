/* blob_host.h: fetching through the host's blob service (sss_host.load_blob).
 * A request delivers into the entry's staged file and is verified as its
 * bytes arrive; its completion is queued for the loader thread. */
#ifndef FS_BLOB_HOST_H
#define FS_BLOB_HOST_H

#include "instance.h"

/* Starts fetching url for entry idx of task t into the entry's (open) staged
 * file. Returns SSS_OK with e->req set, or a negative status with a sentence
 * in why when the host refused the request. Loader thread only. */
int fs_blob_start(fs_instance *inst, fs_task *t, size_t idx, const char *url,
                  char *why);

/* Makes the loader stop caring about req: the host's further writes are
 * refused and never touch the staged file, its completion is released unread
 * (whenever it comes; the instance may be gone by then), and the host is asked
 * to cancel it. Drops the loader's reference. Loader only. */
void fs_blob_abandon(fs_instance *inst, fs_req *req);

/* Drops one reference; the last one frees req. */
void fs_req_unref(fs_req *req);

/* Drops a queued completion that will not be handled: the queue's reference,
 * and the loader's too unless the request was abandoned (which dropped it). */
void fs_req_drop_completion(fs_req *req);

#endif
