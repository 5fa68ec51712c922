#include "loader.h"

#include "blob_host.h"
#include "fetch.h"
#include "task.h"

#include <curl/curl.h>
#include <errno.h>
#include <limits.h>
#include <time.h>

static struct timespec abs_time(uint64_t ms) {
  /* inst->wake uses CLOCK_MONOTONIC, the clock of fs_now_ms. */
  return (struct timespec){.tv_sec = (time_t)(ms / 1000),
                           .tv_nsec = (long)(ms % 1000) * 1000000};
}

/* Is there something for the loader to do right now? Called with mu held. */
static int has_event(const fs_instance *inst, const fs_task *task) {
  if (inst->done_head || inst->progress_due) return 1;
  if (!task) return inst->pending != NULL || inst->shutdown;
  return inst->cancel_id == task->id || inst->shutdown;
}

static void report_progress(fs_instance *inst) {
  if (!inst->host.progress) return;
  pthread_mutex_lock(&inst->mu);
  sss_stats s = inst->stats;
  pthread_mutex_unlock(&inst->mu);
  inst->host.progress(inst->host.ctx, &s);
}

static void *loader_main(void *arg) {
  fs_instance *inst = arg;
  fs_task *task = NULL;
  pthread_mutex_lock(&inst->mu);
  for (;;) {
    while (!has_event(inst, task)) {
      uint64_t timer = task ? fs_task_next_timer(task) : 0;
      uint64_t now = fs_now_ms();
      if (timer && now >= timer) break;
      if (inst->multi) {
        /* The built-in transport: sleep in libcurl until a socket is ready,
         * curl's own timer or ours is due, or curl_multi_wakeup is called
         * (fs_loader_wake). A wake-up that came before this call is not
         * lost: it stays pending in libcurl's wake-up pipe. */
        int ms = INT_MAX;
        if (timer && timer - now < (uint64_t)INT_MAX) ms = (int)(timer - now);
        pthread_mutex_unlock(&inst->mu);
        curl_multi_poll(inst->multi, NULL, 0, ms, NULL);
        pthread_mutex_lock(&inst->mu);
        if (task) break; /* let curl move the transfers */
        continue;
      }
      if (!timer) {
        pthread_cond_wait(&inst->wake, &inst->mu);
        continue;
      }
      struct timespec until = abs_time(timer);
      pthread_cond_timedwait(&inst->wake, &inst->mu, &until);
    }
    if (inst->shutdown && !task && !inst->pending) break;
    fs_task *fresh = NULL;
    if (!task && inst->pending) {
      fresh = task = inst->pending;
      inst->pending = NULL;
    }
    fs_req *done = inst->done_head;
    inst->done_head = inst->done_tail = NULL;
    int cancel = task && (inst->cancel_id == task->id || inst->shutdown);
    int shutdown = inst->shutdown;
    int progress = inst->progress_due;
    inst->progress_due = 0;
    pthread_mutex_unlock(&inst->mu);

    if (fresh) fs_task_start(inst, task);
    while (done) {
      fs_req *next = done->next_done;
      if (done->abandoned || !task || done->task_id != task->id)
        fs_req_drop_completion(done);
      else
        fs_task_complete(inst, task, done);
      done = next;
    }
    if (task && inst->multi && !cancel) fs_fetch_perform(inst, task);
    if (task) {
      if (cancel) fs_task_cancel(inst, task, shutdown ? "destroy" : "reset_sync");
      else fs_task_step(inst, task);
      if (progress || fs_task_finished(task)) report_progress(inst);
      if (fs_task_finished(task)) {
        fs_task_deliver(inst, task);
        fs_task_free(task);
        task = NULL;
      }
    }
    pthread_mutex_lock(&inst->mu);
  }
  pthread_mutex_unlock(&inst->mu);
  return NULL;
}

int fs_loader_ensure(fs_instance *inst) {
  if (inst->loader_started) return 0;
  if (!inst->host.load_blob && !inst->multi) {
    if (fs_fetch_global_init() != 0) return ENOMEM;
    inst->multi = curl_multi_init();
    if (!inst->multi) return ENOMEM;
  }
  int rc = pthread_create(&inst->loader, NULL, loader_main, inst);
  if (rc == 0) {
    inst->loader_started = 1;
    pthread_setname_np(inst->loader, "sss-loader"); /* for ps, top, tests */
  }
  return rc;
}

void fs_loader_wake(fs_instance *inst) {
  if (inst->multi) curl_multi_wakeup(inst->multi);
  else pthread_cond_signal(&inst->wake);
}

int fs_loader_is_self(fs_instance *inst) {
  return inst->loader_started && pthread_equal(pthread_self(), inst->loader);
}
