/* plugin_loader.h: finds, dlopens and version-checks a backend .so. */
#ifndef HS_PLUGIN_LOADER_H
#define HS_PLUGIN_LOADER_H

#include <limits.h>
#include <stddef.h>

#include "sss_plugin.h"

typedef struct hs_plugin {
  void *handle;
  const sss_plugin *vt; /* ABI major 1, every function present */
  char path[PATH_MAX];
} hs_plugin;

/* The default backend: ../plugin/libsss_fileshares.so relative to the
 * directory of the running executable (/proc/self/exe). Returns 0, or -1
 * when it cannot be determined. */
int hs_plugin_default_path(char *out, size_t len);

/* dlopens path, resolves sss_plugin_entry and negotiates ABI major 1.
 * Returns 0, or -1 with one sentence in err (HS_ERR_SIZE bytes) naming the
 * file and what is wrong: missing, not a loadable shared object (with
 * dlerror's text), no entry symbol, another major version. Nothing stays
 * loaded on failure. */
int hs_plugin_open(hs_plugin *p, const char *path, char *err);

/* dlcloses the backend. Every instance must be destroyed first. */
void hs_plugin_close(hs_plugin *p);

#endif
