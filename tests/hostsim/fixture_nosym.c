/* A shared object that is no sss backend: it lacks sss_plugin_entry. */
int hostsim_fixture_nothing(void);
int hostsim_fixture_nothing(void) {
  return 42;
}
