#!/usr/bin/env bash
# Builds and runs every test: the release build, then ASan+UBSan, then TSan for the
# runtime and job tests. Ends with one summary line: "N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh || exit 1
jobs=$(nproc)
passed=0; failed=0
run_suite() { # name builddir ctest-args...
  local name=$1 dir=$2; shift 2
  echo "== $name"
  local log; log=$(mktemp)
  ctest --test-dir "$dir" --output-on-failure -j "$jobs" "$@" 2>&1 | tee "$log"
  local line; line=$(grep -E 'tests passed, [0-9]+ tests failed out of [0-9]+' "$log" | tail -1)
  if [ -z "$line" ]; then failed=$((failed + 1)); rm -f "$log"; return; fi
  local total bad
  total=$(echo "$line" | sed -E 's/.* out of ([0-9]+).*/\1/')
  bad=$(echo "$line" | sed -E 's/.* ([0-9]+) tests failed.*/\1/')
  passed=$((passed + total - bad)); failed=$((failed + bad))
  rm -f "$log"
}
build() { # dir args...
  local dir=$1; shift
  echo "== build $dir"
  if ! ./scripts/build.sh "$dir" "$@"; then echo "build of $dir failed"; failed=$((failed + 1)); return 1; fi
}
build build && run_suite "release" build
build build-asan -DEDDY_SANITIZE=address,undefined -DCMAKE_BUILD_TYPE=Debug &&
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 run_suite "asan+ubsan" build-asan
build build-tsan -DEDDY_SANITIZE=thread -DCMAKE_BUILD_TYPE=RelWithDebInfo &&
  TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$PWD/scripts/tsan.supp" run_suite "tsan (runtime and jobs)" build-tsan -L 'runtime|tests|api|connectors'
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
