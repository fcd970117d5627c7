#!/usr/bin/env python3
"""Builds lsk's default corpus from Debian packages: one UTF-8 text file per natural document.

Usage: fetch_corpus.py [--out DIR] [--debs DIR] [--hold-out SOURCE/NAME ...] [--check]

Steps: `apt-get download` the packages below into --debs (default: a temporary directory;
.deb files already there are reused, so a second run is offline), unpack each with
`dpkg -x` (no root install), decode, and write
  DIR/train/austen/<novel>.txt        r-cran-janeaustenr: R lazy-load database (rdata.py)
  DIR/train/web/NNN_<Book>.txt        sword-text-web: SWORD zText, one file per book
  DIR/train/tdavid/NNN_<Ps.N>.txt     sword-comm-tdavid: SWORD zCom4, one file per Psalm
  DIR/train/mhcc/NNN_<Book>.txt       sword-comm-mhcc: SWORD zCom, one file per book
  DIR/heldout/mobydick.txt            r-cran-tokenizers: Moby Dick, Gutenberg header/footer
                                      removed; kept out of training (haystack, evaluation)
  DIR/heldout/<name>.txt              each --hold-out document (e.g. austen/persuasion), moved
                                      out of train/ for in-domain perplexity checks
  DIR/MANIFEST.sha256                 `sha256sum -c` format, every text file, sorted by path
  DIR/manifest.json                   packages (version, .deb SHA-256), per-document bytes and
                                      SHA-256, totals
Text is normalised to LF line ends, no byte-order mark, one trailing newline. Every file is
written atomically (temporary file, fsync, rename). --check verifies an existing DIR against
its MANIFEST.sha256 and exits non-zero on any difference. Text files of an earlier run that are
no longer documents (e.g. after changing --hold-out) are removed. The default DIR is data/corpus in
the repository (git-ignored).
"""
import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rdata  # noqa: E402
import sword  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PACKAGES = ["r-cran-janeaustenr", "r-cran-tokenizers", "sword-text-web", "sword-comm-tdavid", "sword-comm-mhcc"]
SWORD_ROOT = "usr/share/sword"
SWORD_SOURCES = [  # (output directory, package, .conf file name)
    ("web", "sword-text-web", "engWEB2015eb.conf"),
    ("tdavid", "sword-comm-tdavid", "tdavid.conf"),
    ("mhcc", "sword-comm-mhcc", "mhcc.conf"),
]
AUSTEN_DATA = "usr/lib/R/site-library/janeaustenr/data/Rdata"
TOKENIZERS_DATA = "usr/lib/R/site-library/tokenizers/data/Rdata"


class CorpusError(RuntimeError):
    pass


def normalise(text):
    """LF line ends, no BOM, no trailing spaces on lines, exactly one final newline."""
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    text = "\n".join(line.rstrip() for line in text.split("\n")).strip("\n")
    return text + "\n" if text else ""


def decode_austen(root):
    """[(name, text)] for the novels of an unpacked r-cran-janeaustenr (one R string per line)."""
    novels = rdata.read_lazyload(os.path.join(root, AUSTEN_DATA + ".rdx"), os.path.join(root, AUSTEN_DATA + ".rdb"))
    return [(name, normalise("\n".join(line or "" for line in novels[name]))) for name in sorted(novels)]


_START = re.compile(r"^\*\*\* ?START OF (THIS|THE) PROJECT GUTENBERG EBOOK[^\n]*\*\*\*[^\n]*\n", re.M)
_END = re.compile(r"^\*\*\* ?END OF (THIS|THE) PROJECT GUTENBERG EBOOK", re.M)
_PRODUCED = re.compile(r"\A\s*Produced by[^\n]*\n(?:[^\n]+\n)*")
_END_LINE = re.compile(r"\n\s*End of (?:the )?Project Gutenberg[^\n]*\s*\Z")


def strip_gutenberg(text, where):
    """The text between the Project Gutenberg START and END lines, less a 'Produced by' credit
    and a closing 'End of Project Gutenberg's ...' line."""
    text = text.replace("\r\n", "\n")
    start, end = _START.search(text), _END.search(text)
    if not start or not end or end.start() < start.end():
        raise CorpusError(f"{where}: no Project Gutenberg START/END markers")
    return _END_LINE.sub("\n", _PRODUCED.sub("", text[start.end():end.start()], count=1))


def decode_mobydick(root):
    """Moby Dick from an unpacked r-cran-tokenizers: one R string, Gutenberg wrapper removed."""
    data = rdata.read_lazyload(os.path.join(root, TOKENIZERS_DATA + ".rdx"), os.path.join(root, TOKENIZERS_DATA + ".rdb"))
    if "mobydick" not in data:
        raise CorpusError(f"{root}: r-cran-tokenizers has no 'mobydick' object (has {', '.join(sorted(data))})")
    return normalise(strip_gutenberg("".join(s or "" for s in data["mobydick"]), "mobydick"))


def decode_sword(root, conf_name):
    """[(name, text)] for the non-empty blocks of a SWORD module (a book or a chapter each)."""
    conf = sword.read_conf(os.path.join(root, SWORD_ROOT, "mods.d", conf_name))
    for key in ("DataPath", "ModDrv"):
        if key not in conf:
            raise CorpusError(f"{conf_name}: no {key}=")
    if conf.get("CompressType", "ZIP") != "ZIP" or "CipherKey" in conf and conf["CipherKey"]:
        raise CorpusError(f"{conf_name}: only unenciphered ZIP-compressed modules are supported")
    directory, letter = sword.find_module(os.path.join(root, SWORD_ROOT), conf["DataPath"])
    docs = []
    for testament, block, texts in sword.read_module(directory, letter, sword.entry_size_of_driver(conf["ModDrv"])):
        text = normalise(sword.osis_to_text("".join(texts)))
        if text:
            docs.append((sword.block_name(texts, f"{testament}{block}"), text))
    return docs


def sha256_bytes(data):
    return hashlib.sha256(data).hexdigest()


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_atomic(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def download(debs_dir):
    """{package: .deb path}, downloading the ones not already in debs_dir."""
    os.makedirs(debs_dir, exist_ok=True)
    os.chmod(debs_dir, 0o755)  # apt's sandbox user writes here
    def present():
        found = {}
        for f in os.listdir(debs_dir):
            if f.endswith(".deb"):
                found.setdefault(f.split("_", 1)[0], os.path.join(debs_dir, f))
        return found
    missing = [p for p in PACKAGES if p not in present()]
    if missing:
        subprocess.run(["apt-get", "download", "-q", *missing], cwd=debs_dir, check=True)
    found = present()
    lost = [p for p in PACKAGES if p not in found]
    if lost:
        raise CorpusError(f"apt-get download gave no .deb for {', '.join(lost)}")
    return {p: found[p] for p in PACKAGES}


def safe_name(name):
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)


def build(out_dir, debs_dir, hold_out=()):
    debs = download(debs_dir)
    documents = []  # (relative path, source, name, text)
    with tempfile.TemporaryDirectory() as unpack:
        roots = {}
        for package, deb in debs.items():
            roots[package] = os.path.join(unpack, package)
            subprocess.run(["dpkg", "-x", deb, roots[package]], check=True)
        for name, text in decode_austen(roots["r-cran-janeaustenr"]):
            documents.append((f"train/austen/{safe_name(name)}.txt", "austen", name, text))
        for source, package, conf in SWORD_SOURCES:
            for i, (name, text) in enumerate(decode_sword(roots[package], conf)):
                documents.append((f"train/{source}/{i:03d}_{safe_name(name)}.txt", source, name, text))
        documents.append(("heldout/mobydick.txt", "mobydick", "mobydick", decode_mobydick(roots["r-cran-tokenizers"])))
    wanted = set(hold_out)
    for i, (path, source, name, text) in enumerate(documents):
        key = path[len("train/"):-len(".txt")] if path.startswith("train/") else None
        short = f"{source}/{name}"
        if key in wanted or short in wanted:
            documents[i] = (f"heldout/{safe_name(name)}.txt", source, name, text)
            wanted.discard(key)
            wanted.discard(short)
    if wanted:
        raise CorpusError(f"--hold-out: no training document {', '.join(sorted(wanted))}")
    paths = [d[0] for d in documents]
    if len(set(paths)) != len(paths):
        raise CorpusError("two documents map to the same file name")
    manifest_docs = []
    for path, source, name, text in documents:
        data = text.encode("utf-8")
        write_atomic(os.path.join(out_dir, path), data)
        manifest_docs.append({"path": path, "source": source, "name": name, "split": path.split("/", 1)[0],
                              "bytes": len(data), "sha256": sha256_bytes(data)})
    manifest_docs.sort(key=lambda d: d["path"])
    for split in ("train", "heldout"):  # text files of an earlier run that are no longer documents
        for directory, _, files in os.walk(os.path.join(out_dir, split)):
            for f in files:
                rel = os.path.relpath(os.path.join(directory, f), out_dir).replace(os.sep, "/")
                if f.endswith(".txt") and rel not in paths:
                    os.unlink(os.path.join(directory, f))
    packages = {p: {"deb": os.path.basename(d), "version": os.path.basename(d).split("_")[1],
                    "sha256": sha256_file(d)} for p, d in debs.items()}
    totals = {split: {"documents": sum(1 for d in manifest_docs if d["split"] == split),
                      "bytes": sum(d["bytes"] for d in manifest_docs if d["split"] == split)}
              for split in ("train", "heldout")}
    manifest = {"format": "lsk-corpus-1", "packages": packages, "totals": totals, "documents": manifest_docs}
    write_atomic(os.path.join(out_dir, "manifest.json"), (json.dumps(manifest, indent=1) + "\n").encode())
    lines = "".join(f"{d['sha256']}  {d['path']}\n" for d in manifest_docs)
    write_atomic(os.path.join(out_dir, "MANIFEST.sha256"), lines.encode())
    return manifest


def check(out_dir):
    """Number of problems found comparing out_dir's files with its MANIFEST.sha256."""
    problems = 0
    with open(os.path.join(out_dir, "MANIFEST.sha256"), encoding="utf-8") as f:
        for line in f:
            digest, path = line.rstrip("\n").split("  ", 1)
            full = os.path.join(out_dir, path)
            if not os.path.exists(full):
                print(f"missing: {path}")
                problems += 1
            elif sha256_file(full) != digest:
                print(f"changed: {path}")
                problems += 1
    return problems


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--out", default=os.path.join(REPO, "data", "corpus"))
    parser.add_argument("--debs", default=None, help="directory for the .deb files (reused when present)")
    parser.add_argument("--hold-out", action="append", default=[], metavar="SOURCE/NAME",
                        help="also hold out this training document (e.g. austen/persuasion); repeatable")
    parser.add_argument("--check", action="store_true", help="verify DIR against its MANIFEST.sha256")
    args = parser.parse_args()
    if args.check:
        problems = check(args.out)
        print(f"{args.out}: {'OK' if not problems else f'{problems} problem(s)'}")
        return 1 if problems else 0
    if args.debs:
        manifest = build(args.out, args.debs, args.hold_out)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            manifest = build(args.out, tmp, args.hold_out)
    for split, t in manifest["totals"].items():
        print(f"{split}: {t['documents']} documents, {t['bytes']} bytes")
    print(f"manifest: {os.path.join(args.out, 'MANIFEST.sha256')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
