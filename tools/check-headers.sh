#!/usr/bin/env bash
# Checks that every public header compiles on its own: one translation unit per
# header, holding only `#include <that header>`, parsed by g++ -fsyntax-only
# with lsk's warnings as errors (a header that leans on what its includer
# happened to include first fails here). Headers of optional parts (MPI, NCCL,
# SentencePiece, the CUDA backend's host side) are checked where their
# dependencies' headers are found, and named as skipped otherwise.
#   tools/check-headers.sh            (parallel: LSK_JOBS, default nproc)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cxx=${CXX:-c++}
cuda_include=${CUDA_INCLUDE:-/usr/local/cuda/include}
flags=(-std=c++20 -fsyntax-only -fopenmp -Wall -Wextra -Wpedantic -Wconversion -Wshadow -Werror
  -I"$root/include" -I"$root/backends/reference/include" -I"$root/backends/cpu/include"
  -I"$root/backends/cuda/include" -isystem /usr/include/eigen3)

# MPI's headers as system headers (as CMake's MPI::MPI_CXX gives them): their own warnings are not ours.
mpi_flags=$(mpicxx --showme:compile 2>/dev/null | sed 's/-I/-isystem /g' || true)
have() { printf '#include <%s>\n' "$1" | "$cxx" -x c++ -E -o /dev/null - "${@:2}" 2>/dev/null; }

# The dependencies' headers a header needs before it can be checked.
needs() {
  case $1 in
    lsk/dist/mpi_communicator.hpp) echo mpi.h ;;
    lsk/dist/nccl_bootstrap.hpp) echo mpi.h nccl.h cuda_runtime.h ;;
    lsk/dist/nccl_communicator.hpp) echo nccl.h cuda_runtime.h ;;
    lsk/backends/cuda/*) echo cuda_runtime.h cublas_v2.h ;;
    lsk/data/sentencepiece_*.hpp) echo sentencepiece_processor.h ;;
  esac
}

headers=()
skipped=()
while IFS= read -r h; do
  rel=lsk/${h#*/include/lsk/}
  ok=1
  for dep in $(needs "$rel"); do
    # shellcheck disable=SC2086  # mpicxx prints a list of flags
    have "$dep" -isystem "$cuda_include" $mpi_flags || ok=0
  done
  if ((ok)); then headers+=("$rel"); else skipped+=("$rel"); fi
done < <(find "$root/include" "$root/backends/reference/include" "$root/backends/cpu/include" \
  "$root/backends/cuda/include" -name '*.hpp' | sort)

# Optional parts switched on as CMake does where their dependencies are found.
defines=()
have sentencepiece_processor.h && defines+=(-DLSK_HAS_SENTENCEPIECE)

# What a header documents as coming before it.
prelude() {
  case $1 in
    lsk/testing/conformance.hpp)  # the backends under test, named before the suite's header
      printf '#include <lsk/backends/reference/backend.hpp>\n#include <tuple>\n'
      printf 'using lsk_conformance_backends = std::tuple<lsk::backends::reference>;\n' ;;
  esac
}

# shellcheck disable=SC2086  # mpicxx prints a list of flags
check_one() {
  { prelude "$1"; printf '#include <%s>\n' "$1"; } | "$cxx" -x c++ - "${flags[@]}" -isystem "$cuda_include" $mpi_flags \
    "${defines[@]}"
}

log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT
jobs=${LSK_JOBS:-$(nproc)}
for i in "${!headers[@]}"; do
  { check_one "${headers[$i]}" >"$log/$i.out" 2>&1 || echo "${headers[$i]}" >"$log/$i.failed"; } &
  while (($(jobs -rp | wc -l) >= jobs)); do wait -n || true; done
done
wait
failed=0
for i in "${!headers[@]}"; do
  if [[ -f $log/$i.failed ]]; then
    failed=$((failed + 1))
    echo "check-headers: ${headers[$i]} does not compile on its own:"
    head -20 "$log/$i.out" | sed 's/^/  /'
  fi
done
for rel in "${skipped[@]}"; do echo "check-headers: skipped $rel (its dependencies' headers were not found)"; done
echo "check-headers: ${#headers[@]} headers checked, $failed failed, ${#skipped[@]} skipped"
((failed == 0))
