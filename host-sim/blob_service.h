/* blob_service.h: the simulator's host blob service (sss_host.load_blob and
 * cancel_blob), used with --host-blob-service instead of the real HTTP
 * peers. It maps a URL to a file: the host:port picks the simulated node,
 * the URL's path is the file's path under that node's share directory. Bodies are delivered from worker
 * threads in chunks; each node's fault switch (cluster.h) shapes the answer.
 * finish is called exactly once for every accepted request, never from
 * inside load_blob. */
#ifndef HS_BLOB_SERVICE_H
#define HS_BLOB_SERVICE_H

#include <stddef.h>

#include "cluster.h"
#include "sss_plugin.h"

typedef struct hs_blob_service hs_blob_service;

/* Starts n_workers threads delivering `chunk` bytes per sink->write. Returns
 * 0, or -1 with a sentence in err (HS_ERR_SIZE bytes). */
int hs_blob_service_start(hs_blob_service **out, hs_cluster *cluster,
                          unsigned n_workers, size_t chunk, char *err);

/* Cancels what is queued or running (each still gets its one finish, with
 * SSS_ERR_CANCELLED), joins the workers and frees the service. NULL is a
 * no-op. */
void hs_blob_service_stop(hs_blob_service *s);

/* sss_host.load_blob: queues the request and returns 0, or returns a
 * negative status with a sentence in err (SSS_ERROR_SIZE bytes) when the
 * URL or the structs are unusable or the service is stopping. */
int hs_blob_load(hs_blob_service *s, const sss_blob_request *req,
                 const sss_blob_sink *sink, char *err);

/* sss_host.cancel_blob: aborts the request delivering into the sink with
 * the same sink_ctx; its finish (SSS_ERR_CANCELLED) follows promptly from a
 * worker. Unknown sinks are ignored (the request may have just finished). */
void hs_blob_cancel(hs_blob_service *s, const sss_blob_sink *sink);

#endif
