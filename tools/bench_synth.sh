#!/usr/bin/env bash
# Synthesis throughput: tokens/s on one core for CIP, SynL, needle and SFT
# generation and for packing their samples into batches, with the trained
# SentencePiece tokenizer (8K BPE) and with the byte tokenizer. Prints a
# markdown table (docs/PERFORMANCE.md, "Data synthesis").
#   tools/bench_synth.sh [build-dir]     (default: build/bench-synth)
# Needs the default corpus (data/corpus, made here by tools/corpus/fetch_corpus.py
# when absent) and trains data/corpus/tokenizer-8k.model when absent.
# Generation time is generate() alone (corpus loading, tokenizing the corpus
# and writing JSON excluded); one thread (taskset -c 0 when available).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build/bench-synth}
cd "$root"
if [ ! -x "$build/examples/lsk/lsk" ]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DLSK_BUILD_TESTS=OFF -DLSK_BUILD_BENCH=OFF \
    -DLSK_ENABLE_CUDA=OFF >/dev/null
  cmake --build "$build" --target lsk_cli
fi
lsk=$build/examples/lsk/lsk
[ -f data/corpus/MANIFEST.sha256 ] || python3 tools/corpus/fetch_corpus.py >/dev/null
[ -f data/corpus/tokenizer-8k.model ] || "$lsk" tokenizer --corpus data/corpus/train --out data/corpus/tokenizer-8k.model
pin=()
command -v taskset >/dev/null && pin=(taskset -c 0)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# kind count tokenizer section(JSON) packing(JSON)
cases=(
  "cip 400 spm {\"seq_len\":8192,\"docs_per_sample\":4,\"chunks_per_doc\":4,\"window\":\"random\"} {\"seq_len\":8191,\"batch_size\":4,\"mode\":\"whole\"}"
  "cip 400 byte {\"seq_len\":8192,\"docs_per_sample\":4,\"chunks_per_doc\":4,\"window\":\"random\"} {\"seq_len\":8191,\"batch_size\":4,\"mode\":\"whole\"}"
  "synl 100 spm {\"target_tokens\":8192} {\"seq_len\":8192,\"batch_size\":1,\"mode\":\"split\"}"
  "synl 100 byte {\"target_tokens\":8192} {\"seq_len\":8192,\"batch_size\":1,\"mode\":\"split\"}"
  "synl 10 spm {\"target_tokens\":65536} {\"seq_len\":65536,\"batch_size\":1,\"mode\":\"split\"}"
  "needle 200 spm {\"lengths\":[2048,8192],\"depths\":[0,0.5,1]} {\"seq_len\":8192,\"batch_size\":1,\"mode\":\"split\"}"
  "needle 200 byte {\"lengths\":[2048,8192],\"depths\":[0,0.5,1]} {\"seq_len\":8192,\"batch_size\":1,\"mode\":\"split\"}"
  "sft 20000 spm {\"turns_per_sample\":2} {\"seq_len\":2048,\"batch_size\":8,\"mode\":\"split\",\"positions\":\"sample\"}"
  "sft 20000 byte {\"turns_per_sample\":2} {\"seq_len\":2048,\"batch_size\":8,\"mode\":\"split\",\"positions\":\"sample\"}"
)
echo "| synthesizer | tokenizer | config | samples | tokens | generate tokens/s | pack tokens/s |"
echo "|---|---|---|---|---|---|---|"
for c in "${cases[@]}"; do
  read -r kind count tok section packing <<<"$c"
  tokenizer=byte
  [ "$tok" = spm ] && tokenizer=data/corpus/tokenizer-8k.model
  cat >"$tmp/c.json" <<JSON
{"tokenizer": "$tokenizer", "corpus": "data/corpus/train", "haystack": "data/corpus/heldout/mobydick.txt",
 "$kind": $section, "packing": $packing}
JSON
  err=$("${pin[@]}" "$lsk" synth "$kind" --config "$tmp/c.json" --count "$count" --pack 2>&1 >/dev/null)
  gen=$(sed -n 's/.*generated in [0-9.]* s: \([0-9]*\) tokens\/s.*/\1/p' <<<"$err")
  tokens=$(sed -n 's/.* samples, \([0-9]*\) tokens, generated.*/\1/p' <<<"$err")
  pack=$(sed -n 's/.*packed into .* s: \([0-9]*\) tokens\/s.*/\1/p' <<<"$err")
  echo "| $kind | $tok | \`$section\` | $count | $tokens | $gen | $pack |"
done
