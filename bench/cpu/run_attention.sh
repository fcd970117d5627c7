#!/usr/bin/env bash
# bench/cpu/run_attention.sh: the attention tables of docs/PERFORMANCE.md.
# Builds bench_attention with -march=native (Release), then
#  1. compare_attention.py: lsk tiled, lsk naive (up to 4K) and PyTorch's CPU
#     scaled_dot_product_attention shape by shape (fwd and fwd+bwd, head dims 64
#     and 128, 8 heads, 1K..16K), each point in its own process;
#  2. GQA (8 query heads on 2 kv heads) at 8K;
#  3. long sequences (32K, 64K, 128K; 1 head, head_dim 64) for memory vs length.
# PyTorch runs when TORCH_PYTHON names a python with torch (how to make one:
# bench/cpu/bench_attention_torch.py).
# Knobs: BUILD [<repo>/build-bench-native], THREADS [2], MIN_TIME [0.5],
#        LENGTHS [1024,2048,4096,8192,16384], TORCH_PYTHON [unset], LONG [1]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${BUILD:-$root/build-bench-native}
threads=${THREADS:-2}
echo "# attention benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'), $(lscpu | sed -n 's/^Model name:[[:space:]]*//p'), load $(cut -d' ' -f1-3 /proc/loadavg)"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DLSK_NATIVE=ON -DLSK_BUILD_TESTS=OFF \
  -DLSK_BUILD_EXAMPLES=OFF -DLSK_ENABLE_CUDA=OFF >/dev/null
cmake --build "$build" --target bench_attention >/dev/null
python3 "$root/bench/cpu/compare_attention.py" "$build/bench/bench_attention" ${TORCH_PYTHON:+"$TORCH_PYTHON"} \
  --lengths "${LENGTHS:-1024,2048,4096,8192,16384}" --threads "$threads" --min-time "${MIN_TIME:-0.5}"
echo
export OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads
"$build/bench/bench_attention" --benchmark_filter='_gqa/' --benchmark_min_time="${MIN_TIME:-0.5}"
if [ "${LONG:-1}" = 1 ]; then
  for len in 32768 65536 131072; do
    "$build/bench/bench_attention" --benchmark_filter="tiled_fwdbwd_long/$len/" 2>/dev/null | grep long
  done
fi
