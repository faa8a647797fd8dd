"""AEMO's MMS CSV format, written fast: layouts copied from real files, rows rendered by Arrow.

An MMS file is a ``C`` header row, then for each table an ``I`` row naming its report, subtype,
version and columns followed by its ``D`` rows, and a ``C,"END OF REPORT",n`` footer where ``n``
counts every line including the footer. AEMO writes CRLF line ends, quotes dates
(``"2025/12/27 00:05:00"``) and nothing else, and leaves unused fields empty. The column lists
below are copied from AEMO's own files (``../shared/fixtures/nemweb``); note that the monthly
MMSDM archive orders DISPATCH,PRICE v5's columns differently from the live DISPATCHIS file.

Rows are rendered column-wise with ``pyarrow.compute.binary_join_element_wise`` (constant runs of
columns are joined once), so a month of UNIT_SCADA (4.3 million rows for 500 units) takes seconds;
the rendered lines sit in one Arrow buffer and any run of rows is a byte slice of it.
"""

from __future__ import annotations

import io
import os
import queue
import threading
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TypeAlias, cast

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from nemdash.demo.noise import EPOCH, FloatArray, IntArray

CRLF = "\r\n"

#: Compression level of the zips (1 is several times faster than zlib's default for a
#: negligible size difference on CSV; the content is what matters).
ZIP_LEVEL = 1


@dataclass(frozen=True)
class Layout:
    """The ``I`` row of one table version: report, subtype, version and column names."""

    report: str
    subtype: str
    version: int
    columns: tuple[str, ...]

    @property
    def i_row(self) -> str:
        """The ``I`` row, without its line end."""
        return ",".join(("I", self.report, self.subtype, str(self.version), *self.columns))

    @property
    def d_prefix(self) -> str:
        """The first four fields of every ``D`` row."""
        return f"D,{self.report},{self.subtype},{self.version}"


def _cols(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_FCAS_V5 = (
    "RAISE6SECRRP RAISE6SECROP RAISE6SECAPCFLAG RAISE60SECRRP RAISE60SECROP RAISE60SECAPCFLAG "
    "RAISE5MINRRP RAISE5MINROP RAISE5MINAPCFLAG RAISEREGRRP RAISEREGROP RAISEREGAPCFLAG "
    "LOWER6SECRRP LOWER6SECROP LOWER6SECAPCFLAG LOWER60SECRRP LOWER60SECROP LOWER60SECAPCFLAG "
    "LOWER5MINRRP LOWER5MINROP LOWER5MINAPCFLAG LOWERREGRRP LOWERREGROP LOWERREGAPCFLAG "
)
_PRE_AP = (
    "PRICE_STATUS PRE_AP_ENERGY_PRICE PRE_AP_RAISE6_PRICE PRE_AP_RAISE60_PRICE "
    "PRE_AP_RAISE5MIN_PRICE PRE_AP_RAISEREG_PRICE PRE_AP_LOWER6_PRICE PRE_AP_LOWER60_PRICE "
    "PRE_AP_LOWER5MIN_PRICE PRE_AP_LOWERREG_PRICE "
)
_ONE_SEC = (
    "RAISE1SECRRP RAISE1SECROP RAISE1SECAPCFLAG LOWER1SECRRP LOWER1SECROP LOWER1SECAPCFLAG "
    "PRE_AP_RAISE1_PRICE PRE_AP_LOWER1_PRICE "
)
_CUMUL = (
    "CUMUL_PRE_AP_ENERGY_PRICE CUMUL_PRE_AP_RAISE6_PRICE CUMUL_PRE_AP_RAISE60_PRICE "
    "CUMUL_PRE_AP_RAISE5MIN_PRICE CUMUL_PRE_AP_RAISEREG_PRICE CUMUL_PRE_AP_LOWER6_PRICE "
    "CUMUL_PRE_AP_LOWER60_PRICE CUMUL_PRE_AP_LOWER5MIN_PRICE CUMUL_PRE_AP_LOWERREG_PRICE "
)
_PRICE_HEAD = (
    "SETTLEMENTDATE RUNNO REGIONID DISPATCHINTERVAL INTERVENTION RRP EEP ROP APCFLAG "
    "MARKETSUSPENDEDFLAG LASTCHANGED "
)

#: DISPATCH,PRICE v5 as in the live DISPATCHIS file (66 columns).
DISPATCH_PRICE = Layout(
    "DISPATCH",
    "PRICE",
    5,
    _cols(
        _PRICE_HEAD + _FCAS_V5 + _PRE_AP + _ONE_SEC + _CUMUL
        + "CUMUL_PRE_AP_RAISE1_PRICE CUMUL_PRE_AP_LOWER1_PRICE OCD_STATUS MII_STATUS"
    ),
)  # fmt: skip
#: DISPATCH,PRICE v5 as in the MMSDM monthly archive (same 66 columns, 1-second ones last).
DISPATCH_PRICE_MMSDM = Layout(
    "DISPATCH",
    "PRICE",
    5,
    _cols(
        _PRICE_HEAD + _FCAS_V5 + _PRE_AP + _CUMUL + "OCD_STATUS MII_STATUS " + _ONE_SEC
        + "CUMUL_PRE_AP_RAISE1_PRICE CUMUL_PRE_AP_LOWER1_PRICE"
    ),
)  # fmt: skip

_FCAS_REGION = []
for _service in ("LOWER5MIN", "LOWER60SEC", "LOWER6SEC", "RAISE5MIN", "RAISE60SEC", "RAISE6SEC"):
    _FCAS_REGION += [
        f"{_service}{suffix}"
        for suffix in (
            "DISPATCH", "IMPORT", "LOCALDISPATCH", "LOCALPRICE", "LOCALREQ", "PRICE", "REQ",
            "SUPPLYPRICE",
        )
    ]  # fmt: skip

#: DISPATCH,REGIONSUM v9 (126 columns).
DISPATCH_REGIONSUM = Layout(
    "DISPATCH",
    "REGIONSUM",
    9,
    _cols(
        "SETTLEMENTDATE RUNNO REGIONID DISPATCHINTERVAL INTERVENTION TOTALDEMAND "
        "AVAILABLEGENERATION AVAILABLELOAD DEMANDFORECAST DISPATCHABLEGENERATION DISPATCHABLELOAD "
        "NETINTERCHANGE EXCESSGENERATION "
        + " ".join(_FCAS_REGION)
        + " AGGEGATEDISPATCHERROR AGGREGATEDISPATCHERROR LASTCHANGED INITIALSUPPLY CLEAREDSUPPLY "
        "LOWERREGIMPORT LOWERREGLOCALDISPATCH LOWERREGLOCALREQ LOWERREGREQ RAISEREGIMPORT "
        "RAISEREGLOCALDISPATCH RAISEREGLOCALREQ RAISEREGREQ RAISE5MINLOCALVIOLATION "
        "RAISEREGLOCALVIOLATION RAISE60SECLOCALVIOLATION RAISE6SECLOCALVIOLATION "
        "LOWER5MINLOCALVIOLATION LOWERREGLOCALVIOLATION LOWER60SECLOCALVIOLATION "
        "LOWER6SECLOCALVIOLATION RAISE5MINVIOLATION RAISEREGVIOLATION RAISE60SECVIOLATION "
        "RAISE6SECVIOLATION LOWER5MINVIOLATION LOWERREGVIOLATION LOWER60SECVIOLATION "
        "LOWER6SECVIOLATION RAISE6SECACTUALAVAILABILITY RAISE60SECACTUALAVAILABILITY "
        "RAISE5MINACTUALAVAILABILITY RAISEREGACTUALAVAILABILITY LOWER6SECACTUALAVAILABILITY "
        "LOWER60SECACTUALAVAILABILITY LOWER5MINACTUALAVAILABILITY LOWERREGACTUALAVAILABILITY "
        "LORSURPLUS LRCSURPLUS TOTALINTERMITTENTGENERATION DEMAND_AND_NONSCHEDGEN UIGF "
        "SEMISCHEDULE_CLEAREDMW SEMISCHEDULE_COMPLIANCEMW SS_SOLAR_UIGF SS_WIND_UIGF "
        "SS_SOLAR_CLEAREDMW SS_WIND_CLEAREDMW SS_SOLAR_COMPLIANCEMW SS_WIND_COMPLIANCEMW "
        "WDR_INITIALMW WDR_AVAILABLE WDR_DISPATCHED RAISE1SECLOCALDISPATCH LOWER1SECLOCALDISPATCH "
        "RAISE1SECACTUALAVAILABILITY LOWER1SECACTUALAVAILABILITY SS_SOLAR_AVAILABILITY "
        "SS_WIND_AVAILABILITY BDU_ENERGY_STORAGE BDU_MIN_AVAIL BDU_MAX_AVAIL BDU_CLEAREDMW_GEN "
        "BDU_CLEAREDMW_LOAD BDU_INITIAL_ENERGY_STORAGE"
    ),
)
#: DISPATCH,INTERCONNECTORRES v3 (22 columns).
DISPATCH_INTERCONNECTORRES = Layout(
    "DISPATCH",
    "INTERCONNECTORRES",
    3,
    _cols(
        "SETTLEMENTDATE RUNNO INTERCONNECTORID DISPATCHINTERVAL INTERVENTION METEREDMWFLOW MWFLOW "
        "MWLOSSES MARGINALVALUE VIOLATIONDEGREE LASTCHANGED EXPORTLIMIT IMPORTLIMIT MARGINALLOSS "
        "EXPORTGENCONID IMPORTGENCONID FCASEXPORTLIMIT FCASIMPORTLIMIT "
        "LOCAL_PRICE_ADJUSTMENT_EXPORT LOCALLY_CONSTRAINED_EXPORT LOCAL_PRICE_ADJUSTMENT_IMPORT "
        "LOCALLY_CONSTRAINED_IMPORT"
    ),
)
#: DISPATCH,CASE_SOLUTION v2 (24 columns): one row per dispatch run.
DISPATCH_CASE_SOLUTION = Layout(
    "DISPATCH",
    "CASE_SOLUTION",
    2,
    _cols(
        "SETTLEMENTDATE RUNNO INTERVENTION CASESUBTYPE SOLUTIONSTATUS SPDVERSION "
        "NONPHYSICALLOSSES TOTALOBJECTIVE TOTALAREAGENVIOLATION TOTALINTERCONNECTORVIOLATION "
        "TOTALGENERICVIOLATION TOTALRAMPRATEVIOLATION TOTALUNITMWCAPACITYVIOLATION "
        "TOTAL5MINVIOLATION TOTALREGVIOLATION TOTAL6SECVIOLATION TOTAL60SECVIOLATION "
        "TOTALASPROFILEVIOLATION TOTALFASTSTARTVIOLATION TOTALENERGYOFFERVIOLATION LASTCHANGED "
        "SWITCHRUNINITIALSTATUS SWITCHRUNBESTSTATUS SWITCHRUNBESTSTATUS_INT"
    ),
)
#: DISPATCH,UNIT_SCADA v1 with LASTCHANGED (as published from late 2025).
UNIT_SCADA = Layout(
    "DISPATCH", "UNIT_SCADA", 1, ("SETTLEMENTDATE", "DUID", "SCADAVALUE", "LASTCHANGED")
)
#: TRADING,PRICE v3 (30 columns).
TRADING_PRICE = Layout(
    "TRADING",
    "PRICE",
    3,
    _cols(
        "SETTLEMENTDATE RUNNO REGIONID PERIODID RRP EEP INVALIDFLAG LASTCHANGED ROP RAISE6SECRRP "
        "RAISE6SECROP RAISE60SECRRP RAISE60SECROP RAISE5MINRRP RAISE5MINROP RAISEREGRRP "
        "RAISEREGROP LOWER6SECRRP LOWER6SECROP LOWER60SECRRP LOWER60SECROP LOWER5MINRRP "
        "LOWER5MINROP LOWERREGRRP LOWERREGROP RAISE1SECRRP RAISE1SECROP LOWER1SECRRP "
        "LOWER1SECROP PRICE_STATUS"
    ),
)
#: TRADING,INTERCONNECTORRES v2 (8 columns).
TRADING_INTERCONNECTORRES = Layout(
    "TRADING",
    "INTERCONNECTORRES",
    2,
    _cols(
        "SETTLEMENTDATE RUNNO INTERCONNECTORID PERIODID METEREDMWFLOW MWFLOW MWLOSSES LASTCHANGED"
    ),
)
#: ROOFTOP,ACTUAL v2 (6 columns).
ROOFTOP_ACTUAL = Layout(
    "ROOFTOP", "ACTUAL", 2, ("INTERVAL_DATETIME", "REGIONID", "POWER", "QI", "TYPE", "LASTCHANGED")
)


# ----------------------------------------------------------------------------------------------
# Value formatting (Arrow string arrays, no nulls: an empty field is "")

if TYPE_CHECKING:
    Text: TypeAlias = pa.Array[Any]
    """An Arrow string array (one value per row)."""
else:
    Text = pa.Array
Field = str | Text


def numbers(values: FloatArray | IntArray, decimals: int | None = None) -> Text:
    """Numbers as AEMO writes them: shortest form, no trailing zeros; NaN is an empty field."""
    array = np.asarray(values)
    if decimals is not None:
        array = np.round(array.astype(np.float64), decimals) + 0.0  # + 0.0 turns -0.0 into 0.0
    text: Text = pc.cast(pa.array(array), pa.string())
    if array.dtype.kind == "f":
        missing = np.isnan(array)
        if missing.any():
            text = cast(Text, pc.if_else(pa.array(missing), "", text))
    return text


def aemo_time(interval: IntArray, seconds: int = 0) -> list[str]:
    """Quoted AEMO timestamps ``"YYYY/MM/DD HH:MM:SS"`` of interval ends plus ``seconds``."""
    stamps = (
        np.datetime64(EPOCH, "s")
        + interval.astype(np.int64) * np.timedelta64(300, "s")
        + np.timedelta64(seconds, "s")
    )
    text = np.datetime_as_string(stamps, unit="s")
    return ['"' + t.replace("-", "/").replace("T", " ") + '"' for t in text.tolist()]


def per_row(values: Sequence[str], index: IntArray) -> Text:
    """One of ``values`` per row, chosen by ``index`` (e.g. an interval's timestamp)."""
    result: Text = pc.call_function(
        "take", [pa.array(values, pa.string()), pa.array(index, pa.int64())]
    )
    return result


@dataclass(frozen=True)
class Lines:
    """Rendered ``D`` rows of one table, grouped by interval (rows are in interval order)."""

    layout: Layout
    buffer: pa.Buffer
    offsets: np.ndarray
    """Byte offset of each row's start in ``buffer``, plus the end (n_rows + 1 values)."""
    group_rows: np.ndarray
    """First row of each group (interval or half hour), plus the end (n_groups + 1 values)."""

    @property
    def n_rows(self) -> int:
        return len(self.offsets) - 1

    def rows(self, first_group: int, end_group: int) -> tuple[int, int]:
        """The row range of groups ``first_group`` .. ``end_group - 1``."""
        return int(self.group_rows[first_group]), int(self.group_rows[end_group])

    def data(self, first_group: int, end_group: int) -> memoryview:
        """The bytes of the rows of a range of groups (CRLF-terminated lines)."""
        r0, r1 = self.rows(first_group, end_group)
        return memoryview(self.buffer)[int(self.offsets[r0]) : int(self.offsets[r1])]


def render(layout: Layout, values: Mapping[str, Field], group_sizes: IntArray) -> Lines:
    """Render ``D`` rows from one value per column (a constant string or a string array).

    ``group_sizes`` gives the rows of each group (an interval) in order; every array has
    ``sum(group_sizes)`` values. Every column of the layout must be given, and only those.
    """
    wanted = [c.lower() for c in layout.columns]
    missing = [c for c in wanted if c not in values]
    extra = [c for c in values if c not in wanted]
    if missing or extra:
        raise KeyError(f"{layout.report},{layout.subtype}: missing {missing}, unexpected {extra}")
    n_rows = int(group_sizes.sum())
    parts: list[Field] = []
    pending = [layout.d_prefix]
    for column in wanted:
        value = values[column]
        if isinstance(value, str):
            pending.append(value)
            continue
        if len(value) != n_rows:
            raise ValueError(f"{column}: {len(value)} values for {n_rows} rows")
        if pending:  # a run of constants (possibly one empty field) between arrays
            parts.append(",".join(pending))
        parts.append(value)
        pending = []
    # The line end rides on the last field (a constant run, or appended to the last array).
    if pending:
        parts.append(",".join(pending) + CRLF)
    else:
        last = parts.pop()
        parts.append(pc.call_function("binary_join_element_wise", [last, CRLF, ""]))
    lines: Text
    if n_rows == 0:
        lines = pa.array([], pa.string())
    elif all(isinstance(p, str) for p in parts):
        lines = pa.array([",".join(str(p) for p in parts)] * n_rows, pa.string())
    else:
        lines = pc.call_function("binary_join_element_wise", [*parts, ","])
    offset_buffer = lines.buffers()[1]
    data_buffer = lines.buffers()[2] if n_rows else None
    assert offset_buffer is not None
    offsets = np.frombuffer(
        memoryview(offset_buffer), dtype=np.int32, count=len(lines) + 1, offset=lines.offset * 4
    ).astype(np.int64)
    buffer = data_buffer if data_buffer is not None else pa.py_buffer(b"")
    group_rows = np.concatenate([[0], np.cumsum(group_sizes)]).astype(np.int64)
    return Lines(layout, buffer, offsets, group_rows)


# ----------------------------------------------------------------------------------------------
# MMS files


def footer(total_lines: int) -> str:
    """AEMO's footer row; ``total_lines`` counts every line of the file, the footer included."""
    return f'C,"END OF REPORT",{total_lines}{CRLF}'


def mms_file(header: str, sections: Iterable[tuple[Lines, int, int]]) -> bytes:
    """A whole MMS file: the header, then each table's ``I`` row and rows, then the footer.

    Each section is (lines, first group, end group): the rows of those groups are written.
    """
    chunks: list[bytes | memoryview] = [(header + CRLF).encode()]
    total = 2
    for lines, g0, g1 in sections:
        r0, r1 = lines.rows(g0, g1)
        if r1 == r0:
            continue
        chunks.append((lines.layout.i_row + CRLF).encode())
        chunks.append(lines.data(g0, g1))
        total += 1 + (r1 - r0)
    chunks.append(footer(total).encode())
    return b"".join(chunks)


def nemp_header(report: str, published: datetime, file_id: int, tail: str, previous: int) -> str:
    """The first ``C`` row of a live file, e.g. ``C,NEMP.WORLD,DISPATCHIS,AEMO,PUBLIC,...``."""
    return (
        f"C,NEMP.WORLD,{report},AEMO,PUBLIC,{published:%Y/%m/%d},{published:%H:%M:%S},"
        f"{file_id:016d},{tail},{previous:016d}"
    )


def mmsdm_header(table: str, published: datetime, file_id: int) -> str:
    """The first ``C`` row of an MMSDM monthly file (``C,SETP.WORLD,DVD_<TABLE>,...``)."""
    return (
        f"C,SETP.WORLD,DVD_{table},AEMO,PUBLIC,{published:%Y/%m/%d},{published:%H:%M:%S},"
        f"{file_id:015d},MONTHLY_ARCHIVE,{file_id:015d}"
    )


# ----------------------------------------------------------------------------------------------
# Deterministic zips


def _zip_info(name: str, when: datetime) -> zipfile.ZipInfo:
    """A member header with fixed metadata: the time given, MS-DOS origin, no extra fields."""
    info = zipfile.ZipInfo(name, date_time=when.timetuple()[:6])
    info.compress_type = zipfile.ZIP_DEFLATED
    info.create_system = 0
    info.external_attr = 0
    info._compresslevel = ZIP_LEVEL  # type: ignore[attr-defined]  # honoured by ZipFile.open
    return info


def zip_bytes(members: Iterable[tuple[str, bytes | memoryview, datetime]]) -> bytes:
    """A zip holding the given (name, data, time) members, identical for identical input."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data, when in members:
            with archive.open(_zip_info(name, when), "w") as member:
                member.write(data)
    return buffer.getvalue()


def write_atomic(path: Path, data: bytes, mtime: datetime | None = None) -> None:
    """Write ``data`` to ``path`` through a temporary file and ``os.replace`` (never half a file).

    ``mtime`` (naive NEM time) sets the file's modification time, as a web server reports it.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    if mtime is not None:
        _set_mtime(tmp, mtime)
    os.replace(tmp, path)


def _set_mtime(path: Path, when: datetime) -> None:
    """Set a file's times to a naive NEM-time moment (UTC+10)."""
    stamp = (when - timedelta(hours=10) - datetime(1970, 1, 1)).total_seconds()
    os.utime(path, (stamp, stamp))


@contextmanager
def zip_stream(
    path: Path, member: str, when: datetime, mtime: datetime | None = None
) -> Iterator[IO[bytes]]:
    """Stream one large member into a zip at ``path`` (written atomically on success)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with (
            zipfile.ZipFile(tmp, "w") as archive,
            archive.open(_zip_info(member, when), "w") as handle,
        ):
            yield handle
        if mtime is not None:
            _set_mtime(tmp, mtime)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


class BackgroundWriter:
    """Writes (and so compresses) chunks on a second thread while the caller renders more.

    zlib and Arrow's kernels release the GIL, so on two cores deflating one chunk overlaps with
    rendering the next. At most ``depth`` chunks wait in memory. Use as a context manager; an
    error on the writing thread is raised again on exit.
    """

    def __init__(self, handle: IO[bytes], depth: int = 2) -> None:
        self._handle = handle
        self._queue: queue.Queue[bytes | memoryview | None] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="demo-zip-writer", daemon=True)

    def _run(self) -> None:
        while (chunk := self._queue.get()) is not None:
            if self._error is None:
                try:
                    self._handle.write(chunk)
                except BaseException as exc:  # handed to the caller in __exit__
                    self._error = exc

    def write(self, chunk: bytes | memoryview) -> None:
        """Queue a chunk (the caller must not modify it afterwards)."""
        if self._error is not None:
            raise self._error
        self._queue.put(chunk)

    def __enter__(self) -> BackgroundWriter:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._queue.put(None)
        self._thread.join()
        if self._error is not None and exc_info[0] is None:
            raise self._error
