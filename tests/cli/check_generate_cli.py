#!/usr/bin/env python3
"""Checks `lsk generate` and `lsk convert` on the stories260K checkpoint.

    check_generate_cli.py LSK STORIES_DIR OUT_DIR
Exit 77 (CTest: skipped) when STORIES_DIR is absent.
"""
import os
import subprocess
import sys

EXPECTED = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park."


def generate(lsk, model, tokenizer):
    out = subprocess.run([lsk, "generate", "--model", model, "--tokenizer", tokenizer, "--max-new", "40",
                          "--temperature", "0"], check=True, capture_output=True, text=True).stdout
    lines = out.splitlines()
    ids = [int(x) for x in lines[0].split()]
    return ids, "\n".join(lines[1:])


def main():
    lsk, stories, out_dir = sys.argv[1:4]
    if not os.path.exists(os.path.join(stories, "stories260K.bin")):
        print(f"skipped: {stories} is absent")
        sys.exit(77)
    tokenizer = os.path.join(stories, "tok512.model")
    ids, text = generate(lsk, os.path.join(stories, "stories260K.bin"), tokenizer)
    print(text)
    assert len(ids) == 40, ids
    assert text.startswith(EXPECTED), text
    subprocess.run([lsk, "convert", "--from", os.path.join(stories, "stories260K.bin"), "--out", out_dir], check=True)
    ids_hf, text_hf = generate(lsk, out_dir, tokenizer)
    assert ids_hf == ids, (ids_hf, ids)
    bad = subprocess.run([lsk, "generate", "--model", os.path.join(out_dir, "missing")], capture_output=True, text=True)
    assert bad.returncode != 0 and "lsk: error:" in bad.stderr, bad.stderr
    print("ok")


if __name__ == "__main__":
    main()
