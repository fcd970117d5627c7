#!/usr/bin/env bash
# Builds lsk and runs its test suite with CTest: the README's test command.
#   tools/test.sh [build-dir]      (default: build/test)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build/test}
"$root/tools/install-deps.sh"
jobs=$(nproc)
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DLSK_BUILD_BENCH=ON -DLSK_BUILD_EXAMPLES=ON \
  -DLSK_WARNINGS_AS_ERRORS="${LSK_WARNINGS_AS_ERRORS:-ON}" ${LSK_CMAKE_ARGS:-}
cmake --build "$build" -j "$jobs"
ctest --test-dir "$build" --output-on-failure -j "$jobs"
