#!/usr/bin/env bash
# bench/cpu/run_parallel_train.sh: one long-context training stage run by
# `lsk train` on one rank (all OpenMP threads), on 2 data-parallel ranks and on
# 2 context-parallel ranks (threads of one process, each with half the OpenMP
# threads), side by side in one run; prints tokens/s (median over the steps
# after the first two) and the ratio to one rank.
#   bench/cpu/run_parallel_train.sh [build dir, default build] [seq_len, default 2048] [steps, default 8]
set -euo pipefail
build=${1:-build}
len=${2:-2048}
steps=${3:-8}
lsk="$build/examples/lsk/lsk"
src=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat >"$work/plan.json" <<JSON
{"name": "parallel-bench", "seed": 1,
 "model": {"hidden_size": 128, "intermediate_size": 352, "num_hidden_layers": 4, "num_attention_heads": 4,
           "num_key_value_heads": 2, "max_position_embeddings": $len},
 "stages": [{"name": "long", "seq_len": $len, "steps": $steps, "batch_tokens": $((2 * len)),
             "data": [{"source": "short"}], "lr": {"schedule": "constant", "peak": 0.001}}]}
JSON
text="$src/tests/fixtures/corpus/expected"
declare -A flags=([one]="" [dp2]="--data-parallel 2" [cp2]="--context-parallel 2")
for name in one dp2 cp2; do
  # shellcheck disable=SC2086
  "$lsk" train --plan "$work/plan.json" --text "$text" --tokenizer byte --attention tiled \
    --out "$work/$name" --fresh ${flags[$name]} >"$work/$name.log"
done
python3 - "$work" "$len" <<'PY'
import json, statistics, sys
work, length = sys.argv[1], sys.argv[2]
tps = {}
for name in ("one", "dp2", "cp2"):
    lines = [json.loads(l) for l in open(f"{work}/{name}/metrics.jsonl")]
    tps[name] = statistics.median(l["tokens_per_s"] for l in lines[2:])
    print(f"seq {length}, {name}: {tps[name]:.0f} tokens/s, {tps[name] / tps['one']:.2f}x one rank, "
          f"final loss {lines[-1]['loss']:.4f}")
PY
