#!/usr/bin/env python3
"""torch.matmul throughput on square problems: the PyTorch side of bench_cuda_matmul.

Prints the same table as bench/cuda/bench_cuda_matmul (TFLOP/s, 2 n^3 flops per
product, n = 1024 2048 4096 8192 by default) for
  fp32  float32 tensors, torch.backends.cuda.matmul.allow_tf32 = False
  tf32  float32 tensors, allow_tf32 = True
  bf16  bfloat16 tensors (f32 accumulation; unlike the cuBLAS column, the
        output is bf16, as torch.matmul returns the input dtype)
Timing as in the C++ program: CUDA events around `inner` back-to-back products
(~20 GFLOP per repetition), 2 warm-up repetitions, median of `reps`.
  python3 bench/cuda/torch_matmul.py [reps] [n ...]
"""
import statistics
import sys

import torch


def measure(n, mode, reps):
    torch.backends.cuda.matmul.allow_tf32 = mode == "tf32"
    dtype = torch.bfloat16 if mode == "bf16" else torch.float32
    gen = torch.Generator(device="cuda").manual_seed(1)
    a = (torch.rand(n, n, device="cuda", generator=gen) * 2 - 1).to(dtype)
    b = (torch.rand(n, n, device="cuda", generator=gen) * 2 - 1).to(dtype)
    c = torch.empty(n, n, device="cuda", dtype=dtype)
    flops = 2.0 * n * n * n
    inner = max(1, int(2e10 / flops))
    start = torch.cuda.Event(enable_timing=True)
    stop = torch.cuda.Event(enable_timing=True)
    results = []
    for r in range(reps + 2):
        start.record()
        for _ in range(inner):
            torch.matmul(a, b, out=c)
        stop.record()
        stop.synchronize()
        if r >= 2:
            results.append(flops * inner / (start.elapsed_time(stop) * 1e-3) / 1e12)
    return statistics.median(results)


def main():
    if not torch.cuda.is_available():
        print("skipped: no CUDA device")
        return
    reps = max(1, int(sys.argv[1])) if len(sys.argv) > 1 else 9
    sizes = [int(s) for s in sys.argv[2:]] or [1024, 2048, 4096, 8192]
    print(f"torch.matmul {torch.__version__}, C = A B square n x n, TFLOP/s (median of {reps}), "
          f"{torch.cuda.get_device_name()}")
    print(f"{'n':>8} {'fp32':>12} {'tf32':>12} {'bf16':>12}")
    for n in sizes:
        row = [measure(n, mode, reps) for mode in ("fp32", "tf32", "bf16")]
        print(f"{n:>8} {row[0]:>12.1f} {row[1]:>12.1f} {row[2]:>12.1f}")


if __name__ == "__main__":
    main()
