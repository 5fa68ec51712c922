/* status.c: status names and the error-sentence helper. */
#include "status.h"

#include <criterion/criterion.h>
#include <string.h>

static const int KNOWN[] = {
    SSS_OK,
    SSS_ALREADY_LOADING,
    SSS_IDLE,
    SSS_ERR_INVALID_ARGUMENT,
    SSS_ERR_UNKNOWN_OPTION,
    SSS_ERR_BAD_OPTION_VALUE,
    SSS_ERR_MISSING_CALLBACK,
    SSS_ERR_HOST_TABLE,
    SSS_ERR_NO_MEMORY,
    SSS_ERR_SYSTEM,
    SSS_ERR_HOST,
    SSS_ERR_UNSUPPORTED,
    SSS_ERR_IO,
    SSS_ERR_NETWORK,
    SSS_ERR_VERIFY,
    SSS_ERR_CANCELLED,
    SSS_ERR_TIMEOUT,
    SSS_ERR_NOT_FOUND,
    SSS_ERR_TOO_LARGE,
    SSS_ERR_NO_SOURCES,
    SSS_ERR_REJECTED,
};
#define N_KNOWN (sizeof KNOWN / sizeof KNOWN[0])

Test(status, every_code_has_its_own_name) {
  for (size_t i = 0; i < N_KNOWN; i++) {
    const char *s = sss_status_str(KNOWN[i]);
    cr_assert(s && *s, "status %d has no name", KNOWN[i]);
    cr_assert_str_neq(s, "unknown status", "status %d is unnamed", KNOWN[i]);
    for (size_t j = 0; j < i; j++)
      cr_assert_str_neq(s, sss_status_str(KNOWN[j]), "%d and %d share '%s'",
                        KNOWN[i], KNOWN[j], s);
  }
}

Test(status, unknown_codes_are_named_unknown_not_null) {
  const int odd[] = {-19, -1000, 3, 1000, -2147483647 - 1, 2147483647};
  for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++)
    cr_assert_str_eq(sss_status_str(odd[i]), "unknown status");
}

Test(status, fail_formats_the_sentence_and_returns_the_status) {
  char err[SSS_ERROR_SIZE];
  int rc = sss_fail(err, SSS_ERR_IO, "staging_dir: '%s' is not writable; %s",
                    "/ro", "pick another");
  cr_assert_eq(rc, SSS_ERR_IO);
  cr_assert_str_eq(err, "staging_dir: '/ro' is not writable; pick another");
}

Test(status, fail_with_null_buffer_only_returns) {
  cr_assert_eq(sss_fail(NULL, SSS_ERR_HOST, "%s", "x"), SSS_ERR_HOST);
}

Test(status, fail_truncates_to_the_buffer_size) {
  char err[SSS_ERROR_SIZE + 16];
  memset(err, 'z', sizeof err);
  char big[2 * SSS_ERROR_SIZE];
  memset(big, 'a', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  sss_fail(err, SSS_ERR_HOST, "%s", big);
  cr_assert_eq(strlen(err), SSS_ERROR_SIZE - 1);
  cr_assert_eq(err[SSS_ERROR_SIZE], 'z', "wrote past SSS_ERROR_SIZE");
}
