#!/usr/bin/env bash
# bench/cpu/run_attention.sh: the attention tables of docs/PERFORMANCE.md.
# Builds bench_attention with -march=native (Release), runs the tiled and naive
# attentions (2 threads), and PyTorch's CPU scaled_dot_product_attention on the
# same shapes when TORCH_PYTHON names a python with torch (see
# bench/cpu/bench_attention_torch.py for creating one).
#   bench/cpu/run_attention.sh                      # everything
#   FILTER='tiled_fwd/' bench/cpu/run_attention.sh  # a subset
# Knobs: BUILD [<repo>/build-bench-native], THREADS [2], MIN_TIME [0.5],
#        FILTER [.], TORCH_PYTHON [unset], TORCH_LENGTHS [1024,2048,4096,8192,16384]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${BUILD:-$root/build-bench-native}
threads=${THREADS:-2}
echo "# attention benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'), $(lscpu | sed -n 's/^Model name:[[:space:]]*//p'), load $(cut -d' ' -f1-3 /proc/loadavg)"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DLSK_NATIVE=ON -DLSK_BUILD_TESTS=OFF \
  -DLSK_BUILD_EXAMPLES=OFF -DLSK_ENABLE_CUDA=OFF >/dev/null
cmake --build "$build" --target bench_attention >/dev/null
OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads "$build/bench/bench_attention" \
  --benchmark_filter="${FILTER:-.}" --benchmark_min_time="${MIN_TIME:-0.5}"
if [ -n "${TORCH_PYTHON:-}" ]; then
  echo
  echo "## PyTorch scaled_dot_product_attention ($("$TORCH_PYTHON" -c 'import torch; print(torch.__version__)'))"
  "$TORCH_PYTHON" "$root/bench/cpu/bench_attention_torch.py" --threads "$threads" \
    --lengths "${TORCH_LENGTHS:-1024,2048,4096,8192,16384}"
fi
