"""Build files in AEMO's MMS CSV format for tests, and zips of them as NEMWEB serves them.

``Block`` holds a table as the test means it (typed Python values, None for NULL); ``render`` writes
it the way AEMO or a rewriting tool would (quoted or bare values, CRLF, LF or mixed line ends, with
or without a final newline), so that tests can compare what the parser reads with what was meant.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import pyarrow as pa

from nemdash.tables import FLOAT, INT, TEXT, TIMESTAMP, TableSpec

#: The header of a DISPATCHSCADA file, as AEMO writes it.
HEADER = ("C", "NEMP.WORLD", "DISPATCHSCADA", "AEMO", "PUBLIC", "2025/12/27", "00:00:23", "1", "X")


@dataclass
class Cell:
    """One written field: its text and whether it is quoted."""

    text: str
    quoted: bool = False

    def render(self) -> str:
        """The field as it appears in the file."""
        if self.quoted:
            return '"' + self.text.replace('"', '""') + '"'
        return self.text


@dataclass
class Block:
    """One I row and its D rows, as cells; ``values`` holds what each cell means (for kept ones)."""

    report: str
    subtype: str
    version: int
    columns: Sequence[str]
    cells: list[list[Cell]] = field(default_factory=list)
    values: list[dict[str, object]] = field(default_factory=list)
    comments_before_row: dict[int, str] = field(default_factory=dict)

    def i_row(self) -> str:
        """The I row."""
        return ",".join(["I", self.report, self.subtype, str(self.version), *self.columns])

    def d_rows(self) -> list[str]:
        """The D rows (and any C rows placed between them)."""
        lines: list[str] = []
        for index, row in enumerate(self.cells):
            if index in self.comments_before_row:
                lines.append(self.comments_before_row[index])
            prefix = ["D", self.report, self.subtype, str(self.version)]
            lines.append(",".join(prefix + [cell.render() for cell in row]))
        return lines


def text_of(value: object, kind: pa.DataType) -> str:
    """How AEMO writes a typed value (None is the empty field)."""
    if value is None:
        return ""
    if kind == TIMESTAMP:
        assert isinstance(value, datetime)
        return value.strftime("%Y/%m/%d %H:%M:%S")
    if kind == FLOAT:
        assert isinstance(value, float)
        return repr(value) if value != int(value) else str(int(value))
    if kind in (INT, TEXT):
        return str(value)
    raise TypeError(kind)


def lines_of(blocks: Iterable[Block], header: Sequence[str] = HEADER) -> list[str]:
    """Every line of a file but the footer."""
    lines = [",".join(header)]
    for block in blocks:
        lines.append(block.i_row())
        lines.extend(block.d_rows())
    return lines


def render(
    lines: Sequence[str],
    *,
    newlines: Sequence[str] = ("\r\n",),
    footer: int | None = None,
    final_newline: bool = True,
) -> bytes:
    """A whole file: ``lines``, then ``C,"END OF REPORT",n`` (n = all lines unless given).

    ``newlines`` is cycled over the lines, so ``("\\r\\n", "\\n")`` gives mixed line ends.
    """
    count = len(lines) + 1 if footer is None else footer
    every = [*lines, f'C,"END OF REPORT",{count}']
    out = []
    for index, line in enumerate(every):
        end = newlines[index % len(newlines)]
        if index == len(every) - 1 and not final_newline:
            end = ""
        out.append(line + end)
    return "".join(out).encode("utf-8")


def scada_file(
    rows: Sequence[tuple[str, str, str]],
    *,
    when: str = '"2025/12/27 00:05:00"',
    newline: str = "\r\n",
) -> bytes:
    """A small DISPATCH,UNIT_SCADA v1 file; each row is (DUID, SCADAVALUE, LASTCHANGED) as text."""
    lines = [",".join(HEADER), "I,DISPATCH,UNIT_SCADA,1,SETTLEMENTDATE,DUID,SCADAVALUE,LASTCHANGED"]
    lines += [f"D,DISPATCH,UNIT_SCADA,1,{when},{duid},{mw},{lc}" for duid, mw, lc in rows]
    return render(lines, newlines=(newline,))


def expected_table(spec: TableSpec, blocks: Iterable[Block]) -> list[dict[str, object]]:
    """The rows the parser must give for ``spec``: kept columns in spec order, absent ones None."""
    rows: list[dict[str, object]] = []
    for block in blocks:
        if (block.report, block.subtype) != (spec.report, spec.subtype):
            continue
        for meant in block.values:
            rows.append({name: meant.get(name) for name in spec.column_names})
    return rows


def zip_of(members: Iterable[tuple[str, bytes]], *, stored: bool = False) -> bytes:
    """A zip holding ``members`` (name, bytes) in order."""
    sink = io.BytesIO()
    method = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(sink, "w", compression=method) as archive:
        for name, data in members:
            archive.writestr(name, data)
    return sink.getvalue()
