"""NEMWEB file names: parse every name nemdash uses into a typed record, and build site paths.

Everything that knows how AEMO names its files lives here, so that the collector, the backfill
planner, the mirror and the tests agree (see NEM-FACTS.md, "Where the data lives"):

* CURRENT, one file per interval, kept about 2-3 days below ``Reports/CURRENT/<Feed>/``:
  ``PUBLIC_DISPATCHIS_<yyyymmddHHMM>_<id>.zip``, ``PUBLIC_DISPATCHSCADA_...``,
  ``PUBLIC_TRADINGIS_...`` (the time is the end of the 5-minute interval), and
  ``PUBLIC_ROOFTOP_PV_ACTUAL_MEASUREMENT_<yyyymmddHHMMSS>_<id>.zip`` (and ``_SATELLITE_``), whose
  time is when AEMO published the half hour (the file stamped 20:00:00 reports the half hour
  stamped 19:30).
* ARCHIVE, a zip of the CURRENT zips, kept about a year below ``Reports/ARCHIVE/<Feed>/``:
  ``PUBLIC_DISPATCHIS_<yyyymmdd>.zip`` per day (AEMO's runs by market day, 04:05 to 04:00) and
  ``PUBLIC_ROOFTOP_PV_ACTUAL_MEASUREMENT_<yyyymmdd>.zip`` per week (seven days of files from that
  date on).
* MMSDM monthly archive below ``Data_Archive/Wholesale_Electricity/MMSDM/<yyyy>/MMSDM_<yyyy>_<mm>/
  MMSDM_Historical_Data_SQLLoader/DATA/``: ``PUBLIC_DVD_<TABLE>_<yyyymm>010000.zip`` until mid-2024,
  then ``PUBLIC_ARCHIVE#<TABLE>#FILE<nn>#<yyyymm>010000.zip``, one table possibly split over several
  ``FILEnn``. On the site the ``#`` is a literal ``%23`` in the file name, so a URL must carry
  ``%2523``. :func:`parse` accepts either spelling and always returns the site spelling.

Times in the records are aware datetimes in NEM time (:data:`nemdash.nemtime.NEM_TZ`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from urllib.parse import quote

from nemdash import tables
from nemdash.nemtime import NEM_TZ


class Kind(StrEnum):
    """Where on NEMWEB a file comes from."""

    CURRENT = "current"
    """One interval of a live feed."""
    ARCHIVE = "archive"
    """A day (or, for rooftop PV, a week) of a live feed: a zip of the CURRENT zips."""
    MMSDM = "mmsdm"
    """A month of one table in the MMSDM monthly archive."""


@dataclass(frozen=True)
class NemwebFile:
    """A parsed NEMWEB file name."""

    name: str
    """The file name as the site stores it (``%23``, not ``#``, in ``PUBLIC_ARCHIVE`` names)."""
    kind: Kind
    feed: str | None = None
    """The :data:`nemdash.tables.FEEDS` key, for CURRENT and ARCHIVE files."""
    timestamp: datetime | None = None
    """CURRENT: the time in the name, NEM time. It is the interval end for the 5-minute feeds and
    the publication time for rooftop PV (30 minutes after the half hour reported)."""
    file_id: str | None = None
    """CURRENT: AEMO's sequence number after the time; a re-issued interval gets a new one."""
    variant: str | None = None
    """Rooftop PV estimate, ``MEASUREMENT`` or ``SATELLITE``."""
    day: date | None = None
    """ARCHIVE: the day in the name (the first day of the week for rooftop PV)."""
    month: date | None = None
    """MMSDM: the first day of the month the file covers."""
    mmsdm_table: str | None = None
    """MMSDM: AEMO's table name, e.g. ``DISPATCH_UNIT_SCADA``."""
    table: str | None = None
    """MMSDM: the logical nemdash table, or None when nemdash does not keep that table."""
    file_number: int | None = None
    """MMSDM ``PUBLIC_ARCHIVE`` names: the ``FILEnn`` part (1 for ``PUBLIC_DVD`` names)."""

    @property
    def directory(self) -> str:
        """The site folder holding the file, relative to the site root, ending with ``/``."""
        if self.kind is Kind.MMSDM:
            assert self.month is not None
            return mmsdm_dir(self.month)
        assert self.feed is not None
        spec = tables.FEEDS[self.feed]
        return spec.current_dir if self.kind is Kind.CURRENT else spec.archive_dir

    @property
    def path(self) -> str:
        """Site path of the file (decoded, relative to the site root)."""
        return self.directory + self.name

    @property
    def url_path(self) -> str:
        """The path to request, percent-encoded (a literal ``%23`` becomes ``%2523``)."""
        return url_path(self.path)

    @property
    def feed_tables(self) -> tuple[str, ...]:
        """Logical tables this file can hold."""
        if self.kind is Kind.MMSDM:
            return (self.table,) if self.table else ()
        assert self.feed is not None
        return tables.FEEDS[self.feed].tables


# Feed prefixes come from tables.FEEDS; longest first so that ``..._MEASUREMENT_`` wins over any
# shorter prefix that might be added later.
def _prefixes() -> list[tuple[str, str]]:
    pairs = [(p, f.name) for f in tables.FEEDS.values() for p in f.file_prefixes]
    return sorted(pairs, key=lambda pair: -len(pair[0]))


_CURRENT_TAIL = re.compile(r"^(?P<stamp>\d{12}|\d{14})_(?P<id>\d+)\.zip$", re.IGNORECASE)
_ARCHIVE_TAIL = re.compile(r"^(?P<day>\d{8})\.zip$", re.IGNORECASE)
_DVD = re.compile(r"^PUBLIC_DVD_(?P<table>[A-Z0-9_]+?)_(?P<ym>\d{6})010000\.zip$", re.IGNORECASE)
_MMSDM_ARCHIVE = re.compile(
    r"^PUBLIC_ARCHIVE(?:#|%23)(?P<table>[A-Z0-9_]+)(?:#|%23)FILE(?P<nn>\d+)(?:#|%23)"
    r"(?P<ym>\d{6})010000\.zip$",
    re.IGNORECASE,
)


def parse(name: str) -> NemwebFile | None:
    """Parse a NEMWEB file name (no folder); None when it is not a file nemdash reads."""
    base = name.rsplit("/", 1)[-1]
    try:
        return _parse_current_or_archive(base) or _parse_mmsdm(base)
    except ValueError:
        # The digits matched the pattern but are not a date (e.g. month 13): not one of ours.
        return None


def _parse_current_or_archive(base: str) -> NemwebFile | None:
    upper = base.upper()
    for prefix, feed in _prefixes():
        if not upper.startswith(prefix):
            continue
        tail = base[len(prefix) :]
        variant = prefix.rstrip("_").rsplit("_", 1)[-1] if feed == "ROOFTOP_PV_ACTUAL" else None
        current = _CURRENT_TAIL.match(tail)
        if current:
            stamp = current["stamp"]
            fmt = "%Y%m%d%H%M%S" if len(stamp) == 14 else "%Y%m%d%H%M"
            when = datetime.strptime(stamp, fmt).replace(tzinfo=NEM_TZ)
            return NemwebFile(
                base, Kind.CURRENT, feed, timestamp=when, file_id=current["id"], variant=variant
            )
        archive = _ARCHIVE_TAIL.match(tail)
        if archive:
            day = datetime.strptime(archive["day"], "%Y%m%d").date()
            return NemwebFile(base, Kind.ARCHIVE, feed=feed, day=day, variant=variant)
        return None
    return None


def _parse_mmsdm(base: str) -> NemwebFile | None:
    match = _MMSDM_ARCHIVE.match(base)
    if match:
        mmsdm_table = match["table"].upper()
        ym = match["ym"]
        file_number = int(match["nn"])
        site_name = mmsdm_archive_name(mmsdm_table, _month(ym), file_number)
    else:
        match = _DVD.match(base)
        if match is None:
            return None
        mmsdm_table = match["table"].upper()
        ym = match["ym"]
        file_number = 1
        site_name = base
    spec = tables.for_mmsdm(mmsdm_table)
    return NemwebFile(
        site_name,
        Kind.MMSDM,
        month=_month(ym),
        mmsdm_table=mmsdm_table,
        table=spec.name if spec else None,
        file_number=file_number,
    )


def _month(ym: str) -> date:
    return datetime.strptime(ym, "%Y%m").date()


def url_path(site_path: str) -> str:
    """Percent-encode a decoded site path for a request (``%`` -> ``%25``, ``#`` -> ``%23``)."""
    return quote(site_path, safe="/")


def current_name(feed: str, interval_end: datetime, file_id: str, variant: str = "") -> str:
    """The CURRENT file name of ``feed`` for the time ``interval_end`` (aware or NEM wall clock)."""
    spec = tables.FEEDS[feed]
    when = interval_end.astimezone(NEM_TZ) if interval_end.tzinfo else interval_end
    if feed == "ROOFTOP_PV_ACTUAL":
        prefix = _rooftop_prefix(spec, variant or "MEASUREMENT")
        return f"{prefix}{when:%Y%m%d%H%M%S}_{file_id}.zip"
    return f"{spec.file_prefixes[0]}{when:%Y%m%d%H%M}_{file_id}.zip"


def archive_name(feed: str, day: date, variant: str = "") -> str:
    """The ARCHIVE file name of ``feed`` for ``day`` (for rooftop PV, the week starting then)."""
    spec = tables.FEEDS[feed]
    if feed == "ROOFTOP_PV_ACTUAL":
        return f"{_rooftop_prefix(spec, variant or 'MEASUREMENT')}{day:%Y%m%d}.zip"
    return f"{spec.file_prefixes[0]}{day:%Y%m%d}.zip"


def _rooftop_prefix(spec: tables.FeedSpec, variant: str) -> str:
    for prefix in spec.file_prefixes:
        if prefix.rstrip("_").endswith(variant.upper()):
            return prefix
    raise KeyError(f"rooftop PV has no {variant!r} files; use MEASUREMENT or SATELLITE")


def mmsdm_dir(month: date) -> str:
    """The MMSDM DATA folder of a month, relative to the site root, ending with ``/``."""
    return (
        f"{tables.MMSDM_BASE}{month:%Y}/MMSDM_{month:%Y_%m}/MMSDM_Historical_Data_SQLLoader/DATA/"
    )


def dvd_name(mmsdm_table: str, month: date) -> str:
    """The MMSDM file name used until mid-2024: ``PUBLIC_DVD_<TABLE>_<yyyymm>010000.zip``."""
    return f"PUBLIC_DVD_{mmsdm_table.upper()}_{month:%Y%m}010000.zip"


def mmsdm_archive_name(mmsdm_table: str, month: date, file_number: int = 1) -> str:
    """The MMSDM file name used since mid-2024, as the site stores it (literal ``%23``)."""
    table = mmsdm_table.upper()
    return f"PUBLIC_ARCHIVE%23{table}%23FILE{file_number:02d}%23{month:%Y%m}010000.zip"
