"""Walk what NEMWEB serves down to its MMS CSV files: a CSV, a zip, or a zip of zips.

Live files (``Reports/CURRENT``) are a zip holding one CSV; the daily (weekly for rooftop PV)
archives (``Reports/ARCHIVE``) are a zip holding the period's 288 (336) five-minute zips; MMSDM
monthly files are a zip holding one CSV (NEM-FACTS.md, "Where the data lives"). :func:`iter_members`
walks all of them the same way and names every CSV by its path through the nesting, e.g.
``PUBLIC_DISPATCHIS_20190516.zip!PUBLIC_DISPATCHIS_201905160005_x.zip!PUBLIC_..._x.CSV``, so a parse
error can be traced to the exact inner file.

NEMWEB is flaky: a 403 comes back as an HTML page, a download can stop half way. So a body is
recognised by its content, not its name: a zip must be whole (its central directory must account for
the file from byte 0, and every member's CRC must match), anything that is neither a zip nor a CSV
raises :class:`UnsupportedSource`, and a damaged zip raises :class:`CorruptArchive`. Nothing else
escapes.
"""

from __future__ import annotations

import io
import logging
import lzma
import struct
import zipfile
import zlib
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from isal import isal_zlib

from nemdash.errors import CorruptArchive, UnsupportedSource
from nemdash.nemweb.mms import MMSFile, parse_mms

logger = logging.getLogger(__name__)

#: How a zip starts: a local file header, or the end record of an empty zip.
_ZIP_MAGIC = b"PK"
#: How an MMS CSV starts: its ``C`` header row.
_CSV_MAGIC = b"C,"
#: What ISA-L raises for a damaged deflate stream (its stubs do not type ``isal_zlib.error``).
_INFLATE_ERRORS: tuple[type[BaseException], ...] = (
    cast(type[BaseException], isal_zlib.error),
    zlib.error,
    ValueError,
    MemoryError,
)
#: A zip's local file header (signature .. extra-field length), as zipfile reads it.
_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")
#: Separates the levels of nesting in a member's name.
SEPARATOR = "!"
#: Zips inside zips deeper than this are refused: AEMO nests two levels (day zip, interval zip).
MAX_NESTING = 4
#: What reading a damaged zip can raise, from zipfile itself or the decompressors under it.
_ZIP_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    lzma.LZMAError,
    struct.error,
    EOFError,
    OSError,
    ValueError,
    IndexError,
    OverflowError,
)


@dataclass(frozen=True)
class Member:
    """One MMS CSV found in a source."""

    name: str
    """Path through the nesting, ``outer.zip!inner.zip!FILE.CSV``."""
    data: bytes
    """The CSV bytes."""


def iter_members(source: Path | bytes, name: str | None = None) -> Iterator[Member]:
    """The CSV files in a CSV, a zip or a zip of zips (walked recursively).

    A plain CSV yields itself; members that are neither CSV nor zip are skipped with a debug log.
    A truncated or damaged zip raises :class:`CorruptArchive` naming the file; a body that is not a
    zip or a CSV (e.g. an HTML error page) raises :class:`UnsupportedSource`; never another
    exception.
    """
    if isinstance(source, Path):
        label = name or source.name
        try:
            data = source.read_bytes()
        except OSError as exc:
            raise UnsupportedSource(f"{label}: cannot read {source}: {exc}") from None
    else:
        label = name or "<bytes>"
        data = bytes(source)
    if data.startswith(_ZIP_MAGIC):
        yield from _walk_zip(data, label)
    elif data.startswith(_CSV_MAGIC) or (label.lower().endswith(".csv") and not _is_page(data)):
        # A CSV named as one is handed on even when damaged: the parser names the faulty line.
        yield Member(label, data)
    else:
        raise UnsupportedSource(f"{label}: {_describe(data)}")


def read_source(
    source: Path | bytes, name: str | None = None, *, keep: Collection[str] | None = None
) -> Iterator[MMSFile]:
    """Parse every CSV of a source (see :func:`iter_members` and :func:`parse_mms`)."""
    for member in iter_members(source, name):
        yield parse_mms(member.data, member.name, keep=keep)


def _walk_zip(data: bytes, label: str, depth: int = 1) -> Iterator[Member]:
    """Yield the CSVs of one zip, descending into the zips inside it."""
    if depth > MAX_NESTING:
        raise UnsupportedSource(f"{label}: zips nested more than {MAX_NESTING} deep")
    archive = _open_zip(data, label)
    with archive:
        for info in archive.infolist():
            inner = f"{label}{SEPARATOR}{info.filename}"
            lower = info.filename.lower()
            # Every member is read, even one to be skipped: reading checks its CRC and that its
            # name matches its local header, so a damaged name cannot make a CSV look skippable.
            try:
                body = _read_member(archive, info, data, inner)
            except RuntimeError as exc:  # encrypted, or (NotImplementedError) compressed unusually
                raise UnsupportedSource(f"{inner}: {exc}") from None
            except _ZIP_ERRORS as exc:
                raise _damaged(inner, str(exc)) from None
            if info.is_dir():
                continue
            if not lower.endswith((".csv", ".zip")):
                logger.debug("%s: skipped, neither a CSV nor a zip", inner)
                continue
            if lower.endswith(".zip"):
                if not body.startswith(_ZIP_MAGIC):
                    raise CorruptArchive(f"{inner}: named .zip but is {_describe(body)}")
                yield from _walk_zip(body, inner, depth + 1)
            else:
                yield Member(inner, body)


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, data: bytes, label: str) -> bytes:
    """A member's bytes: deflated members inflate with ISA-L (about 4x zlib), others via zipfile.

    The fast path checks what ``zipfile`` checks: the local header's signature and name, the
    compressed span inside the file, the inflated size and the CRC-32.
    """
    encrypted = info.flag_bits & 0x1
    if info.compress_type != zipfile.ZIP_DEFLATED or encrypted:
        return archive.read(info)
    start = info.header_offset
    header = data[start : start + _LOCAL_HEADER.size]
    if len(header) != _LOCAL_HEADER.size or not header.startswith(b"PK\x03\x04"):
        raise _damaged(label, "bad local file header")
    name_length, extra_length = _LOCAL_HEADER.unpack(header)[-2:]
    name_start = start + _LOCAL_HEADER.size
    local_name = data[name_start : name_start + name_length]
    utf8 = info.flag_bits & 0x800
    expected = info.orig_filename.encode("utf-8" if utf8 else "cp437", "replace")
    if local_name != expected:
        raise _damaged(label, "its local header names another file")
    body_start = name_start + name_length + extra_length
    compressed = data[body_start : body_start + info.compress_size]
    if len(compressed) != info.compress_size:
        raise _damaged(label, "cut short")
    try:
        body = isal_zlib.decompress(compressed, wbits=-15, bufsize=max(info.file_size, 1))
    except _INFLATE_ERRORS as exc:
        raise _damaged(label, f"cannot inflate: {exc}") from None
    if len(body) != info.file_size or isal_zlib.crc32(body) != info.CRC:
        raise _damaged(label, "size or CRC-32 does not match")
    return bytes(body)


def _damaged(label: str, why: str) -> CorruptArchive:
    """The error for a member that cannot be extracted, naming the file to download again."""
    return CorruptArchive(
        f"{label}: cannot be extracted ({why}): the zip is damaged; download "
        f"{label.split(SEPARATOR)[0]} again"
    )


def _open_zip(data: bytes, label: str) -> zipfile.ZipFile:
    """Open a zip held in memory, refusing one that is truncated or has data before it."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except NotImplementedError as exc:
        raise UnsupportedSource(f"{label}: {exc}") from None
    except _ZIP_ERRORS as exc:
        raise CorruptArchive(
            f"{label}: not a readable zip ({exc}): it is truncated or damaged; download it again"
        ) from None
    infos = archive.infolist()
    # A zip cut short can still end in the end record of a zip stored inside it; zipfile then reads
    # that inner zip as if it were the whole file. A whole zip's first member starts at byte 0.
    if infos and min(info.header_offset for info in infos) != 0:
        archive.close()
        raise CorruptArchive(
            f"{label}: its directory does not start at the first byte: the zip is truncated or "
            "damaged; download it again"
        )
    return archive


def _is_page(data: bytes) -> bool:
    """Whether a body is empty or an HTML/XML page (what NEMWEB sends with a 403)."""
    head = data[:512].lstrip().lower()
    return not head or head.startswith((b"<!doctype", b"<html", b"<?xml", b"<head", b"<body"))


def _describe(data: bytes) -> str:
    """What a body that is neither zip nor CSV looks like, for the error message."""
    if not data:
        return "empty (0 bytes): not a zip or an MMS CSV"
    if _is_page(data):
        return (
            "an HTML page, not a zip or an MMS CSV (NEMWEB answers 403 and other errors with a "
            "page): fetch it again later"
        )
    preview = data[:40].decode("utf-8", "replace")
    return f"neither a zip nor an MMS CSV (it starts with {preview!r})"
