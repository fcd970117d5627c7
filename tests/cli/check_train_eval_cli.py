#!/usr/bin/env python3
"""The four-stage recipe end to end on a tiny model: `lsk train` runs tests/fixtures/plans/
tiny_four_stage.json on the committed fixture corpus (byte tokenizer, tiled attention), with
one fixture text held out; then checks that every stage left its final weights, checkpoints,
done.json (with its evaluation) and needle heatmap, that metrics.jsonl has one line per step
with the documented fields, that each stage's loss fell (mean of the last 20% of steps below
the first 20%), that report.md sums up every stage, and that `lsk eval needle|synl|ppl` run on
the final model and print their tables; that the plan trains to the same losses across
layouts and with --head-chunk-tokens, and with --recompute-activations to the same bits. Bad
options are errors naming the option (exit 1).

Usage: check_train_eval_cli.py LSK_BINARY SOURCE_DIR WORK_DIR
"""
import json
import os
import shutil
import subprocess
import sys
import time

from same_training import check_same_training, check_stages_from_one_start

lsk, source, work = sys.argv[1], sys.argv[2], sys.argv[3]
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
plan_path = os.path.join(source, "tests", "fixtures", "plans", "tiny_four_stage.json")
corpus = os.path.join(source, "tests", "fixtures", "corpus", "expected")
heldout = os.path.join(corpus, "tdavid", "Ps.txt")
text = sorted(os.path.join(d, f) for d, _, files in os.walk(corpus) for f in files
              if f.endswith(".txt") and os.path.join(d, f) != heldout)
out = os.path.join(work, "run")
with open(plan_path) as f:
    plan = json.load(f)
stages = plan["stages"]
failures = 0


def check(ok, message):
    global failures
    if not ok:
        failures += 1
        print(f"FAIL: {message}")


def run(args, timeout=300):
    start = time.time()
    r = subprocess.run([lsk, *args], capture_output=True, text=True, timeout=timeout)
    print(f"lsk {args[0]} {args[1] if len(args) > 1 else ''}: exit {r.returncode}, {time.time() - start:.1f} s")
    return r


# A bad evaluation setting fails before any training, naming the key.
bad_plan = dict(plan, eval=dict(plan["eval"], synl={"sample": 3}))
bad_plan_path = os.path.join(work, "bad_plan.json")
with open(bad_plan_path, "w") as f:
    json.dump(bad_plan, f)
bad = run(["train", "--plan", bad_plan_path, "--text", *text, "--heldout", heldout, "--out",
           os.path.join(work, "bad"), "--fresh"])
check(bad.returncode == 1 and "eval.synl.sample" in bad.stderr, f"bad eval.synl key: {bad.stderr}")

# So does a bad data setting of the last stage: no stage has trained when it is reported.
late = json.loads(json.dumps(plan))
late["stages"][-1]["data"][-1].setdefault("config", {})["no_such_key"] = 1
late_path = os.path.join(work, "bad_late_data.json")
with open(late_path, "w") as f:
    json.dump(late, f)
bad_late = run(["train", "--plan", late_path, "--text", *text, "--heldout", heldout, "--tokenizer", "byte",
                "--out", os.path.join(work, "bad_late"), "--fresh"])
late_key = f"stage '{stages[-1]['name']}' data[{len(stages[-1]['data']) - 1}].config.no_such_key"
check(bad_late.returncode == 1 and late_key in bad_late.stderr and late_path in bad_late.stderr,
      f"bad last-stage data key: {bad_late.stderr}")
check(not os.path.exists(os.path.join(work, "bad_late", "stages")), "a stage trained before the bad data key was found")

train = run(["train", "--plan", plan_path, "--text", *text, "--heldout", heldout, "--tokenizer", "byte",
             "--attention", "tiled", "--out", out, "--fresh"])
if train.returncode != 0:
    print(train.stdout[-3000:], train.stderr[-3000:])
    print("check_train_eval_cli: lsk train failed")
    sys.exit(1)

# The same plan on 2 data-parallel ranks, and with every sequence split over 2
# context-parallel ranks (ring attention): the same loss at every step, up to the
# order of the sums (evaluation is skipped here: a plan without "eval").
no_eval_path = os.path.join(work, "no_eval.json")
with open(no_eval_path, "w") as f:
    json.dump({k: v for k, v in plan.items() if k != "eval"}, f)
metric_runs = {}
layouts = {"one rank": [], "--data-parallel 2": ["--data-parallel", "2"],
           "--context-parallel 2": ["--context-parallel", "2"]}
for name, flags in layouts.items():
    d = os.path.join(work, name.strip("-").replace(" ", "_"))
    r = run(["train", "--plan", no_eval_path, "--text", *text, "--tokenizer", "byte", "--attention", "tiled",
             "--out", d, "--fresh", *flags])
    check(r.returncode == 0, f"{name}: {r.stderr[-2000:]}")
    with open(os.path.join(d, "metrics.jsonl")) as f:
        metric_runs[name] = [json.loads(line) for line in f]
    check(len(metric_runs[name]) == sum(s["steps"] for s in stages), f"{name}: {len(metric_runs[name])} metrics lines")
for name in list(layouts)[1:]:
    check_same_training(metric_runs["one rank"], metric_runs[name], name, check)

# Recomputing activations in backward changes what is kept, not the arithmetic:
# every step's loss and gradient norm are those of the one-rank run, to the bit.
recompute_dir = os.path.join(work, "recompute")
r = run(["train", "--plan", no_eval_path, "--text", *text, "--tokenizer", "byte", "--attention", "tiled",
         "--out", recompute_dir, "--fresh", "--recompute-activations"])
check(r.returncode == 0, f"--recompute-activations: {r.stderr[-2000:]}")
with open(os.path.join(recompute_dir, "metrics.jsonl")) as f:
    recomputed = [json.loads(line) for line in f]
same = ([(m["loss"], m["grad_norm"]) for m in recomputed] ==
        [(m["loss"], m["grad_norm"]) for m in metric_runs["one rank"]])
print(f"--recompute-activations: {len(recomputed)} steps, losses and gradient norms equal to one rank's: {same}")
check(same, "--recompute-activations changed the losses or gradient norms")

# The LM head in chunks of 37 tokens (the last chunk of each batch shorter): the
# one-rank losses up to the order in which the head's weight gradient is summed.
chunk_dir = os.path.join(work, "head_chunks")
r = run(["train", "--plan", no_eval_path, "--text", *text, "--tokenizer", "byte", "--attention", "tiled",
         "--out", chunk_dir, "--fresh", "--head-chunk-tokens", "37"])
check(r.returncode == 0, f"--head-chunk-tokens 37: {r.stderr[-2000:]}")
with open(os.path.join(chunk_dir, "metrics.jsonl")) as f:
    check_same_training(metric_runs["one rank"], [json.loads(line) for line in f], "--head-chunk-tokens 37", check)


def train_alone(label, stage_plan, init, layout):
    d = os.path.join(work, "alone", label)
    r = run(["train", "--plan", stage_plan, "--text", *text, "--tokenizer", "byte", "--attention", "tiled",
             "--out", d, "--fresh", "--init", init, *layouts[layout]])
    if r.returncode != 0:
        print(r.stderr[-2000:])
        return None
    with open(os.path.join(d, "metrics.jsonl")) as f:
        return [json.loads(line) for line in f]


os.makedirs(os.path.join(work, "alone"))
check_stages_from_one_start(train_alone, plan, os.path.join(work, "one_rank"), os.path.join(work, "alone"),
                            list(layouts)[1:], check)

# Every stage: final weights, checkpoints, done.json with its evaluation, needle heatmap.
for s in stages:
    d = os.path.join(out, "stages", s["name"])
    for f in ("final/config.json", "final/model.safetensors", "done.json", "needle.svg"):
        check(os.path.isfile(os.path.join(d, f)), f"{s['name']}: no {f}")
    checkpoints = os.path.join(d, "checkpoints")
    steps = sorted(os.listdir(checkpoints)) if os.path.isdir(checkpoints) else []
    check(f"step-{s['steps']:06d}" in steps, f"{s['name']}: checkpoints {steps}")
    with open(os.path.join(d, "needle.svg")) as f:
        svg = f.read()
    check(svg.startswith("<svg") and svg.count("<rect") >= 1 + 6, f"{s['name']}: needle.svg has no grid")
    with open(os.path.join(d, "done.json")) as f:
        done = json.load(f)
    ev = done.get("eval", {})
    check({p["length"] for p in ev.get("perplexity", [])} == set(plan["eval"]["perplexity"]["lengths"]),
          f"{s['name']}: perplexity lengths in done.json")
    check("needle_mean" in ev, f"{s['name']}: no needle result in done.json")
    # needle_answers.jsonl: one line per needle question, scored as in the grid.
    with open(os.path.join(d, "needle_answers.jsonl")) as f:
        answers = [json.loads(line) for line in f]
    needle_plan = plan["eval"]["needle"]
    check(len(answers) == len(needle_plan["lengths"]) * len(needle_plan["depths"]) * needle_plan.get("samples", 1),
          f"{s['name']}: {len(answers)} needle answers")
    check(all(set(a) == {"index", "length", "depth", "expected", "generated", "correct"} for a in answers),
          f"{s['name']}: needle answer fields")
    check({a["length"] for a in answers} == set(needle_plan["lengths"]), f"{s['name']}: needle answer lengths")
    check(abs(sum(a["correct"] for a in answers) / len(answers) - ev["needle_mean"]) < 1e-9,
          f"{s['name']}: needle answers disagree with needle_mean")
    synl = ev.get("synl", {})
    check(synl.get("samples") == 2 * plan["eval"]["synl"]["samples"], f"{s['name']}: synl samples {synl}")
    check(set(synl.get("by_family", {})) <= {"retrieval", "reasoning", "global"} and synl.get("by_family"),
          f"{s['name']}: synl families {synl}")
    check(set(synl.get("by_length", {})) == {"128", "256"}, f"{s['name']}: synl lengths {synl}")
    # synl_answers.jsonl: one line per SynL question, scored as in the table.
    with open(os.path.join(d, "synl_answers.jsonl")) as f:
        synl_answers = [json.loads(line) for line in f]
    check(len(synl_answers) == synl.get("samples"), f"{s['name']}: {len(synl_answers)} SynL answers")
    check(all(set(a) == {"family", "task", "length", "expected", "generated", "correct"} for a in synl_answers),
          f"{s['name']}: SynL answer fields")
    check({a["length"] for a in synl_answers} == {128, 256}, f"{s['name']}: SynL answer lengths")
    if synl_answers:
        check(abs(sum(a["correct"] for a in synl_answers) / len(synl_answers) - synl.get("accuracy", -1)) < 1e-9,
              f"{s['name']}: SynL answers disagree with the accuracy")

def length_at(stage, step):
    """The stage's length at 0-based `step`: its seq_len_warmup doubles `start` to seq_len in equal shares."""
    w = stage.get("seq_len_warmup")
    if not w or step >= w["steps"]:
        return stage["seq_len"]
    doublings = (stage["seq_len"] // w["start"]).bit_length() - 1
    return w["start"] << (step * (doublings + 1) // w["steps"])


check(any("seq_len_warmup" in s for s in stages), "the plan has no seq_len_warmup to check")

# metrics.jsonl: one line per step of every stage, with the documented fields.
rows = []
with open(os.path.join(out, "metrics.jsonl")) as f:
    for line in f:
        rows.append(json.loads(line))
for r in rows:
    missing = [k for k in ("step", "stage", "loss", "lr", "tokens_per_s", "seq_len") if k not in r]
    check(not missing, f"metrics line lacks {missing}: {r}")
for s in stages:
    mine = [r for r in rows if r.get("stage") == s["name"]]
    check([r["step"] for r in mine] == list(range(1, s["steps"] + 1)), f"{s['name']}: metric steps")
    check([r["seq_len"] for r in mine] == [length_at(s, t) for t in range(s["steps"])],
          f"{s['name']}: seq_len in metrics {[r['seq_len'] for r in mine]}")
    check(all(r["tokens_per_s"] > 0 and r["lr"] > 0 for r in mine), f"{s['name']}: tokens/s or lr not positive")
    n = max(1, len(mine) // 5)
    first = sum(r["loss"] for r in mine[:n]) / n
    last = sum(r["loss"] for r in mine[-n:]) / n
    print(f"{s['name']}: mean loss of the first {n} steps {first:.4f}, of the last {n} {last:.4f}")
    check(last < first, f"{s['name']}: loss did not fall ({first:.4f} -> {last:.4f})")

# report.md: the loss summary, the needle and the SynL tables, a row per stage in each.
with open(os.path.join(out, "report.md")) as f:
    report = f.read()
check(report.startswith("# tiny_four_stage"), "report.md title")
for s in stages:
    check(report.count(f"| {s['name']} |") == 3, f"report.md: {s['name']} is not in all three tables")
check("| stage | SynL all | information retrieval | chain-of-thought reasoning | global understanding |" in report,
      "report.md: no SynL table")

# lsk eval on the final model.
final = os.path.join(out, "stages", stages[-1]["name"], "final")
common = ["--model", final, "--tokenizer", "byte"]
svg = os.path.join(work, "eval_needle.svg")
answers_path = os.path.join(work, "eval_needle_answers.jsonl")
needle = run(["eval", "needle", *common, "--text", heldout, "--lengths", "128,256", "--depths", "0,0.5,1",
              "--samples", "1", "--svg", svg, "--answers", answers_path])
check(needle.returncode == 0, f"eval needle: {needle.stderr}")
check("depth\\len\t128\t256" in needle.stdout and "\n50%\t" in needle.stdout, f"eval needle table: {needle.stdout}")
check(os.path.isfile(svg), "eval needle: no SVG")
with open(answers_path) as f:
    answers = [json.loads(line) for line in f]
check(len(answers) == 6 and sorted({a["depth"] for a in answers}) == [0, 50, 100],
      f"eval needle --answers: {answers}")
synl_answers_path = os.path.join(work, "eval_synl_answers.jsonl")
synl = run(["eval", "synl", *common, "--samples", "3", "--target-tokens", "128,256", "--answers", synl_answers_path])
check(synl.returncode == 0, f"eval synl: {synl.stderr}")
with open(synl_answers_path) as f:
    synl_answers = [json.loads(line) for line in f]
check(len(synl_answers) == 6 and sorted({a["length"] for a in synl_answers}) == [128, 256]
      and all(a["expected"] for a in synl_answers), f"eval synl --answers: {synl_answers}")
for line in ("| family | 128 | 256 | all |", "| information retrieval |", "| chain-of-thought reasoning |",
             "| global understanding |", "| all |"):
    check(line in synl.stdout, f"eval synl: no '{line}' in {synl.stdout}")
check("6 questions" in synl.stdout, f"eval synl: question count: {synl.stdout}")
ppl = run(["eval", "ppl", *common, "--text", heldout, "--lengths", "64,128,256", "--windows", "2"])
check(ppl.returncode == 0, f"eval ppl: {ppl.stderr}")
check("| length | windows | perplexity | second half |" in ppl.stdout, f"eval ppl table: {ppl.stdout}")
for length in (64, 128, 256):
    check(f"\n| {length} | 2 | " in ppl.stdout, f"eval ppl: no row for {length}: {ppl.stdout}")

# Bad options: exit 1 with the option named.
for args, name in ((["eval", "synl", *common, "--target-tokens", "10"], "--target-tokens"),
                   (["eval", "ppl", *common, "--text", heldout, "--lengths", "100000"], "--lengths"),
                   (["eval", "needle", *common, "--text", heldout, "--depths", "2"], "--depths"),
                   (["eval", "ppl", "--model", final, "--tokenizer", os.path.join(work, "none.model"), "--text",
                     heldout], "--tokenizer")):
    r = run(args)
    check(r.returncode == 1 and name in r.stderr, f"{' '.join(args[:2])} {name}: exit {r.returncode}: {r.stderr}")

print("check_train_eval_cli:", "OK" if not failures else f"{failures} failure(s)")
sys.exit(1 if failures else 0)
