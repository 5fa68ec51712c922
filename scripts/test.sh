#!/usr/bin/env bash
# test.sh: the README's test command. Sets everything up, then runs the whole
# suite three times: a normal build, AddressSanitizer+UBSan, ThreadSanitizer;
# then the demo under valgrind memcheck. Stops at the first failure.
#   SSS_TEST_QUICK=1 scripts/test.sh   only the normal build
set -euo pipefail
cd "$(dirname "$0")/.."

run_suite() { # run_suite BUILD_DIR LABEL [cmake args...]
  local dir=$1 label=$2
  shift 2
  echo "=== $label: configure and build ($dir)"
  scripts/setup.sh "$dir" "$@"
  echo "=== $label: ctest"
  (cd "$dir" && ctest --output-on-failure -j2 --timeout 300)
}

run_suite build "normal build"
[[ ${SSS_TEST_QUICK:-0} == 1 ]] && exit 0

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
run_suite build-asan "AddressSanitizer+UBSan" -DSSS_SANITIZE=address

# ThreadSanitizer cannot map its shadow memory with the kernel's default
# 32 bits of mmap randomisation on recent kernels; run it without ASLR.
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1"
scripts/setup.sh build-tsan -DSSS_SANITIZE=thread
echo "=== ThreadSanitizer: ctest"
(cd build-tsan && setarch "$(uname -m)" -R ctest --output-on-failure -j2 --timeout 300)

echo "=== valgrind memcheck: demo"
valgrind --quiet --leak-check=full --show-leak-kinds=definite,indirect \
  --errors-for-leak-kinds=definite,indirect --error-exitcode=99 \
  build/host-sim/sss-host-sim --small
echo "test.sh: all suites passed"
