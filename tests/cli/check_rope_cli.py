#!/usr/bin/env python3
"""`lsk rope` against the Hugging Face golden fixtures.

    check_rope_cli.py LSK_BINARY GOLDEN_DIR

For every fixture in GOLDEN_DIR (made by tools/gen_rope_golden.py from
transformers' own rope functions), runs `lsk rope --config <its config.json>`
at each recorded sequence length and compares the printed inv_freq and
attention factor with the golden values (1e-6 relative). Also checks the
one-call edits (--with-ntk-scaling, --with-base) against the fixtures made the
same way in Python, that --save records the edit in config.json, a config
given by flags only, and that a bad config fails naming the key.
Standard library only. Prints 'N passed, N failed'.
"""

import glob
import json
import os
import subprocess
import sys
import tempfile

REL_TOL = 1e-6


def run(lsk, args):
    return subprocess.run([lsk, "rope"] + args, capture_output=True, text=True)


def values(lsk, args):
    r = run(lsk, args)
    if r.returncode != 0:
        raise AssertionError("lsk rope %s failed (%d): %s" % (" ".join(args), r.returncode, r.stderr.strip()))
    lines = r.stdout.split("\n")
    if lines[-1] != "":
        raise AssertionError("output does not end with a newline")
    return [float(x) for x in lines[:-1]]


def compare(got, inv_freq, attention):
    expected = list(inv_freq) + [attention]
    if len(got) != len(expected):
        raise AssertionError("%d values printed, %d expected" % (len(got), len(expected)))
    for i, (g, e) in enumerate(zip(got, expected)):
        if abs(g - e) > REL_TOL * abs(e):
            raise AssertionError("value %d: %r vs golden %r" % (i, g, e))


def main():
    lsk, golden = sys.argv[1], sys.argv[2]
    passed, failed = 0, 0
    tmp = tempfile.mkdtemp(prefix="lsk-rope-cli-")

    def check(name, fn):
        nonlocal passed, failed
        try:
            fn()
            passed += 1
        except AssertionError as e:
            failed += 1
            print("FAILED %s: %s" % (name, e))

    def write_config(name, config):
        path = os.path.join(tmp, name + ".json")
        with open(path, "w") as f:
            json.dump(config, f)
        return path

    fixtures = sorted(glob.glob(os.path.join(golden, "*.json")))
    if len(fixtures) < 20:
        print("FAILED: only %d fixtures in %s" % (len(fixtures), golden))
        failed += 1
    for path in fixtures:
        fx = json.load(open(path))
        cfg = write_config(fx["name"], fx["config"])
        for ev in fx["evaluations"]:
            args = ["--config", cfg] + ([] if ev["seq_len"] is None else ["--seq-len", str(ev["seq_len"])])
            check("%s seq_len=%s" % (fx["name"], ev["seq_len"]),
                  lambda: compare(values(lsk, args), ev["inv_freq"], ev["attention_factor"]))
        d = fx.get("derived_from")
        if d:
            base = write_config(fx["name"] + ".base", d["config"])
            flag = (["--with-ntk-scaling", str(d["target_length"])] if d["call"] == "with_ntk_scaling"
                    else ["--with-base", repr(d["theta"])])
            ev = fx["evaluations"][0]
            check(fx["name"] + " " + d["call"],
                  lambda: compare(values(lsk, ["--config", base] + flag), ev["inv_freq"], ev["attention_factor"]))

            def saved():  # the edit recorded in config.json reads back the same
                out = write_config(fx["name"] + ".saved", d["config"])
                values(lsk, ["--config", out, "--save", out] + flag)
                compare(values(lsk, ["--config", out]), ev["inv_freq"], ev["attention_factor"])
                kept = json.load(open(out))
                if kept.get("hidden_size") != d["config"]["hidden_size"]:
                    raise AssertionError("--save lost other keys")
            check(fx["name"] + " --save", saved)

    def flags_only():
        fx = json.load(open(os.path.join(golden, "llama3_hd128_x8.json")))
        ev = fx["evaluations"][0]
        args = ["--head-dim", "128", "--type", "llama3", "--theta", "500000", "--factor", "8",
                "--low-freq-factor", "1", "--high-freq-factor", "4", "--original-max-position-embeddings", "8192",
                "--max-position-embeddings", "131072"]
        compare(values(lsk, args), ev["inv_freq"], ev["attention_factor"])
        only = values(lsk, args + ["--only", "attention_factor"])
        if only != [ev["attention_factor"]]:
            raise AssertionError("--only attention_factor printed %r" % only)
    check("flags only", flags_only)

    def bad_config():
        cfg = write_config("bad", {"hidden_size": 512, "num_attention_heads": 8,
                                   "rope_scaling": {"rope_type": "yarn", "factor": "four"}})
        r = run(lsk, ["--config", cfg])
        if r.returncode == 0 or "rope_scaling.factor" not in r.stderr:
            raise AssertionError("expected a failure naming rope_scaling.factor, got %d: %s"
                                 % (r.returncode, r.stderr))
    check("bad config", bad_config)

    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed or passed == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
