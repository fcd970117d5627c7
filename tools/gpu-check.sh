#!/usr/bin/env bash
# On a machine with an NVIDIA GPU: builds lsk's CUDA tests and benchmarks, runs
# the CUDA conformance, flash-attention and model tests (Llama training on the
# GPU against the cpu backend), the benchmarks beside their PyTorch
# counterparts (torch.matmul, SDPA's flash backend at head dims 128 and 64, a
# ~125M Llama training step with both kernel profiles: torch.profiler's and
# Nsight Compute's per-kernel times of one lsk step; the default recipe's
# pretraining shapes with f32, bf16 and tf32 products, and its naive attention
# with both product groupings) on the same card, then
# compute-sanitizer over the model and flash-attention tests while time is
# left, and, where the default corpus is present (data/corpus, fetched by
# tools/recipe.sh), the default recipe with training on the GPU; prints a
# summary table. Took 152 s on an H100 without the recipe (which took 120 s);
# designed to finish in under 8 minutes.
#
#   tools/gpu-check.sh                 build into build/gpu-check (needs Catch2 v2, Eigen, nvcc), then run
#   tools/gpu-check.sh --bin DIR       run binaries built elsewhere (DIR holds lsk_cuda_tests,
#                                      lsk_cuda_conformance_tests, bench_cuda_matmul, bench_cuda_ops,
#                                      bench_flash_attention, bench_train_step, bench_naive_attention,
#                                      and optionally lsk and
#                                      lib/; see --stage)
#   tools/gpu-check.sh --stage DIR     build here (no GPU needed) and copy the binaries into DIR, with the
#                                      lsk program and, in DIR/lib, the shared libraries it needs other than
#                                      the C/C++ runtime and CUDA's (another distribution's builds of them,
#                                      sentencepiece's for one, need not be ABI-compatible); --bin puts DIR/lib
#                                      first on the library path
# Environment: GPU_CHECK_BUDGET_S (default 450): optional steps are skipped once
# this many seconds have passed; GPU_CHECK_STEPS: an extended regular expression,
# only steps whose names match run (a rerun of what failed); GPU_CHECK_LOG
# (default: $OUT/gpu-check.log if OUT is set, else build/gpu-check.log).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
mode=build
bin=""
stage=""
case "${1:-}" in
  --bin) mode=run; bin=$(cd "$2" && pwd) ;;
  --stage) mode=stage; stage=$2 ;;
  "") ;;
  *) echo "usage: $0 [--bin DIR | --stage DIR]" >&2; exit 2 ;;
esac

build_binaries() {
  local dir=$root/build/gpu-check
  cmake -S "$root" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DLSK_ENABLE_CUDA=ON -DLSK_CPU_BLAS=OFF \
    -DCMAKE_CUDA_ARCHITECTURES="${CUDAARCHS:-90}" -DLSK_BUILD_TESTS=ON -DLSK_BUILD_BENCH=ON -DLSK_BUILD_EXAMPLES=ON \
    >/dev/null || return 1
  cmake --build "$dir" -j "$(nproc)" --target lsk_cuda_tests lsk_cuda_conformance_tests bench_cuda_matmul \
    bench_cuda_ops bench_flash_attention bench_train_step bench_naive_attention lsk_cli || return 1
  bin=$dir/bin-gpu
  mkdir -p "$bin/lib"
  cp "$dir"/backends/cuda/lsk_cuda_tests "$dir"/backends/cuda/lsk_cuda_conformance_tests "$dir"/bench/bench_cuda_matmul \
    "$dir"/bench/bench_cuda_ops "$dir"/bench/bench_flash_attention "$dir"/bench/bench_train_step \
    "$dir"/bench/bench_naive_attention "$dir"/examples/lsk/lsk "$bin"/
  local lib
  for lib in $(ldd "$bin"/* 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// {print $3}' | sort -u); do
    case $(basename "$lib") in
      libc.so* | libm.so* | libstdc++* | libgcc_s* | libdl.so* | libpthread* | librt.so* | libcuda* | libcublas* | \
        libnccl*) ;;  # libcuda* covers libcudart
      *) cp -L "$lib" "$bin/lib/" ;;
    esac
  done
}

if [ "$mode" != run ]; then
  build_binaries || { echo "gpu-check: build failed" >&2; exit 1; }
  if [ "$mode" = stage ]; then
    mkdir -p "$stage" && cp -r "$bin"/* "$stage"/ && echo "gpu-check: binaries in $stage" && exit 0
  fi
fi

log=${GPU_CHECK_LOG:-${OUT:+$OUT/gpu-check.log}}
log=${log:-$root/build/gpu-check.log}
mkdir -p "$(dirname "$log")"
: >"$log"
budget=${GPU_CHECK_BUDGET_S:-450}
start=$SECONDS
summary=()

# The CUDA libraries: the toolkit's, else the ones PyTorch's wheels carry.
for d in /usr/local/cuda/lib /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib; do
  [ -d "$d" ] && export LD_LIBRARY_PATH=$d${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
done
if ldd "$bin/lsk_cuda_conformance_tests" | grep -q "not found"; then
  for lib in $(python3 -c 'import nvidia, os; print(" ".join(os.path.join(p, d, "lib") for p in nvidia.__path__ for d in os.listdir(p)))' 2>/dev/null); do
    [ -d "$lib" ] && export LD_LIBRARY_PATH=$lib:$LD_LIBRARY_PATH
  done
fi
[ -d "$bin/lib" ] && export LD_LIBRARY_PATH=$bin/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
unset NVIDIA_TF32_OVERRIDE

# step NAME LIMIT_S REQUIRED(yes|no) COMMAND...: runs COMMAND with a time limit, output to the log.
step() {
  local name=$1 limit=$2 required=$3
  shift 3
  local elapsed=$((SECONDS - start))
  if [ -n "${GPU_CHECK_STEPS:-}" ] && ! grep -Eq "$GPU_CHECK_STEPS" <<<"$name"; then
    return
  fi
  if [ "$required" = no ] && [ "$elapsed" -ge "$budget" ]; then
    summary+=("$(printf '%-44s %s' "$name" "skipped (over the ${budget}s budget)")")
    return
  fi
  echo "=== $name: $*" | tee -a "$log"
  local t0=$SECONDS rc
  timeout "$limit" "$@" 2>&1 | tee -a "$log"
  rc=${PIPESTATUS[0]}
  local verdict=passed
  [ "$rc" -eq 124 ] && verdict="timed out after ${limit}s"
  [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && verdict="FAILED (exit $rc)"
  summary+=("$(printf '%-44s %-26s %4ds' "$name" "$verdict" $((SECONDS - t0)))")
}

{
  date -u
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv 2>&1
  python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)' 2>&1
} | tee -a "$log"

step "cuda error/convert tests" 45 yes "$bin/lsk_cuda_tests" "~[flash]~[ring]~[model]"
step "cuda conformance suite (f32, f64, FD)" 120 yes "$bin/lsk_cuda_conformance_tests"
step "flash attention tests" 90 yes "$bin/lsk_cuda_tests" "[flash]"
step "Llama model on the GPU vs cpu (f32, bf16)" 90 yes "$bin/lsk_cuda_tests" "[model]~[ring]"
step "ring attention, context-parallel training" 60 yes "$bin/lsk_cuda_tests" "[ring]"
step "cuBLAS GEMM (lsk)" 45 yes "$bin/bench_cuda_matmul"
step "torch.matmul (same sizes)" 45 yes python3 "$root/bench/cuda/torch_matmul.py"
step "Llama ~125M train step: lsk vs torch eager" 150 no python3 "$root/bench/cuda/torch_train_step.py" \
  --lsk-bench "$bin/bench_train_step" --profile
# The default recipe's pretraining shapes (configs/plans/default.json), where bf16 products ran slower
# than f32 ones in the recipe. Head dim 32 runs the naive device attention: 96 of a step's 183
# products (one per query head over the sequences; 1024 of 1111 when it made one per sequence and kv
# head), each packing its operands under bf16. The same model with 2 heads of 64 (fused flash
# attention, 87 products) tells what the naive attention costs; bench_naive_attention compares its
# two groupings alone.
# shellcheck disable=SC2016  # expanded by the inner bash
step "recipe-size train step: f32 / bf16 / tf32 products, head dim 32 and 64" 90 no bash -c '
  bench=$0
  for heads in "4 2" "2 1"; do set -- $heads; for p in f32 bf16 tf32; do
    echo "== heads $1, kv heads $2, --matmul $p"
    "$bench" --hidden 128 --layers 4 --heads "$1" --kv-heads "$2" --intermediate 352 --vocab 4096 --seq 128 \
      --batch 16 --steps 50 --warmup 5 --matmul "$p" || exit 1
  done; done' "$bin/bench_train_step"
step "naive attention on the GPU: per-sequence vs per-head products" 45 no "$bin/bench_naive_attention"
# Memory options on the card: the ~125M step with every layer's activations kept, with one layer's
# kept (the others recomputed in backward), and with the LM head in chunks of 2048 tokens as well;
# at seq 2048 and at 8192 tokens per sequence, where activation memory is what limits the batch.
# shellcheck disable=SC2016  # expanded by the inner bash
step "~125M train step: activations kept / recomputed / + LM head in chunks (seq 2048, 8192)" 150 no bash -c '
  bench=$0
  for shape in "2048 4" "8192 1"; do
    for opts in "--recompute 0" "--recompute 1" "--recompute 1 --head-chunk 2048"; do
      set -- $shape
      echo "== seq $1, batch $2, $opts"
      # shellcheck disable=SC2086  # opts is a list of arguments
      "$bench" --seq "$1" --batch "$2" --steps 5 --warmup 2 $opts || exit 1
    done
  done' "$bin/bench_train_step"
ncu_bin=$(command -v ncu || ls /usr/local/cuda/bin/ncu /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
if [ -n "$ncu_bin" ]; then
  step "lsk train step kernel times (ncu)" 150 no python3 "$root/bench/cuda/kernel_breakdown.py" \
    --lsk-bench "$bin/bench_train_step" --ncu "$ncu_bin"
fi
step "cuda backend ops GB/s" 45 no "$bin/bench_cuda_ops"
step "flash attention vs SDPA flash" 150 no python3 "$root/bench/cuda/sdpa_compare.py" \
  --lsk-bench "$bin/bench_flash_attention"
step "flash attention vs SDPA flash, head dim 64" 150 no python3 "$root/bench/cuda/sdpa_compare.py" \
  --lsk-bench "$bin/bench_flash_attention" --head-dim 64 --heads 12 --kv-heads 12 --tokens 32768
corpus=$root/data/corpus
if [ -x "$bin/lsk" ] && [ -f "$corpus/tokenizer-4k.model" ]; then
  recipe_out=$(mktemp -d)
  step "default recipe, training on the GPU" 300 no "$bin/lsk" train --plan "$root/configs/plans/default.json" \
    --text "$corpus/train" --heldout "$corpus/heldout/mobydick.txt" --tokenizer "$corpus/tokenizer-4k.model" \
    --attention tiled --backend cuda --matmul f32 --out "$recipe_out"
  cp "$recipe_out/report.md" "$(dirname "$log")/recipe-report.md" 2>/dev/null
fi
if command -v compute-sanitizer >/dev/null; then
  step "compute-sanitizer memcheck (model f32 step)" 90 no compute-sanitizer --tool memcheck --error-exitcode 1 \
    "$bin/lsk_cuda_tests" "cuda model: f32 forward*"  # (a comma would split the test spec)
  step "compute-sanitizer memcheck (bf16 gemm packing)" 60 no compute-sanitizer --tool memcheck --error-exitcode 1 \
    "$bin/lsk_cuda_conformance_tests" "cuda gemm*"
  step "compute-sanitizer memcheck (flash, unequal lengths)" 90 no compute-sanitizer --tool memcheck --error-exitcode 1 \
    "$bin/lsk_cuda_tests" "Flash attention with more keys than queries*"
  step "compute-sanitizer racecheck (flash docs)" 90 no compute-sanitizer --tool racecheck --error-exitcode 1 \
    "$bin/lsk_cuda_tests" "Flash attention with document masks"
  step "compute-sanitizer synccheck (flash docs)" 90 no compute-sanitizer --tool synccheck --error-exitcode 1 \
    "$bin/lsk_cuda_tests" "Flash attention with document masks"
fi

echo
echo "gpu-check summary ($(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1), $(date -u +%F)):"
printf '%s\n' "${summary[@]}"
echo "log: $log"
