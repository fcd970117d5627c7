"""Reader for SWORD compressed Bible and commentary modules (zText, zCom, zCom4), standard library only.

Format (one set of three files per testament, `ot.*` and `nt.*`; the middle letter of the
extension is the module's BlockType: b = BOOK, c = CHAPTER, v = VERSE):
  .?zs  block index: per block three little-endian u32 (offset in .?zz, compressed size,
        uncompressed size); block i is zlib-compressed (CompressType=ZIP) bytes of the .?zz file.
  .?zz  the compressed blocks, back to back.
  .?zv  entry (verse) index in versification order (testament heading, then per book its
        heading, per chapter its heading, then the verses): per entry a little-endian u32 block
        number, a u32 byte offset into the uncompressed block and the entry's size, a u16 in
        zText/zCom (10-byte entries) or a u32 in zText4/zCom4 (12-byte entries). Entries of size 0
        are empty; consecutive entries with the same (block, offset) are linked verses that share
        one text.
The entry texts are OSIS XML fragments. `osis_to_text` turns them into plain prose: notes
(`<note>...</note>`) are dropped with their content (leaving a space between words), word markup (`<w lemma=...>`) and every
other tag is removed keeping its text, titles, paragraphs, line groups and chapters become line
breaks, XML entities are unescaped, spaces are collapsed and the result is one paragraph
(or title, or poetry line) per line.
"""
import html
import os
import re
import struct
import zlib


class SwordError(ValueError):
    pass


def _entry_size(index_bytes, path):
    """10 (u16 sizes) or 12 (u32 sizes): the only one that divides the index evenly, else 10
    when both do and the 12-byte reading gives out-of-range sizes."""
    n = len(index_bytes)
    if n % 10 and n % 12:
        raise SwordError(f"{path}: {n} bytes is not a whole number of 10- or 12-byte entries")
    if n % 12:
        return 10
    if n % 10:
        return 12
    return None  # ambiguous; decided by the caller from the driver name


def read_blocks(prefix, letter):
    """Returns the list of uncompressed blocks of `prefix`.{letter}zs/zz (bytes)."""
    zs, zz = f"{prefix}.{letter}zs", f"{prefix}.{letter}zz"
    with open(zs, "rb") as f:
        index = f.read()
    with open(zz, "rb") as f:
        data = f.read()
    if len(index) % 12:
        raise SwordError(f"{zs}: {len(index)} bytes is not a whole number of 12-byte block entries")
    blocks = []
    for i in range(len(index) // 12):
        offset, size, usize = struct.unpack_from("<III", index, 12 * i)
        if offset + size > len(data):
            raise SwordError(f"{zz}: block {i} at byte {offset} (+{size}) runs past the end ({len(data)} bytes)")
        try:
            raw = zlib.decompress(data[offset:offset + size]) if size else b""
        except zlib.error as e:
            raise SwordError(f"{zz}: block {i} at byte {offset}: {e}") from None
        if len(raw) != usize:
            raise SwordError(f"{zz}: block {i} inflated to {len(raw)} bytes, index says {usize}")
        blocks.append(raw)
    return blocks


def read_entries(prefix, letter, entry_size=None):
    """Returns [(block, offset, size)] from `prefix`.{letter}zv; entry_size 10 or 12 (None: infer)."""
    zv = f"{prefix}.{letter}zv"
    with open(zv, "rb") as f:
        index = f.read()
    # The file size decides when it can (mhcc's .conf names zCom4 but its index has 10-byte
    # entries); the driver's entry size only breaks a tie.
    size = _entry_size(index, zv) or entry_size
    if size is None:
        raise SwordError(f"{zv}: entry size is ambiguous; give the driver (zCom or zCom4)")
    fmt = "<IIH" if size == 10 else "<III"
    return [struct.unpack_from(fmt, index, size * i) for i in range(len(index) // size)]


def read_testament(prefix, letter, entry_size=None):
    """Returns {block number: [entry text (str), ...]} in index order, linked verses once."""
    blocks = read_blocks(prefix, letter)
    out, previous = {}, None
    for k, (block, offset, size) in enumerate(read_entries(prefix, letter, entry_size)):
        if size == 0 or (block, offset) == previous:
            continue
        previous = (block, offset)
        if block >= len(blocks) or offset + size > len(blocks[block]):
            raise SwordError(f"{prefix}.{letter}zv: entry {k} (block {block}, offset {offset}, size {size}) "
                             f"is outside the block data")
        raw = blocks[block][offset:offset + size]
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise SwordError(f"{prefix}.{letter}zv: entry {k}: invalid UTF-8 at byte {e.start}") from None
        out.setdefault(block, []).append(text)
    return out


def read_conf(path):
    """The key=value pairs of a SWORD .conf file (the [Name] line becomes key "Name")."""
    conf = {}
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.strip()
            if line.startswith("[") and line.endswith("]"):
                conf.setdefault("Name", line[1:-1])
            elif "=" in line and not line.startswith("#"):
                key, value = line.split("=", 1)
                conf.setdefault(key.strip(), value.strip())
    return conf


def entry_size_of_driver(driver):
    """12 for the ...4 drivers (zText4, zCom4), 10 for zText and zCom."""
    if driver not in ("zText", "zCom", "zText4", "zCom4"):
        raise SwordError(f"unsupported SWORD module driver '{driver}'")
    return 12 if driver.endswith("4") else 10


def find_module(root, data_path):
    """(prefix directory, block letter) of a module whose DataPath is `data_path` under `root`."""
    directory = os.path.join(root, data_path.lstrip("./"))
    for letter in "bcv":
        if os.path.exists(os.path.join(directory, f"ot.{letter}zs")) or os.path.exists(
                os.path.join(directory, f"nt.{letter}zs")):
            return directory, letter
    raise SwordError(f"{directory}: no ot/nt .bzs, .czs or .vzs block index")


def read_module(directory, letter, entry_size=None):
    """Yields (testament, block, [entry texts]) for every non-empty block, OT before NT."""
    for testament in ("ot", "nt"):
        prefix = os.path.join(directory, testament)
        if not os.path.exists(f"{prefix}.{letter}zs") or os.path.getsize(f"{prefix}.{letter}zs") == 0:
            continue
        for block, texts in sorted(read_testament(prefix, letter, entry_size).items()):
            yield testament, block, texts


_NOTE = re.compile(r"<note\b[^>]*?(?<!/)>.*?</note>", re.S)
_BREAK = re.compile(r"<(?:title|/title|lb|l|/l|lg|/lg|p|/p|item|/item|list|/list|chapter)\b[^>]*>|"
                    r"<div\b[^>]*>")
_TAG = re.compile(r"<[^>]*>")
_NOTE_GAP = re.compile("\0(?=([,.;:!?\u2019\u201d)\\]]))?")
_BOOK = re.compile(r'<div\b(?=[^>]*\bsID=)(?=[^>]*\btype="book")[^>]*\bosisID="([^"]+)"')
_CHAPTER = re.compile(r'<chapter\b[^>]*\bosisID="([^"]+)"')


def osis_to_text(fragment):
    """Plain UTF-8 prose from an OSIS fragment (see the module docstring)."""
    text = _NOTE.sub("\0", fragment)  # a note stands between words: a space unless punctuation follows
    text = _BREAK.sub("\n", text)
    text = _TAG.sub("", text)
    text = html.unescape(text)
    text = _NOTE_GAP.sub(lambda m: "" if m.group(1) else " ", text)
    lines = (" ".join(line.split()) for line in text.split("\n"))
    out = [line for line in lines if line]
    return "\n".join(out) + ("\n" if out else "")


def block_name(texts, fallback):
    """The first book osisID (e.g. "Gen") or chapter osisID (e.g. "Ps.23") in a block, else fallback."""
    joined = "".join(texts[:50])
    m = _BOOK.search(joined)
    if m:
        return m.group(1)
    m = _CHAPTER.search(joined)
    if m:
        return m.group(1)
    return fallback
