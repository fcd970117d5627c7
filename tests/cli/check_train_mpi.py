#!/usr/bin/env python3
"""`lsk train --launcher mpi` under mpirun: the tiny four-stage plan (no evaluation) on one
process, then on 2 MPI processes as 2 context-parallel ranks and as 2 data-parallel ranks.
Each MPI run must log the one-process losses (the first 20 steps within 1e-5 relative; and
every later stage, run alone from the one-process weights at its start, its first 10 steps
within 1e-5: tests/cli/same_training.py), only rank 0 may print, and the output directory must hold every stage's final weights. A process count
that --context-parallel does not divide is an error naming both (exit status not 0).

Usage: check_train_mpi.py LSK_BINARY SOURCE_DIR WORK_DIR MPIEXEC [MPIEXEC_FLAGS...]
"""
import json
import os
import shutil
import subprocess
import sys
import time

from same_training import check_same_training, check_stages_from_one_start

lsk, source, work, mpiexec = sys.argv[1:5]
mpi_flags = sys.argv[5:]
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
with open(os.path.join(source, "tests", "fixtures", "plans", "tiny_four_stage.json")) as f:
    plan = json.load(f)
plan.pop("eval")
plan_path = os.path.join(work, "plan.json")
with open(plan_path, "w") as f:
    json.dump(plan, f)
stages = plan["stages"]
corpus = os.path.join(source, "tests", "fixtures", "corpus", "expected")
text = sorted(os.path.join(d, f) for d, _, files in os.walk(corpus) for f in files if f.endswith(".txt"))
failures = 0


def check(ok, message):
    global failures
    if not ok:
        failures += 1
        print(f"FAIL: {message}")


def train(name, launch, flags):
    out = os.path.join(work, name)
    start = time.time()
    r = subprocess.run([*launch, lsk, "train", "--plan", plan_path, "--text", *text, "--tokenizer", "byte",
                        "--attention", "tiled", "--out", out, "--fresh", *flags],
                       capture_output=True, text=True, timeout=600)
    print(f"{name}: exit {r.returncode}, {time.time() - start:.1f} s")
    return r, out


mpirun = [mpiexec, "-np", "2", *mpi_flags]
one, one_out = train("one", [], [])
if one.returncode != 0:
    print(one.stderr[-3000:])
    sys.exit(1)
with open(os.path.join(one_out, "metrics.jsonl")) as f:
    reference = [json.loads(line) for line in f]

for name, flags, layout in (("mpi_cp2", ["--launcher", "mpi", "--context-parallel", "2"], "1 data group(s) of 2"),
                            ("mpi_dp2", ["--launcher", "mpi"], "2 data group(s) of 1")):
    r, out = train(name, mpirun, flags)
    check(r.returncode == 0, f"{name}: exit {r.returncode}: {r.stderr[-2000:]}")
    if r.returncode != 0:
        continue
    check(r.stdout.count("mpi: 2 processes, " + layout) == 1 and r.stdout.count("report: ") == 1,
          f"{name}: not the layout '{layout}', or more than rank 0 printed: {r.stdout[:500]}")
    with open(os.path.join(out, "metrics.jsonl")) as f:
        metrics = [json.loads(line) for line in f]
    check(len(metrics) == len(reference), f"{name}: {len(metrics)} metrics lines, one process {len(reference)}")
    check_same_training(reference, metrics, name, check)
    for s in stages:
        check(os.path.isfile(os.path.join(out, "stages", s["name"], "final", "model.safetensors")),
              f"{name} {s['name']}: no final weights")

layout_launch = {"one rank": ([], []), "mpi_cp2": (mpirun, ["--launcher", "mpi", "--context-parallel", "2"]),
                 "mpi_dp2": (mpirun, ["--launcher", "mpi"])}


def train_alone(label, stage_plan, init, layout):
    launch, flags = layout_launch[layout]
    out = os.path.join(work, "alone", label)
    r = subprocess.run([*launch, lsk, "train", "--plan", stage_plan, "--text", *text, "--tokenizer", "byte",
                        "--attention", "tiled", "--out", out, "--fresh", "--init", init, *flags],
                       capture_output=True, text=True, timeout=600)
    print(f"{label}: exit {r.returncode}")
    if r.returncode != 0:
        print(r.stderr[-2000:])
        return None
    with open(os.path.join(out, "metrics.jsonl")) as f:
        return [json.loads(line) for line in f]


os.makedirs(os.path.join(work, "alone"))
check_stages_from_one_start(train_alone, plan, one_out, os.path.join(work, "alone"), ["mpi_cp2", "mpi_dp2"], check)

bad, _ = train("mpi_cp3", mpirun, ["--launcher", "mpi", "--context-parallel", "3"])
check(bad.returncode != 0 and "2 processes do not form whole data group(s) of --context-parallel 3" in bad.stderr,
      f"2 processes with --context-parallel 3: exit {bad.returncode}: {bad.stderr[-1000:]}")

if failures:
    print(f"check_train_mpi: {failures} failure(s)")
    sys.exit(1)
print("check_train_mpi: OK")
