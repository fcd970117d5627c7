#!/usr/bin/env python3
"""Where one lsk training step spends its GPU time, kernel by kernel.

Runs bench_train_step --profile 1 (warm-up steps, then one step between
cudaProfilerStart and cudaProfilerStop) under Nsight Compute, collecting one
metric, gpu__time_duration.sum (one pass per kernel, no replay), and prints
the kernels grouped by name: launches, total and mean time, share of the
step's kernel time. The sum of kernel times against the step's wall time
(bench_train_step without --profile) shows how much of a step is launch gaps
and host work rather than kernels.

    python3 bench/cuda/kernel_breakdown.py --lsk-bench build/bench/bench_train_step [--ncu ncu] [--top 25]
                                           [-- extra bench_train_step options]
"""
import argparse
import collections
import csv
import io
import re
import shutil
import subprocess
import sys


MS_PER_UNIT = {"nsecond": 1e-6, "ns": 1e-6, "usecond": 1e-3, "us": 1e-3, "msecond": 1.0, "ms": 1.0}


def short_name(kernel):
    """The kernel's name without its namespace, template arguments and parameters."""
    name = kernel.split("(")[0]
    depth, out = 0, []
    for ch in name:  # drop <...> template arguments, nested ones too
        if ch == "<":
            depth += 1
        elif ch == ">":
            depth -= 1
        elif depth == 0:
            out.append(ch)
    name = "".join(out).strip()
    name = re.sub(r"^(void|[\w:]+\s+)\s*", "", name) if " " in name else name
    name = name.split("::")[-1] or kernel[:60]
    if name in ("Kernel", "Kernel2", "device_kernel"):  # CUTLASS wrappers: the template argument names the kernel
        inner = kernel[kernel.find("<") + 1:].split("(")[0].rstrip(">")
        name = re.sub(r"^[\w:]*::", "", inner.split(",")[0].split("<")[0]) or name
    return name


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lsk-bench", required=True, help="path of bench_train_step")
    ap.add_argument("--ncu", default=shutil.which("ncu") or "/usr/local/cuda/bin/ncu")
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--csv-out", help="also write ncu's raw CSV here")
    ap.add_argument("bench_args", nargs="*", help="options for bench_train_step (after --)")
    a = ap.parse_args()

    cmd = [a.ncu, "--profile-from-start", "off", "--clock-control", "none", "--metrics", "gpu__time_duration.sum",
           "--print-units", "base", "--csv", a.lsk_bench, "--profile", "1", "--warmup", "2", *a.bench_args]
    print("$ " + " ".join(cmd), flush=True)
    run = subprocess.run(cmd, capture_output=True, text=True)
    if run.returncode != 0:
        sys.stderr.write(run.stdout[-4000:] + run.stderr[-4000:])
        sys.exit(run.returncode)
    if a.csv_out:
        with open(a.csv_out, "w") as f:
            f.write(run.stdout)
    start = run.stdout.find('"ID"')
    if start < 0:
        sys.exit("kernel_breakdown: no CSV table in ncu's output:\n" + run.stdout[-2000:])
    totals = collections.defaultdict(float)
    counts = collections.Counter()
    for row in csv.DictReader(io.StringIO(run.stdout[start:])):
        if row.get("Metric Name") != "gpu__time_duration.sum":
            continue
        value = float(row["Metric Value"].replace(",", ""))
        ms = value * MS_PER_UNIT.get(row.get("Metric Unit", "nsecond"), 1e-6)
        name = short_name(row["Kernel Name"])
        totals[name] += ms
        counts[name] += 1
    total = sum(totals.values())
    print(f"one training step ({' '.join(a.bench_args) or 'default shapes'}): {sum(counts.values())} kernels, "
          f"{total:.2f} ms of kernel time")
    print(f"{'kernel':<48} {'launches':>9} {'total ms':>10} {'mean us':>10} {'share':>7}")
    for name, ms in sorted(totals.items(), key=lambda kv: -kv[1])[: a.top]:
        print(f"{name[:48]:<48} {counts[name]:9d} {ms:10.3f} {1e3 * ms / counts[name]:10.1f} {100 * ms / total:6.1f}%")


if __name__ == "__main__":
    main()
