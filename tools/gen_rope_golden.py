#!/usr/bin/env python3
"""Generates the RoPE golden fixtures in tests/golden/rope/ from Hugging Face transformers.

    python3 tools/gen_rope_golden.py [--venv DIR] [--out DIR]

The fixtures are committed; this script is not run by CI. It makes (or reuses) a
virtual environment (default /tmp/lsk-rope-golden-venv, or .venv inside the
repository with --venv .venv), installs the pinned torch and transformers from
PyPI into it, and re-runs itself there. PyPI's Linux torch wheel pulls the
CUDA runtime packages as dependencies (a few GiB); only the CPU is used.

Every fixture holds a Hugging Face config.json fragment exactly as fed to
transformers, the values transformers computed from it with its own code
(`ROPE_INIT_FUNCTIONS` / `_compute_*_parameters` in
transformers.modeling_rope_utils, and a model's `compute_default_rope_parameters`
for rope_type "default"), and the versions that made them. Values are float32
tensors written as exact decimal doubles.
"""

import argparse
import json
import math
import os
import subprocess
import sys

TRANSFORMERS_VERSION = "5.23.0"
TORCH_VERSION = "2.15.0"
DEFAULT_VENV = "/tmp/lsk-rope-golden-venv"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def ensure_environment(venv):
    """Re-executes this script inside a venv holding the pinned versions."""
    try:
        import torch  # noqa: F401
        import transformers

        if transformers.__version__ == TRANSFORMERS_VERSION and torch.__version__.split("+")[0] == TORCH_VERSION:
            return
    except ImportError:
        pass
    if os.environ.get("LSK_ROPE_GOLDEN_REEXEC") == "1":
        sys.exit("gen_rope_golden: the venv at %s does not hold torch %s and transformers %s"
                 % (venv, TORCH_VERSION, TRANSFORMERS_VERSION))
    python = os.path.join(venv, "bin", "python")
    if not os.path.exists(python):
        subprocess.check_call([sys.executable, "-m", "venv", venv])
    subprocess.check_call([python, "-m", "pip", "install", "-q",
                           "torch==" + TORCH_VERSION, "transformers==" + TRANSFORMERS_VERSION])
    env = dict(os.environ, LSK_ROPE_GOLDEN_REEXEC="1")
    os.execve(python, [python, os.path.abspath(__file__)] + sys.argv[1:], env)


# ---- the configurations --------------------------------------------------------------------------------------------
# Each case: name, config (config.json fragment), optional seq_lens (dynamic, longrope), optional module_sequence
# (dynamic: the stateful module is called with these lengths in order), optional derived_from (how lsk must be able to
# produce this config from another with one call).


def llama(hd, heads=8, max_pos=4096, **extra):
    """A Llama config.json fragment with head dimension hd (derived from hidden_size unless head_dim is given)."""
    cfg = {"hidden_size": hd * heads, "num_attention_heads": heads, "max_position_embeddings": max_pos}
    cfg.update(extra)
    return cfg


def cases():
    out = []

    def add(name, config, **kw):
        out.append(dict(name=name, config=config, **kw))

    # default: both conventions, head dims 64/80/128, partial rotary
    add("default_hd128", llama(128, rope_theta=10000.0))
    add("default_hd64_params", llama(64, rope_parameters={"rope_type": "default", "rope_theta": 500000.0}))
    add("default_hd80_partial", dict(llama(80, heads=4, head_dim=80, rope_theta=10000.0), partial_rotary_factor=0.4))
    add("default_hd128_no_theta", llama(128))  # rope_theta absent: 10000
    # static NTK-aware base scaling and a plain base change (ABF), expressed as rope_type default
    base = llama(128, max_pos=4096, rope_theta=10000.0)
    ntk_theta = 10000.0 * (8.0 ** (128 / (128 - 2)))
    add("ntk_aware_hd128_x8", dict(llama(128, max_pos=32768, rope_theta=ntk_theta)),
        derived_from={"call": "with_ntk_scaling", "config": base, "target_length": 32768})
    add("abf_hd128_500k", llama(128, rope_theta=500000.0),
        derived_from={"call": "with_base", "config": base, "theta": 500000.0})
    ntk80 = 10000.0 * (2.5 ** (80 / (80 - 2)))
    add("ntk_aware_hd80_x2.5", llama(80, max_pos=5120, rope_theta=ntk80),
        derived_from={"call": "with_ntk_scaling", "config": llama(80, max_pos=2048, rope_theta=10000.0),
                      "target_length": 5120})

    # linear (position interpolation)
    add("linear_hd128_x2_scaling", llama(128, rope_theta=10000.0, rope_scaling={"type": "linear", "factor": 2.0}))
    add("linear_hd64_x7.3_params", llama(64, rope_parameters={"rope_type": "linear", "rope_theta": 10000.0,
                                                              "factor": 7.3}))
    add("linear_hd80_x2.5_partial", llama(80, rope_theta=50000.0, partial_rotary_factor=0.5,
                                          rope_scaling={"rope_type": "linear", "factor": 2.5}))

    # dynamic NTK, several sequence lengths, and the stateful module's grow / keep / reset behaviour
    dyn_lens = [None, 100, 4095, 4096, 4097, 6000, 8192, 20000]
    add("dynamic_hd128_x2", llama(128, rope_theta=10000.0, rope_scaling={"type": "dynamic", "factor": 2.0}),
        seq_lens=dyn_lens, module_sequence=[10, 5000, 8000, 6000, 4096, 4095, 3000, 9000, 9001])
    add("dynamic_hd80_x7.3_params", llama(80, max_pos=2048, rope_parameters={"rope_type": "dynamic",
                                                                            "rope_theta": 500000.0, "factor": 7.3}),
        seq_lens=[None, 2048, 2049, 3000, 16384, 100000])
    add("dynamic_hd64_x2.5_partial", llama(64, rope_theta=10000.0, partial_rotary_factor=0.5,
                                          rope_scaling={"rope_type": "dynamic", "factor": 2.5}),
        seq_lens=[None, 4096, 5000, 10240, 65536])

    # yarn
    add("yarn_hd128_x4_params", llama(128, max_pos=16384, rope_parameters={
        "rope_type": "yarn", "rope_theta": 10000.0, "factor": 4.0, "original_max_position_embeddings": 4096}))
    add("yarn_hd64_x2.5_betas_no_truncate", llama(64, max_pos=10240, rope_parameters={
        "rope_type": "yarn", "rope_theta": 10000.0, "factor": 2.5, "original_max_position_embeddings": 4096,
        "beta_fast": 16, "beta_slow": 2, "truncate": False}))
    add("yarn_hd128_x40_mscale", llama(128, max_pos=163840, rope_parameters={
        "rope_type": "yarn", "rope_theta": 10000.0, "factor": 40.0, "original_max_position_embeddings": 4096,
        "beta_fast": 32, "beta_slow": 1, "mscale": 1.0, "mscale_all_dim": 0.707}))
    add("yarn_hd80_x7.3_attention_factor", llama(80, max_pos=30000, rope_parameters={
        "rope_type": "yarn", "rope_theta": 20000.0, "factor": 7.3, "original_max_position_embeddings": 4096,
        "attention_factor": 1.25}))
    add("yarn_hd64_factor_from_lengths", llama(64, max_pos=32768, rope_parameters={
        "rope_type": "yarn", "rope_theta": 10000.0, "factor": None, "original_max_position_embeddings": 8192}))
    add("yarn_hd128_x8_scaling_no_original", llama(128, max_pos=4096, rope_theta=10000.0,
                                                    rope_scaling={"type": "yarn", "factor": 8.0}))
    add("yarn_hd128_x2.5_partial", llama(128, max_pos=10240, rope_theta=1000000.0, partial_rotary_factor=0.5,
                                         rope_scaling={"rope_type": "yarn", "factor": 2.5,
                                                       "original_max_position_embeddings": 4096,
                                                       "truncate": False}))

    # longrope
    sf64 = [1.0 + 0.01 * i for i in range(32)]
    lf64 = [1.0 + 0.5 * i * i / 31.0 for i in range(32)]
    add("longrope_hd64", llama(64, max_pos=131072, rope_parameters={
        "rope_type": "longrope", "rope_theta": 10000.0, "short_factor": sf64, "long_factor": lf64,
        "original_max_position_embeddings": 4096}), seq_lens=[None, 4096, 4097, 100000])
    sf80 = [1.0] * 40
    lf80 = [1.0 + 7.3 * (i / 39.0) ** 2 for i in range(40)]
    add("longrope_hd80_factor_and_attention", llama(80, max_pos=32768, rope_parameters={
        "rope_type": "longrope", "rope_theta": 10000.0, "short_factor": sf80, "long_factor": lf80,
        "factor": 7.3, "attention_factor": 1.1, "original_max_position_embeddings": 4096}),
        seq_lens=[None, 5000])
    sf128 = [1.0 + 0.002 * i for i in range(64)]
    lf128 = [1.0 + 3.0 * i / 63.0 for i in range(64)]
    add("longrope_hd128_top_level_original", llama(128, max_pos=131072, rope_theta=10000.0,
                                                   original_max_position_embeddings=4096,
                                                   rope_scaling={"type": "longrope", "short_factor": sf128,
                                                                 "long_factor": lf128}),
        seq_lens=[None, 131072])

    # llama3
    add("llama3_hd128_x8", llama(128, max_pos=131072, rope_parameters={
        "rope_type": "llama3", "rope_theta": 500000.0, "factor": 8.0, "low_freq_factor": 1.0,
        "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}))
    add("llama3_hd64_x7.3_scaling", llama(64, max_pos=16384, rope_theta=10000.0, rope_scaling={
        "rope_type": "llama3", "factor": 7.3, "low_freq_factor": 1.5, "high_freq_factor": 5.0,
        "original_max_position_embeddings": 2048}))
    add("llama3_hd80_x2.5_partial", llama(80, max_pos=10240, rope_theta=10000.0, partial_rotary_factor=0.8,
                                          rope_scaling={"rope_type": "llama3", "factor": 2.5,
                                                        "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                                        "original_max_position_embeddings": 4096}))
    return out


# ---- evaluation through transformers ---------------------------------------------------------------------------------


def make_config(fragment):
    import copy

    from transformers import LlamaConfig

    return LlamaConfig.from_dict(copy.deepcopy(fragment))


def rope_values(config, seq_len):
    from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS
    from transformers.models.gpt_neox.modeling_gpt_neox import GPTNeoXRotaryEmbedding

    rope_type = config.rope_parameters["rope_type"]
    if rope_type == "default":
        # GPT-NeoX's default honours partial_rotary_factor (Llama's ignores it); both agree when it is 1.
        inv_freq, attention = GPTNeoXRotaryEmbedding.compute_default_rope_parameters(config, device="cpu")
    else:
        inv_freq, attention = ROPE_INIT_FUNCTIONS[rope_type](config, "cpu", seq_len=seq_len)
    return [float(v) for v in inv_freq.tolist()], float(attention)


def module_sequence(config, lengths):
    import torch
    from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding

    module = LlamaRotaryEmbedding(config)
    x = torch.zeros(1, dtype=torch.float32)
    steps = []
    for n in lengths:
        module(x, torch.arange(n, dtype=torch.int64)[None, :])
        steps.append({"seq_len": n, "inv_freq": [float(v) for v in module.inv_freq.tolist()]})
    return steps


def applied_rotation():
    """q and k after transformers' rotary module and apply_rotary_pos_emb, for positions with resets and skips."""
    import torch
    from transformers.models.gpt_neox.modeling_gpt_neox import apply_rotary_pos_emb as neox_apply
    from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding
    from transformers.models.llama.modeling_llama import apply_rotary_pos_emb as llama_apply

    torch.manual_seed(1234)
    positions = [0, 1, 2, 3, 0, 1, 2, 900, 901, 902, 7, 1500]
    runs = []
    for name, fragment, apply in [
        ("yarn_hd64", llama(64, heads=2, max_pos=16384, rope_parameters={
            "rope_type": "yarn", "rope_theta": 10000.0, "factor": 4.0, "original_max_position_embeddings": 4096}),
         llama_apply),
        ("default_hd80_partial", llama(80, heads=2, rope_theta=10000.0, head_dim=80, partial_rotary_factor=0.4),
         neox_apply),
    ]:
        config = make_config(fragment)
        head_dim = config.head_dim
        q = torch.randn(1, len(positions), 2, head_dim, dtype=torch.float32)
        k = torch.randn(1, len(positions), 1, head_dim, dtype=torch.float32)
        module = LlamaRotaryEmbedding(config)
        if config.rope_parameters["rope_type"] == "default":
            from transformers.models.gpt_neox.modeling_gpt_neox import GPTNeoXRotaryEmbedding

            module = GPTNeoXRotaryEmbedding(config)
        cos, sin = module(q, torch.tensor(positions, dtype=torch.int64)[None, :])
        q_out, k_out = apply(q, k, cos, sin, unsqueeze_dim=2)
        runs.append({
            "name": name,
            "config": fragment,
            "layout": "rotate_half",
            "positions": positions,
            "q_shape": list(q.shape[1:]),
            "k_shape": list(k.shape[1:]),
            "q": [float(v) for v in q.flatten().tolist()],
            "k": [float(v) for v in k.flatten().tolist()],
            "q_rotated": [float(v) for v in q_out.flatten().tolist()],
            "k_rotated": [float(v) for v in k_out.flatten().tolist()],
        })
    return runs


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--venv", default=DEFAULT_VENV)
    parser.add_argument("--out", default=os.path.join(ROOT, "tests", "golden", "rope"))
    args = parser.parse_args()
    ensure_environment(os.path.abspath(args.venv))

    import torch
    import transformers

    generator = {
        "script": "tools/gen_rope_golden.py",
        "transformers": transformers.__version__,
        "torch": torch.__version__,
        "dtype": "float32",
    }
    os.makedirs(args.out, exist_ok=True)
    names = []
    for case in cases():
        config = make_config(case["config"])
        head_dim = config.head_dim
        evaluations = []
        for n in case.get("seq_lens", [None]):
            inv_freq, attention = rope_values(config, n)
            evaluations.append({"seq_len": n, "inv_freq": inv_freq, "attention_factor": attention})
        fixture = {
            "name": case["name"],
            "generator": generator,
            "config": case["config"],
            "head_dim": head_dim,
            "rope_type": config.rope_parameters["rope_type"],
            "evaluations": evaluations,
        }
        if "module_sequence" in case:
            fixture["module_sequence"] = module_sequence(config, case["module_sequence"])
        if "derived_from" in case:
            fixture["derived_from"] = case["derived_from"]
        write(os.path.join(args.out, case["name"] + ".json"), fixture)
        names.append(case["name"])
    write(os.path.join(args.out, "applied", "rotation.json"), {"generator": generator, "runs": applied_rotation()})
    print("wrote %d fixtures and the applied rotation to %s" % (len(names), args.out))


def write(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    for value in walk(obj):
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError("non-finite value in " + path)
    with open(path + ".tmp", "w") as f:
        f.write(dumps(obj, 0) + "\n")
    os.replace(path + ".tmp", path)


def dumps(obj, depth):
    """JSON with one key per line, but lists of scalars kept on one line."""
    pad = " " * depth
    if isinstance(obj, dict):
        if not obj:
            return "{}"
        items = ["%s %s: %s" % (pad, json.dumps(k), dumps(v, depth + 1)) for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(obj, list) and any(isinstance(v, (dict, list)) for v in obj):
        return "[\n" + ",\n".join(pad + " " + dumps(v, depth + 1) for v in obj) + "\n" + pad + "]"
    return json.dumps(obj)


def walk(obj):
    if isinstance(obj, dict):
        for v in obj.values():
            yield from walk(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from walk(v)
    else:
        yield obj


if __name__ == "__main__":
    main()
