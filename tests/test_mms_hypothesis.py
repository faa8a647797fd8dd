"""Property tests of the MMS parser: generated files read back exactly, by both readers alike, and
corruption of any kind ends in an MMSParseError or in content that is exactly right."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from mms_factory import Block, Cell, expected_table, lines_of, render
from nemdash.errors import MMSParseError, TruncatedFileError
from nemdash.nemweb.mms import Engine, MMSFile, parse_mms
from nemdash.tables import FLOAT, INT, TABLES, TEXT, TIMESTAMP, TableSpec, for_report

SETTINGS = settings(
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
SPECS = list(TABLES.values())
NEWLINES = [("\r\n",), ("\n",), ("\r\n", "\n"), ("\n", "\n", "\r\n")]
# Printable text without line ends; quotes and commas force the exact reader, which is the point.
TEXT_ALPHABET = st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\r\n")


@dataclass
class Written:
    """A generated value: the cell written and the value it means."""

    cell: Cell
    value: object
    plain: bool
    """False when the fast reader is expected to hand the block to the exact one."""


@st.composite
def written(draw: st.DrawFn, kind: pa.DataType, awkward: bool) -> Written:
    """One value of ``kind`` in one of the ways AEMO or a rewriting tool writes it.

    Only ``awkward`` files get quoted numbers and text with quotes or commas (valid CSV that the
    fast reader hands to the exact one).
    """
    if draw(st.integers(0, 9)) == 0:
        quoted = draw(st.booleans())
        return Written(Cell("", quoted), None, True)
    if kind == FLOAT:
        number = draw(st.floats(allow_nan=False, allow_infinity=False, width=64))
        style = draw(st.sampled_from(["repr", "fixed", "exp", "int", "padded", "plus"]))
        text = {
            "repr": repr(number),
            "fixed": f"{number:.{draw(st.integers(0, 8))}f}",
            "exp": f"{number:e}",
            "int": str(draw(st.integers(-(10**20), 10**20))),
            "padded": f" {number!r}\t",
            "plus": f"+{abs(number)!r}",
        }[style]
        quoted = awkward and draw(st.integers(0, 4)) == 0
        return Written(Cell(text, quoted), float(text), not quoted)
    if kind == INT:
        whole = draw(st.integers(-(2**63), 2**63 - 1))
        text = draw(st.sampled_from([str(whole), f"{whole:05d}", f" {whole}"]))
        quoted = awkward and draw(st.integers(0, 4)) == 0
        return Written(Cell(text, quoted), whole, not quoted)
    if kind == TIMESTAMP:
        when = draw(st.datetimes(min_value=datetime(1000, 1, 1), max_value=datetime(9999, 12, 31)))
        when = when.replace(microsecond=0)
        quoted = draw(st.booleans())
        return Written(Cell(when.strftime("%Y/%m/%d %H:%M:%S"), quoted), when, True)
    text = draw(st.text(TEXT_ALPHABET, min_size=1, max_size=12))
    if not awkward:
        text = text.replace('"', "'").replace(",", ";")
    awkward = '"' in text or "," in text
    quoted = draw(st.booleans()) or "," in text or text.startswith('"')
    return Written(Cell(text, quoted), text, not awkward)


@st.composite
def column_names(draw: st.DrawFn, taken: set[str]) -> list[str]:
    """Extra column names, none of them among ``taken`` (lower case)."""
    names = draw(
        st.lists(st.from_regex(r"[A-Z][A-Z0-9_]{0,10}", fullmatch=True), max_size=3, unique=True)
    )
    return [n for n in names if n.lower() not in taken]


@dataclass
class Generated:
    """A generated file and what it means."""

    data: bytes
    blocks: list[Block]
    plain: bool

    def expected(self, spec: TableSpec) -> list[dict[str, object]]:
        """The rows the parser must give for ``spec``."""
        return expected_table(spec, self.blocks)


@st.composite
def blocks(draw: st.DrawFn, awkward: bool) -> tuple[Block, bool]:
    """One table: a kept one with some of its columns (and others), or one nemdash does not keep."""
    spec = draw(st.sampled_from([*SPECS, None]))
    if spec is not None:
        report, subtype = spec.report, spec.subtype
        kept = draw(st.lists(st.sampled_from(spec.column_names), unique=True))
        columns = [*kept, *draw(column_names(set(spec.column_names)))]
        types = {name: spec.column(name).type for name in kept}
    else:
        report = draw(st.sampled_from(["DISPATCH", "TRADING", "P5MIN"]))
        subtype = draw(st.sampled_from(["CONSTRAINT", "LOCAL_PRICE", "CASE_SOLUTION"]))
        assert for_report(report, subtype) is None
        columns = draw(column_names(set()))
        types = {}
    if not columns:
        columns = ["ONLY_COLUMN"]
    columns = list(draw(st.permutations(columns)))
    block = Block(report, subtype, draw(st.integers(1, 12)), [c.upper() for c in columns])
    plain = True
    for _ in range(draw(st.integers(0, 6))):
        row: list[Cell] = []
        meant: dict[str, object] = {}
        for name in columns:
            kind = types.get(name.lower(), TEXT)
            value = draw(written(kind, awkward))
            row.append(value.cell)
            plain = plain and value.plain
            if name.lower() in types:
                meant[name.lower()] = value.value
        block.cells.append(row)
        block.values.append(meant)
    if block.cells and draw(st.integers(0, 5)) == 0:
        block.comments_before_row[draw(st.integers(0, len(block.cells) - 1))] = "C,a comment"
    return block, plain


@st.composite
def files(draw: st.DrawFn) -> Generated:
    """A whole valid file: header, tables, footer; mixed line ends, final newline or not."""
    drawn = draw(st.lists(blocks(draw(st.booleans())), max_size=4))
    lines = lines_of([b for b, _ in drawn])
    data = render(
        lines,
        newlines=draw(st.sampled_from(NEWLINES)),
        final_newline=draw(st.booleans()),
    )
    return Generated(data, [b for b, _ in drawn], all(plain for _, plain in drawn))


@contextmanager
def fallbacks() -> Iterator[list[str]]:
    """Collect the fast reader's hand-overs to the exact reader (logged at debug level)."""
    seen: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "exact reader" in record.getMessage():
                seen.append(record.getMessage())

    log = logging.getLogger("nemdash.nemweb.mms")
    handler, level = Collect(level=logging.DEBUG), log.level
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)
    try:
        yield seen
    finally:
        log.removeHandler(handler)
        log.setLevel(level)


def same_content(one: MMSFile, other: MMSFile) -> None:
    """Two parses give the same blocks, counts and tables."""
    shape = [(b.report, b.subtype, b.version, b.columns, b.first_line, b.rows) for b in one.blocks]
    assert shape == [
        (b.report, b.subtype, b.version, b.columns, b.first_line, b.rows) for b in other.blocks
    ]
    assert (one.line_count, one.footer_count) == (other.line_count, other.footer_count)
    assert one.tables().keys() == other.tables().keys()
    for name, table in one.tables().items():
        assert table.equals(other.tables()[name]), name


def check_generated(generated: Generated) -> None:
    """A valid file reads back as generated, by both readers alike."""
    with fallbacks() as handed_over:
        fast = parse_mms(generated.data, "generated.CSV", engine="arrow")
    rows = sum(len(b.cells) for b in generated.blocks)
    event(
        f"{'plain' if generated.plain else 'awkward'} input, {'no' if rows == 0 else 'some'} rows"
    )
    if generated.plain:
        assert handed_over == []  # clean input must not need the slow reader
    exact = parse_mms(generated.data, "generated.CSV", engine="python")
    same_content(fast, exact)
    assert fast.footer_ok
    assert [b.rows for b in fast.blocks] == [len(b.cells) for b in generated.blocks]
    kept = {(b.report, b.subtype) for b in generated.blocks if for_report(b.report, b.subtype)}
    for spec in SPECS:
        if (spec.report, spec.subtype) not in kept:
            assert spec.name not in fast.tables()
            continue
        table = fast.tables()[spec.name]
        assert table.schema == spec.arrow_schema
        assert table.to_pylist() == generated.expected(spec)


@settings(SETTINGS, max_examples=60)
@given(generated=files())
def test_generated_files_read_back_exactly_by_both_readers(generated: Generated) -> None:
    check_generated(generated)


@pytest.mark.slow
@settings(SETTINGS, max_examples=1000)
@given(generated=files())
def test_generated_files_read_back_exactly_thoroughly(generated: Generated) -> None:
    check_generated(generated)


def outcome(data: bytes, engine: Engine) -> MMSFile | MMSParseError:
    """The parse, or the MMSParseError it raised (any other exception fails the test)."""
    try:
        return parse_mms(data, "corrupt.CSV", engine=engine)
    except MMSParseError as exc:
        return exc


def check_corrupt(data: bytes) -> MMSFile | None:
    """Both readers agree on corrupt ``data``: the same error at the same line, or the same file."""
    fast, exact = outcome(data, "arrow"), outcome(data, "python")
    if isinstance(exact, MMSParseError):
        assert isinstance(fast, MMSParseError), "the fast reader accepted what the exact refused"
        assert (type(fast), fast.line, fast.reason) == (type(exact), exact.line, exact.reason)
        assert exact.line is not None
        assert 1 <= exact.line <= data.count(b"\n") + 1
        return None
    assert isinstance(fast, MMSFile), f"the fast reader refused what the exact accepted: {fast}"
    same_content(fast, exact)
    return exact


@st.composite
def corruptions(draw: st.DrawFn, data: bytes) -> tuple[str, bytes]:
    """One kind of damage done to ``data``."""
    kind = draw(
        st.sampled_from(["truncate", "flip", "drop line", "duplicate line", "insert", "replace"])
    )
    lines = data.split(b"\n")
    if kind == "truncate":
        return kind, data[: draw(st.integers(0, len(data)))]
    if kind == "flip":
        at = draw(st.integers(0, len(data) - 1))
        byte = draw(st.sampled_from([*b'",\r\n0.9-eD CI', *range(256)]))
        return kind, data[:at] + bytes([byte]) + data[at + 1 :]
    if kind in ("drop line", "duplicate line"):
        # The last piece is empty when the file ends with a newline: leave it alone.
        at = draw(st.integers(0, max(0, len(lines) - 1 - (lines[-1] == b""))))
        copies = [] if kind == "drop line" else [lines[at], lines[at]]
        return kind, b"\n".join([*lines[:at], *copies, *lines[at + 1 :]])
    if kind == "insert":
        at = draw(st.integers(0, len(data)))
        return kind, data[:at] + draw(st.binary(min_size=1, max_size=8)) + data[at:]
    return kind, draw(st.binary(max_size=200))


def check_damage(original: bytes, kind: str, damaged: bytes) -> None:
    """The damage ends in an MMSParseError, or in content that is exactly right."""
    parsed = check_corrupt(damaged)
    event(
        f"{kind}: {'unchanged' if damaged == original else 'error' if parsed is None else 'read'}"
    )
    if parsed is None or damaged == original:
        return
    before = parse_mms(original, "corrupt.CSV")
    if kind == "truncate":
        # Only line ends or footer digits can go without an error: the data must be intact.
        assert parsed.tables().keys() == before.tables().keys()
        for name, table in before.tables().items():
            assert parsed.tables()[name].equals(table)
    elif kind in ("drop line", "duplicate line") and before.footer_ok:
        assert not parsed.footer_ok, "a lost or doubled line must show in the footer check"


@settings(SETTINGS, max_examples=100)
@given(st.data())
def test_corrupt_generated_files_raise_only_parse_errors(data: st.DataObject) -> None:
    original = data.draw(files()).data
    kind, damaged = data.draw(corruptions(original))
    check_damage(original, kind, damaged)


@pytest.mark.slow
@settings(SETTINGS, max_examples=1000)
@given(st.data())
def test_corrupt_generated_files_thoroughly(data: st.DataObject) -> None:
    original = data.draw(files()).data
    kind, damaged = data.draw(corruptions(original))
    check_damage(original, kind, damaged)


SMALL_FIXTURES = [
    "Reports/CURRENT/TradingIS_Reports/PUBLIC_TRADINGIS_202403031335_0000000412683134.zip",
    "Reports/CURRENT/Dispatch_SCADA/PUBLIC_DISPATCHSCADA_202512270005_0000000495867506.zip",
    "Reports/CURRENT/ROOFTOP_PV/ACTUAL/"
    "PUBLIC_ROOFTOP_PV_ACTUAL_MEASUREMENT_20240303200000_0000000412707330.zip",
    "Reports/CURRENT/DispatchIS_Reports/PUBLIC_DISPATCHIS_202512270005_0000000495867501.zip",
]


@pytest.fixture(scope="module")
def fixture_csvs(nemweb_root: Path) -> list[bytes]:
    """The CSVs of some real AEMO files."""
    import zipfile

    found = []
    for relative in SMALL_FIXTURES:
        with zipfile.ZipFile(nemweb_root / relative) as archive:
            found.append(archive.read(archive.namelist()[0]))
    return found


@settings(SETTINGS, max_examples=60, suppress_health_check=list(HealthCheck))
@given(st.data())
def test_corrupt_real_files_raise_only_parse_errors(
    fixture_csvs: list[bytes], data: st.DataObject
) -> None:
    original = data.draw(st.sampled_from(fixture_csvs))
    kind, damaged = data.draw(corruptions(original))
    check_damage(original, kind, damaged)


@pytest.mark.slow
@settings(SETTINGS, max_examples=500, suppress_health_check=list(HealthCheck))
@given(st.data())
def test_corrupt_real_files_thoroughly(fixture_csvs: list[bytes], data: st.DataObject) -> None:
    original = data.draw(st.sampled_from(fixture_csvs))
    kind, damaged = data.draw(corruptions(original))
    check_damage(original, kind, damaged)


def test_truncating_a_real_file_at_every_line_end_raises_truncated(
    fixture_csvs: list[bytes],
) -> None:
    original = fixture_csvs[0]
    ends = [i for i, byte in enumerate(original) if byte == 0x0A][:-1]
    for end in ends:
        with pytest.raises(TruncatedFileError):
            parse_mms(original[: end + 1], "cut.CSV")
