#!/usr/bin/env bash
# bench/cpu/run_ops.sh: builds bench_ops in Release (the same build directories
# as run_matmul.sh), runs every cpu op and the reference backend with 2 threads
# (repetitions interleaved at random) and prints a markdown table: median
# GB/s per op and size, and the cpu/reference speed ratio at 4096 x 512.
#
# Environment knobs (defaults in brackets):
#   LSK_BENCH_BUILD_PREFIX  build directories are <prefix>-native, <prefix>-generic [<repo>/build-bench]
#   CONFIGS                 which configurations to run ["native"]
#   REPS                    --benchmark_repetitions [5]
#   MIN_TIME                --benchmark_min_time in seconds, per repetition [0.1]
#   FILTER                  --benchmark_filter [all]
#   THREADS                 OMP_NUM_THREADS [2]
# Needs cmake, ninja and python3 (for the table).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
prefix=${LSK_BENCH_BUILD_PREFIX:-$root/build-bench}
configs=${CONFIGS:-native}
reps=${REPS:-5}
min_time=${MIN_TIME:-0.1}
filter=${FILTER:-.}
threads=${THREADS:-2}

echo "# lsk cpu ops benchmark"
echo
echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "- cpu: $(lscpu | sed -n 's/^Model name:[[:space:]]*//p'), $(nproc) cores online"
echo "- OMP_NUM_THREADS=$threads; repetitions: $reps (random interleaving, medians)"
echo "- load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo

for cfg in $configs; do
  case $cfg in
    native) native=ON ;;
    generic) native=OFF ;;
    *) echo "unknown configuration '$cfg' (native or generic)" >&2; exit 2 ;;
  esac
  dir=$prefix-$cfg
  cmake -S "$root" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DLSK_NATIVE=$native \
    -DLSK_BUILD_BENCH=ON -DLSK_BUILD_TESTS=OFF -DLSK_BUILD_EXAMPLES=OFF -DLSK_ENABLE_CUDA=OFF >/dev/null
  cmake --build "$dir" -j2 --target bench_ops >/dev/null
  json=$dir/bench_ops.json
  OMP_NUM_THREADS=$threads "$dir/bench/bench_ops" \
    --benchmark_filter="$filter" \
    --benchmark_repetitions="$reps" \
    --benchmark_enable_random_interleaving=true \
    --benchmark_min_time="$min_time" \
    --benchmark_out="$json" --benchmark_out_format=json >"$dir/bench_ops.log" 2>&1
  echo "## LSK_NATIVE=$native"
  echo
  python3 - "$json" <<'PY'
import json, re, statistics, sys
data = json.load(open(sys.argv[1]))
print(f"- Eigen SIMD: {data['context'].get('eigen_simd', '?')}")
print(f"- load average at the start of the run: {' '.join(f'{x:.2f}' for x in data['context'].get('load_avg', []))}")
print()
gb, us = {}, {}
for b in data["benchmarks"]:
    if b.get("run_type") != "iteration":
        continue
    key = tuple(re.sub(r"/real_time$", "", b["run_name"]).split("/"))  # (op, backend, size)
    gb.setdefault(key, []).append(b["GB"])
    us.setdefault(key, []).append(b["real_time"])  # microseconds (the benchmarks' unit)
gbs = {k: statistics.median(v) for k, v in gb.items()}
ust = {k: statistics.median(v) for k, v in us.items()}
# The order in which bench_ops registers its ops (random interleaving shuffles the output).
order = ["embedding_forward", "embedding_backward", "rmsnorm_forward", "rmsnorm_backward", "silu_forward",
         "silu_backward", "swiglu_forward", "swiglu_backward", "softmax_forward", "causal_softmax_forward",
         "softmax_backward", "cross_entropy_forward", "cross_entropy_backward", "add", "mul", "scale", "axpy", "fill",
         "sum", "sum_squares", "max_abs", "sum_rows", "broadcast_rows"]
order += sorted({k[0] for k in gbs} - set(order))
small, large = "4096x512", "4096x4096"
def g(key):
    return f"{gbs[key]:.1f}" if key in gbs else "-"
def t(key):
    return f"{ust[key]:.0f}" if key in ust else "-"
print(f"| op | cpu {small} us | cpu {small} GB/s | cpu {large} us | cpu {large} GB/s | reference {small} GB/s | cpu/reference speed |")
print("|---|---:|---:|---:|---:|---:|---:|")
for op in order:
    c, cl, r = (op, "cpu", small), (op, "cpu", large), (op, "reference", small)
    if c not in gbs and cl not in gbs and r not in gbs:
        continue
    speed = f"{ust[r] / ust[c]:.1f}x" if c in ust and r in ust else "-"
    print(f"| {op} | {t(c)} | {g(c)} | {t(cl)} | {g(cl)} | {g(r)} | {speed} |")
print()
print("Medians over the repetitions; speed = reference time / cpu time at the same size.")
print()
PY
done
echo "- load after: $(cut -d' ' -f1-3 /proc/loadavg)"
