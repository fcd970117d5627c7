#!/usr/bin/env bash
# Compile-and-link check of lsk's CUDA targets (lsk::cuda, lsk_cuda_tests,
# lsk_cuda_conformance_tests, the lsk program with `train --backend cuda`, the
# training-step benchmark, and the NCCL communicator with its MPI bootstrap where NCCL is found).
# Needs nvcc, not a GPU. Configures with LSK_ENABLE_CUDA=ON into the given
# build directory and builds only the CUDA targets; without nvcc it says so
# and exits 0, so CI machines without a CUDA toolkit pass.
#   tools/cuda-compile-check.sh [build-dir]          (default: build/cuda-check)
# Environment:
#   CUDACXX                 the nvcc to use (else nvcc on PATH, else /usr/local/cuda/bin/nvcc)
#   LSK_JOBS                parallel build jobs (default: nproc)
#   LSK_WARNINGS_AS_ERRORS  ON (default) or OFF
#   LSK_CMAKE_ARGS          extra configure arguments, e.g. -DCMAKE_CUDA_ARCHITECTURES=90
#   LSK_CUDA_RUN_TESTS=1    also run the CUDA tests (their device checks skip without a GPU)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build/cuda-check}

nvcc=${CUDACXX:-}
if [[ -z $nvcc ]]; then nvcc=$(command -v nvcc || true); fi
if [[ -z $nvcc && -x /usr/local/cuda/bin/nvcc ]]; then nvcc=/usr/local/cuda/bin/nvcc; fi
if [[ -z $nvcc ]]; then
  echo "cuda-compile-check: no nvcc (CUDACXX, PATH, /usr/local/cuda/bin): CUDA targets not checked"
  exit 0
fi
echo "cuda-compile-check: $("$nvcc" --version | grep -m1 -i release)"

start=$SECONDS
# shellcheck disable=SC2086  # LSK_CMAKE_ARGS is a list of arguments
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DLSK_ENABLE_CUDA=ON -DCMAKE_CUDA_COMPILER="$nvcc" \
  -DLSK_BUILD_TESTS=ON -DLSK_BUILD_BENCH=ON -DLSK_BUILD_EXAMPLES=ON \
  -DLSK_WARNINGS_AS_ERRORS="${LSK_WARNINGS_AS_ERRORS:-ON}" ${LSK_CMAKE_ARGS:-}
targets=(lsk_cuda lsk_cuda_tests lsk_cuda_conformance_tests lsk_cli bench_train_step)  # lsk_cli: `lsk train --backend cuda`
if cmake --build "$build" --target help | grep -q '^lsk_nccl_compile_check'; then targets+=(lsk_nccl_compile_check); fi
cmake --build "$build" -j "${LSK_JOBS:-$(nproc)}" --target "${targets[@]}"
if [[ ${LSK_CUDA_RUN_TESTS:-0} == 1 ]]; then
  ctest --test-dir "$build" -R '^lsk_cuda_(conformance_)?tests:' --output-on-failure
fi
echo "cuda-compile-check: ${targets[*]} built in $build ($((SECONDS - start)) s)"
