#!/usr/bin/env python3
"""Side-by-side attention table: lsk tiled, lsk naive and PyTorch SDPA, shape by shape.

For each (head_dim, len) the three run one after another (so they see the same
machine load), each in its own process for an honest peak RSS. Prints a
markdown table of GFLOP/s (causal FLOPs; fwd+bwd = 3.5x fwd), time, peak RSS
and the tiled/torch ratio. Used by bench/cpu/run_attention.sh:
  compare_attention.py BENCH_BINARY [TORCH_PYTHON] --lengths 1024,... --head-dims 64,128
"""
import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def lsk_point(binary, name, n, d, heads, kv_heads, min_time, threads):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads))
    flt = f"^{name}/{n}/{d}/{heads}/{kv_heads}/real_time$"
    p = subprocess.run([binary, f"--benchmark_filter={flt}", f"--benchmark_min_time={min_time}",
                        "--benchmark_format=json"], capture_output=True, text=True, env=env)
    if p.returncode != 0:
        return None
    runs = json.loads(p.stdout)["benchmarks"]
    if not runs:
        return None
    r = runs[0]
    return {"ms": r["real_time"], "gflops": r["GFLOP/s"],
            "rss": r["rss_MiB"]}


def torch_point(python, n, d, heads, kv_heads, mode, min_time, threads):
    p = subprocess.run([python, os.path.join(HERE, "bench_attention_torch.py"), "--one", "--length", str(n),
                        "--head-dim", str(d), "--mode", mode, "--heads", str(heads), "--kv-heads", str(kv_heads),
                        "--threads", str(threads), "--min-time", str(min_time)], capture_output=True, text=True)
    if p.returncode != 0:
        return None
    r = json.loads(p.stdout)
    return {"ms": r["ms"], "gflops": r["gflops"], "rss": r["rss_mib"]}


def cell(r):
    return "–" if r is None else f"{r['gflops']:.1f} ({r['ms']:.0f} ms, {r['rss']:.0f} MiB)"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("torch_python", nargs="?")
    ap.add_argument("--lengths", default="1024,2048,4096,8192,16384")
    ap.add_argument("--head-dims", default="64,128")
    ap.add_argument("--heads", type=int, default=8)
    ap.add_argument("--kv-heads", type=int, default=8)
    ap.add_argument("--naive-max", type=int, default=4096)
    ap.add_argument("--min-time", type=float, default=0.5)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    print("GFLOP/s (time, peak RSS of the process); heads", f"{a.heads}/{a.kv_heads}", "threads", a.threads)
    print()
    print("| pass | head_dim | len | lsk tiled | lsk naive | torch SDPA | tiled / torch |")
    print("|---|---:|---:|---|---|---|---:|")
    for mode in ("fwd", "fwdbwd"):
        for d in map(int, a.head_dims.split(",")):
            for n in map(int, a.lengths.split(",")):
                t = lsk_point(a.binary, f"tiled_{mode}", n, d, a.heads, a.kv_heads, a.min_time, a.threads)
                nv = (lsk_point(a.binary, f"naive_{mode}", n, d, a.heads, a.kv_heads, a.min_time, a.threads)
                      if n <= a.naive_max else None)
                tr = (torch_point(a.torch_python, n, d, a.heads, a.kv_heads, mode, a.min_time, a.threads)
                      if a.torch_python else None)
                ratio = f"{t['gflops'] / tr['gflops']:.2f}" if t and tr else "–"
                label = "fwd" if mode == "fwd" else "fwd+bwd"
                print(f"| {label} | {d} | {n} | {cell(t)} | {cell(nv)} | {cell(tr)} | {ratio} |", flush=True)


if __name__ == "__main__":
    main()
