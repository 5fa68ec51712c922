#include "plugin_loader.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "share_dir.h"

int hs_plugin_default_path(char *out, size_t len) {
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) return -1;
  exe[n] = '\0';
  char *slash = strrchr(exe, '/');
  if (!slash) return -1;
  *slash = '\0';
  return snprintf(out, len, "%s/../plugin/libsss_fileshares.so", exe) < (int)len
             ? 0
             : -1;
}

/* Every function a host calls must be present. */
static const char *missing_function(const sss_plugin *vt) {
  if (!vt->create) return "create";
  if (!vt->destroy) return "destroy";
  if (!vt->set_option) return "set_option";
  if (!vt->save_state_for_sharing) return "save_state_for_sharing";
  if (!vt->add_load_state_task) return "add_load_state_task";
  if (!vt->reset_sync) return "reset_sync";
  if (!vt->get_stats) return "get_stats";
  if (!vt->strerror) return "strerror";
  return NULL;
}

int hs_plugin_open(hs_plugin *p, const char *path, char *err) {
  memset(p, 0, sizeof *p);
  /* A name without a slash would make dlopen search the library path;
   * the user means a file. */
  int n = snprintf(p->path, sizeof p->path, "%s%s",
                   strchr(path, '/') ? "" : "./", path);
  if (n >= (int)sizeof p->path) {
    snprintf(err, HS_ERR_SIZE,
             "plugin path '%s' is too long: pass a shorter "
             "--plugin PATH",
             path);
    return -1;
  }
  struct stat st;
  if (stat(p->path, &st) != 0) {
    snprintf(err, HS_ERR_SIZE,
             "plugin '%s' cannot be read (%s): build it with cmake --build "
             "build or pass --plugin the path of a backend .so such as "
             "build/plugin/libsss_stub.so",
             path, strerror(errno));
    return -1;
  }
  dlerror();
  p->handle = dlopen(p->path, RTLD_NOW | RTLD_LOCAL);
  if (!p->handle) {
    const char *why = dlerror();
    snprintf(err, HS_ERR_SIZE,
             "plugin '%s' is not a loadable shared object (%s): pass --plugin "
             "a backend .so built for this machine",
             path, why ? why : "dlopen failed");
    return -1;
  }
  dlerror();
  sss_plugin_entry_fn entry;
  /* POSIX: the object pointer dlsym returns converts to a function pointer. */
  *(void **)&entry = dlsym(p->handle, SSS_PLUGIN_ENTRY_SYMBOL);
  if (!entry) {
    snprintf(err, HS_ERR_SIZE,
             "plugin '%s' does not export %s, so it is no sss backend: pass "
             "--plugin a backend built against abi/sss_plugin.h",
             path, SSS_PLUGIN_ENTRY_SYMBOL);
    goto fail;
  }
  const sss_plugin *vt = entry(SSS_ABI_MAJOR);
  if (!vt || vt->abi_major != SSS_ABI_MAJOR) {
    const sss_plugin *newest = vt ? vt : entry(0);
    if (newest)
      snprintf(err, HS_ERR_SIZE,
               "plugin '%s' speaks ABI %u.%u but this host speaks ABI %d.%d: "
               "use a backend built for ABI major %d or a host built for "
               "major %u",
               path, newest->abi_major, newest->abi_minor, SSS_ABI_MAJOR,
               SSS_ABI_MINOR, SSS_ABI_MAJOR, newest->abi_major);
    else
      snprintf(err, HS_ERR_SIZE,
               "plugin '%s' speaks neither ABI major %d nor reports its own "
               "version: use a backend built for ABI major %d",
               path, SSS_ABI_MAJOR, SSS_ABI_MAJOR);
    goto fail;
  }
  const char *missing =
      vt->struct_size < offsetof(sss_plugin, strerror) + sizeof vt->strerror
          ? "strerror (the vtable is too short)"
          : missing_function(vt);
  if (missing) {
    snprintf(err, HS_ERR_SIZE,
             "plugin '%s' has an ABI %d vtable without %s: rebuild the "
             "backend against abi/sss_plugin.h",
             path, SSS_ABI_MAJOR, missing);
    goto fail;
  }
  p->vt = vt;
  return 0;
fail:
  dlclose(p->handle);
  p->handle = NULL;
  return -1;
}

void hs_plugin_close(hs_plugin *p) {
  if (p->handle) dlclose(p->handle);
  p->handle = NULL;
  p->vt = NULL;
}
