#!/usr/bin/env python3
"""Writes Jane Austen's novels as UTF-8 text files, decoded from Debian's r-cran-janeaustenr.

Usage: austen.py OUT_DIR [NOVEL ...]   (novels: emma mansfieldpark northangerabbey
persuasion prideprejudice sensesensibility; default all). Downloads the package with
`apt-get download` into a temporary directory (no root install), unpacks it with
`dpkg -x`, and decodes the R lazy-load database with rdata.py. The text is public
domain; one element of the R character vector is one line.
"""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rdata  # noqa: E402

PACKAGE = "r-cran-janeaustenr"
DATA = "usr/lib/R/site-library/janeaustenr/data/Rdata"


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    out_dir, wanted = sys.argv[1], sys.argv[2:]
    os.makedirs(out_dir, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o755)  # apt's sandbox user must be able to write here
        subprocess.run(["apt-get", "download", "-q", PACKAGE], cwd=tmp, check=True)
        deb = next(f for f in os.listdir(tmp) if f.endswith(".deb"))
        subprocess.run(["dpkg", "-x", deb, "root"], cwd=tmp, check=True)
        novels = rdata.read_lazyload(os.path.join(tmp, "root", DATA + ".rdx"), os.path.join(tmp, "root", DATA + ".rdb"))
    for name in wanted or sorted(novels):
        if name not in novels:
            sys.exit(f"austen.py: no novel '{name}' in {PACKAGE} (has {', '.join(sorted(novels))})")
        text = "\n".join(line or "" for line in novels[name]).strip() + "\n"
        with open(os.path.join(out_dir, name + ".txt"), "w", encoding="utf-8") as f:
            f.write(text)
        print(f"{name}: {len(text.encode('utf-8'))} bytes")


if __name__ == "__main__":
    main()
