"""Write the synthetic NEM as a NEMWEB-shaped tree, and publish further intervals live.

:func:`build_tree` lays out ``(start, end]`` the way NEMWEB holds it (see NEM-FACTS.md):

* ``Reports/CURRENT/<feed>/``: one zip per interval (one CSV member) for roughly the last
  ``current_days`` (back to the start of a market day, 04:00, so that no interval falls between
  CURRENT and ARCHIVE); rooftop PV half-hourly, back to the start of its archive week.
* ``Reports/ARCHIVE/<feed>/``: per market day (04:05 .. 04:00) a zip of that day's CURRENT zips,
  for about ``archive_days`` before that; rooftop PV per week (Thursday to Wednesday, as AEMO's
  weekly files run), a zip of its half-hourly zips.
* ``Data_Archive/Wholesale_Electricity/MMSDM/<yyyy>/MMSDM_<yyyy>_<mm>/
  MMSDM_Historical_Data_SQLLoader/DATA/PUBLIC_ARCHIVE%23<TABLE>%23FILE01%23<yyyymm>010000.zip``
  (member ``PUBLIC_ARCHIVE#<TABLE>#FILE01#<yyyymm>010000.CSV``) for every whole calendar month
  before the archive (the archive reaches back to the end of the last MMSDM month, so the three
  overlap a little and never leave a gap; overlaps are harmless, as rows upsert by key).
* ``registry/NEM-Registration-and-Exemption-List.xlsx``: the fleet in AEMO's registration list
  layout, and ``nemdash-demo.json``: the arguments, so a :class:`LiveClock` can carry on.

Generation streams month by month (memory is bounded by one month of the fleet) and everything is
deterministic: the same arguments give byte-identical files (zip member times and header stamps
are derived from the intervals, never from the clock). :class:`LiveClock` (and
:func:`publish_interval`) writes the CURRENT files of one more interval, identical to what
:func:`build_tree` writes for that interval, so an accelerated clock can be built on it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path

import numpy as np

from nemdash import nemtime
from nemdash.demo import aemo_writer as w
from nemdash.demo import reports
from nemdash.demo.fleet import Fleet, make_fleet
from nemdash.demo.market import INTERVALS_PER_DAY, MarketDays, simulate
from nemdash.demo.noise import EPOCH
from nemdash.demo.registry import registry_workbook
from nemdash.errors import ConfigError
from nemdash.tables import FEEDS, MMSDM_BASE

logger = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]
"""``progress(stage, done, total)``: stage is ``mmsdm``, ``archive``, ``rooftop archive`` or
``current``; done and total count days (MMSDM, ARCHIVE, CURRENT) or weeks (rooftop archive)."""

FIVE_MINUTES = timedelta(minutes=5)
MANIFEST = "nemdash-demo.json"
REGISTRY_FILE = Path("registry") / "NEM-Registration-and-Exemption-List.xlsx"

#: Feed codes in the 16-digit file ids (every file of a feed and interval gets its own id).
_FEED_CODE = {
    "DispatchIS_Reports": 1,
    "Dispatch_SCADA": 2,
    "TradingIS_Reports": 3,
    "ROOFTOP_PV_ACTUAL": 4,
}
#: Seconds after the interval start at which AEMO publishes each 5-minute feed.
_PUBLISH_SECONDS = {"DispatchIS_Reports": 21, "Dispatch_SCADA": 23, "TradingIS_Reports": 11}
_MMSDM_TABLES = (
    "DISPATCHPRICE",
    "DISPATCHREGIONSUM",
    "DISPATCHINTERCONNECTORRES",
    "DISPATCH_UNIT_SCADA",
    "TRADINGPRICE",
    "ROOFTOP_PV_ACTUAL",
)
_ROOFTOP_WEEKDAY = 3  # AEMO's weekly rooftop PV archives start on Thursdays
_CHUNK_DAYS = 8  # days rendered at once when cutting per-interval files
_MMSDM_RENDER_DAYS = 3  # days rendered at once while streaming an MMSDM month


def interval_time(n: int) -> datetime:
    """The naive NEM-time end of interval number ``n`` (intervals since the epoch)."""
    return EPOCH + n * FIVE_MINUTES


def interval_index(when: datetime) -> int:
    """The number of the last interval ending at or before ``when`` (naive NEM time)."""
    return int((when - EPOCH) // FIVE_MINUTES)


def _naive(value: datetime) -> datetime:
    """NEM wall clock of an aware or naive (taken as NEM time) datetime."""
    return nemtime.to_naive(nemtime.ensure_aware(value))


def _file_id(feed: str, n: int) -> int:
    return 300_000_000 + n * 8 + _FEED_CODE[feed]


# ----------------------------------------------------------------------------------------------
# The plan: which interval goes into which kind of file


@dataclass(frozen=True)
class TreePlan:
    """Which intervals each part of the tree holds (interval numbers; ranges are ``(lo, hi]``)."""

    first: int
    """Number of the first interval written (the first ending after ``start``)."""
    last: int
    """Number of the last interval written (the last ending at or before ``end``)."""
    months: tuple[date, ...]
    """MMSDM months (first day of each): intervals of the month after ``start``."""
    archive_days: tuple[date, ...]
    """ARCHIVE market days: intervals 04:05 .. 04:00 next day."""
    current_after: int
    """CURRENT holds the intervals after this one."""
    rooftop_weeks: tuple[date, ...]
    """Rooftop PV ARCHIVE weeks (first day): files stamped 00:00 that day .. 23:30 day 7."""
    rooftop_current_from: datetime
    """Rooftop PV CURRENT holds the files stamped from this time on (naive NEM time)."""


def _market_day_start(when: datetime) -> datetime:
    """04:00 of the market day whose intervals include the one ending at ``when``."""
    day = nemtime.market_day(when)
    return datetime.combine(day, time(4, 0))


def _thursday_on_or_before(day: date) -> date:
    return day - timedelta(days=(day.weekday() - _ROOFTOP_WEEKDAY) % 7)


def _next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def plan_tree(
    start: datetime, end: datetime, *, current_days: float = 2, archive_days: int = 30
) -> TreePlan:
    """Split ``(start, end]`` into MMSDM months, ARCHIVE days and CURRENT intervals."""
    start_naive, end_naive = _naive(start), _naive(end)
    if start_naive < EPOCH:
        raise ConfigError(f"the demo starts no earlier than {EPOCH:%Y-%m-%d}; got start={start}")
    first = interval_index(start_naive) + 1
    last = interval_index(end_naive)
    if last < first:
        raise ConfigError(f"end ({end}) must be at least 5 minutes after start ({start})")
    if current_days < 0 or archive_days < 0:
        raise ConfigError("current_days and archive_days cannot be negative")
    end_time = interval_time(last)
    boundary = _market_day_start(end_time - timedelta(days=current_days))
    current_after = max(interval_index(boundary), first - 1)
    nominal = interval_time(current_after) - timedelta(days=archive_days)

    months: list[date] = []
    month = date(interval_time(first).year, interval_time(first).month, 1)
    if interval_time(first) == datetime.combine(month, time()):  # 00:00 on the 1st ends last month
        month = date(month.year - (month.month == 1), (month.month - 2) % 12 + 1, 1)
    while datetime.combine(_next_month(month), time()) <= nominal:
        months.append(month)
        month = _next_month(month)
    mmsdm_end = (
        interval_index(datetime.combine(_next_month(months[-1]), time())) if months else first - 1
    )

    days: list[date] = []
    if current_after > mmsdm_end:
        day = nemtime.market_day(interval_time(mmsdm_end + 1))
        last_day = nemtime.market_day(interval_time(current_after))
        while day <= last_day:
            days.append(day)
            day += timedelta(days=1)

    current_start = interval_time(current_after)
    rooftop_from = datetime.combine(_thursday_on_or_before(current_start.date()), time())
    weeks: list[date] = []
    week = _thursday_on_or_before(interval_time(mmsdm_end).date())
    while week + timedelta(days=7) <= rooftop_from.date():
        weeks.append(week)
        week += timedelta(days=7)
    return TreePlan(
        first, last, tuple(months), tuple(days), current_after, tuple(weeks), rooftop_from
    )


# ----------------------------------------------------------------------------------------------
# Files of one interval


@dataclass(frozen=True)
class _File:
    feed: str
    name: str
    data: bytes
    published: datetime


@dataclass
class _Rendered:
    """The rows of every live table for a run of intervals (and half hours) of ``market``."""

    market: MarketDays
    i0: int
    i1: int
    case: w.Lines
    price: w.Lines
    regionsum: w.Lines
    interconnector: w.Lines
    scada: w.Lines
    trading_price: w.Lines
    trading_ic: w.Lines


def _render(market: MarketDays, fleet: Fleet, i0: int, i1: int) -> _Rendered:
    trading_price, trading_ic = reports.trading(market, i0, i1)
    return _Rendered(
        market,
        i0,
        i1,
        reports.case_solution(market, i0, i1),
        reports.dispatch_price(market, i0, i1),
        reports.regionsum(market, i0, i1),
        reports.interconnectorres(market, i0, i1),
        reports.scada(market, fleet, i0, i1),
        trading_price,
        trading_ic,
    )


def _zip_name(feed: str, n: int) -> tuple[str, str]:
    """Zip and CSV member names of a 5-minute feed's file for interval ``n``."""
    stamp = interval_time(n)
    stem = f"{FEEDS[feed].file_prefixes[0]}{stamp:%Y%m%d%H%M}_{_file_id(feed, n):016d}"
    return f"{stem}.zip", f"{stem}.CSV"


def _interval_files(rendered: _Rendered, i: int) -> Iterator[_File]:
    """The DISPATCHIS, DISPATCHSCADA and (when it has rows) TRADINGIS files of interval ``i``."""
    n = int(rendered.market.interval[i])
    g = i - rendered.i0
    start = interval_time(n) - FIVE_MINUTES
    parts = {
        "DispatchIS_Reports": (
            "DISPATCHIS",
            [rendered.case, rendered.price, rendered.regionsum, rendered.interconnector],
        ),
        "Dispatch_SCADA": ("DISPATCHSCADA", [rendered.scada]),
        "TradingIS_Reports": ("TRADINGIS", [rendered.trading_ic, rendered.trading_price]),
    }
    for feed, (report, tables) in parts.items():
        if all(lines.rows(g, g + 1)[0] == lines.rows(g, g + 1)[1] for lines in tables):
            continue  # TRADINGIS has no 5-minute file before five-minute settlement
        published = start + timedelta(seconds=_PUBLISH_SECONDS[feed])
        file_id = _file_id(feed, n)
        header = w.nemp_header(report, published, file_id, report, file_id - 1)
        csv = w.mms_file(header, [(lines, g, g + 1) for lines in tables])
        zip_name, member = _zip_name(feed, n)
        yield _File(feed, zip_name, w.zip_bytes([(member, csv, published)]), published)


def _rooftop_files(market: MarketDays, h0: int, h1: int) -> Iterator[_File]:
    """Half-hourly ROOFTOP_PV ACTUAL MEASUREMENT files for half hours ``h0 .. h1 - 1``."""
    lines = reports.rooftop(market, h0, h1)
    feed = "ROOFTOP_PV_ACTUAL"
    for h in range(h0, h1):
        n = int(market.rooftop_interval[h]) + 6  # published 30 minutes after the half hour
        stamp = interval_time(n)
        published = stamp + timedelta(seconds=3)
        file_id = _file_id(feed, n)
        header = w.nemp_header(
            "ROOFTOP_PV_ACTUAL_MEASUREMENT", published, file_id, "DEMAND", file_id
        )
        csv = w.mms_file(header, [(lines, h - h0, h - h0 + 1)])
        stem = f"PUBLIC_ROOFTOP_PV_ACTUAL_MEASUREMENT_{stamp:%Y%m%d%H%M%S}_{file_id:016d}"
        data = w.zip_bytes([(f"{stem}.csv", csv, published)])
        yield _File(feed, f"{stem}.zip", data, published)


# ----------------------------------------------------------------------------------------------
# The tree


@dataclass
class TreeSummary:
    """What :func:`build_tree` wrote."""

    root: Path
    start: datetime
    """End of the first interval written (naive NEM time)."""
    end: datetime
    """End of the last interval written (naive NEM time)."""
    units: int
    seed: int
    plan: TreePlan
    registry_path: Path
    """The registration list workbook (AEMO's layout) describing the fleet."""
    manifest_path: Path
    files: int = 0
    bytes: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    """D rows written per logical table (rows in overlapping CURRENT/ARCHIVE/MMSDM files count
    once per file)."""

    def add(self, path: Path, rows: dict[str, int] | None = None) -> None:
        """Count a written file (and its rows)."""
        self.files += 1
        self.bytes += path.stat().st_size
        for table, count in (rows or {}).items():
            self.rows[table] = self.rows.get(table, 0) + count


def _rows_of(rendered: _Rendered, g0: int, g1: int) -> dict[str, int]:
    counts = {}
    for table, lines in (
        ("dispatch_price", rendered.price),
        ("dispatch_regionsum", rendered.regionsum),
        ("interconnector_flow", rendered.interconnector),
        ("unit_scada", rendered.scada),
        ("trading_price", rendered.trading_price),
    ):
        r0, r1 = lines.rows(g0, g1)
        counts[table] = r1 - r0
    return counts


def build_tree(
    root: Path,
    start: datetime,
    end: datetime,
    *,
    units: int = 450,
    seed: int = 1,
    current_days: float = 2,
    archive_days: int = 30,
    progress: Progress | None = None,
) -> TreeSummary:
    """Write the synthetic NEM for the intervals ending in ``(start, end]`` under ``root``.

    ``start`` and ``end`` are NEM time (naive values are taken as NEM time). Existing files
    with the same names are replaced; nothing else under ``root`` is touched.
    """
    plan = plan_tree(start, end, current_days=current_days, archive_days=archive_days)
    fleet = make_fleet(units, seed)
    root = Path(root)
    summary = TreeSummary(
        root=root,
        start=interval_time(plan.first),
        end=interval_time(plan.last),
        units=units,
        seed=seed,
        plan=plan,
        registry_path=root / REGISTRY_FILE,
        manifest_path=root / MANIFEST,
    )
    report = progress or (lambda stage, done, total: None)
    logger.info(
        "building a synthetic NEM of %d units from %s to %s under %s",
        units,
        summary.start,
        summary.end,
        root,
    )
    as_of = summary.end.date()
    w.write_atomic(summary.registry_path, registry_workbook(fleet, as_of))
    summary.add(summary.registry_path)

    _write_mmsdm(root, fleet, plan, summary, report)
    _write_archive(root, fleet, plan, summary, report)
    _write_rooftop_archive(root, fleet, plan, summary, report)
    _write_current(root, fleet, plan, summary, report)

    manifest = {
        "generator": "nemdash.demo (synthetic NEM: invented stations, not AEMO data)",
        "units": units,
        "seed": seed,
        "start": summary.start.isoformat(),
        "end": summary.end.isoformat(),
        "current_days": current_days,
        "archive_days": archive_days,
        "registry": REGISTRY_FILE.as_posix(),
    }
    w.write_atomic(summary.manifest_path, (json.dumps(manifest, indent=2) + "\n").encode())
    summary.add(summary.manifest_path)
    logger.info("wrote %d files (%.1f MB) under %s", summary.files, summary.bytes / 1e6, root)
    return summary


def _days_covering(lo: int, hi: int) -> tuple[date, int]:
    """First calendar day and number of days whose intervals cover ``(lo, hi]``."""
    first = nemtime.calendar_day(interval_time(lo + 1))
    last = nemtime.calendar_day(interval_time(hi))
    return first, (last - first).days + 1


def _index_range(market: MarketDays, lo: int, hi: int) -> tuple[int, int]:
    """Indices ``[i0, i1)`` of ``market``'s intervals in ``(lo, hi]``."""
    i0 = int(np.searchsorted(market.interval, lo, side="right"))
    i1 = int(np.searchsorted(market.interval, hi, side="right"))
    return i0, i1


def _half_hour_range(market: MarketDays, lo: int, hi: int) -> tuple[int, int]:
    """Indices ``[h0, h1)`` of ``market``'s half hours ending in ``(lo, hi]``."""
    h0 = int(np.searchsorted(market.rooftop_interval, lo, side="right"))
    h1 = int(np.searchsorted(market.rooftop_interval, hi, side="right"))
    return h0, h1


def _write_mmsdm(
    root: Path, fleet: Fleet, plan: TreePlan, summary: TreeSummary, report: Progress
) -> None:
    """One zip per table and month, streamed a few days at a time."""
    total_days = sum((_next_month(month) - month).days for month in plan.months)
    done = 0
    for month in plan.months:
        month_end = interval_index(datetime.combine(_next_month(month), time()))
        lo = max(interval_index(datetime.combine(month, time())), plan.first - 1)
        hi = min(month_end, plan.last)
        first_day, n_days = _days_covering(lo, hi)
        market = simulate(fleet, first_day, n_days)
        i0, i1 = _index_range(market, lo, hi)
        h0, h1 = _half_hour_range(market, lo, hi)
        folder = (
            root
            / MMSDM_BASE
            / f"{month:%Y}/MMSDM_{month:%Y_%m}/MMSDM_Historical_Data_SQLLoader/DATA"
        )
        published = datetime.combine(_next_month(month) + timedelta(days=7), time(11, 0))
        step = _MMSDM_RENDER_DAYS * INTERVALS_PER_DAY
        for k, table in enumerate(_MMSDM_TABLES):
            stamp = published + timedelta(seconds=97 * k)
            file_id = 1_700_000_000_000 + month.year * 10_000 + month.month * 100 + k
            name = f"PUBLIC_ARCHIVE#{table}#FILE01#{month:%Y%m}010000"
            path = folder / f"{name.replace('#', '%23')}.zip"
            rows = 0
            with (
                w.zip_stream(path, f"{name}.CSV", stamp, mtime=stamp) as handle,
                w.BackgroundWriter(handle) as out,
            ):
                out.write((w.mmsdm_header(table, stamp, file_id) + w.CRLF).encode())
                wrote_i_row = False
                chunks = (
                    [(h, min(h + step // 6, h1)) for h in range(h0, h1, step // 6)]
                    if table == "ROOFTOP_PV_ACTUAL"
                    else [(i, min(i + step, i1)) for i in range(i0, i1, step)]
                )
                for c0, c1 in chunks:
                    lines = _mmsdm_lines(table, market, fleet, c0, c1)
                    if not wrote_i_row:
                        out.write((lines.layout.i_row + w.CRLF).encode())
                        wrote_i_row = True
                    # The memoryview keeps the Arrow buffer alive until it is written.
                    out.write(lines.data(0, c1 - c0))
                    rows += lines.n_rows
                out.write(w.footer(rows + 3 if wrote_i_row else 2).encode())
            summary.add(path, {_MMSDM_LOGICAL[table]: rows})
        done += (_next_month(month) - month).days
        report("mmsdm", done, total_days)
        logger.info("MMSDM %s written", f"{month:%Y-%m}")


_MMSDM_LOGICAL = {
    "DISPATCHPRICE": "dispatch_price",
    "DISPATCHREGIONSUM": "dispatch_regionsum",
    "DISPATCHINTERCONNECTORRES": "interconnector_flow",
    "DISPATCH_UNIT_SCADA": "unit_scada",
    "TRADINGPRICE": "trading_price",
    "ROOFTOP_PV_ACTUAL": "rooftop_pv",
}


def _mmsdm_lines(table: str, market: MarketDays, fleet: Fleet, c0: int, c1: int) -> w.Lines:
    if table == "DISPATCHPRICE":
        return reports.dispatch_price(market, c0, c1, w.DISPATCH_PRICE_MMSDM)
    if table == "DISPATCHREGIONSUM":
        return reports.regionsum(market, c0, c1)
    if table == "DISPATCHINTERCONNECTORRES":
        return reports.interconnectorres(market, c0, c1)
    if table == "DISPATCH_UNIT_SCADA":
        return reports.scada(market, fleet, c0, c1)
    if table == "TRADINGPRICE":
        return reports.trading(market, c0, c1)[0]
    return reports.rooftop(market, c0, c1)


def _write_archive(
    root: Path, fleet: Fleet, plan: TreePlan, summary: TreeSummary, report: Progress
) -> None:
    """One zip of zips per feed and market day (04:05 .. 04:00)."""
    days = list(plan.archive_days)
    for b in range(0, len(days), _CHUNK_DAYS):
        block = days[b : b + _CHUNK_DAYS]
        lo = max(interval_index(datetime.combine(block[0], time(4, 0))), plan.first - 1)
        hi = min(interval_index(datetime.combine(block[-1], time(4, 0))) + INTERVALS_PER_DAY,
                 plan.current_after)  # fmt: skip
        first_day, n_days = _days_covering(lo, hi)
        market = simulate(fleet, first_day, n_days)
        i0, i1 = _index_range(market, lo, hi)
        rendered = _render(market, fleet, i0, i1)
        for day in block:
            opening = interval_index(datetime.combine(day, time(4, 0)))
            day_lo, day_hi = max(opening, lo), min(opening + INTERVALS_PER_DAY, hi)
            d0, d1 = _index_range(market, day_lo, day_hi)
            report("archive", b + block.index(day) + 1, len(days))
            if d1 <= d0:
                continue
            members: dict[str, list[tuple[str, bytes, datetime]]] = {}
            for i in range(d0, d1):
                for file in _interval_files(rendered, i):
                    members.setdefault(file.feed, []).append((file.name, file.data, file.published))
            closing = datetime.combine(day + timedelta(days=1), time(4, 30))
            for feed, inner in members.items():
                path = (
                    root
                    / FEEDS[feed].archive_dir
                    / f"{FEEDS[feed].file_prefixes[0]}{day:%Y%m%d}.zip"
                )
                w.write_atomic(path, w.zip_bytes(inner), mtime=closing)
                summary.add(path)
            for table, count in _rows_of(rendered, d0 - i0, d1 - i0).items():
                summary.rows[table] = summary.rows.get(table, 0) + count


def _write_rooftop_archive(
    root: Path, fleet: Fleet, plan: TreePlan, summary: TreeSummary, report: Progress
) -> None:
    """One zip of half-hourly zips per rooftop PV week (files stamped Thursday 00:00 on)."""
    spec = FEEDS["ROOFTOP_PV_ACTUAL"]
    for k, week in enumerate(plan.rooftop_weeks):
        # Files stamped [week 00:00, week + 7 days) report the half hours 30 minutes earlier.
        lo = max(interval_index(datetime.combine(week, time())) - 7, plan.first - 1)
        hi = interval_index(datetime.combine(week + timedelta(days=7), time())) - 7
        if hi <= lo:
            continue
        first_day, n_days = _days_covering(lo, hi)
        market = simulate(fleet, first_day, n_days)
        h0, h1 = _half_hour_range(market, lo, hi)
        inner = [(f.name, f.data, f.published) for f in _rooftop_files(market, h0, h1)]
        if not inner:
            continue
        path = root / spec.archive_dir / f"PUBLIC_ROOFTOP_PV_ACTUAL_MEASUREMENT_{week:%Y%m%d}.zip"
        w.write_atomic(path, w.zip_bytes(inner), mtime=inner[-1][2])
        summary.add(path, {"rooftop_pv": (h1 - h0) * 10})
        report("rooftop archive", k + 1, len(plan.rooftop_weeks))


def _write_current(
    root: Path, fleet: Fleet, plan: TreePlan, summary: TreeSummary, report: Progress
) -> None:
    """One zip per feed and interval after ``plan.current_after``; rooftop PV half-hourly."""
    lo_all, hi_all = plan.current_after, plan.last
    total_days = max(1, -(-(hi_all - lo_all) // INTERVALS_PER_DAY))
    done = 0
    for lo in range(lo_all, hi_all, _CHUNK_DAYS * INTERVALS_PER_DAY):
        hi = min(lo + _CHUNK_DAYS * INTERVALS_PER_DAY, hi_all)
        first_day, n_days = _days_covering(lo, hi)
        market = simulate(fleet, first_day, n_days)
        i0, i1 = _index_range(market, lo, hi)
        rendered = _render(market, fleet, i0, i1)
        for i in range(i0, i1):
            for file in _interval_files(rendered, i):
                path = root / FEEDS[file.feed].current_dir / file.name
                w.write_atomic(path, file.data, mtime=file.published)
                summary.add(path)
        for table, count in _rows_of(rendered, 0, i1 - i0).items():
            summary.rows[table] = summary.rows.get(table, 0) + count
        done += n_days
        report("current", min(done, total_days), total_days)
    # Rooftop PV: files stamped from the start of the current rooftop week to the end.
    lo = max(interval_index(plan.rooftop_current_from) - 6 - 1, plan.first - 1)
    hi = plan.last - 6
    for r_lo in range(lo, hi, _CHUNK_DAYS * INTERVALS_PER_DAY):
        r_hi = min(r_lo + _CHUNK_DAYS * INTERVALS_PER_DAY, hi)
        first_day, n_days = _days_covering(r_lo, r_hi)
        market = simulate(fleet, first_day, n_days)
        h0, h1 = _half_hour_range(market, r_lo, r_hi)
        for file in _rooftop_files(market, h0, h1):
            path = root / FEEDS[file.feed].current_dir / file.name
            w.write_atomic(path, file.data, mtime=file.published)
            summary.add(path, {"rooftop_pv": 10})


# ----------------------------------------------------------------------------------------------
# Live publishing


class LiveClock:
    """Publishes the CURRENT files of one interval at a time into a tree (as AEMO would).

    The files are byte-identical to those :func:`build_tree` writes for the same interval, so a
    clock can carry a built tree forward; an accelerated clock calls :meth:`publish` for each
    next interval and :meth:`roll_off` to drop files NEMWEB would no longer serve.
    """

    def __init__(self, root: Path, *, units: int = 450, seed: int = 1) -> None:
        self.root = Path(root)
        self.fleet = make_fleet(units, seed)
        self._day: date | None = None
        self._market: MarketDays | None = None

    @classmethod
    def from_tree(cls, root: Path) -> LiveClock:
        """A clock for a tree written by :func:`build_tree` (reads its manifest)."""
        path = Path(root) / MANIFEST
        try:
            manifest = json.loads(path.read_text())
            return cls(root, units=int(manifest["units"]), seed=int(manifest["seed"]))
        except (OSError, ValueError, KeyError) as exc:
            raise ConfigError(
                f"{path} is missing or unreadable ({exc}); build the tree with build_tree first"
            ) from exc

    def _market_for(self, day: date) -> MarketDays:
        if self._market is None or self._day != day:
            self._market = simulate(self.fleet, day, 1)
            self._day = day
        return self._market

    def publish(self, interval_end: datetime) -> list[Path]:
        """Write the CURRENT files of the interval ending ``interval_end`` (NEM time).

        DISPATCHIS, DISPATCHSCADA and TRADINGIS (before five-minute settlement only on the half
        hour), and on the half hour the rooftop PV file of the half hour before.
        """
        when = _naive(interval_end)
        n = interval_index(when)
        if interval_time(n) != when:
            raise ConfigError(f"{interval_end} is not a 5-minute interval end")
        market = self._market_for(nemtime.calendar_day(when))
        i = int(np.searchsorted(market.interval, n))
        rendered = _render(market, self.fleet, i, i + 1)
        written: list[Path] = []
        files = list(_interval_files(rendered, i))
        if n % 6 == 0:
            half_hour = n - 6
            rooftop_market = self._market_for(nemtime.calendar_day(interval_time(half_hour)))
            h = int(np.searchsorted(rooftop_market.rooftop_interval, half_hour))
            files += list(_rooftop_files(rooftop_market, h, h + 1))
        for file in files:
            path = self.root / FEEDS[file.feed].current_dir / file.name
            w.write_atomic(path, file.data, mtime=file.published)
            written.append(path)
        return written

    def roll_off(self, before: datetime) -> int:
        """Delete CURRENT files stamped at or before ``before`` (NEM time); returns how many."""
        limit = f"{_naive(before):%Y%m%d%H%M%S}"
        removed = 0
        for spec in FEEDS.values():
            folder = self.root / spec.current_dir
            if not folder.is_dir():
                continue
            for path in folder.glob("*.zip"):
                stamp = path.name.rsplit("_", 2)[-2]
                if (stamp + "00")[:14] <= limit:
                    path.unlink()
                    removed += 1
        return removed


def publish_interval(
    root: Path, interval_end: datetime, *, units: int = 450, seed: int = 1
) -> list[Path]:
    """Write the CURRENT files of one interval into the tree at ``root`` (see LiveClock)."""
    return LiveClock(root, units=units, seed=seed).publish(interval_end)
