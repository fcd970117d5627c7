#!/usr/bin/env bash
# bench/cpu/run_llama_train.sh: training throughput of the reference Llama
# config, lsk (bench_llama_train) beside PyTorch eager (llama_train_torch.py,
# attention "eager" and "sdpa"), in one run, and a markdown table with the
# lsk/PyTorch ratios of tokens/s. One process per (implementation, seq,
# round), so each peak RSS is that configuration's own; the implementations
# alternate within a round. With several rounds the table shows each
# implementation's best round (the one least disturbed by other work on a
# shared machine) and the range of tokens/s over the rounds.
#
# Environment knobs (defaults in brackets):
#   BUILD     build directory holding bench/bench_llama_train, configured with
#             the project's default options if absent [<repo>/build-perf]
#   PYTHON    a python with torch and transformers [python3]; see
#             llama_train_torch.py for creating one (pip install torch transformers)
#   SEQS      sequence lengths ["512 2048"]
#   BATCH     sequences per step [8]
#   WARMUP    untimed steps [2 at seq <= 512, else 1]
#   STEPS     timed steps (median reported) [5 at seq <= 512, else 3]
#   THREADS   OMP_NUM_THREADS, OPENBLAS_NUM_THREADS, MKL_NUM_THREADS, torch threads [2]
#   ATTNS     PyTorch attention implementations ["eager sdpa"]
#   ROUNDS    rounds of every implementation per seq [1]
#   LSK_ATTNS lsk attentions (bench_llama_train --attention) ["naive tiled"]
#   CORETYPES OPENBLAS_CORETYPE values to run lsk with, one lsk row each
#             ["$OPENBLAS_CORETYPE" as the environment sets it, or "auto"];
#             "auto" unsets it (OpenBLAS picks the kernels for the cpu it sees)
# OMP_WAIT_POLICY and OPENBLAS_L2_SIZE are left as the environment sets them
# and printed.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${BUILD:-$root/build-perf}
python=${PYTHON:-python3}
seqs=${SEQS:-512 2048}
batch=${BATCH:-8}
threads=${THREADS:-2}
attns=${ATTNS:-eager sdpa}
coretypes=${CORETYPES:-${OPENBLAS_CORETYPE:-auto}}
lsk_attns=${LSK_ATTNS:-naive tiled}
rounds=${ROUNDS:-1}

if [[ ! -f $build/build.ninja && ! -f $build/Makefile ]]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DLSK_ENABLE_CUDA=OFF >/dev/null
fi
cmake --build "$build" -j2 --target bench_llama_train >/dev/null

export OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads MKL_NUM_THREADS=$threads

echo "# lsk Llama training step vs PyTorch eager (CPU)"
echo
echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "- cpu: $(lscpu | sed -n 's/^Model name:[[:space:]]*//p'), $(nproc) cores online; $threads threads"
echo "- compiler: $(${CXX:-c++} --version | head -n1); build: $build ($(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$build/CMakeCache.txt"), LSK_NATIVE=$(sed -n 's/^LSK_NATIVE:BOOL=//p' "$build/CMakeCache.txt"))"
echo "- python: $("$python" -c 'import torch, transformers; print("torch", torch.__version__, "transformers", transformers.__version__)')"
echo "- environment: OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-(unset)} OPENBLAS_L2_SIZE=${OPENBLAS_L2_SIZE:-(unset)} OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-(unset)}; lsk runs with OPENBLAS_CORETYPE in: $coretypes"
echo "- batch $batch; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo

results=$(mktemp)
trap 'rm -f "$results"' EXIT
for seq in $seqs; do
  if ((seq <= 512)); then w=${WARMUP:-2} s=${STEPS:-5}; else w=${WARMUP:-1} s=${STEPS:-3}; fi
  echo "## seq $seq: $w warm-up + $s timed steps each, $rounds round(s)"
  echo
  echo '```'
  for ((round = 1; round <= rounds; ++round)); do
    for core in $coretypes; do
      for la in $lsk_attns; do
        if [[ $core == auto ]]; then unset_core=(-u OPENBLAS_CORETYPE); else unset_core=(OPENBLAS_CORETYPE="$core"); fi
        env "${unset_core[@]}" "$build/bench/bench_llama_train" --seq "$seq" --batch "$batch" --warmup "$w" \
          --steps "$s" --attention "$la" | sed "s/^RESULT impl=\(lsk-[a-z]*\) /RESULT impl=\1(openblas:$core) /" |
          tee -a "$results"
      done
    done
    for attn in $attns; do
      "$python" "$root/bench/cpu/llama_train_torch.py" --attn "$attn" --seq "$seq" --batch "$batch" \
        --warmup "$w" --steps "$s" --threads "$threads" | tee -a "$results"
    done
    echo "load after round $round: $(cut -d' ' -f1-3 /proc/loadavg)"
  done
  echo '```'
  echo
done

python3 - "$results" <<'PY'
import sys
rows = []
for line in open(sys.argv[1]):
    if line.startswith("RESULT "):
        rows.append(dict(kv.split("=", 1) for kv in line.split()[1:]))
torch_impls = [r["impl"] for r in rows if r["impl"].startswith("torch")]
torch_impls = list(dict.fromkeys(torch_impls))
groups = {}
for r in rows:
    groups.setdefault((r["impl"], r["seq"]), []).append(r)
best_rows, spread = [], {}
for key, rs in groups.items():
    best = max(rs, key=lambda r: float(r["tokens_per_s"]))
    best_rows.append(best)
    vals = [float(r["tokens_per_s"]) for r in rs]
    spread[key] = f"{min(vals):.0f}-{max(vals):.0f}" if len(vals) > 1 else "-"
tps = {(r["impl"], r["seq"]): float(r["tokens_per_s"]) for r in best_rows}
head = "| seq | implementation | step ms | tokens/s | tokens/s range | GFLOP/s | matmul peak GFLOP/s | MFU | peak RSS MiB |"
head += "".join(f" lsk / {t} |" for t in torch_impls)
print(head)
print("|---:|---|---:|---:|---:|---:|---:|---:|---:|" + "---:|" * len(torch_impls))
for r in best_rows:
    line = (f"| {r['seq']} | {r['impl']} | {float(r['step_ms']):.0f} | {float(r['tokens_per_s']):.0f} | "
            f"{spread[(r['impl'], r['seq'])]} | "
            f"{float(r['gflops']):.1f} | {float(r['peak_gflops']):.1f} | {float(r['mfu']) * 100:.1f}% | "
            f"{r['rss_mib']} |")
    for t in torch_impls:
        other = tps.get((t, r["seq"]))
        ok = r["impl"].startswith("lsk") and other
        line += f" {float(r['tokens_per_s']) / other:.2f} |" if ok else " |"
    print(line)
PY
echo
echo "- load after: $(cut -d' ' -f1-3 /proc/loadavg)"
