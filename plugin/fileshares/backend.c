/* backend.c: the fileshares backend's vtable and instance functions. Each
 * function validates, touches the mailbox under inst->mu and returns; the
 * work happens on the loader thread (loader.c, task.c). */
#include "blob_host.h"
#include "hex.h"
#include "instance.h"
#include "loader.h"
#include "status.h"
#include "task.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BACKEND_VERSION "0.1.0"

/* Members a host table must have for ABI 1.0: up to and including
 * apply_snapshot (the required callbacks). */
#define HOST_MIN_SIZE                                                          \
  (offsetof(sss_host, apply_snapshot) + sizeof(((sss_host *)0)->apply_snapshot))

static int fs_create(const sss_host *host, sss_instance **out, char *err) {
  if (!out)
    return sss_fail(err, SSS_ERR_INVALID_ARGUMENT,
                    "create: the output pointer is NULL; pass the address of "
                    "an sss_instance pointer");
  *out = NULL;
  if (!host)
    return sss_fail(err, SSS_ERR_HOST_TABLE,
                    "create: the host table is NULL; pass an sss_host with "
                    "struct_size = sizeof(sss_host)");
  if (host->struct_size < HOST_MIN_SIZE)
    return sss_fail(err, SSS_ERR_HOST_TABLE,
                    "create: the host table's struct_size is %zu, smaller than "
                    "the %zu bytes that hold the required callbacks; set "
                    "struct_size = sizeof(sss_host)",
                    host->struct_size, (size_t)HOST_MIN_SIZE);
  const char *missing = !host->gossip_nodes   ? "gossip_nodes"
                        : !host->bk_set        ? "bk_set"
                        : !host->apply_snapshot ? "apply_snapshot"
                                                : NULL;
  if (missing)
    return sss_fail(err, SSS_ERR_MISSING_CALLBACK,
                    "create: the host table has no %s callback; the "
                    "fileshares backend requires gossip_nodes, bk_set and "
                    "apply_snapshot",
                    missing);
  fs_instance *inst = calloc(1, sizeof *inst);
  if (!inst) return sss_fail(err, SSS_ERR_NO_MEMORY, "create: out of memory");
  size_t n = host->struct_size < sizeof inst->host ? host->struct_size
                                                   : sizeof inst->host;
  memcpy(&inst->host, host, n);
  inst->host.struct_size = sizeof inst->host;
  if (sss_options_init(&inst->opt)) {
    free(inst);
    return sss_fail(err, SSS_ERR_NO_MEMORY, "create: out of memory");
  }
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&inst->wake, &ca);
  pthread_condattr_destroy(&ca);
  pthread_cond_init(&inst->settled, NULL);
  pthread_mutex_init(&inst->mu, NULL);
  inst->stats.struct_size = sizeof inst->stats;
  inst->stats.last_status = -1;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  inst->rng = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^
              (uint64_t)(uintptr_t)inst;
  if (!inst->rng) inst->rng = 0x9e3779b97f4a7c15ULL;
  *out = (sss_instance *)inst;
  return SSS_OK;
}

static void fs_destroy(sss_instance *instance) {
  fs_instance *inst = (fs_instance *)instance;
  if (!inst) return;
  pthread_mutex_lock(&inst->mu);
  inst->shutdown = 1;
  if (inst->busy) inst->cancel_id = inst->busy_id;
  fs_loader_wake(inst);
  int started = inst->loader_started;
  pthread_mutex_unlock(&inst->mu);
  if (started) pthread_join(inst->loader, NULL);
  /* Completions the loader did not take (it exits when idle). */
  while (inst->done_head) {
    fs_req *next = inst->done_head->next_done;
    fs_req_drop_completion(inst->done_head);
    inst->done_head = next;
  }
  fs_banned_clear(inst);
  if (inst->multi) curl_multi_cleanup(inst->multi);
  sss_options_release(&inst->opt);
  pthread_cond_destroy(&inst->wake);
  pthread_cond_destroy(&inst->settled);
  pthread_mutex_destroy(&inst->mu);
  free(inst);
}

static int fs_set_option(sss_instance *instance, const char *key,
                         const char *value, char *err) {
  fs_instance *inst = (fs_instance *)instance;
  if (!inst)
    return sss_fail(err, SSS_ERR_INVALID_ARGUMENT, "set_option: instance is NULL");
  pthread_mutex_lock(&inst->mu);
  int rc = sss_options_set(&inst->opt, key, value, err);
  pthread_mutex_unlock(&inst->mu);
  return rc;
}

static int fs_save(sss_instance *instance, const sss_state *state, char *err) {
  fs_instance *inst = (fs_instance *)instance;
  if (!inst || !state || state->struct_size < sizeof(sss_state))
    return sss_fail(err, SSS_ERR_INVALID_ARGUMENT,
                    "save_state_for_sharing: %s; pass an sss_state with "
                    "struct_size = sizeof(sss_state)",
                    !inst ? "instance is NULL"
                    : !state ? "state is NULL"
                             : "state->struct_size is too small");
  if (!inst->host.save_object)
    return sss_fail(err, SSS_ERR_UNSUPPORTED,
                    "save_state_for_sharing: the host table has no save_object "
                    "callback; supply one to publish states");
  char resource[SSS_BLOCK_ID_HEX_LEN + 1];
  sss_hex_encode(state->block_id.bytes, SSS_BLOCK_ID_LEN, resource);
  char herr[SSS_ERROR_SIZE] = "";
  if (inst->host.save_object(inst->host.ctx, state, resource, herr) != 0)
    return sss_fail(err, SSS_ERR_HOST, "save_object for %s failed: %s", resource,
                    herr[0] ? herr : "the host gave no reason");
  fs_log(inst, SSS_LOG_DEBUG, "saved state %s for sharing", resource);
  return SSS_OK;
}

static int fs_add_task(sss_instance *instance, const sss_load_entry *entries,
                       size_t n, void *repository, const sss_task_output *output,
                       char *err) {
  fs_instance *inst = (fs_instance *)instance;
  if (!inst)
    return sss_fail(err, SSS_ERR_INVALID_ARGUMENT,
                    "add_load_state_task: instance is NULL");
  fs_task *t = NULL;
  int rc = fs_task_new(entries, n, repository, output, &t, err);
  if (rc) return rc;
  pthread_mutex_lock(&inst->mu);
  if (inst->shutdown) {
    rc = sss_fail(err, SSS_ERR_CANCELLED,
                  "add_load_state_task: the instance is being destroyed");
  } else if (inst->busy) {
    rc = SSS_ALREADY_LOADING;
    fs_log(inst, SSS_LOG_INFO, "skip: state is already downloading (task %llu)",
           (unsigned long long)inst->busy_id);
  } else if (sss_options_copy(&t->opt, &inst->opt)) {
    rc = sss_fail(err, SSS_ERR_NO_MEMORY, "add_load_state_task: out of memory");
  } else if (fs_loader_ensure(inst) != 0) {
    rc = sss_fail(err, SSS_ERR_SYSTEM,
                  "add_load_state_task: cannot start the loader thread");
  } else {
    t->id = ++inst->next_task_id;
    inst->busy = 1;
    inst->busy_id = t->id;
    inst->pending = t;
    inst->started_ms = fs_now_ms();
    sss_stats *s = &inst->stats;
    *s = (sss_stats){.struct_size = sizeof *s,
                     .task_id = t->id,
                     .running = 1,
                     .last_status = s->last_status,
                     .entries_total = (uint32_t)n};
    fs_banned_clear(inst);
    for (size_t i = 0; i < t->n; i++)
      if (t->entries[i].in.flags & SSS_ENTRY_HAS_SIZE)
        s->bytes_expected += t->entries[i].in.size;
    fs_loader_wake(inst);
    t = NULL;
  }
  pthread_mutex_unlock(&inst->mu);
  fs_task_free(t); /* not handed over */
  return rc;
}

static int fs_reset(sss_instance *instance) {
  fs_instance *inst = (fs_instance *)instance;
  if (!inst) return SSS_ERR_INVALID_ARGUMENT;
  pthread_mutex_lock(&inst->mu);
  if (!inst->busy) {
    pthread_mutex_unlock(&inst->mu);
    return SSS_IDLE;
  }
  uint64_t id = inst->busy_id;
  inst->cancel_id = id;
  fs_loader_wake(inst);
  /* From a callback on the loader itself the cancel happens as soon as the
   * callback returns; waiting here would wait for ourselves. */
  if (!fs_loader_is_self(inst))
    while (inst->delivered_id < id) pthread_cond_wait(&inst->settled, &inst->mu);
  pthread_mutex_unlock(&inst->mu);
  return SSS_OK;
}

static int fs_get_stats(sss_instance *instance, sss_stats *stats) {
  fs_instance *inst = (fs_instance *)instance;
  if (!inst || !stats || stats->struct_size < sizeof(size_t))
    return SSS_ERR_INVALID_ARGUMENT;
  pthread_mutex_lock(&inst->mu);
  sss_stats s = inst->stats;
  if (s.running) s.elapsed_ms = fs_now_ms() - inst->started_ms;
  pthread_mutex_unlock(&inst->mu);
  size_t n = stats->struct_size < sizeof s ? stats->struct_size : sizeof s;
  s.struct_size = n;
  memcpy(stats, &s, n);
  return SSS_OK;
}

static void copy_out(char *dst, size_t len, const char *src) {
  if (dst && len) snprintf(dst, len, "%s", src);
}

static int fs_get_banned(sss_instance *instance, size_t index, char *url,
                         size_t url_len, char *reason, size_t reason_len) {
  fs_instance *inst = (fs_instance *)instance;
  if (!inst) return SSS_ERR_INVALID_ARGUMENT;
  pthread_mutex_lock(&inst->mu);
  int found = index < inst->n_banned;
  copy_out(url, url_len, found ? inst->banned_urls[index] : "");
  copy_out(reason, reason_len, found ? inst->banned_reasons[index] : "");
  pthread_mutex_unlock(&inst->mu);
  return found ? SSS_OK : SSS_ERR_NOT_FOUND;
}

static const sss_plugin PLUGIN_V1 = {
    .struct_size = sizeof(sss_plugin),
    .abi_major = SSS_ABI_MAJOR,
    .abi_minor = SSS_ABI_MINOR,
    .backend_name = "fileshares",
    .backend_version = BACKEND_VERSION,
    .create = fs_create,
    .destroy = fs_destroy,
    .set_option = fs_set_option,
    .save_state_for_sharing = fs_save,
    .add_load_state_task = fs_add_task,
    .reset_sync = fs_reset,
    .get_stats = fs_get_stats,
    .strerror = sss_status_str,
    .get_banned = fs_get_banned,
};

SSS_EXPORT const sss_plugin *sss_plugin_entry(uint32_t abi_major) {
  if (abi_major == SSS_ABI_MAJOR || abi_major == 0) return &PLUGIN_V1;
  return NULL;
}
