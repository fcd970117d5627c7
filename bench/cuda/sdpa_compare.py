#!/usr/bin/env python3
"""PyTorch SDPA (flash backend) on the shapes of bench_flash_attention.

Prints the same table as bench/cuda/bench_flash_attention.cpp: sequence
length 1K..64K at a constant number of tokens (batch = tokens / seq), bf16,
causal by default; forward and forward+backward TFLOP/s, FLOPs counted as
flash-attn does (forward 4 * batch * seq^2 * heads * head_dim, halved when
causal; backward 2.5x the forward); median of --reps runs after two warm-ups,
timed with CUDA events.

    python3 bench/cuda/sdpa_compare.py [--lsk-bench build/bench/bench_flash_attention]

With --lsk-bench, the lsk program runs first with the same options and both
tables are printed one after the other.
"""
import argparse
import statistics
import subprocess
import sys

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel


def median_ms(fn, reps):
    start = torch.cuda.Event(enable_timing=True)
    stop = torch.cuda.Event(enable_timing=True)
    for _ in range(2):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        start.record()
        fn()
        stop.record()
        stop.synchronize()
        times.append(start.elapsed_time(stop))
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--non-causal", action="store_true")
    ap.add_argument("--heads", type=int, default=16)
    ap.add_argument("--kv-heads", type=int, default=16)
    ap.add_argument("--head-dim", type=int, default=128)
    ap.add_argument("--tokens", type=int, default=65536)
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--lsk-bench", help="path of bench_flash_attention, run first with the same options")
    args = ap.parse_args()
    causal = not args.non_causal
    kv_heads = min(args.kv_heads, args.heads)

    if args.lsk_bench:
        cmd = [args.lsk_bench, "--heads", str(args.heads), "--kv-heads", str(kv_heads), "--head-dim",
               str(args.head_dim), "--tokens", str(args.tokens), "--reps", str(args.reps)]
        if not causal:
            cmd.append("--non-causal")
        sys.stdout.flush()
        subprocess.run(cmd, check=True)
        print()

    if not torch.cuda.is_available():
        print("skipped: no CUDA device")
        return
    dev = torch.device("cuda")
    print(f"torch {torch.__version__} SDPA (FLASH_ATTENTION backend) on {torch.cuda.get_device_name(dev)}: "
          f"{args.tokens} tokens, heads {args.heads}, kv_heads {kv_heads}, head_dim {args.head_dim}, "
          f"{'causal' if causal else 'non-causal'}, bf16")
    print(f"{'seq':>8} {'batch':>6} {'fwd ms':>10} {'fwd TFLOP/s':>12} {'fwd+bwd ms':>14} {'fwd+bwd TFLOP/s':>16}")
    seq = 1024
    while seq <= args.tokens and seq <= 65536:
        batch = args.tokens // seq
        shape_q = (batch, args.heads, seq, args.head_dim)
        shape_kv = (batch, kv_heads, seq, args.head_dim)
        q = torch.randn(shape_q, device=dev, dtype=torch.bfloat16, requires_grad=True)
        k = torch.randn(shape_kv, device=dev, dtype=torch.bfloat16, requires_grad=True)
        v = torch.randn(shape_kv, device=dev, dtype=torch.bfloat16, requires_grad=True)
        dout = torch.randn(shape_q, device=dev, dtype=torch.bfloat16)
        gqa = {"enable_gqa": True} if kv_heads != args.heads else {}

        def fwd():
            with torch.no_grad():
                F.scaled_dot_product_attention(q, k, v, is_causal=causal, **gqa)

        def fwd_bwd():
            # autograd.grad returns fresh gradients (no accumulation kernels into .grad).
            out = F.scaled_dot_product_attention(q, k, v, is_causal=causal, **gqa)
            torch.autograd.grad(out, (q, k, v), dout)

        with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
            fwd_ms = median_ms(fwd, args.reps)
            all_ms = median_ms(fwd_bwd, args.reps)
        fwd_flops = 4.0 * batch * seq * seq * args.heads * args.head_dim / (2.0 if causal else 1.0)
        all_flops = 3.5 * fwd_flops
        print(f"{seq:>8} {batch:>6} {fwd_ms:>10.3f} {fwd_flops / fwd_ms * 1e-9:>12.1f} {all_ms:>14.3f} "
              f"{all_flops / all_ms * 1e-9:>16.1f}", flush=True)
        del q, k, v, dout
        seq *= 2


if __name__ == "__main__":
    main()
