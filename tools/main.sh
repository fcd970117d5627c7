#!/usr/bin/env bash
# The main job: the LongSkywork recipe in miniature on the cpu backend.
# tools/recipe.sh installs what is missing, builds the lsk program, fetches the
# default corpus (public-domain books from Debian packages) and trains the
# tokenizer when absent, then runs configs/plans/PRESET.json: short pretraining
# at L0 = 128 tokens, long continual pretraining on CIP data with an NTK-aware
# RoPE base at 8 x L0, standard SFT (copy, then retrieval tasks), and 200 steps
# of long-context SFT (retrieval over long passages),
# evaluating needle grid, SynL accuracy and perplexity after each stage.
# Ends with the needle grid before (base model) and after the recipe, and the
# paths of the heatmaps and the report.
#   tools/main.sh [PRESET] [extra lsk train options]     (PRESET default: "default", about 10 minutes on 2 cores)
# Re-running resumes where a killed run stopped; --fresh starts over.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
preset=${1:-default}
shift || true
"$root/tools/recipe.sh" "$preset" "$@"
out=$root/out/$preset
python3 - "$out" <<'EOF'
import json, pathlib, sys
out = pathlib.Path(sys.argv[1])
plan = json.loads((out / "plan.json").read_text())
stages = [s["name"] for s in plan["stages"]]
def grid(name):
    done = json.loads((out / "stages" / name / "done.json").read_text())
    return done.get("eval", {})
first, last = stages[0], stages[-1]
for label, name in (("before the recipe (base model after stage '%s')" % first, first),
                    ("after the recipe (stage '%s')" % last, last)):
    e = grid(name)
    print(f"\nneedle grid {label}: exact match %, mean {100 * e.get('needle_mean', 0):.0f}%")
    print(e.get("needle_grid", "(no needle evaluation in this plan)\n"), end="")
print("\nheatmaps:")
for name in stages:
    svg = out / "stages" / name / "needle.svg"
    if svg.exists():
        print(f"  {svg}")
print(f"report:  {out / 'report.md'}")
print(f"metrics: {out / 'metrics.jsonl'}")
EOF
