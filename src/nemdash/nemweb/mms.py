"""AEMO's MMS CSV format: one report file in, typed Arrow tables out.

The format (NEM-FACTS.md, "The MMS CSV format"): ``C`` rows are comments, the first a header
(``C,NEMP.WORLD,<REPORT>,AEMO,PUBLIC,<yyyy/mm/dd>,<hh:mm:ss>,<id>,...``) and the last the footer
``C,"END OF REPORT",<n>`` where ``n`` counts every line of the file. ``I,<report>,<subtype>,
<version>,<COL>...`` starts a table and the ``D`` rows after it belong to it; a file holds several
tables, sometimes the same table twice with two versions. Columns are read by name, never by
position, because versions add columns over the years. Lines end in CRLF, LF or a mix; empty fields
are NULL (never zero); timestamps ``YYYY/MM/DD HH:MM:SS`` are NEM time (UTC+10, period-ending) and
become naive ``timestamp[us]`` whose wall clock is NEM time (see ``nemtime.py``).

Two readers give the same result on every input:

* the **exact** reader walks a block line by line with Python's ``csv`` module. It is the reference
  and it names the precise line and reason of any fault;
* the **fast** reader hands a block's ``D`` rows to ``pyarrow.csv`` (quoting off, so that a row can
  never run over a line end), reads timestamps and integers as dictionaries so that only the
  distinct values are converted (a month of UNIT_SCADA has ~8,900 distinct SETTLEMENTDATEs in 4.4 M
  rows), and proves the result equal to what the exact reader would give with cheap checks: the
  count of lines that start with the block's exact ``D,<report>,<subtype>,<version>,`` prefix must
  equal the rows Arrow read (no line is foreign, empty or split by a stray CR), every quoted value
  must be a plain ``"..."`` without inner quotes or commas, and every value must convert under the
  exact reader's rules. When anything fails, that block is read again by the exact reader, which
  raises :class:`MMSParseError` with the line, or returns the block when the input was only unusual.

A footer whose count disagrees with the lines is recorded (``MMSFile.footer_ok``), not raised: the
MMSDM files rewritten by NEMOSIS keep the footer of the original, unfiltered file.
"""

from __future__ import annotations

import csv
import logging
import math
import re
import struct
import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, cast

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from nemdash import tables
from nemdash.errors import MMSParseError, TruncatedFileError
from nemdash.tables import FLOAT, INT, TEXT, TIMESTAMP, TableSpec

logger = logging.getLogger(__name__)

#: pyarrow-stubs cannot follow dictionary and binary arrays through pyarrow.compute: arrays in the
#: fast reader's helpers are typed with this alias.
_Arrow = Any

Engine = Literal["auto", "arrow", "python"]
"""``auto``: Arrow for large blocks, Python for small ones (faster there); ``arrow``: Arrow first
for every block; ``python``: only the exact reader (the reference, slow)."""

#: Below this many bytes a block is read by the exact reader under ``engine="auto"``: starting an
#: Arrow read costs more than walking a few hundred short lines (measured on DISPATCHIS files).
AUTO_ARROW_MIN_BYTES = 32 * 1024
#: Arrow's CSV block size: 16 MiB measured faster than the 1 MiB default on a month of UNIT_SCADA.
_ARROW_BLOCK_SIZE = 16 * 1024 * 1024
#: Blocks smaller than this are read on one thread (a thread pool costs more than it saves).
_ARROW_THREADS_MIN_BYTES = 4 * 1024 * 1024
#: Spans longer than this are searched with RE2 (through pyarrow.compute), shorter ones with ``re``.
_RE2_MIN_BYTES = 256 * 1024

_FOOTER_TEXT = "END OF REPORT"
_NEXT_CI = re.compile(rb"\n[CI]")
_NEXT_CI_RE2 = r"\n[CI]"
_INT_TEXT = re.compile(r"[ \t]*-?[0-9]+[ \t]*")
_FLOAT_TEXT = re.compile(r"[ \t]*[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?[ \t]*")
_TS_TEXT = re.compile(r"([0-9]{4})/([0-9]{2})/([0-9]{2}) ([0-9]{2}):([0-9]{2}):([0-9]{2})")
_TS_RE2 = r"^[0-9]{4}/[0-9]{2}/[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}$"
_INT_RE2 = r"^[ \t]*-?[0-9]+[ \t]*$"
_PLAIN_QUOTED_RE2 = r'^"[^"]*"$'
_TS_FORMAT = "%Y/%m/%d %H:%M:%S"
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_DICT = pa.dictionary(pa.int32(), pa.string())
_EPOCH = datetime(1970, 1, 1)
_MICROSECOND = timedelta(microseconds=1)
#: How the fast reader asks Arrow for each kind of column: times and whole numbers as dictionaries
#: (few distinct values, converted once each), text and floats directly (measured faster).
_ARROW_READ_AS: dict[pa.DataType, pa.DataType] = {
    TIMESTAMP: _DICT,
    INT: _DICT,
    TEXT: pa.string(),
    FLOAT: FLOAT,
}
#: Characters that would make a prefix field or column name ambiguous once quoting is off.
_UNSAFE_FOR_ARROW = frozenset(',"\r\n')


@dataclass(frozen=True)
class TableBlock:
    """One ``I`` row and the ``D`` rows under it."""

    report: str
    """``DISPATCH``"""
    subtype: str
    """``PRICE``"""
    version: int
    columns: tuple[str, ...]
    """Lower-case column names of the ``I`` row (after the four prefix fields)."""
    first_line: int
    """1-based line number of the ``I`` row."""
    rows: int
    """``D`` rows in the block."""
    spec: TableSpec | None
    """``tables.for_report(report, subtype)``."""
    table: pa.Table | None
    """With a spec and kept: exactly ``spec.arrow_schema`` (kept columns in spec order, absent
    ones all NULL); otherwise None (the block was counted, not converted)."""


@dataclass(frozen=True)
class MMSFile:
    """One parsed MMS CSV file."""

    source: str
    """Display name, e.g. ``PUBLIC_X.zip!PUBLIC_X.CSV``."""
    header: tuple[str, ...]
    """Fields of the first ``C`` row."""
    report_name: str
    """Third field of the header, e.g. ``DISPATCHIS``."""
    created: datetime | None
    """Header date and time, naive NEM time (None when the header does not hold them)."""
    blocks: tuple[TableBlock, ...]
    line_count: int
    """Lines actually in the file (C + I + D)."""
    footer_count: int
    """``n`` of ``C,"END OF REPORT",n``."""

    @property
    def footer_ok(self) -> bool:
        """Whether the footer's line count matches the lines in the file."""
        return self.footer_count == self.line_count

    def tables(self) -> dict[str, pa.Table]:
        """The converted tables by spec name; blocks of the same spec are concatenated."""
        parts: dict[str, list[pa.Table]] = {}
        for block in self.blocks:
            if block.spec is not None and block.table is not None:
                parts.setdefault(block.spec.name, []).append(block.table)
        return {name: pa.concat_tables(found) for name, found in parts.items()}


def parse_mms(
    data: bytes,
    source: str,
    *,
    keep: Collection[str] | None = None,
    engine: Engine = "auto",
) -> MMSFile:
    """Parse one MMS CSV file; malformed input raises :class:`MMSParseError` naming the line.

    ``keep``: spec names to convert (None = every table with a spec); other blocks are only
    counted (columns, rows), though still checked. ``engine`` picks the reader (see
    :data:`Engine`); every engine gives the same result.
    """
    if engine not in ("auto", "arrow", "python"):
        raise ValueError(f"engine must be 'auto', 'arrow' or 'python', not {engine!r}")
    if isinstance(keep, str):
        keep = (keep,)
    kept = None if keep is None else frozenset(tables.get(name).name for name in keep)
    return _FileReader(bytes(data), source, kept, engine).read()


class _Fallback(Exception):
    """The fast reader cannot prove its result; the exact reader must read the block."""


@dataclass
class _Block:
    """A block being read: its ``I`` row and the tables of its ``D`` regions so far."""

    report: str
    subtype: str
    version_text: str
    columns: tuple[str, ...]
    first_line: int
    spec: TableSpec | None
    convert: bool
    rows: int = 0
    parts: list[pa.Table] = field(default_factory=list)

    @property
    def prefix(self) -> bytes:
        """The exact start of each of its ``D`` rows."""
        return f"D,{self.report},{self.subtype},{self.version_text},".encode()

    @property
    def label(self) -> str:
        """``DISPATCH,PRICE v5`` for messages."""
        return f"{self.report},{self.subtype} v{self.version_text}"

    def finish(self) -> TableBlock:
        """The immutable block."""
        table: pa.Table | None = None
        if self.convert and self.spec is not None:
            schema = self.spec.arrow_schema
            table = pa.concat_tables(self.parts) if self.parts else schema.empty_table()
        return TableBlock(
            report=self.report,
            subtype=self.subtype,
            version=int(self.version_text),
            columns=self.columns,
            first_line=self.first_line,
            rows=self.rows,
            spec=self.spec,
            table=table,
        )


class _FileReader:
    """Reads one file: header, footer, then the C/I lines and the D regions between them."""

    def __init__(
        self, data: bytes, source: str, kept: frozenset[str] | None, engine: Engine
    ) -> None:
        self.data = data
        self.source = source
        self.kept = kept
        self.engine = engine
        self._buffer: pa.Buffer | None = None

    # -- errors -------------------------------------------------------------------------------

    def error(self, line: int | None, message: str) -> MMSParseError:
        """An :class:`MMSParseError` for this file."""
        return MMSParseError(message, source=self.source, line=line)

    def line_of(self, offset: int) -> int:
        """1-based line number of the byte at ``offset`` (only used to report errors)."""
        return self.data.count(b"\n", 0, offset) + 1

    @property
    def buffer(self) -> pa.Buffer:
        """The file as an Arrow buffer (zero copy)."""
        if self._buffer is None:
            self._buffer = pa.py_buffer(self.data)
        return self._buffer

    # -- the file -----------------------------------------------------------------------------

    def read(self) -> MMSFile:
        """Parse the whole file."""
        data = self.data
        if not data:
            raise TruncatedFileError(
                "the file is empty: no C header and no END OF REPORT row (download it again)",
                source=self.source,
                line=1,
            )
        self.check_encoding()
        header_end = data.find(b"\n")
        header_end = len(data) if header_end < 0 else header_end
        header = self.header_fields(data[:header_end])
        footer_start, footer_end = self.footer_span()
        footer = self.footer_fields(footer_start, footer_end)
        blocks, footer_line = self.read_body(header_end + 1, footer_start)
        footer_count = int(footer[2])
        if footer_count != footer_line:
            logger.debug(
                "%s: the footer counts %d lines, the file has %d",
                self.source,
                footer_count,
                footer_line,
            )
        return MMSFile(
            source=self.source,
            header=tuple(header),
            report_name=header[2],
            created=_header_time(header),
            blocks=tuple(b.finish() for b in blocks),
            line_count=footer_line,
            footer_count=footer_count,
        )

    def check_encoding(self) -> None:
        """Raise on bytes that are not UTF-8 (AEMO writes ASCII), naming their line."""
        if self.data.isascii():
            return
        try:
            self.data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise self.error(
                self.line_of(exc.start),
                f"byte {self.data[exc.start]:#04x} is not UTF-8 text: the file is damaged or "
                "not an AEMO MMS CSV",
            ) from None

    def fields(self, raw: bytes, line: int) -> list[str]:
        """The CSV fields of one line (without its line end)."""
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        if b"\r" in raw:
            raise self.error(line, "a carriage return inside the line (lines end in CRLF or LF)")
        try:
            return next(csv.reader((raw.decode("utf-8"),), strict=True), [])
        except csv.Error as exc:
            raise self.error(line, f"malformed CSV: {exc}") from None

    def header_fields(self, raw: bytes) -> list[str]:
        """Check and split the first line, AEMO's ``C`` header."""
        if not raw.startswith(b"C,"):
            preview = raw[:60].decode("utf-8", "replace")
            raise self.error(
                1,
                f"expected AEMO's C header row (C,NEMP.WORLD,<report>,...), found {preview!r}: "
                "this is not an MMS CSV file",
            )
        header = self.fields(raw, 1)
        if len(header) > 1 and header[1] == _FOOTER_TEXT:
            raise self.error(1, "the file starts with its END OF REPORT row: the header is missing")
        if len(header) < 3 or header[0] != "C" or not header[2]:
            raise self.error(1, "the C header row must name the report in its third field")
        return header

    def footer_span(self) -> tuple[int, int]:
        """Start and end of the last non-blank line, which must be the END OF REPORT row."""
        data = self.data
        end = len(data)
        while end > 0 and data[end - 1] in b"\r\n":
            end -= 1
        start = data.rfind(b"\n", 0, end) + 1
        raw = data[start:end]
        if start > 0 and raw.startswith(b"C,") and _FOOTER_TEXT.encode() in raw:
            return start, end
        earlier = data.rfind(b'C,"' + _FOOTER_TEXT.encode(), 0, start)
        if earlier >= 0 and (earlier == 0 or data[earlier - 1] == 0x0A):
            line = self.line_of(earlier)
            raise self.error(
                line + 1, f"line {line} is the END OF REPORT row but the file goes on after it"
            )
        last = self.line_of(start)
        raise TruncatedFileError(
            f'the file ends at line {last} without AEMO\'s C,"END OF REPORT",n row: it was cut '
            "short (download it again)",
            source=self.source,
            line=last,
        )

    def footer_fields(self, start: int, end: int) -> list[str]:
        """Check and split the END OF REPORT row."""
        raw = self.data[start:end]
        # Line numbers cost a count over the whole file: compute them only for errors.
        if b"\r" in raw:
            self.fields(raw, self.line_of(start))
        footer = self._split_ok(raw)
        if footer is None:
            self.fields(raw, self.line_of(start))
        if footer is None or len(footer) < 2 or footer[0] != "C" or footer[1] != _FOOTER_TEXT:
            line = self.line_of(start)
            raise TruncatedFileError(
                'the last line is not AEMO\'s C,"END OF REPORT",n row: the file was cut short '
                "(download it again)",
                source=self.source,
                line=line,
            )
        if len(footer) < 3 or not footer[2]:
            raise TruncatedFileError(
                "the END OF REPORT row has lost its line count: the file was cut short "
                "(download it again)",
                source=self.source,
                line=self.line_of(start),
            )
        if not footer[2].isascii() or not footer[2].isdigit():
            raise self.error(
                self.line_of(start),
                f"the END OF REPORT row's line count {footer[2]!r} is not a whole number",
            )
        return footer

    @staticmethod
    def _split_ok(raw: bytes) -> list[str] | None:
        """CSV fields of a line, or None when it is not valid CSV."""
        try:
            return next(csv.reader((raw.decode("utf-8"),), strict=True), [])
        except csv.Error:
            return None

    # -- the body -----------------------------------------------------------------------------

    def read_body(self, pos: int, body_end: int) -> tuple[list[_Block], int]:
        """Walk the lines between header and footer; returns the blocks and the footer's line."""
        data = self.data
        blocks: list[_Block] = []
        current: _Block | None = None
        line = 2
        while pos < body_end:
            first = data[pos]
            if first in b"CI":
                nl = data.find(b"\n", pos, body_end)
                fields = self.fields(data[pos:nl], line)
                if first == 0x43:  # C
                    self.check_comment(fields, line, body_end)
                else:
                    current = self.start_block(fields, line)
                    blocks.append(current)
                pos = nl + 1
                line += 1
                continue
            end = self.next_ci(pos, body_end)
            if current is None:
                self.raise_orphan(pos, line)
                raise AssertionError("raise_orphan always raises")  # pragma: no cover
            rows = self.read_region(current, pos, end, line)
            current.rows += rows
            line += rows
            pos = end
        return blocks, line

    def check_comment(self, fields: list[str], line: int, body_end: int) -> None:
        """A ``C`` row inside the file: only an early END OF REPORT is wrong."""
        if fields[0] != "C":
            raise self.error(line, f"not a C, I or D row: it starts with {fields[0][:20]!r}")
        if len(fields) > 1 and fields[1] == _FOOTER_TEXT:
            raise self.error(
                line,
                "END OF REPORT before the end of the file: the file goes on to line "
                f"{self.line_of(body_end)}",
            )

    def start_block(self, fields: list[str], line: int) -> _Block:
        """Check an ``I`` row and start its block."""
        if fields[0] != "I":
            raise self.error(line, f"not a C, I or D row: it starts with {fields[0][:20]!r}")
        if len(fields) < 5:
            raise self.error(
                line, "the I row names no columns (I,<report>,<subtype>,<version>,...)"
            )
        report, subtype, version = fields[1], fields[2], fields[3]
        if not report or not subtype:
            raise self.error(line, "the I row's report or subtype is empty")
        if not (version.isascii() and version.isdigit()):
            raise self.error(line, f"the I row's version {version!r} is not a whole number")
        columns = tuple(name.lower() for name in fields[4:])
        seen: set[str] = set()
        for name in columns:
            if not name:
                raise self.error(line, "the I row has an empty column name")
            if name in seen:
                raise self.error(line, f"the I row names column {name.upper()!r} twice")
            seen.add(name)
        spec = tables.for_report(report, subtype)
        convert = spec is not None and (self.kept is None or spec.name in self.kept)
        return _Block(report, subtype, version, columns, line, spec, convert)

    def next_ci(self, pos: int, body_end: int) -> int:
        """Start of the next C or I line after ``pos``, or ``body_end``."""
        if body_end - pos < _RE2_MIN_BYTES:
            match = _NEXT_CI.search(self.data, pos, body_end)
            return body_end if match is None else match.start() + 1
        span = _binary_view(self.buffer, pos, body_end)
        hits: _Arrow = pc.find_substring_regex(span, _NEXT_CI_RE2)
        found = hits[0].as_py()
        return body_end if found is None or found < 0 else pos + int(found) + 1

    def raise_orphan(self, pos: int, line: int) -> None:
        """Raise for lines that come before any ``I`` row."""
        nl = self.data.find(b"\n", pos)
        fields = self.fields(self.data[pos:nl], line)
        if fields and fields[0] == "D":
            raise self.error(line, "a D row before any I row: the table it belongs to is unknown")
        raise self.error(line, _not_a_row(fields))

    # -- D regions ----------------------------------------------------------------------------

    def read_region(self, block: _Block, start: int, end: int, line: int) -> int:
        """Read the D rows in ``data[start:end]`` (whole lines) into ``block``; returns the rows."""
        use_arrow = self.engine == "arrow" or (
            self.engine == "auto" and end - start >= AUTO_ARROW_MIN_BYTES
        )
        if use_arrow:
            try:
                table, rows = self.read_region_arrow(block, start, end)
            except _Fallback as why:
                logger.debug(
                    "%s, line %d: %s read by the exact reader (%s)",
                    self.source,
                    line,
                    block.label,
                    why,
                )
            else:
                if table is not None:
                    block.parts.append(table)
                return rows
        table, rows = self.read_region_python(block, start, end, line)
        if table is not None:
            block.parts.append(table)
        return rows

    def read_region_python(
        self, block: _Block, start: int, end: int, line: int
    ) -> tuple[pa.Table | None, int]:
        """The exact reader: line by line with ``csv``, every value checked."""
        lines = self.data[start:end].split(b"\n")
        lines.pop()  # the region ends with a line end
        width = 4 + len(block.columns)
        head = ["D", block.report, block.subtype, block.version_text]
        spec = block.spec if block.convert else None
        wanted: list[tuple[int, pa.DataType]] = []
        if spec is not None:
            position = {name: i for i, name in enumerate(block.columns)}
            wanted = [(position.get(c.name, -1), c.type) for c in spec.columns]
        values: list[list[Any]] = [[] for _ in wanted]
        for offset, raw in enumerate(lines):
            number = line + offset
            fields = self.fields(raw, number)
            if not fields or fields[0] != "D":
                raise self.error(number, _not_a_row(fields))
            if len(fields) != width:
                raise self.error(
                    number,
                    f"{len(fields)} fields, but the I row of {block.label} at line "
                    f"{block.first_line} declares {width} (4 + {len(block.columns)} columns)",
                )
            if fields[:4] != head:
                raise self.error(
                    number,
                    f"a D row of {','.join(fields[1:3])} v{fields[3]} under the I row of "
                    f"{block.label} at line {block.first_line}",
                )
            for slot, (index, kind) in zip(values, wanted, strict=True):
                if index >= 0:
                    name = block.columns[index]
                    slot.append(self.convert_text(fields[4 + index], kind, number, name))
        if spec is None:
            return None, len(lines)
        arrays = [
            _build(slot, kind) if index >= 0 else _nulls(len(lines), kind)
            for slot, (index, kind) in zip(values, wanted, strict=True)
        ]
        return pa.Table.from_arrays(arrays, schema=spec.arrow_schema), len(lines)

    def convert_text(self, text: str, kind: pa.DataType, line: int, column: str) -> object:
        """One value under the exact reader's rules; empty is NULL."""
        if text == "":
            return None
        if kind == TEXT:
            return text
        if kind == FLOAT:
            if _FLOAT_TEXT.fullmatch(text):
                number = float(text)
                if math.isfinite(number):
                    return number
            raise self.error(line, f"{column.upper()} {text!r} is not a number")
        if kind == INT:
            if _INT_TEXT.fullmatch(text):
                whole = int(text)
                if _INT64_MIN <= whole <= _INT64_MAX:
                    return whole
            raise self.error(line, f"{column.upper()} {text!r} is not a whole number")
        if kind == TIMESTAMP:
            when = _aemo_time(text)
            if when is not None:
                return when
            raise self.error(
                line, f"{column.upper()} {text!r} is not a time (YYYY/MM/DD HH:MM:SS, NEM time)"
            )
        raise TypeError(f"no conversion for {kind} (column {column})")  # pragma: no cover

    def read_region_arrow(self, block: _Block, start: int, end: int) -> tuple[pa.Table | None, int]:
        """The fast reader; raises :class:`_Fallback` whenever it cannot prove its result."""
        head = (block.report, block.subtype, block.version_text, *block.columns)
        if any(ch in _UNSAFE_FOR_ARROW for text in head for ch in text):
            raise _Fallback("a quote, comma or line end in the I row's names")
        data = self.data
        spec = block.spec if block.convert else None
        spec_columns = {c.name: c for c in spec.columns} if spec is not None else {}
        # Quotes only need checking in columns that are not converted (converted ones are checked
        # value by value); a month of UNIT_SCADA has none, so it is not scanned for them.
        quoted = any(name not in spec_columns for name in block.columns) and (
            data.find(b'"', start, end) >= 0
        )
        names = [str(i) for i in range(4 + len(block.columns))]
        include: list[str] = []
        types: dict[str, pa.DataType] = {}
        checked: list[str] = []
        for i, name in enumerate(block.columns):
            key = names[4 + i]
            column = spec_columns.get(name)
            if column is not None:
                include.append(key)
                types[key] = _ARROW_READ_AS[column.type]
            elif quoted:
                # Read only to prove that its quotes cannot hide a comma (see _check_plain_quotes).
                include.append(key)
                types[key] = pa.string()
                checked.append(key)
        if not include:
            # Nothing to convert and no quotes: Arrow still checks every row's field count.
            include.append(names[4])
            types[names[4]] = pa.string()
        size = end - start
        # Every line must start with the exact prefix; counting them (while Arrow reads) also
        # proves that Arrow's rows are the file's lines.
        prefixed = _count_lines_starting(data, block.prefix, start, end)
        try:
            raw = pacsv.read_csv(
                cast(Any, pa.BufferReader(self.buffer.slice(start, size))),
                read_options=pacsv.ReadOptions(
                    column_names=names,
                    use_threads=size >= _ARROW_THREADS_MIN_BYTES,
                    block_size=_ARROW_BLOCK_SIZE,
                ),
                parse_options=pacsv.ParseOptions(
                    delimiter=",",
                    quote_char=False,
                    double_quote=False,
                    escape_char=False,
                    newlines_in_values=False,
                    ignore_empty_lines=False,
                ),
                convert_options=pacsv.ConvertOptions(
                    check_utf8=False,
                    column_types=types,
                    include_columns=include,
                    null_values=["", '""'],
                    strings_can_be_null=True,
                    quoted_strings_can_be_null=True,
                ),
            )
        except (pa.ArrowException, ValueError) as exc:
            raise _Fallback(f"pyarrow: {str(exc)[:200]}") from None
        finally:
            lines_ok = prefixed()
        if raw.num_rows != lines_ok:
            raise _Fallback("a line without the block's D prefix, or a stray line end")
        try:
            for key in checked:
                _check_plain_quotes(raw.column(key))
            if spec is None:
                return None, raw.num_rows
            raw = raw.unify_dictionaries()
            position = {name: names[4 + i] for i, name in enumerate(block.columns)}
            arrays: list[_Arrow] = []
            for column in spec.columns:
                found = position.get(column.name)
                if found is None:
                    arrays.append(_nulls(raw.num_rows, column.type))
                else:
                    arrays.append(_convert_arrow(raw.column(found), column.type))
            return pa.Table.from_arrays(arrays, schema=spec.arrow_schema), raw.num_rows
        except pa.ArrowException as exc:
            raise _Fallback(f"pyarrow: {str(exc)[:200]}") from None


def _count_lines_starting(data: bytes, prefix: bytes, start: int, end: int) -> Callable[[], int]:
    """How many lines of ``data[start:end]`` start with ``prefix``; call the result to get it.

    A large span is counted on a thread: ``bytes.count`` holds the GIL, but Arrow's CSV reader
    releases it, so the count runs beside the read (a month of UNIT_SCADA: ~130 ms saved of ~900).
    """
    first = int(data.startswith(prefix, start))
    needle = b"\n" + prefix
    if end - start < _ARROW_THREADS_MIN_BYTES:
        count = first + data.count(needle, start, end)
        return lambda: count
    found: list[int] = []
    worker = threading.Thread(
        target=lambda: found.append(data.count(needle, start, end)), name="mms-prefix-count"
    )
    worker.start()

    def result() -> int:
        worker.join()
        return first + found[0]

    return result


def _convert_arrow(column: _Arrow, kind: pa.DataType) -> _Arrow:
    """Turn one column read by Arrow into ``kind``, checking it under the exact reader's rules."""
    if kind == FLOAT:
        bad = pc.any(pc.invert(pc.is_finite(column))).as_py()
        if bad:
            raise _Fallback("a value that is not a finite number")
        return column
    if kind == TEXT:
        return _unquote(column) if _any_quote(column) else column
    if column.num_chunks == 0:
        return _nulls(0, kind)
    # After unify_dictionaries every chunk shares one dictionary: convert it once.
    values = _unquote(column.chunk(0).dictionary)
    if kind == TIMESTAMP:
        converted = _timestamps(values)
    elif kind == INT:
        converted = _integers(values)
    else:
        converted = values
    return pa.chunked_array(
        [pc.take(converted, chunk.indices) for chunk in column.chunks], type=cast(Any, kind)
    )


def _any_quote(column: _Arrow) -> bool:
    """Whether a string column may hold a quote: a byte search of its value buffers.

    Much cheaper than a per-value search (a month of DUIDs: ~5 ms against ~85 ms).
    """
    for chunk in column.chunks:
        data = chunk.buffers()[2]
        if data is not None and b'"' in data.to_pybytes():
            return True
    return False


def _unquote(values: _Arrow) -> _Arrow:
    """Strip the quotes of plain ``"..."`` values; any other quote means the exact reader."""
    quoted = pc.match_substring(values, '"')
    if not pc.any(quoted).as_py():
        return values
    if not pc.all(
        pc.or_(pc.invert(quoted), pc.match_substring_regex(values, _PLAIN_QUOTED_RE2))
    ).as_py():
        raise _Fallback("a quote that does not wrap a whole value")
    return pc.if_else(quoted, pc.utf8_slice_codeunits(values, 1, -1), values)


def _check_plain_quotes(column: _Arrow) -> None:
    """A column read only to be checked: every quote must wrap a whole value."""
    if not _any_quote(column):
        return
    quoted = pc.match_substring(column, '"')
    if not pc.any(quoted).as_py():
        return
    plain = pc.match_substring_regex(column, _PLAIN_QUOTED_RE2)
    if not pc.all(pc.or_(pc.invert(quoted), plain)).as_py():
        raise _Fallback("a quote that does not wrap a whole value")


def _timestamps(values: _Arrow) -> _Arrow:
    """``YYYY/MM/DD HH:MM:SS`` texts to ``timestamp[us]``, exactly as ``datetime`` would."""
    if pc.any(pc.invert(pc.match_substring_regex(values, _TS_RE2))).as_py():
        raise _Fallback("a time not written YYYY/MM/DD HH:MM:SS")
    if pc.any(pc.starts_with(values, "0000")).as_py():
        raise _Fallback("year 0")
    parsed: _Arrow = pc.strptime(values, format=_TS_FORMAT, unit="us", error_is_null=True)
    if parsed.null_count != values.null_count:
        raise _Fallback("a time that does not exist")
    # strptime rolls 2025/02/30 over to March; writing it back finds that.
    seconds: _Arrow = pc.cast(parsed, pa.timestamp("s"))
    written = pc.strftime(seconds, format=_TS_FORMAT)
    if pc.any(pc.not_equal(written, values)).as_py():
        raise _Fallback("a time that does not exist")
    return parsed


def _integers(values: _Arrow) -> _Arrow:
    """Integer texts to int64 under the exact reader's grammar (no ``+``, no hex)."""
    if pc.any(pc.invert(pc.match_substring_regex(values, _INT_RE2))).as_py():
        raise _Fallback("a value that is not a whole number")
    try:
        return pc.cast(pc.utf8_trim(values, " \t"), INT)
    except pa.ArrowInvalid:
        raise _Fallback("a whole number outside int64") from None


def _binary_view(buffer: pa.Buffer, start: int, end: int) -> _Arrow:
    """``buffer[start:end]`` as a one-value binary array, without copying."""
    offsets = pa.py_buffer(struct.pack("<qq", start, end))
    return pa.Array.from_buffers(pa.large_binary(), 1, [None, offsets, buffer])


def _build(values: list[Any], kind: pa.DataType) -> _Arrow:
    """A column of the exact reader from NumPy buffers (``pa.array`` on a list imports pandas)."""
    rows = len(values)
    valid = np.fromiter((v is not None for v in values), dtype=np.bool_, count=rows)
    nulls = rows - int(np.count_nonzero(valid))
    bitmap = pa.py_buffer(np.packbits(valid, bitorder="little").tobytes()) if nulls else None
    if kind == TEXT:
        encoded = [b"" if v is None else v.encode("utf-8") for v in values]
        offsets = np.zeros(rows + 1, dtype=np.int64)
        np.cumsum(np.fromiter(map(len, encoded), dtype=np.int64, count=rows), out=offsets[1:])
        buffers = [bitmap, pa.py_buffer(offsets.tobytes()), pa.py_buffer(b"".join(encoded))]
        text: _Arrow = pa.Array.from_buffers(pa.large_string(), rows, buffers, null_count=nulls)
        return text.cast(TEXT)
    if kind == TIMESTAMP:
        ticks = ((v - _EPOCH) // _MICROSECOND if v is not None else 0 for v in values)
        numbers = np.fromiter(ticks, dtype=np.int64, count=rows)
    elif kind == INT:
        numbers = np.fromiter((0 if v is None else v for v in values), dtype=np.int64, count=rows)
    else:
        numbers = np.fromiter((0.0 if v is None else v for v in values), np.float64, count=rows)
    column: _Arrow = pa.Array.from_buffers(
        kind, rows, [bitmap, pa.py_buffer(numbers.tobytes())], null_count=nulls
    )
    return column


def _nulls(rows: int, kind: pa.DataType) -> _Arrow:
    """An all-NULL array of ``kind``."""
    return pa.nulls(rows, type=cast(Any, kind))


def _not_a_row(fields: list[str]) -> str:
    """The message for a line that is no C, I or D row."""
    if not fields or fields == [""]:
        return "an empty line: every line must be a C, I or D row"
    return f"not a C, I or D row: it starts with {fields[0][:20]!r}"


def _header_time(header: list[str]) -> datetime | None:
    """The header's date and time (fields 6 and 7), or None when absent or malformed."""
    if len(header) < 7:
        return None
    return _aemo_time(f"{header[5]} {header[6]}")


def _aemo_time(text: str) -> datetime | None:
    """``YYYY/MM/DD HH:MM:SS`` (nothing around it) as a naive NEM-time datetime, else None."""
    match = _TS_TEXT.fullmatch(text)
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(part) for part in match.groups())
    try:
        return datetime(year, month, day, hour, minute, second)
    except ValueError:
        return None
