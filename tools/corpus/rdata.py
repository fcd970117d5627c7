"""Reader for R lazy-load databases (.rdx index + .rdb data), Python standard library only.

Format: the .rdx file is one gzip-compressed (saveRDS) serialized R list; its "variables"
element maps each object name to an (offset, length) pair into the .rdb file. Each
.rdb record at offset is a big-endian u32 uncompressed length followed by a zlib
stream holding an R serialization in XDR (big-endian) format:
  "X\\n", int version, int writer R version, int minimal R version,
  [version 3: int length + native encoding name], then one item:
  int flags (type = flags & 0xFF, bit 8 object, bit 9 has attributes, bit 10 has tag)
  followed by the type's payload. Only the types that character data needs are read.
"""
import gzip
import struct
import zlib

NILVALUE, SYMSXP, LISTSXP, CHARSXP, LGLSXP, INTSXP, REALSXP, STRSXP, VECSXP = 254, 1, 2, 9, 10, 13, 14, 16, 19
REFSXP, GLOBALENV, EMPTYENV, BASEENV, MISSINGARG, BASENAMESPACE = 255, 253, 242, 241, 251, 247
NA_STRING_LENGTH = -1


class RDataError(ValueError):
    pass


class _Reader:
    def __init__(self, data, where):
        self.data, self.pos, self.where, self.refs = data, 0, where, []

    def int(self):
        if self.pos + 4 > len(self.data):
            raise RDataError(f"{self.where}: truncated at byte {self.pos}")
        (value,) = struct.unpack_from(">i", self.data, self.pos)
        self.pos += 4
        return value

    def bytes(self, n):
        if self.pos + n > len(self.data):
            raise RDataError(f"{self.where}: truncated string at byte {self.pos}")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def item(self):
        flags = self.int()
        kind, has_attr, has_tag = flags & 0xFF, bool(flags & (1 << 9)), bool(flags & (1 << 10))
        if kind in (NILVALUE, GLOBALENV, EMPTYENV, BASEENV, MISSINGARG, BASENAMESPACE):
            return None
        if kind == REFSXP:
            index = flags >> 8 if flags >> 8 else self.int()
            return self.refs[index - 1]
        if kind == SYMSXP:
            name = self.item()
            self.refs.append(name)
            return name
        if kind == CHARSXP:
            n = self.int()
            return None if n == NA_STRING_LENGTH else self.bytes(n).decode("utf-8", errors="strict")
        if kind == LISTSXP:  # pairlist: attributes, tag, car, cdr
            out = {}
            while kind == LISTSXP:
                attrs = self.item() if has_attr else None
                tag = self.item() if has_tag else None
                out[tag] = self.item()
                del attrs
                flags = self.int()
                kind, has_attr, has_tag = flags & 0xFF, bool(flags & (1 << 9)), bool(flags & (1 << 10))
            if kind != NILVALUE:
                raise RDataError(f"{self.where}: unexpected pairlist end type {kind} at byte {self.pos}")
            return out
        if kind in (STRSXP, VECSXP, INTSXP, LGLSXP, REALSXP):
            n = self.int()
            if kind == STRSXP or kind == VECSXP:
                value = [self.item() for _ in range(n)]
            elif kind == REALSXP:
                value = list(struct.unpack_from(f">{n}d", self.bytes(8 * n)))
            else:
                value = list(struct.unpack_from(f">{n}i", self.bytes(4 * n)))
            attrs = self.item() if has_attr else None
            if attrs and "names" in attrs and kind == VECSXP:
                return dict(zip(attrs["names"], value))
            return value
        raise RDataError(f"{self.where}: unsupported R type {kind} at byte {self.pos - 4}")


def unserialize(data, where):
    reader = _Reader(data, where)
    if reader.bytes(2) != b"X\n":
        raise RDataError(f"{where}: not an XDR R serialization")
    version = reader.int()
    reader.int(), reader.int()
    if version == 3:
        reader.bytes(reader.int())
    return reader.item()


def _inflate(blob, where):
    (length,) = struct.unpack_from(">I", blob, 0)
    data = zlib.decompress(blob[4:])
    if len(data) != length:
        raise RDataError(f"{where}: inflated {len(data)} bytes, header says {length}")
    return data


def read_lazyload(rdx_path, rdb_path):
    """Returns {name: object} for every variable of the database."""
    with open(rdx_path, "rb") as f:
        blob = f.read()
    index = unserialize(gzip.decompress(blob) if blob[:2] == b"\x1f\x8b" else _inflate(blob, rdx_path), rdx_path)
    with open(rdb_path, "rb") as f:
        rdb = f.read()
    out = {}
    for name, (offset, length) in index["variables"].items():
        where = f"{rdb_path}@{offset}"
        out[name] = unserialize(_inflate(rdb[offset:offset + length], where), where)
    return out
