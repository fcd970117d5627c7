#!/usr/bin/env bash
# bench/cpu/run_matmul.sh: builds bench_matmul in Release (once with
# -DLSK_NATIVE=ON, once with OFF), runs the eigen engine, the blas engine
# through lsk::matmul and raw OpenBLAS cblas_sgemm side by side in one run per
# configuration (2 threads, repetitions interleaved at random), and prints
# markdown tables of the median GFLOP/s and their ratios to OpenBLAS (also the
# ratio of the fastest repetitions, which is less hurt by other load).
#
# Environment knobs (defaults in brackets):
#   LSK_BENCH_BUILD_PREFIX  build directories are <prefix>-native, <prefix>-generic [<repo>/build-bench]
#   CONFIGS                 which configurations to run ["native generic"]
#   REPS                    --benchmark_repetitions [5]
#   MIN_TIME                --benchmark_min_time in seconds, per repetition [0.3]
#   FILTER                  --benchmark_filter [all]
#   THREADS                 OMP_NUM_THREADS and OPENBLAS_NUM_THREADS [2]
# OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are left as the environment sets them
# and printed. Needs cmake, ninja and python3 (for the tables).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
prefix=${LSK_BENCH_BUILD_PREFIX:-$root/build-bench}
configs=${CONFIGS:-native generic}
reps=${REPS:-5}
min_time=${MIN_TIME:-0.3}
filter=${FILTER:-.}
threads=${THREADS:-2}

echo "# lsk cpu matmul benchmark"
echo
echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "- cpu: $(lscpu | sed -n 's/^Model name:[[:space:]]*//p'), $(nproc) cores online"
echo "- compiler: $(${CXX:-c++} --version | head -n1)"
echo "- OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads"
echo "- OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-(unset)} OPENBLAS_L2_SIZE=${OPENBLAS_L2_SIZE:-(unset)}"
echo "- load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "- repetitions: $reps (random interleaving, medians), min time per repetition ${min_time}s"
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
  cmake --build "$dir" -j2 --target bench_matmul >/dev/null
  json=$dir/bench_matmul.json
  OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads "$dir/bench/bench_matmul" \
    --benchmark_filter="$filter" \
    --benchmark_repetitions="$reps" \
    --benchmark_enable_random_interleaving=true \
    --benchmark_min_time="$min_time" \
    --benchmark_out="$json" --benchmark_out_format=json >"$dir/bench_matmul.log" 2>&1
  echo "## LSK_NATIVE=$native"
  echo
  python3 - "$json" <<'PY'
import json, re, statistics, sys
data = json.load(open(sys.argv[1]))
ctx = data["context"]
print(f"- Eigen SIMD: {ctx.get('eigen_simd', '?')}; OpenBLAS core: {ctx.get('openblas_corename', 'n/a')} "
      f"({ctx.get('openblas_config', 'OpenBLAS not linked')}); default engine: {ctx.get('default_gemm_engine', '?')}")
print(f"- load average at the start of the run: {' '.join(f'{x:.2f}' for x in ctx.get('load_avg', []))}")
print()
runs = {}  # (kind, size, engine) -> GFLOP/s of each repetition
for b in data["benchmarks"]:
    if b.get("run_type") != "iteration":
        continue
    kind, engine, size = re.sub(r"/real_time$", "", b["run_name"]).split("/")
    runs.setdefault((kind, size, engine), []).append(b["GFLOP"])
med = {k: statistics.median(v) for k, v in runs.items()}
best = {k: max(v) for k, v in runs.items()}

def cell(key):
    return f"{med[key]:.1f}" if key in med else "-"

def ratio(table, num, den):
    return f"{table[num] / table[den]:.2f}" if num in table and den in table else "-"

def table(kinds, label):
    rows = sorted({(k, s) for (k, s, _) in med if k in kinds},
                  key=lambda ks: (kinds.index(ks[0]), int(ks[1]) if ks[1].isdigit() else 0, ks[1]))
    if not rows:
        return
    print(f"| {label} | eigen GFLOP/s | lsk+blas GFLOP/s | OpenBLAS GFLOP/s | eigen/OpenBLAS | lsk-blas/OpenBLAS "
          "| best-of-reps eigen/OpenBLAS | best-of-reps lsk-blas/OpenBLAS |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for k, s in rows:
        e, b, o = (k, s, "eigen"), (k, s, "blas"), (k, s, "openblas")
        first = s if label == "n" else f"{k} {s}"
        print(f"| {first} | {cell(e)} | {cell(b)} | {cell(o)} | {ratio(med, e, o)} | {ratio(med, b, o)} "
              f"| {ratio(best, e, o)} | {ratio(best, b, o)} |")
    print()

table(["matmul"], "n")
table(["matmul_at_b", "matmul_a_bt", "batched_qk", "batched_pv"], "case")
print("GFLOP/s: medians over the repetitions; best-of-reps: the ratio of each side's fastest repetition.")
print()
PY
done
echo "- load after: $(cut -d' ' -f1-3 /proc/loadavg)"
