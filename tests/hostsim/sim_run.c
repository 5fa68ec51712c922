#include "sim_run.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "share_dir.h"

extern char **environ;

static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  cr_assert_not_null(f);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = calloc(1, (size_t)n + 1);
  cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
  fclose(f);
  return buf;
}

sim_output sim_run(const char *tmpdir, const char *const *args) {
  char dir[256], outp[300], errp[300];
  snprintf(dir, sizeof dir, "%s/hs-run-XXXXXX",
           getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
  cr_assert_not_null(mkdtemp(dir));
  snprintf(outp, sizeof outp, "%s/out", dir);
  snprintf(errp, sizeof errp, "%s/err", dir);
  const char *argv[48] = {HS_BINARY};
  size_t n = 1;
  for (; args[n - 1]; n++) {
    cr_assert_lt(n, 47, "too many arguments for sim_run");
    argv[n] = args[n - 1];
  }
  argv[n] = NULL;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, outp, O_WRONLY | O_CREAT, 0600);
  posix_spawn_file_actions_addopen(&fa, 2, errp, O_WRONLY | O_CREAT, 0600);
  if (tmpdir) setenv("TMPDIR", tmpdir, 1);
  pid_t pid;
  int rc =
      posix_spawn(&pid, HS_BINARY, &fa, NULL, (char *const *)argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  cr_assert_eq(rc, 0, "cannot start %s", HS_BINARY);
  int status = 0;
  cr_assert_eq(waitpid(pid, &status, 0), pid);
  cr_assert(WIFEXITED(status), "the simulator died (status %d)", status);
  sim_output o = {WEXITSTATUS(status), slurp(outp), slurp(errp)};
  hs_remove_tree(dir);
  return o;
}

void sim_output_free(sim_output *o) {
  free(o->out);
  free(o->err);
  o->out = o->err = NULL;
}
