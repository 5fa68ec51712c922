/* A backend that speaks only ABI major 2: the host must refuse it and name
 * both versions. */
#include "sss_plugin.h"

static const sss_plugin v2 = {.struct_size = sizeof(sss_plugin),
                              .abi_major = 2,
                              .abi_minor = 3,
                              .backend_name = "future",
                              .backend_version = "9.9"};

const sss_plugin *sss_plugin_entry(uint32_t abi_major) {
  return abi_major == 0 || abi_major == 2 ? &v2 : NULL;
}
