#!/usr/bin/env python3
"""PyTorch eager counterpart of bench/cpu/bench_llama_train.cpp (CPU only).

    python3 bench/cpu/llama_train_torch.py [--attn eager|sdpa] [--seq 512] [--batch 8]
                                           [--warmup 2] [--steps 5] [--threads 2] [--venv DIR]

It needs torch and transformers. Create a virtual environment from PyPI with

    python3 -m venv DIR && DIR/bin/pip install torch transformers

(the numbers in docs/PERFORMANCE.md used torch 2.15.0 and transformers 5.23.0),
or pass --venv DIR: the script then creates DIR that way when it does not exist
and re-runs itself with DIR/bin/python. Only the CPU is used.

The model is transformers' LlamaForCausalLM with the same reference config as
the C++ benchmark (d_model 256, 4 layers, 4 heads of 64, 2 kv heads, ffn 704,
vocab 4096, untied head, RoPE theta 10000), float32, random init, training
mode, attention implementation "eager" (materialised softmax, as lsk's naive
attention) or "sdpa" (torch.nn.functional.scaled_dot_product_attention).
One step: zero_grad, logits = model(tokens), mean cross-entropy against
explicit next-token targets, backward, clip_grad_norm_(1.0), torch.optim.AdamW
(lr 3e-4, betas 0.9/0.95, weight decay 0.1, none on norms and embeddings;
torch's default implementation for CPU tensors).
FLOPs per token and MFU: the same PaLM formula 6N + 12LHQT as the C++ side;
the peak is the best of 5 torch.mm products of 2048 x 2048 float32 matrices in
the same process and threads, measured before and after the steps (the better
counts). Peak RSS: resource.getrusage ru_maxrss.
Prints human-readable lines and one `RESULT impl=torch-<attn> ...` line.
"""
import argparse
import os
import resource
import subprocess
import sys
import time


def ensure_environment(venv):
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
        return
    except ImportError:
        if not venv:
            sys.exit("llama_train_torch.py: torch and transformers are missing; pass --venv DIR to create them")
    python = os.path.join(venv, "bin", "python")
    if not os.path.exists(python):
        subprocess.run([sys.executable, "-m", "venv", venv], check=True)
        subprocess.run([python, "-m", "pip", "install", "-q", "torch", "transformers"], check=True)
    os.execv(python, [python, *sys.argv])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--attn", choices=["eager", "sdpa"], default="eager")
    p.add_argument("--seq", type=int, default=512)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--peak-n", type=int, default=2048)
    p.add_argument("--venv", default="")
    a = p.parse_args()
    ensure_environment(a.venv)

    import torch
    import torch.nn.functional as F
    import transformers

    torch.set_num_threads(a.threads)
    torch.manual_seed(1234)

    def matmul_peak(n):
        x, y = torch.rand(n, n) * 2 - 1, torch.rand(n, n) * 2 - 1
        torch.mm(x, y)
        best = 0.0
        for _ in range(5):
            t0 = time.perf_counter()
            torch.mm(x, y)
            best = max(best, 2.0 * n ** 3 / (time.perf_counter() - t0) * 1e-9)
        return best

    n = a.peak_n
    peak = matmul_peak(n)

    V, D, L, H, KV, Q, FF = 4096, 256, 4, 4, 2, 64, 704
    config = transformers.LlamaConfig(vocab_size=V, hidden_size=D, intermediate_size=FF, num_hidden_layers=L,
                                      num_attention_heads=H, num_key_value_heads=KV, head_dim=Q,
                                      max_position_embeddings=max(a.seq, 2048), rms_norm_eps=1e-5,
                                      rope_theta=10000.0, tie_word_embeddings=False, attention_bias=False,
                                      mlp_bias=False, hidden_act="silu", attention_dropout=0.0,
                                      initializer_range=0.02, attn_implementation=a.attn)
    model = transformers.LlamaForCausalLM(config).float()
    model.config._attn_implementation = a.attn
    model.train()

    decay, no_decay = [], []
    for name, param in model.named_parameters():
        (no_decay if name.endswith("norm.weight") or "embed_tokens" in name else decay).append(param)
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=3e-4, betas=(0.9, 0.95), eps=1e-8)

    g = torch.Generator().manual_seed(99)
    total = a.warmup + a.steps
    streams = [torch.randint(0, V, (a.batch, a.seq + 1), generator=g) for _ in range(total)]

    times, losses = [], []
    for s in range(total):
        tokens, targets = streams[s][:, :-1].contiguous(), streams[s][:, 1:].contiguous()
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        logits = model(input_ids=tokens).logits
        loss = F.cross_entropy(logits.view(-1, V), targets.view(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        dt = time.perf_counter() - t0
        losses.append(loss.item())
        if s >= a.warmup:
            times.append(dt)
        del logits, loss

    peak = max(peak, matmul_peak(n))
    st = sorted(times)
    median = st[len(st) // 2]
    mean = sum(times) / len(times)
    n_matmul = L * (D * (H * Q + 2 * KV * Q) + H * Q * D + 3 * D * FF) + V * D
    fpt = 6.0 * n_matmul + 12.0 * L * H * Q * a.seq
    tokens_per_step = a.batch * a.seq
    tps = tokens_per_step / median
    gflops = tps * fpt * 1e-9
    mfu = gflops / peak
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    params = sum(p.numel() for p in model.parameters())
    impl = f"torch-{a.attn}"
    print(f"PyTorch {torch.__version__} + transformers {transformers.__version__}, LlamaForCausalLM, "
          f"attention {a.attn}, {torch.get_num_threads()} threads")
    print(f"config: d_model {D}, {L} layers, {H} heads x {Q}, {KV} kv heads, ffn {FF}, vocab {V}, "
          f"seq {a.seq}, batch {a.batch}")
    print(f"parameters: {params}; model FLOPs per token (6N + 12LHQT): {fpt * 1e-6:.2f} M")
    print(f"matmul peak (torch.mm n={n}, best of 5): {peak:.1f} GFLOP/s")
    print(f"steps: {a.warmup} warm-up + {a.steps} timed; step time median {median * 1e3:.1f} ms, "
          f"mean {mean * 1e3:.1f} ms, min {st[0] * 1e3:.1f} ms")
    print(f"loss: first {losses[0]:.4f}, last {losses[-1]:.4f}")
    print(f"throughput: {tps:.0f} tokens/s, {gflops:.1f} GFLOP/s, MFU {mfu * 100:.1f}% of the measured matmul peak")
    print(f"peak RSS: {rss:.0f} MiB")
    print(f"RESULT impl={impl} seq={a.seq} batch={a.batch} threads={torch.get_num_threads()} "
          f"step_ms={median * 1e3:.2f} tokens_per_s={tps:.1f} mflop_per_token={fpt * 1e-6:.3f} "
          f"gflops={gflops:.2f} peak_gflops={peak:.2f} mfu={mfu:.4f} rss_mib={rss:.0f}")


if __name__ == "__main__":
    main()
