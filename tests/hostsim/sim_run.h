/* sim_run.h: runs the sss-host-sim binary (HS_BINARY) from a test and
 * captures its exit code, stdout and stderr; cr_asserts that it started and
 * exited normally. Shared by the CLI and scenario suites. */
#ifndef HS_SIM_RUN_H
#define HS_SIM_RUN_H

typedef struct sim_output {
  int exit_code;
  char *out, *err; /* owned, NUL-terminated */
} sim_output;

/* Runs the simulator with args (NULL-terminated, at most 46) and, when
 * tmpdir is not NULL, TMPDIR=tmpdir. */
sim_output sim_run(const char *tmpdir, const char *const *args);

void sim_output_free(sim_output *o);

#endif
