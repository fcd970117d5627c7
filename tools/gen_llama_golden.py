#!/usr/bin/env python3
"""Generates the Llama golden fixtures in tests/golden/llama/ with PyTorch + transformers.

    python3 tools/gen_llama_golden.py [--venv DIR]              # write the fixtures
    python3 tools/gen_llama_golden.py --check-greedy DIR ID ID ...
        # load an HF directory written by lsk (e.g. `lsk convert`) in transformers,
        # decode greedily from BOS and compare with the ids `lsk generate` printed

The fixtures are committed; this script is not run by CI. It needs torch and
transformers (pinned below); with --venv it creates that virtual environment from
PyPI and re-runs itself there. For each configuration it writes, in
tests/golden/llama/NAME/:
  config.json, model.safetensors   LlamaForCausalLM.save_pretrained (float32, seeded init)
  golden.safetensors               tokens, targets (int32, -100 = masked), logits,
                                   grad.<parameter name> for every parameter
  golden.json                      loss, the 10 AdamW step losses, hyper-parameters, versions
The loss is the mean cross-entropy over unmasked targets, with targets given
explicitly (no internal shift), as lsk's token_batch defines them.
"""
import argparse
import json
import os
import subprocess
import sys

TRANSFORMERS_VERSION = "5.23.0"
TORCH_VERSION = "2.15.0"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "golden", "llama")

CONFIGS = {
    # GQA (4 query heads over 2 kv heads), untied output head.
    "gqa_untied": dict(vocab_size=48, hidden_size=32, intermediate_size=56, num_hidden_layers=2,
                       num_attention_heads=4, num_key_value_heads=2, rms_norm_eps=1e-5,
                       max_position_embeddings=64, rope_theta=10000.0, tie_word_embeddings=False),
    # Multi-head attention, output head tied to the embedding, a raised RoPE base.
    "mha_tied": dict(vocab_size=40, hidden_size=24, intermediate_size=40, num_hidden_layers=2,
                     num_attention_heads=2, num_key_value_heads=2, rms_norm_eps=1e-6,
                     max_position_embeddings=64, rope_theta=500000.0, tie_word_embeddings=True),
}
BATCH, SEQ = 2, 11
ADAMW = dict(lr=1e-2, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1)
STEPS = 10


def ensure_environment(venv):
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
        return
    except ImportError:
        if not venv:
            sys.exit("gen_llama_golden.py: torch and transformers are missing; pass --venv DIR to create them")
    python = os.path.join(venv, "bin", "python")
    if not os.path.exists(python):
        subprocess.run([sys.executable, "-m", "venv", venv], check=True)
        subprocess.run([python, "-m", "pip", "install", "-q", f"torch=={TORCH_VERSION}",
                        f"transformers=={TRANSFORMERS_VERSION}", "safetensors"], check=True)
    os.execv(python, [python, *sys.argv])


def make_fixture(name, cfg):
    import torch
    import torch.nn.functional as F
    import transformers
    from safetensors.torch import save_file

    torch.manual_seed(1234)
    config = transformers.LlamaConfig(**cfg, attention_bias=False, mlp_bias=False, hidden_act="silu",
                                      bos_token_id=1, eos_token_id=2, initializer_range=0.1)
    model = transformers.LlamaForCausalLM(config).float()
    model.config._attn_implementation = "eager"
    directory = os.path.join(OUT, name)
    os.makedirs(directory, exist_ok=True)
    model.save_pretrained(directory, safe_serialization=True)

    generator = torch.Generator().manual_seed(99)
    tokens = torch.randint(0, cfg["vocab_size"], (BATCH, SEQ), generator=generator)
    targets = torch.randint(0, cfg["vocab_size"], (BATCH, SEQ), generator=generator)
    targets[0, 3] = -100
    targets[1, 0] = -100
    targets[1, 7] = -100

    def loss_of(m):
        logits = m(input_ids=tokens).logits
        return logits, F.cross_entropy(logits.reshape(-1, cfg["vocab_size"]), targets.reshape(-1), ignore_index=-100)

    logits, loss = loss_of(model)
    model.zero_grad()
    loss.backward()
    tensors = {"tokens": tokens.to(torch.int32).contiguous(), "targets": targets.to(torch.int32).contiguous(),
               "logits": logits.detach().contiguous()}
    for pname, p in model.named_parameters():
        tensors["grad." + pname] = p.grad.detach().contiguous()
    save_file(tensors, os.path.join(directory, "golden.safetensors"))

    optimizer = torch.optim.AdamW(model.parameters(), **ADAMW)
    step_losses = []
    for _ in range(STEPS):
        optimizer.zero_grad()
        _, step_loss = loss_of(model)
        step_losses.append(step_loss.item())
        step_loss.backward()
        optimizer.step()
    with open(os.path.join(directory, "golden.json"), "w") as f:
        json.dump({"loss": loss.item(), "adamw": {"lr": ADAMW["lr"], "beta1": ADAMW["betas"][0],
                                                  "beta2": ADAMW["betas"][1], "eps": ADAMW["eps"],
                                                  "weight_decay": ADAMW["weight_decay"], "steps": STEPS},
                   "adamw_step_losses": step_losses, "batch": BATCH, "seq_len": SEQ,
                   "torch": torch.__version__, "transformers": transformers.__version__}, f, indent=1)
    print(f"{name}: loss {loss.item():.6f}, after {STEPS} AdamW steps {step_losses[-1]:.6f}")


def check_greedy(directory, expected):
    import torch
    import transformers

    model = transformers.LlamaForCausalLM.from_pretrained(directory, dtype=torch.float32)
    model.config._attn_implementation = "eager"
    ids = torch.tensor([[model.config.bos_token_id]])
    with torch.no_grad():
        out = model.generate(ids, max_new_tokens=len(expected), do_sample=False, eos_token_id=None,
                             pad_token_id=0)[0, 1:].tolist()
    same = out == expected
    print(f"transformers greedy ids on {directory}: {'identical to' if same else 'DIFFERENT from'} lsk's "
          f"({len(expected)} tokens)")
    if not same:
        print(out)
    sys.exit(0 if same else 1)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--venv")
    parser.add_argument("--check-greedy", nargs="+", metavar="DIR_THEN_IDS")
    args = parser.parse_args()
    ensure_environment(args.venv)
    if args.check_greedy:
        check_greedy(args.check_greedy[0], [int(x) for x in args.check_greedy[1:]])
        return
    for name, cfg in CONFIGS.items():
        make_fixture(name, cfg)


if __name__ == "__main__":
    main()
