/* instance.h: the state of one fileshares instance and of its running task.
 *
 * Ownership and locking, in one place:
 *  - inst->mu guards the "mailbox" between API threads, host threads and the
 *    loader: pending task, cancel/shutdown requests, the completion queue,
 *    options and stats.
 *  - The running task (fs_task and its entries) belongs to the loader thread
 *    alone; nothing else reads it.
 *  - A blob request (fs_req) is shared by the loader and the host's blob
 *    service; req->mu guards it. Lock order: req->mu before inst->mu.
 */
#ifndef FS_INSTANCE_H
#define FS_INSTANCE_H

#include "options.h"
#include "sss_plugin.h"
#include "staging.h"
#include "verify.h"

#include <pthread.h>
#include <stdint.h>

typedef struct fs_instance fs_instance;
typedef struct fs_dl fs_dl; /* fetch.c */

/* One request to the host's blob service, delivering into a staged file. */
typedef struct fs_req {
  pthread_mutex_t mu;
  int refs;      /* 2 at start: the loader's and the host's (dropped by finish) */
  int abandoned; /* set by the loader: ignore everything from now on */
  int finished;  /* the host called finish */
  fs_instance *inst; /* touched only while !abandoned, under mu */
  sss_blob_sink sink;
  int fd;          /* the entry's staged file; -1 once abandoned */
  uint64_t limit;  /* most bytes accepted */
  fs_verify verify; /* size and digest, fed as bytes arrive */
  int local_error;  /* SSS_ERR_IO or SSS_ERR_TOO_LARGE, set by write */
  char local_msg[SSS_ERROR_SIZE];
  /* Set by finish. */
  int status, http_status;
  char *message;
  /* Which entry it serves; read by the loader only. */
  uint64_t task_id;
  size_t entry_index;
  char *url;
  struct fs_req *next_done;
} fs_req;

enum fs_entry_state {
  FS_ENTRY_READY,    /* wants its next source (or a new cycle) */
  FS_ENTRY_FETCHING, /* a request is outstanding */
  FS_ENTRY_WAITING,  /* between cycles, until retry_at_ms */
  FS_ENTRY_DONE,     /* installed */
  FS_ENTRY_FAILED
};

typedef struct fs_entry {
  sss_load_entry in; /* normalised copy of the host's entry */
  char resource[SSS_BLOCK_ID_HEX_LEN + 1];
  enum fs_entry_state state;
  uint32_t cycle;        /* cycles started */
  char **srcs;           /* this cycle's sources, owned */
  size_t n_srcs, next_src;
  fs_req *req;           /* outstanding host request, or NULL */
  fs_dl *dl;             /* built-in transport's download, or NULL */
  fs_stage stage;
  uint64_t retry_at_ms;
  uint32_t tried;        /* requests over all cycles */
  char last_error[SSS_ERROR_SIZE];
  int last_status;       /* status that last_error stands for; 0 = not found */
  char *installed_from;  /* owned URL when installed */
  int status;            /* final sss_status */
  char message[SSS_ERROR_SIZE]; /* final sentence when failed */
} fs_entry;

typedef struct fs_task {
  uint64_t id;
  fs_entry *entries;
  size_t n;
  void *repository;
  sss_task_output output;
  sss_options opt; /* snapshot of the instance's options at acceptance */
  uint64_t started_ms, deadline_ms;
  int cancelled;
  char **banned_urls, **banned_reasons; /* owned */
  size_t n_banned;
  char **vouched_urls; /* owned: wrote bytes of a verified snapshot */
  size_t n_vouched;
} fs_task;

struct fs_instance {
  sss_host host; /* the host's table, zero-extended to our size */
  pthread_mutex_t mu;
  pthread_cond_t wake;    /* the loader waits here for events */
  pthread_cond_t settled; /* reset_sync waits here for the result */
  sss_options opt;
  pthread_t loader;
  int loader_started;
  /* Mailbox, under mu. */
  fs_task *pending;
  int busy;          /* a task is accepted and its result not yet sent */
  uint64_t busy_id;
  uint64_t cancel_id; /* cancel the task with this id */
  int shutdown;
  uint64_t next_task_id;
  uint64_t delivered_id; /* last task whose on_result returned */
  fs_req *done_head, *done_tail;
  int progress_due;
  uint64_t last_progress_ms;
  sss_stats stats;
  /* Copies of the running (or last) task's banned sources, for get_banned;
   * cleared when a task is accepted. */
  char **banned_urls, **banned_reasons;
  size_t n_banned;
  uint64_t started_ms; /* when the current task was accepted */
  uint64_t rng; /* loader only */
  void *multi;  /* CURLM of the built-in transport; NULL with load_blob */
};

/* Monotonic milliseconds. */
uint64_t fs_now_ms(void);

/* Sends one formatted line to host->log when the host has one. */
void fs_log(fs_instance *inst, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
