#!/usr/bin/env python3
"""Writes the small corpus-format fixtures under tests/fixtures/corpus/ that the decoder tests read.

Usage: make_fixtures.py [--debs DIR]   (DIR: where sword-comm-tdavid's .deb is, or is downloaded to)

Each fixture is laid out like the unpacked Debian package it stands for, so fetch_corpus.py's
decode_* functions read it unchanged:
  austen/      R lazy-load database (Rdata.rdx gzip + Rdata.rdb records of big-endian u32 length
               + zlib), XDR serialization version 3 with native encoding "UTF-8": two short "novels"
               as character vectors, one element per line, with an NA line and non-ASCII text.
  tokenizers/  the same format holding one string: a Project Gutenberg text with a BOM, CRLF line
               ends and START/END markers (how r-cran-tokenizers stores Moby Dick).
  web/         SWORD zText (BlockType=BOOK, 10-byte .bzv entries): two OT books and one NT book of
               OSIS with <w> word markup, <note> footnotes, a title and an entity.
  mhcc/        SWORD zCom whose .conf names zCom4 while its index has 10-byte entries (as Debian's
               sword-comm-mhcc does), with linked entries (two verses sharing one text).
  tdavid/      real bytes of sword-comm-tdavid (zCom4, BlockType=CHAPTER, 12-byte .czv entries):
               its .conf and blocks 0-2 (importer header, preface, Psalm 1) exactly as packaged; the
               .czv keeps the package's entries for those blocks, without the empty ones.
  expected/    the text each decoder must produce (synthesised fixtures: written here by hand;
               tdavid: the decoded text, checked by eye when made).
Everything is deterministic (gzip mtime 0, fixed zlib level), so rerunning gives the same bytes.
"""
import argparse
import gzip
import io
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
OUT = os.path.join(os.path.dirname(os.path.dirname(HERE)), "tests", "fixtures", "corpus")


# ---- R serialization (XDR, version 3) ------------------------------------------------------
def _i(x):
    return struct.pack(">i", x)


def r_char(s):
    if s is None:
        return _i(9) + _i(-1)  # NA_STRING
    data = s.encode("utf-8")
    level = 64 if s.isascii() else 8  # ASCII_MASK or UTF8_MASK in the gp bits
    return _i(9 | (level << 12)) + _i(len(data)) + data


def r_strings(values):
    return _i(16) + _i(len(values)) + b"".join(r_char(v) for v in values)


def r_ints(values):
    return _i(13) + _i(len(values)) + b"".join(_i(v) for v in values)


def r_named_list(items):
    """A VECSXP with a names attribute (pairlist: tag "names" -> character vector)."""
    names = list(items)
    body = _i(19 | (1 << 9)) + _i(len(names)) + b"".join(items[n] for n in names)
    attrs = _i(2 | (1 << 10)) + _i(1) + r_char("names") + r_strings(names) + _i(254)
    return body + attrs


def r_serialize(item):
    return b"X\n" + _i(3) + _i(0x040201) + _i(0x030500) + _i(5) + b"UTF-8" + item


def write_lazyload(directory, objects):
    """Rdata.rdb + Rdata.rdx for {name: serialized item} (what R's lazy-load data looks like)."""
    os.makedirs(directory, exist_ok=True)
    rdb, offsets = b"", {}
    for name, item in objects.items():
        data = r_serialize(item)
        record = struct.pack(">I", len(data)) + zlib.compress(data, 6)
        offsets[name] = (len(rdb), len(record))
        rdb += record
    index = r_named_list({
        "variables": r_named_list({n: r_ints(list(o)) for n, o in offsets.items()}),
        "references": r_named_list({}),
        "compressed": _i(10) + _i(1) + _i(1),  # logical TRUE
    })
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, compresslevel=6) as f:
        f.write(r_serialize(index))
    with open(os.path.join(directory, "Rdata.rdb"), "wb") as f:
        f.write(rdb)
    with open(os.path.join(directory, "Rdata.rdx"), "wb") as f:
        f.write(buf.getvalue())


# ---- SWORD zText / zCom -----------------------------------------------------------------------
def write_sword(root, conf_name, conf_text, data_path, letter, entry_size, testaments):
    """testaments: {"ot"/"nt": [block, ...]}, block = [entry, ...], entry = OSIS str, None (an
    empty entry) or "=" (linked: same text as the previous entry)."""
    with_dir = os.path.join(root, "usr/share/sword")
    os.makedirs(os.path.join(with_dir, "mods.d"), exist_ok=True)
    with open(os.path.join(with_dir, "mods.d", conf_name), "w", encoding="utf-8") as f:
        f.write(conf_text)
    directory = os.path.join(with_dir, data_path)
    os.makedirs(directory, exist_ok=True)
    for testament, blocks in testaments.items():
        zs, zz, zv = b"", b"", b""
        for b, block in enumerate(blocks):
            raw, last = b"", (0, 0)
            for entry in block:
                if entry is None:
                    offset, size = 0, 0
                elif entry == "=":
                    offset, size = last
                else:
                    data = entry.encode("utf-8")
                    offset, size = len(raw), len(data)
                    raw += data
                    last = (offset, size)
                zv += struct.pack("<IIH" if entry_size == 10 else "<III", b if size else 0, offset, size)
            comp = zlib.compress(raw, 6)
            zs += struct.pack("<III", len(zz), len(comp), len(raw))
            zz += comp
        for ext, data in (("zs", zs), ("zz", zz), ("zv", zv)):
            with open(os.path.join(directory, f"{testament}.{letter}{ext}"), "wb") as f:
                f.write(data)


HEADER = '<milestone type="x-importer" subType="x-osis2mod" n="$Rev: 3769 $ (SWORD: 1.9.0)"/>'


def web_fixture(out):
    conf = ("[engWEB2015eb]\nDataPath=./modules/texts/ztext/engWEB2015eb/\nModDrv=zText\nSourceType=OSIS\n"
            "Encoding=UTF-8\nCompressType=ZIP\nBlockType=BOOK\nVersification=NRSVA\n")
    gen = [None,
           '<div canonical="true" osisID="Gen" sID="gen1" type="book"/> <title level="1" type="main">Genesis</title>',
           '<chapter n="1" osisID="Gen.1" sID="Gen.1"/><div sID="gen2" type="x-p"/>',
           '<w lemma="strong:H7225">In</w> <w lemma="strong:H7225">the</w> <w lemma="strong:H7225">beginning</w>,'
           '<note placement="foot"><reference type="annotateRef">1:1 </reference>Or, “at first”</note>'
           '<w lemma="strong:H0430">God</w> created the heavens and the earth. ',
           None,
           'The earth was formless &amp; empty.<note placement="foot">Hebrew “tohu”</note>, and darkness was on it. '
           '<div eID="gen2" type="x-p"/>']
    exod = ['<div canonical="true" osisID="Exod" sID="gen9" type="book"/><chapter n="1" osisID="Exod.1" sID="Exod.1"/>',
            'Now these are the names of the sons of Israel.<lb/>',
            '<lg><l>Line one of a song,</l><l>line two.</l></lg>']
    rev = ['<div canonical="true" osisID="Rev" sID="gen20" type="book"/>',
           '<chapter n="22" osisID="Rev.22" sID="Rev.22"/>The grace of the Lord Jesus Christ be with all the saints. Amen.']
    write_sword(os.path.join(out, "web"), "engWEB2015eb.conf", conf, "modules/texts/ztext/engWEB2015eb", "b", 10,
                {"ot": [[None, HEADER], gen, exod], "nt": [[None, HEADER], rev]})
    return [("Gen", "Genesis\nIn the beginning, God created the heavens and the earth. "
                    "The earth was formless & empty., and darkness was on it.\n"),
            ("Exod", "Now these are the names of the sons of Israel.\nLine one of a song,\nline two.\n"),
            ("Rev", "The grace of the Lord Jesus Christ be with all the saints. Amen.\n")]


def mhcc_fixture(out):
    conf = ("[MHCC]\nDataPath=./modules/comments/zcom/mhcc/\nModDrv=zCom4\nSourceType=OSIS\nBlockType=BOOK\n"
            "CompressType=ZIP\nEncoding=UTF-8\n")
    ruth = ['<div canonical="true" osisID="Ruth" sID="gen1" type="book"/> <chapter n="1" osisID="Ruth.1" sID="Ruth.1"/>',
            '<div sID="gen2" type="x-p"/> Verses 1-5 Elimelech went to sojourn in Moab. <div eID="gen2" type="x-p"/>',
            "=", "=",
            '<div sID="gen3" type="x-p"/> Verses 6-14 Naomi returns home; <hi type="italic">Orpah</hi> stays. '
            '<div eID="gen3" type="x-p"/>']
    write_sword(os.path.join(out, "mhcc"), "mhcc.conf", conf, "modules/comments/zcom/mhcc", "b", 10,
                {"ot": [[None, HEADER], ruth]})
    return [("Ruth", "Verses 1-5 Elimelech went to sojourn in Moab.\nVerses 6-14 Naomi returns home; Orpah stays.\n")]


def tdavid_fixture(out, debs):
    os.makedirs(debs, exist_ok=True)
    os.chmod(debs, 0o755)
    if not any(f.startswith("sword-comm-tdavid_") for f in os.listdir(debs)):
        subprocess.run(["apt-get", "download", "-q", "sword-comm-tdavid"], cwd=debs, check=True)
    deb = os.path.join(debs, next(f for f in os.listdir(debs) if f.startswith("sword-comm-tdavid_")))
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["dpkg", "-x", deb, tmp], check=True)
        src = os.path.join(tmp, "usr/share/sword")
        dst = os.path.join(out, "tdavid/usr/share/sword")
        os.makedirs(os.path.join(dst, "mods.d"), exist_ok=True)
        shutil.copyfile(os.path.join(src, "mods.d/tdavid.conf"), os.path.join(dst, "mods.d/tdavid.conf"))
        mod_src, mod_dst = os.path.join(src, "modules/comments/zcom/tdavid"), os.path.join(dst, "modules/comments/zcom/tdavid")
        os.makedirs(mod_dst, exist_ok=True)
        keep = 3
        with open(os.path.join(mod_src, "ot.czs"), "rb") as f:
            zs = f.read()[:12 * keep]
        end = max(o + s for o, s, _ in (struct.unpack_from("<III", zs, 12 * i) for i in range(keep)))
        with open(os.path.join(mod_src, "ot.czz"), "rb") as f:
            zz = f.read()[:end]
        with open(os.path.join(mod_src, "ot.czv"), "rb") as f:
            zv = f.read()
        entries = [zv[i:i + 12] for i in range(0, len(zv), 12)]
        kept = b"".join(e for e in entries if struct.unpack("<III", e)[2] and struct.unpack("<III", e)[0] < keep)
        for name, data in (("ot.czs", zs), ("ot.czz", zz), ("ot.czv", kept)):
            with open(os.path.join(mod_dst, name), "wb") as f:
                f.write(data)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--debs", default=None)
    args = parser.parse_args()
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    expected = {}
    novels = {"emma": ["EMMA", "", "By Jane Austen", None, "Emma Woodhouse, handsome, clever, and rich.", "  "],
              "persuasion": ["Persuasion", "", "Sir Walter Elliot, of Kellynch Hall — a naïve man."]}
    write_lazyload(os.path.join(OUT, "austen/usr/lib/R/site-library/janeaustenr/data"),
                   {n: r_strings(v) for n, v in novels.items()})
    expected["austen"] = [("emma", "EMMA\n\nBy Jane Austen\n\nEmma Woodhouse, handsome, clever, and rich.\n"),
                          ("persuasion", "Persuasion\n\nSir Walter Elliot, of Kellynch Hall — a naïve man.\n")]
    moby = ("\ufeffThe Project Gutenberg EBook of A Test, by Nobody\r\n\r\nThis header is licence text.\r\n"
            "\r\n*** START OF THIS PROJECT GUTENBERG EBOOK A TEST ***\r\n\r\n\r\nProduced by Someone\r\n\r\n\r\n"
            "CHAPTER 1. Loomings.\r\n\r\nCall me Ishmael. Some years ago\u2014never mind how long.\r\n\r\n"
            "End of Project Gutenberg's A Test, by Nobody\r\n\r\n"
            "*** END OF THIS PROJECT GUTENBERG EBOOK A TEST ***\r\n\r\nLicence footer.\r\n")
    write_lazyload(os.path.join(OUT, "tokenizers/usr/lib/R/site-library/tokenizers/data"),
                   {"mobydick": r_strings([moby])})
    expected["mobydick"] = [("mobydick", "CHAPTER 1. Loomings.\n\nCall me Ishmael. Some years ago\u2014never mind how long.\n")]
    expected["web"] = web_fixture(OUT)
    expected["mhcc"] = mhcc_fixture(OUT)
    if args.debs:
        tdavid_fixture(OUT, args.debs)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            tdavid_fixture(OUT, tmp)
    import fetch_corpus  # noqa: E402
    expected["tdavid"] = fetch_corpus.decode_sword(os.path.join(OUT, "tdavid"), "tdavid.conf")
    for source, docs in expected.items():
        for name, text in docs:
            path = os.path.join(OUT, "expected", source, name + ".txt")
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w", encoding="utf-8", newline="") as f:
                f.write(text)
    total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(OUT) for f in fs)
    print(f"{OUT}: {total} bytes")


if __name__ == "__main__":
    main()
