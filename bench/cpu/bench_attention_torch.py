#!/usr/bin/env python3
"""PyTorch CPU scaled_dot_product_attention on the shapes of bench_attention.

Causal attention of one sequence, (1, heads, len, head_dim) f32, forward and
forward+backward, GFLOP/s counting the causal half (same formula as
bench/cpu/bench_attention.cpp) and the peak resident set of a fresh process per
point (so one point's memory does not hide another's).

Setup (CPU-only torch in a venv):
  python3 -m venv /tmp/torch-venv
  /tmp/torch-venv/bin/pip install torch --index-url https://download.pytorch.org/whl/cpu
Run (2 threads, as the lsk benchmark):
  /tmp/torch-venv/bin/python bench/cpu/bench_attention_torch.py [--lengths 1024,2048,...] [--head-dims 64,128]
"""
import argparse
import json
import resource
import subprocess
import sys
import time


def one(length, head_dim, heads, kv_heads, mode, threads, min_time):
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(threads)
    g = torch.Generator().manual_seed(0)
    q = torch.randn(1, heads, length, head_dim, generator=g, requires_grad=mode == "fwdbwd")
    k = torch.randn(1, kv_heads, length, head_dim, generator=g, requires_grad=mode == "fwdbwd")
    v = torch.randn(1, kv_heads, length, head_dim, generator=g, requires_grad=mode == "fwdbwd")
    dout = torch.randn(1, heads, length, head_dim, generator=g)
    gqa = {"enable_gqa": True} if kv_heads != heads else {}

    def step():
        if mode == "fwd":
            with torch.no_grad():
                F.scaled_dot_product_attention(q, k, v, is_causal=True, **gqa)
        else:
            out = F.scaled_dot_product_attention(q, k, v, is_causal=True, **gqa)
            out.backward(dout)
            q.grad = k.grad = v.grad = None

    step()  # warm-up
    times = []
    start = time.perf_counter()
    while True:
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
        if time.perf_counter() - start >= min_time and len(times) >= 1:
            break
    times.sort()
    t = times[len(times) // 2]
    pairs = length * (length + 1) / 2
    flops = 4.0 * pairs * head_dim * heads * (3.5 if mode == "fwdbwd" else 1.0)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    return {"len": length, "head_dim": head_dim, "heads": heads, "kv_heads": kv_heads, "mode": mode,
            "ms": t * 1e3, "gflops": flops / t * 1e-9, "rss_mib": rss, "torch": torch.__version__}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lengths", default="1024,2048,4096,8192,16384")
    ap.add_argument("--head-dims", default="64,128")
    ap.add_argument("--heads", type=int, default=8)
    ap.add_argument("--kv-heads", type=int, default=8)
    ap.add_argument("--modes", default="fwd,fwdbwd")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--min-time", type=float, default=1.0)
    ap.add_argument("--one", action="store_true", help="run a single point in this process (internal)")
    ap.add_argument("--length", type=int)
    ap.add_argument("--head-dim", type=int)
    ap.add_argument("--mode")
    a = ap.parse_args()
    if a.one:
        print(json.dumps(one(a.length, a.head_dim, a.heads, a.kv_heads, a.mode, a.threads, a.min_time)))
        return
    print("| mode | len | head_dim | heads/kv | ms | GFLOP/s | peak RSS MiB |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for mode in a.modes.split(","):
        for d in map(int, a.head_dims.split(",")):
            for n in map(int, a.lengths.split(",")):
                cmd = [sys.executable, __file__, "--one", "--length", str(n), "--head-dim", str(d), "--mode", mode,
                       "--heads", str(a.heads), "--kv-heads", str(a.kv_heads), "--threads", str(a.threads),
                       "--min-time", str(a.min_time)]
                p = subprocess.run(cmd, capture_output=True, text=True)
                if p.returncode != 0:
                    print(f"| {mode} | {n} | {d} | {a.heads}/{a.kv_heads} | failed: {p.stderr.strip().splitlines()[-1:]} | | |")
                    continue
                r = json.loads(p.stdout)
                print(f"| {mode} | {n} | {d} | {a.heads}/{a.kv_heads} | {r['ms']:.1f} | {r['gflops']:.1f} | {r['rss_mib']:.0f} |",
                      flush=True)


if __name__ == "__main__":
    main()
