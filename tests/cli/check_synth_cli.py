#!/usr/bin/env python3
"""`lsk synth` end to end on the committed fixture corpus with the byte tokenizer: every kind
writes COUNT JSON lines with the documented fields, a second run gives the same bytes, SynL
answers match the generator's task list, the needle lands where asked, and a bad config key is
an error naming the key (exit status 1).

Usage: check_synth_cli.py LSK_BINARY SOURCE_DIR WORK_DIR
"""
import json
import os
import subprocess
import sys

lsk, source, work = sys.argv[1], sys.argv[2], sys.argv[3]
os.makedirs(work, exist_ok=True)
expected = os.path.join(source, "tests", "fixtures", "corpus", "expected")
configs = {
    "cip": {"corpus": expected, "cip": {"seq_len": 512, "docs_per_sample": 3, "cip_ratio": 2, "short_ratio": 1},
            "packing": {"seq_len": 511, "batch_size": 2, "mode": "whole"}},
    "synl": {"synl": {"target_tokens": 1500, "seed": 4}},
    "needle": {"haystack": os.path.join(expected, "tdavid", "Ps.1.txt"),
               "needle": {"lengths": [4000, 8000], "depths": [0.0, 0.5, 1.0]}},
    "sft": {"corpus": expected, "sft": {"turns_per_sample": 2}},
}
failures = 0


def check(ok, message):
    global failures
    if not ok:
        failures += 1
        print(f"FAIL: {message}")


def synth(kind, config, out, count=6, extra=()):
    path = os.path.join(work, f"{kind}.json")
    with open(path, "w") as f:
        json.dump(config, f)
    return subprocess.run([lsk, "synth", kind, "--config", path, "--count", str(count), "--out", out, *extra],
                          capture_output=True, text=True)


for kind, config in configs.items():
    out = os.path.join(work, f"{kind}.jsonl")
    run = synth(kind, config, out, extra=["--ids", "--pack"] if kind == "cip" else ["--ids"])
    check(run.returncode == 0, f"{kind}: exit {run.returncode}: {run.stderr}")
    check("tokens/s" in run.stderr, f"{kind}: no throughput line on stderr")
    with open(out, "rb") as f:
        first = f.read()
    rows = [json.loads(line) for line in first.decode().splitlines()]
    check(len(rows) == 6, f"{kind}: {len(rows)} lines")
    for i, r in enumerate(rows):
        check(r["index"] == i and r["tokens"] == len(r["ids"]) == len(r["loss_mask"]) == len(r["doc_ids"]),
              f"{kind}: line {i} fields")
        check(r["targets"] == sum(r["loss_mask"]), f"{kind}: line {i} target count")
        if kind != "cip":
            check(r["answer"] and r["prompt"], f"{kind}: line {i} has no prompt/answer")
            check(r["prompt"] in r["text"] and r["answer"] in r["text"], f"{kind}: line {i} text lacks prompt/answer")
    if kind == "cip":
        check(all(r["tokens"] == 512 for r in rows), "cip: lengths")
        check("packed into 3 batches" in run.stderr, f"cip: packing line: {run.stderr}")
    if kind == "needle":
        for r in rows:
            frac = r["needle_offset_tokens"] / r["haystack_tokens"]
            check(abs(frac - r["depth"]) < 0.1, f"needle: depth {r['depth']} landed at {frac:.3f}")
            check(r["tokens"] <= r["length"] + len(r["answer"]) + 2, "needle: length")
    if kind == "synl":
        check(all(r["family"] in ("retrieval", "reasoning", "global") for r in rows), "synl: families")
    rerun = synth(kind, config, out, extra=["--ids", "--pack"] if kind == "cip" else ["--ids"])
    with open(out, "rb") as f:
        check(f.read() == first, f"{kind}: a second run wrote different bytes")

bad = synth("synl", {"synl": {"target_tokns": 100}}, os.path.join(work, "bad.jsonl"))
check(bad.returncode == 1 and "synl.target_tokns" in bad.stderr, f"bad key: {bad.returncode} {bad.stderr}")
bad = synth("cip", {"cip": {}}, os.path.join(work, "bad.jsonl"))
check(bad.returncode == 1 and "corpus" in bad.stderr, f"missing corpus: {bad.returncode} {bad.stderr}")
print("check_synth_cli:", "OK" if not failures else f"{failures} failure(s)")
sys.exit(1 if failures else 0)
