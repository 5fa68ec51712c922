#include "blob_host.h"

#include "status.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROGRESS_INTERVAL_MS 200

void fs_req_unref(fs_req *req) {
  pthread_mutex_lock(&req->mu);
  int last = --req->refs == 0;
  pthread_mutex_unlock(&req->mu);
  if (!last) return;
  fs_verify_release(&req->verify);
  pthread_mutex_destroy(&req->mu);
  free(req->message);
  free(req->url);
  free(req);
}

void fs_req_drop_completion(fs_req *req) {
  int abandoned = req->abandoned; /* written by the loader only */
  fs_req_unref(req);
  if (!abandoned) fs_req_unref(req);
}

/* sink->write: runs on a host thread. */
static int sink_write(void *ctx, const void *data, size_t len) {
  fs_req *req = ctx;
  pthread_mutex_lock(&req->mu);
  if (req->abandoned || req->local_error) {
    pthread_mutex_unlock(&req->mu);
    return 1;
  }
  if (len > req->limit - req->verify.bytes) {
    req->local_error = SSS_ERR_TOO_LARGE;
    snprintf(req->local_msg, sizeof req->local_msg,
             "sent more than %" PRIu64 " bytes", req->limit);
    pthread_mutex_unlock(&req->mu);
    return 1;
  }
  if (fs_stage_write(req->fd, data, len, req->verify.bytes) != 0) {
    req->local_error = SSS_ERR_IO;
    snprintf(req->local_msg, sizeof req->local_msg,
             "cannot write the staged file: %s", strerror(errno));
    pthread_mutex_unlock(&req->mu);
    return 1;
  }
  if (fs_verify_update(&req->verify, data, len) != 0) {
    req->local_error = SSS_ERR_VERIFY;
    snprintf(req->local_msg, sizeof req->local_msg,
             "SHA-256 could not be computed");
  }
  fs_instance *inst = req->inst;
  pthread_mutex_lock(&inst->mu);
  inst->stats.bytes_fetched += len;
  uint64_t now = fs_now_ms();
  if (inst->host.progress && now - inst->last_progress_ms >= PROGRESS_INTERVAL_MS) {
    inst->last_progress_ms = now;
    inst->progress_due = 1;
    pthread_cond_signal(&inst->wake);
  }
  pthread_mutex_unlock(&inst->mu);
  int stop = req->local_error != 0;
  pthread_mutex_unlock(&req->mu);
  return stop;
}

/* sink->finish: runs on a host thread (or inside load_blob / cancel_blob).
 * An abandoned request never touches the instance, which may be gone. */
static void sink_finish(void *ctx, int status, int http_status,
                        const char *message) {
  fs_req *req = ctx;
  pthread_mutex_lock(&req->mu);
  req->status = status;
  req->http_status = http_status;
  req->finished = 1;
  req->message = message ? strdup(message) : NULL;
  if (!req->abandoned) {
    /* req->mu is held across the enqueue so that abandon (which takes it)
     * cannot slip between the check and the instance access. */
    fs_instance *inst = req->inst;
    req->refs++; /* the completion queue's reference */
    pthread_mutex_lock(&inst->mu);
    req->next_done = NULL;
    if (inst->done_tail) inst->done_tail->next_done = req;
    else inst->done_head = req;
    inst->done_tail = req;
    pthread_cond_signal(&inst->wake);
    pthread_mutex_unlock(&inst->mu);
  }
  pthread_mutex_unlock(&req->mu);
  fs_req_unref(req); /* the host's reference */
}

int fs_blob_start(fs_instance *inst, fs_task *t, size_t idx, const char *url,
                  char *why) {
  fs_entry *e = &t->entries[idx];
  fs_req *req = calloc(1, sizeof *req);
  if (!req) return sss_fail(why, SSS_ERR_NO_MEMORY, "out of memory");
  req->url = strdup(url);
  if (!req->url || fs_verify_begin(&req->verify, &e->in) != 0) {
    free(req->url);
    free(req);
    return sss_fail(why, SSS_ERR_NO_MEMORY, "out of memory");
  }
  pthread_mutex_init(&req->mu, NULL);
  req->refs = 2;
  req->inst = inst;
  req->fd = e->stage.fd;
  req->task_id = t->id;
  req->entry_index = idx;
  if (e->in.flags & SSS_ENTRY_HAS_SIZE) req->limit = e->in.size;
  else req->limit = t->opt.max_snapshot_bytes ? t->opt.max_snapshot_bytes : UINT64_MAX;
  req->sink = (sss_blob_sink){.struct_size = sizeof(sss_blob_sink),
                              .sink_ctx = req,
                              .write = sink_write,
                              .finish = sink_finish};
  sss_blob_request breq = {.struct_size = sizeof breq,
                           .url = url,
                           .max_bytes = req->limit == UINT64_MAX ? 0 : req->limit,
                           .connect_timeout_ms = (uint32_t)t->opt.connect_timeout_ms};
  pthread_mutex_lock(&inst->mu);
  inst->stats.sources_tried++;
  pthread_mutex_unlock(&inst->mu);
  e->req = req;
  char herr[SSS_ERROR_SIZE] = "";
  if (inst->host.load_blob(inst->host.ctx, &breq, &req->sink, herr) == 0)
    return SSS_OK;
  e->req = NULL;
  req->refs = 1;
  fs_req_unref(req);
  return sss_fail(why, SSS_ERR_HOST, "the host's load_blob refused %s: %s", url,
                  herr[0] ? herr : "no reason given");
}

void fs_blob_abandon(fs_instance *inst, fs_req *req) {
  pthread_mutex_lock(&req->mu);
  req->abandoned = 1;
  req->fd = -1;
  /* Once finish ran, the host has let go of the sink: nothing to cancel. */
  int finished = req->finished;
  pthread_mutex_unlock(&req->mu);
  if (!finished && inst->host.cancel_blob)
    inst->host.cancel_blob(inst->host.ctx, &req->sink);
  fs_req_unref(req);
}

