#!/usr/bin/env bash
# bench/cpu/run_memory_options.sh: what the model's memory options cost and
# save in one training step of the reference Llama config (bench_llama_train):
# every layer's activations kept (the default), recomputed activations
# (--recompute 1, llama_config::recompute_activations), the LM head in chunks
# (--head-chunk N, llama_config::head_chunk_tokens), and both; naive and tiled
# attention. One process per configuration (so each peak RSS is its own), the
# configurations alternating within each round; the table shows each one's
# best round and its step time and memory as ratios to the default's.
#
# Environment knobs (defaults in brackets):
#   BUILD    build directory holding bench/bench_llama_train [<repo>/build/test]
#   SEQ      sequence length [2048]      BATCH  sequences per step [8]
#   CHUNK    --head-chunk tokens [2048]  ROUNDS rounds [2]
#   WARMUP   untimed steps [1]           STEPS  timed steps, median reported [2]
#   ATTNS    attentions ["naive tiled"]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${BUILD:-$root/build/test}
seq=${SEQ:-2048}
batch=${BATCH:-8}
chunk=${CHUNK:-2048}
rounds=${ROUNDS:-2}
warmup=${WARMUP:-1}
steps=${STEPS:-2}
attns=${ATTNS:-naive tiled}
bench=$build/bench/bench_llama_train
[ -x "$bench" ] || { echo "run_memory_options: no $bench (build with LSK_BUILD_BENCH=ON)" >&2; exit 1; }

results=$(mktemp)
trap 'rm -f "$results"' EXIT
for round in $(seq 1 "$rounds"); do
  for attn in $attns; do
    for opts in "--recompute 0 --head-chunk 0" "--recompute 1 --head-chunk 0" "--recompute 0 --head-chunk $chunk" \
      "--recompute 1 --head-chunk $chunk"; do
      # shellcheck disable=SC2086  # opts is a list of arguments
      line=$("$bench" --seq "$seq" --batch "$batch" --warmup "$warmup" --steps "$steps" --peak-reps 2 \
        --attention "$attn" $opts | grep '^RESULT ')
      echo "round $round: $line"
      echo "$line" >>"$results"
    done
  done
done

python3 - "$results" <<'PY'
import sys
rows = {}
for line in open(sys.argv[1]):
    f = dict(kv.split("=", 1) for kv in line.split()[1:])
    key = (f["impl"], f["recompute"], f["head_chunk"])
    if key not in rows or float(f["step_ms"]) < float(rows[key]["step_ms"]):
        rows[key] = f
print()
print("| attention | activations | LM head | step ms | tokens/s | peak RSS MiB | activations + scratch MiB | step / kept | RSS / kept |")
print("|---|---|---|---|---|---|---|---|---|")
for (impl, rec, chunk), f in sorted(rows.items(), key=lambda kv: (kv[0][0], kv[0][2] != "0", kv[0][1])):
    base = rows[(impl, "0", "0")]
    print(f"| {impl[4:]} | {'recomputed' if rec == '1' else 'kept'} | {'chunks of ' + chunk if chunk != '0' else 'whole'} "
          f"| {float(f['step_ms']):.0f} | {float(f['tokens_per_s']):.0f} | {f['rss_mib']} | {float(f['activation_mib']):.0f} "
          f"| {float(f['step_ms']) / float(base['step_ms']):.2f} | {float(f['rss_mib']) / float(base['rss_mib']):.2f} |")
PY
