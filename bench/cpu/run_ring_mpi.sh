#!/usr/bin/env bash
# bench/cpu/run_ring_mpi.sh: context-parallel efficiency of the ring attention
# over MPI: the same causal sequence on 1 rank with 1 thread, then on 2 ranks
# with 1 thread each (2 cores), and efficiency = t1 / (2 * t2).
#   bench/cpu/run_ring_mpi.sh [build dir, default build-bench-native] [len ...]
set -euo pipefail
build=${1:-build-bench-native}
shift || true
lens=${*:-8192 16384}
mpirun=(mpirun -x OMP_NUM_THREADS=1)
[ "$(id -u)" -ne 0 ] || mpirun+=(--allow-run-as-root)
for len in $lens; do
  one=$("${mpirun[@]}" -np 1 "$build/bench/bench_ring_mpi" "$len" | tee /dev/stderr)
  two=$("${mpirun[@]}" -np 2 "$build/bench/bench_ring_mpi" "$len" | tee /dev/stderr)
  t1=$(sed -n 's/.*fwd+bwd \([0-9.]*\) s.*/\1/p' <<<"$one")
  t2=$(sed -n 's/.*fwd+bwd \([0-9.]*\) s.*/\1/p' <<<"$two")
  python3 -c "print(f'len $len: 1 rank {float($t1):.3f} s, 2 ranks {float($t2):.3f} s, speed-up {float($t1)/float($t2):.2f}, efficiency {float($t1)/(2*float($t2)):.0%}')"
done
