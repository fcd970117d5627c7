#!/usr/bin/env bash
# The LongSkywork recipe on the default corpus: installs what is missing, builds
# the lsk program, fetches the corpus from Debian packages and trains the
# tokenizer when absent, then runs a stage plan with `lsk train`.
#   tools/recipe.sh [PRESET] [extra lsk train options]     (PRESET: configs/plans/PRESET.json, default "default")
# Output: out/PRESET/ (metrics.jsonl, stages/*/final, stages/*/needle.svg, report.md). Re-running resumes.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
preset=${1:-default}
shift || true
build=$root/build/main
"$root/tools/install-deps.sh"
# The program is built on the machine it runs on, so for its cpu (LSK_NATIVE: -march=native; the tiled
# attention's Eigen products use AVX-512 / AVX2 instead of SSE2, about 5x faster at the recipe's shapes).
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DLSK_BUILD_TESTS=OFF -DLSK_BUILD_BENCH=OFF \
  -DLSK_BUILD_EXAMPLES=ON -DLSK_ENABLE_CUDA=OFF -DLSK_NATIVE=ON >/dev/null
cmake --build "$build" --target lsk_cli -j "$(nproc)"
lsk=$build/examples/lsk/lsk
corpus=$root/data/corpus
[ -f "$corpus/MANIFEST.sha256" ] || python3 "$root/tools/corpus/fetch_corpus.py" --out "$corpus"
tokenizer=$corpus/tokenizer-4k.model
[ -f "$tokenizer" ] || "$lsk" tokenizer --corpus "$corpus/train" --out "$tokenizer" --vocab-size 4096
exec "$lsk" train --plan "$root/configs/plans/$preset.json" --text "$corpus/train" \
  --heldout "$corpus/heldout/mobydick.txt" --tokenizer "$tokenizer" --attention tiled --out "$root/out/$preset" "$@"
