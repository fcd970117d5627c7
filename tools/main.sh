#!/usr/bin/env bash
# The main job: installs what is missing, builds lsk's programs and trains a
# byte-level language model on the embedded default text (Pride and Prejudice)
# with the cpu backend, reporting held-out loss against the unigram baseline.
#   tools/main.sh [extra byte_mlp_lm options, e.g. --steps 3000]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build/main
"$root/tools/install-deps.sh"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DLSK_BUILD_TESTS=OFF -DLSK_BUILD_BENCH=OFF \
  -DLSK_BUILD_EXAMPLES=ON -DLSK_ENABLE_CUDA=OFF >/dev/null
cmake --build "$build" --target byte_mlp_lm -j "$(nproc)"
exec "$build/examples/byte_mlp_lm" "$@"
