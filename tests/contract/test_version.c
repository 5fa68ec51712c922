/* Version negotiation, the vtable's shape, strerror and the export list. */
#include "harness.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

Test(version, major_1_gives_a_complete_v1_vtable) {
  const sss_plugin *p = th_entry()(1);
  cr_assert_not_null(p);
  cr_assert_eq(p->abi_major, 1);
  cr_assert_geq(p->struct_size, sizeof(sss_plugin));
  cr_assert(p->backend_name && *p->backend_name);
  cr_assert_not_null(p->backend_version);
  cr_assert(p->create && p->destroy && p->set_option &&
            p->save_state_for_sharing && p->add_load_state_task &&
            p->reset_sync && p->get_stats && p->strerror);
}

Test(version, other_majors_give_null) {
  cr_assert_null(th_entry()(2), "entry(2) must be NULL: v2 does not exist");
  cr_assert_null(th_entry()(UINT32_MAX));
}

Test(version, major_0_gives_the_newest_vtable) {
  const sss_plugin *p = th_entry()(0);
  cr_assert_not_null(p, "entry(0) must return the newest vtable");
  cr_assert_eq(p->abi_major, 1);
}

Test(version, strerror_is_never_null) {
  const sss_plugin *p = th_backend();
  for (int s = -100; s <= 100; s++) {
    const char *text = p->strerror(s);
    cr_assert(text && *text, "strerror(%d) is NULL or empty", s);
  }
  cr_assert_str_neq(p->strerror(SSS_OK), p->strerror(SSS_ERR_HOST));
}

Test(version, destroy_null_is_a_no_op) {
  th_backend()->destroy(NULL);
}

Test(exports, only_the_entry_point_is_exported) {
  char cmd[4200];
  snprintf(cmd, sizeof cmd, "nm -D --defined-only '%s'", th_backend_path());
  FILE *f = popen(cmd, "r");
  cr_assert_not_null(f, "popen(%s) failed", cmd);
  char line[1024], names[2048] = "";
  int n = 0, entry = 0;
  while (fgets(line, sizeof line, f)) {
    char addr[64], type[8], name[512];
    if (sscanf(line, "%63s %7s %511s", addr, type, name) != 3) continue;
    n++;
    if (!strcmp(name, SSS_PLUGIN_ENTRY_SYMBOL) && !strcmp(type, "T")) entry++;
    if (strlen(names) + strlen(name) + 2 < sizeof names) {
      strcat(names, " ");
      strcat(names, name);
    }
  }
  int rc = pclose(f);
  cr_assert_eq(rc, 0, "'%s' failed (status %d); is binutils installed?", cmd,
               rc);
  cr_assert_eq(entry, 1, "sss_plugin_entry is not a defined text symbol");
  cr_assert_eq(n, 1, "exported symbols besides the entry point:%s", names);
}
