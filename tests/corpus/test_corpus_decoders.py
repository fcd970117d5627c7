#!/usr/bin/env python3
"""Decoder tests on the committed fixtures (tests/fixtures/corpus, made by tools/corpus/make_fixtures.py):
R lazy-load (Austen novels, the Gutenberg-wrapped Moby Dick string), SWORD zText, zCom with linked
entries and a zCom4 excerpt of real package bytes; each decoded text must equal the expected file,
and corrupted inputs must raise the format's error naming the file. Offline, standard library only.

Usage: test_corpus_decoders.py [FIXTURE_DIR]
"""
import os
import shutil
import struct
import sys
import tempfile
import unittest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "tools", "corpus"))
import fetch_corpus  # noqa: E402
import rdata  # noqa: E402
import sword  # noqa: E402

FIXTURES = os.path.join(REPO, "tests", "fixtures", "corpus")


def expected(source):
    directory = os.path.join(FIXTURES, "expected", source)
    out = {}
    for name in sorted(os.listdir(directory)):
        with open(os.path.join(directory, name), encoding="utf-8", newline="") as f:
            out[name[:-4]] = f.read()
    return out


class Decoders(unittest.TestCase):
    def test_austen_lazyload(self):
        self.assertEqual(dict(fetch_corpus.decode_austen(os.path.join(FIXTURES, "austen"))), expected("austen"))

    def test_mobydick_gutenberg_wrapper_removed(self):
        text = fetch_corpus.decode_mobydick(os.path.join(FIXTURES, "tokenizers"))
        self.assertEqual(text, expected("mobydick")["mobydick"])
        self.assertNotIn("\r", text)
        self.assertFalse(text.startswith("\ufeff"))

    def test_web_ztext(self):
        self.assertEqual(dict(fetch_corpus.decode_sword(os.path.join(FIXTURES, "web"), "engWEB2015eb.conf")),
                         expected("web"))

    def test_mhcc_zcom_linked_entries_once(self):
        docs = dict(fetch_corpus.decode_sword(os.path.join(FIXTURES, "mhcc"), "mhcc.conf"))
        self.assertEqual(docs, expected("mhcc"))
        self.assertEqual(docs["Ruth"].count("Elimelech"), 1)

    def test_tdavid_zcom4_real_bytes(self):
        docs = fetch_corpus.decode_sword(os.path.join(FIXTURES, "tdavid"), "tdavid.conf")
        self.assertEqual([n for n, _ in docs], ["Ps", "Ps.1"])
        self.assertEqual(dict(docs), expected("tdavid"))
        self.assertTrue(docs[1][1].startswith("Psalm 1 OVERVIEW\n"))
        for _, text in docs:
            self.assertNotIn("<", text)
        # 12-byte entries: the u32 sizes are read whole
        entries = sword.read_entries(os.path.join(FIXTURES, "tdavid/usr/share/sword/modules/comments/zcom/tdavid/ot"),
                                     "c", 12)
        self.assertTrue(all(size > 0 for _, _, size in entries))

    def test_osis_to_text(self):
        self.assertEqual(sword.osis_to_text('<w lemma="x">word</w>,<note>n</note><w>next</w>'), "word, next\n")
        self.assertEqual(sword.osis_to_text('a<note type="x">n</note>. b &lt;c&gt;'), "a. b <c>\n")
        self.assertEqual(sword.osis_to_text('<title>T</title>x<lb/>y'), "T\nx\ny\n")


class Corruption(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp()

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def copy(self, name):
        dst = os.path.join(self.tmp, name)
        shutil.copytree(os.path.join(FIXTURES, name), dst)
        return dst

    def test_truncated_sword_block(self):
        root = self.copy("web")
        path = os.path.join(root, "usr/share/sword/modules/texts/ztext/engWEB2015eb/ot.bzz")
        with open(path, "r+b") as f:
            f.truncate(os.path.getsize(path) - 10)
        with self.assertRaisesRegex(sword.SwordError, "ot.bzz: block 2"):
            fetch_corpus.decode_sword(root, "engWEB2015eb.conf")

    def test_bad_block_size(self):
        root = self.copy("web")
        path = os.path.join(root, "usr/share/sword/modules/texts/ztext/engWEB2015eb/ot.bzs")
        with open(path, "r+b") as f:
            f.seek(12 + 8)
            f.write(struct.pack("<I", 1))
        with self.assertRaisesRegex(sword.SwordError, "block 1 inflated to"):
            fetch_corpus.decode_sword(root, "engWEB2015eb.conf")

    def test_entry_outside_block(self):
        root = self.copy("mhcc")
        path = os.path.join(root, "usr/share/sword/modules/comments/zcom/mhcc/ot.bzv")
        with open(path, "r+b") as f:
            f.seek(10 * 3 + 4)
            f.write(struct.pack("<I", 100000))
        with self.assertRaisesRegex(sword.SwordError, "outside the block data"):
            fetch_corpus.decode_sword(root, "mhcc.conf")

    def test_index_not_whole_entries(self):
        root = self.copy("mhcc")
        path = os.path.join(root, "usr/share/sword/modules/comments/zcom/mhcc/ot.bzv")
        with open(path, "ab") as f:
            f.write(b"\0")
        with self.assertRaisesRegex(sword.SwordError, "whole number"):
            fetch_corpus.decode_sword(root, "mhcc.conf")

    def test_rdb_length_mismatch(self):
        root = self.copy("austen")
        path = os.path.join(root, "usr/lib/R/site-library/janeaustenr/data/Rdata.rdb")
        with open(path, "r+b") as f:
            f.write(struct.pack(">I", 7))
        with self.assertRaisesRegex(rdata.RDataError, "Rdata.rdb@0: inflated"):
            fetch_corpus.decode_austen(root)

    def test_no_gutenberg_markers(self):
        with self.assertRaisesRegex(fetch_corpus.CorpusError, "START/END"):
            fetch_corpus.strip_gutenberg("no markers here", "x")


if __name__ == "__main__":
    if len(sys.argv) > 1 and not sys.argv[1].startswith("-"):
        FIXTURES = sys.argv.pop(1)
    unittest.main(verbosity=1)
