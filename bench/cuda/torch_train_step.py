#!/usr/bin/env python3
"""PyTorch eager training steps of the Llama model of bench_train_step.

The same shapes and FLOP count as bench/cuda/bench_train_step.cpp: f32
weights, bf16 autocast (matmuls and SDPA's flash attention in bf16), RMSNorm,
RoPE (rotate-half), SwiGLU, untied LM head, mean cross-entropy, global-norm
clipping at 1.0 and torch.optim.AdamW; median step time over --steps after
--warmup steps, each ending with loss.item(). The peak is torch.matmul's bf16
rate on an 8192^3 product.

    python3 bench/cuda/torch_train_step.py [--lsk-bench build/bench/bench_train_step] [shape options]

With --lsk-bench, the lsk program runs first with the same options; both rows
are printed with lsk's tokens/s as a fraction of PyTorch's.
"""
import argparse
import statistics
import subprocess
import time

import torch
import torch.nn.functional as F


class RMSNorm(torch.nn.Module):
    def __init__(self, d, eps=1e-5):
        super().__init__()
        self.eps = eps
        self.weight = torch.nn.Parameter(torch.ones(d))

    def forward(self, x):
        xf = x.float()
        return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)).to(x.dtype) * self.weight


class Block(torch.nn.Module):
    def __init__(self, d, heads, kv_heads, inter):
        super().__init__()
        self.heads, self.kv_heads, self.hd = heads, kv_heads, d // heads
        self.n1 = RMSNorm(d, eps=1e-5)
        self.n2 = RMSNorm(d, eps=1e-5)
        self.q = torch.nn.Linear(d, heads * self.hd, bias=False)
        self.k = torch.nn.Linear(d, kv_heads * self.hd, bias=False)
        self.v = torch.nn.Linear(d, kv_heads * self.hd, bias=False)
        self.o = torch.nn.Linear(heads * self.hd, d, bias=False)
        self.gate = torch.nn.Linear(d, inter, bias=False)
        self.up = torch.nn.Linear(d, inter, bias=False)
        self.down = torch.nn.Linear(inter, d, bias=False)

    def forward(self, x, cos, sin):
        b, t, _ = x.shape
        h = self.n1(x)
        q = self.q(h).view(b, t, self.heads, self.hd).transpose(1, 2)
        k = self.k(h).view(b, t, self.kv_heads, self.hd).transpose(1, 2)
        v = self.v(h).view(b, t, self.kv_heads, self.hd).transpose(1, 2)
        q, k = rope(q, cos, sin), rope(k, cos, sin)
        if self.heads != self.kv_heads:  # grouped-query attention as eager code writes it
            k = k.repeat_interleave(self.heads // self.kv_heads, dim=1)
            v = v.repeat_interleave(self.heads // self.kv_heads, dim=1)
        a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.o(a.transpose(1, 2).reshape(b, t, -1))
        h = self.n2(x)
        return x + self.down(F.silu(self.gate(h)) * self.up(h))


def rope(x, cos, sin):
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1).to(x.dtype)


class Llama(torch.nn.Module):
    def __init__(self, a):
        super().__init__()
        self.embed = torch.nn.Embedding(a.vocab, a.hidden)
        self.blocks = torch.nn.ModuleList(
            Block(a.hidden, a.heads, a.kv_heads, a.intermediate) for _ in range(a.layers))
        self.norm = RMSNorm(a.hidden, eps=1e-5)
        self.head = torch.nn.Linear(a.hidden, a.vocab, bias=False)
        hd = a.hidden // a.heads
        inv = 1.0 / (10000.0 ** (torch.arange(0, hd, 2).float() / hd))
        ang = torch.outer(torch.arange(a.seq).float(), inv)
        self.register_buffer("cos", ang.cos())
        self.register_buffer("sin", ang.sin())

    def forward(self, ids):
        x = self.embed(ids)
        for blk in self.blocks:
            x = blk(x, self.cos, self.sin)
        return self.head(self.norm(x))


def is_lsk_row(line):
    """bench_train_step's result row: "lsk", then ms/step, tokens/s, TFLOP/s, ..."""
    fields = line.split()
    try:
        return len(fields) >= 4 and fields[0] == "lsk" and float(fields[1]) > 0
    except ValueError:
        return False


def main():
    p = argparse.ArgumentParser()
    for name, default in [("hidden", 768), ("layers", 12), ("heads", 12), ("kv-heads", 12), ("intermediate", 2048),
                          ("vocab", 32000), ("seq", 2048), ("batch", 4), ("steps", 10), ("warmup", 3)]:
        p.add_argument("--" + name, type=int, default=default)
    p.add_argument("--lsk-bench")
    p.add_argument("--profile", action="store_true",
                   help="also print the CUDA kernels of one step by total time (torch.profiler)")
    a = p.parse_args()
    lsk_line = None
    if a.lsk_bench:
        cmd = [a.lsk_bench] + [x for k in ["hidden", "layers", "heads", "kv_heads", "intermediate", "vocab", "seq",
                                          "batch", "steps", "warmup"]
                               for x in ("--" + k.replace("_", "-"), str(getattr(a, k)))] + ["--matmul", "bf16"]
        run = subprocess.run(cmd, capture_output=True, text=True)
        out = run.stdout
        print(out + run.stderr, end="")
        if run.returncode != 0:
            raise SystemExit(f"{a.lsk_bench} failed with exit code {run.returncode}")
        lsk_line = next((line for line in out.splitlines() if is_lsk_row(line)), None)

    torch.manual_seed(0)
    dev = "cuda"
    model = Llama(a).to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-4, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1)
    ids = torch.randint(0, a.vocab, (a.batch, a.seq + 1), device=dev)

    def step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cuda", dtype=torch.bfloat16):
            logits = model(ids[:, :-1])
        loss = F.cross_entropy(logits.float().view(-1, a.vocab), ids[:, 1:].reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss.item()

    times = []
    loss = 0.0
    for s in range(a.warmup + a.steps):
        t0 = time.perf_counter()
        loss = step()
        if s >= a.warmup:
            times.append(time.perf_counter() - t0)
    step_s = statistics.median(times)

    n = 8192
    x = torch.randn(n, n, device=dev, dtype=torch.bfloat16)
    y = torch.randn(n, n, device=dev, dtype=torch.bfloat16)
    for _ in range(3):
        x @ y
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(10):
        x @ y
    torch.cuda.synchronize()
    peak = 2 * n ** 3 * 10 / (time.perf_counter() - t0) / 1e12

    d, hd = a.hidden, a.hidden // a.heads
    q, kv = a.heads * hd, a.kv_heads * hd
    matmul_params = a.layers * (d * (q + 2 * kv) + q * d + 3 * d * a.intermediate) + a.vocab * d
    tokens = a.batch * a.seq
    flops = tokens * (6 * matmul_params + 6 * a.layers * a.seq * d)
    achieved = flops / step_s / 1e12
    print(f"torch {torch.__version__} eager, bf16 autocast, SDPA; peak = torch.matmul bf16 {n}^3")
    print(f"{'impl':<10} {'ms/step':>10} {'tokens/s':>12} {'TFLOP/s':>10} {'peak TFLOP/s':>14} {'MFU':>8} {'loss':>8}")
    print(f"{'torch':<10} {step_s * 1e3:10.1f} {tokens / step_s:12.0f} {achieved:10.1f} {peak:14.1f} "
          f"{100 * achieved / peak:7.1f}% {loss:8.4f}")
    if a.profile:
        from torch.profiler import ProfilerActivity, profile
        with profile(activities=[ProfilerActivity.CUDA]) as prof:
            step()
            torch.cuda.synchronize()
        print(prof.key_averages().table(sort_by="cuda_time_total", row_limit=25, max_name_column_width=60))
    if lsk_line:
        lsk_tokens = float(lsk_line.split()[2])
        lsk_tflops = float(lsk_line.split()[3])
        print(f"lsk / torch tokens/s: {lsk_tokens / (tokens / step_s):.2f}; "
              f"lsk MFU against torch's bf16 matmul peak: {100 * lsk_tflops / peak:.1f}%")


if __name__ == "__main__":
    main()
