#!/usr/bin/env python3
"""The full corpus build: runs tools/corpus/fetch_corpus.py (apt-get download + dpkg -x + decode)
into OUT_DIR, then checks the result: MANIFEST.sha256 verifies, manifest.json agrees with the
files, every document is non-empty UTF-8 with LF line ends, the corpus has the expected shape
(6 Austen novels, 150 Psalms, whole-Bible books, ~20+ MB of training text) and Moby Dick is held
out (in heldout/, in no training document). Exits 77 (CTest: skipped) when the packages cannot be
downloaded (no Debian mirror reachable).

Usage: check_fetch_corpus.py OUT_DIR DEBS_DIR
"""
import json
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(REPO, "tools", "corpus", "fetch_corpus.py")


def fail(message):
    print(f"check_fetch_corpus: FAIL: {message}")
    sys.exit(1)


def main():
    out, debs = sys.argv[1], sys.argv[2]
    run = subprocess.run([sys.executable, SCRIPT, "--out", out, "--debs", debs], capture_output=True, text=True)
    print(run.stdout, run.stderr, sep="")
    if run.returncode != 0:
        if "apt-get" in run.stderr and ("download" in run.stderr or "Failed to fetch" in run.stderr):
            print("check_fetch_corpus: SKIP: the Debian packages could not be downloaded")
            sys.exit(77)
        fail(f"fetch_corpus.py exited with {run.returncode}")
    if subprocess.run([sys.executable, SCRIPT, "--out", out, "--check"]).returncode != 0:
        fail("MANIFEST.sha256 does not verify")
    with open(os.path.join(out, "manifest.json"), encoding="utf-8") as f:
        manifest = json.load(f)
    docs = manifest["documents"]
    by_source = {}
    for d in docs:
        path = os.path.join(out, d["path"])
        with open(path, "rb") as f:
            data = f.read()
        if len(data) != d["bytes"] or not data:
            fail(f"{d['path']}: {len(data)} bytes, manifest says {d['bytes']}")
        text = data.decode("utf-8")  # raises on invalid UTF-8
        if "\r" in text or text.startswith("\ufeff") or not text.endswith("\n"):
            fail(f"{d['path']}: not normalised (CR, BOM or no final newline)")
        if "<" in text and "</" in text and d["source"] != "austen":
            if "<w " in text or "<note" in text or "<div" in text:
                fail(f"{d['path']}: OSIS markup left in the text")
        by_source.setdefault(d["source"], []).append(d)
    counts = {s: len(v) for s, v in by_source.items()}
    print("documents per source:", counts)
    if counts.get("austen") != 6 or counts.get("mobydick") != 1:
        fail(f"expected 6 Austen novels and 1 Moby Dick, got {counts}")
    if not 150 <= counts.get("tdavid", 0) <= 152 or counts.get("mhcc", 0) < 66 or counts.get("web", 0) < 100:
        fail(f"unexpected SWORD document counts {counts}")
    train = manifest["totals"]["train"]
    if train["bytes"] < 20_000_000 or train["documents"] < 300:
        fail(f"training split too small: {train}")
    moby = by_source["mobydick"][0]
    if moby["split"] != "heldout" or any(d["split"] != "train" for s, v in by_source.items() if s != "mobydick" for d in v):
        fail("Moby Dick must be the only held-out document")
    with open(os.path.join(out, moby["path"]), encoding="utf-8") as f:
        moby_text = f.read()
    if ("Call me Ishmael" not in moby_text or "*** START OF" in moby_text or "*** END OF" in moby_text
            or "End of Project Gutenberg" in moby_text or "Project Gutenberg-tm" in moby_text):
        fail("Moby Dick: text missing or Gutenberg wrapper left")
    probe = "Call me Ishmael. Some years ago"
    for d in docs:
        if d["split"] == "train":
            with open(os.path.join(out, d["path"]), encoding="utf-8") as f:
                if probe in f.read():
                    fail(f"{d['path']}: contains held-out Moby Dick text")
    print(f"check_fetch_corpus: OK ({train['documents']} training documents, {train['bytes']} bytes)")


if __name__ == "__main__":
    main()
