"""Backfill: fill the lake with past days from NEMWEB's archives, resumably.

CURRENT keeps only 2-3 days, so older data comes from the archives (NEM-FACTS.md):

* ``Reports/ARCHIVE/<Feed>/``, one zip of zips per day (per week for rooftop PV), kept about a
  year. AEMO's daily file named D holds the market day D (04:05 on D to 04:00 on D+1).
* the MMSDM monthly archive, one file (or several ``FILEnn``) per table per month, for everything
  older: ``PUBLIC_DVD_<TABLE>_...`` until mid-2024, ``PUBLIC_ARCHIVE#<TABLE>#FILEnn#...`` since.

:func:`plan_backfill` decides, for each requested day and feed, to use the daily ARCHIVE zip when
the site's ARCHIVE listing has it and the MMSDM month's files for our tables otherwise (listing the
month's DATA folder, so both naming schemes and any ``FILEnn`` split are found), and leaves out
files a previous backfill already ingested. Whatever is not on the site is reported as missing.

:func:`run_backfill` downloads and ingests one item at a time and publishes after each, so an
interrupt (Ctrl-C, a crash, an exception from the progress callback) loses at most the item in
flight; running the same backfill again skips what is done. A file is always ingested whole, with
every table nemdash keeps from it: the manifest knows a file by name and hash, so a later backfill
of another table from the same file would otherwise find it "already ingested". The MMSDM files
cover a whole month (sometimes a little past its end), so a backfill of a few days from them
brings in the month.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from nemdash.collector.loop import keep_raw
from nemdash.config import Settings
from nemdash.errors import NemwebError, NemwebNotFound, StoreBusy
from nemdash.nemweb import filenames
from nemdash.nemweb.client import NemwebClient
from nemdash.nemweb.filenames import Kind, NemwebFile
from nemdash.nemweb.listing import Listing
from nemdash.store.ingest import Blob, IngestReport, ingest_blobs, sha256
from nemdash.store.lake import Lake
from nemdash.tables import FEEDS, FeedSpec, resolve

log = logging.getLogger(__name__)

ARCHIVE_DAYS = {"day": 1, "week": 7}
#: While the collector holds the writer lock for its (short) cycle, backfill waits and retries.
BUSY_ATTEMPTS = 60
BUSY_PAUSE = 2.0


def state_key(name: str) -> str:
    """The manifest state key recording that backfill ingested the file ``name``."""
    return f"backfill.{name}"


@dataclass(frozen=True)
class BackfillItem:
    """One file to download and ingest."""

    file: NemwebFile
    days: tuple[date, ...]
    """The requested days this file was chosen for."""
    tables: tuple[str, ...]
    """The requested tables it was chosen for (it is ingested whole, see the module doc)."""
    size: int | None = None
    """Bytes, as the listing showed them."""

    @property
    def name(self) -> str:
        return self.file.name

    @property
    def path(self) -> str:
        return self.file.path

    @property
    def source(self) -> str:
        """``archive`` or ``mmsdm``."""
        return self.file.kind.value


@dataclass(frozen=True)
class Missing:
    """Requested data that no file on the site provides."""

    table: str
    day: date
    reason: str


@dataclass
class BackfillPlan:
    """What a backfill will fetch, what it can skip and what the site lacks."""

    start: date
    end: date
    tables: tuple[str, ...]
    items: list[BackfillItem] = field(default_factory=list)
    done: list[BackfillItem] = field(default_factory=list)
    """Files a previous backfill already ingested (not fetched again)."""
    missing: list[Missing] = field(default_factory=list)

    @property
    def total_bytes(self) -> int:
        return sum(i.size or 0 for i in self.items)


@dataclass(frozen=True)
class BackfillProgress:
    """Passed to the progress callback before the first item and after each one."""

    done: int
    total: int
    bytes_done: int
    total_bytes: int
    item: BackfillItem | None = None
    """The item just finished (None for the first call)."""
    report: IngestReport | None = None
    error: str | None = None
    """Why the item could not be fetched or ingested, if it could not."""


@dataclass
class BackfillReport:
    """What a backfill run did."""

    ingest: IngestReport = field(default_factory=IngestReport)
    ingested: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    """(name, reason): listed but not fetched (404, HTML page); re-run to retry."""


def plan_backfill(
    start: date,
    end: date,
    tables: Collection[str] | None,
    client: NemwebClient,
    *,
    lake: Lake | None = None,
) -> BackfillPlan:
    """Choose the files that cover ``start``..``end`` (inclusive days) for the given tables.

    ``tables`` are logical table names (None or empty: all). With ``lake``, files a previous
    backfill ingested (same name and size) are put in ``plan.done`` instead of ``plan.items``.
    """
    if end < start:
        raise ValueError(f"backfill end {end} is before its start {start}")
    specs = resolve(tables)
    wanted = tuple(s.name for s in specs)
    plan = BackfillPlan(start, end, wanted)
    days = [start + timedelta(days=n) for n in range((end - start).days + 1)]
    # (month, table) -> requested days needing the MMSDM file(s) of that table and month
    from_mmsdm: dict[tuple[date, str], list[date]] = {}
    archive_items: dict[str, tuple[NemwebFile, int | None, list[date], tuple[str, ...]]] = {}
    for feed in FEEDS.values():
        feed_tables = tuple(t for t in feed.tables if t in wanted)
        if not feed_tables:
            continue
        archive = _archive_files(client, feed)
        for day in days:
            found = archive.get(day)
            if found is not None:
                parsed, size = found
                _, _, covered, _ = archive_items.setdefault(
                    parsed.name, (parsed, size, [], feed_tables)
                )
                covered.append(day)
            else:
                for table in feed_tables:
                    from_mmsdm.setdefault((day.replace(day=1), table), []).append(day)
    for parsed, size, covered, feed_tables in archive_items.values():
        plan.items.append(BackfillItem(parsed, tuple(covered), feed_tables, size))
    listings: dict[date, Listing | None] = {}
    for (month, table), month_days in sorted(from_mmsdm.items()):
        if month not in listings:
            listings[month] = _mmsdm_listing(client, month)
        listing = listings[month]
        if listing is None:
            reason = f"no ARCHIVE file and no MMSDM folder {filenames.mmsdm_dir(month)}"
            plan.missing.extend(Missing(table, d, reason) for d in month_days)
            continue
        chosen = _mmsdm_files(listing, table)
        if not chosen:
            reason = f"no ARCHIVE file and no {table} file in {filenames.mmsdm_dir(month)}"
            plan.missing.extend(Missing(table, d, reason) for d in month_days)
        for parsed, size in chosen:
            plan.items.append(BackfillItem(parsed, tuple(month_days), (table,), size))
    plan.items.sort(key=lambda i: (min(i.days), i.name))
    if lake is not None:
        pending: list[BackfillItem] = []
        for item in plan.items:
            (plan.done if _already_done(lake, item) else pending).append(item)
        plan.items = pending
    log.info(
        "backfill %s..%s: %d files to fetch (%d bytes), %d already done, %d table-days missing",
        start,
        end,
        len(plan.items),
        plan.total_bytes,
        len(plan.done),
        len(plan.missing),
    )
    return plan


def _archive_files(
    client: NemwebClient, feed: FeedSpec
) -> dict[date, tuple[NemwebFile, int | None]]:
    """Days covered by the feed's ARCHIVE folder -> (file, size)."""
    try:
        listing = client.list_dir(feed.archive_dir)
    except NemwebNotFound:
        log.info("no ARCHIVE folder for %s on this site", feed.name)
        return {}
    covered: dict[date, tuple[NemwebFile, int | None]] = {}
    span = ARCHIVE_DAYS.get(feed.archive_period, 1)
    for entry in listing.files:
        parsed = filenames.parse(entry.name)
        if parsed is None or parsed.kind is not Kind.ARCHIVE or parsed.feed != feed.name:
            continue
        if parsed.variant not in (None, "MEASUREMENT"):
            continue  # rooftop PV: MEASUREMENT first (NEM-FACTS.md), SATELLITE is the same thing
        assert parsed.day is not None
        for n in range(span):
            covered.setdefault(parsed.day + timedelta(days=n), (parsed, entry.size))
    return covered


def _mmsdm_listing(client: NemwebClient, month: date) -> Listing | None:
    try:
        return client.list_dir(filenames.mmsdm_dir(month))
    except NemwebNotFound:
        log.info("no MMSDM folder for %s on this site", f"{month:%Y-%m}")
        return None


def _mmsdm_files(listing: Listing, table: str) -> list[tuple[NemwebFile, int | None]]:
    """The month's files of ``table``: every ``FILEnn`` of the newer scheme, else the DVD file."""
    found = [
        (parsed, entry.size)
        for entry in listing.files
        if (parsed := filenames.parse(entry.name)) is not None
        and parsed.kind is Kind.MMSDM
        and parsed.table == table
    ]
    newer = [f for f in found if f[0].name.startswith("PUBLIC_ARCHIVE")]
    return sorted(newer or found, key=lambda f: f[0].file_number or 0)


def _already_done(lake: Lake, item: BackfillItem) -> bool:
    recorded = lake.get_state(state_key(item.name))
    if not recorded:
        return False
    size = json.loads(recorded).get("size")
    return item.size is None or size == item.size


def run_backfill(
    plan: BackfillPlan,
    lake: Lake,
    client: NemwebClient,
    progress: Callable[[BackfillProgress], None] | None = None,
    *,
    raw_dir: Path | None = None,
    stop: threading.Event | None = None,
) -> BackfillReport:
    """Download and ingest the plan's items one by one, publishing after each.

    ``raw_dir`` keeps each downloaded zip (``raw/archive/<feed>/`` or ``raw/mmsdm/``). A missing
    or non-zip file is recorded and skipped; NEMWEB being down raises
    :class:`~nemdash.errors.NemwebUnavailable` (re-run to resume). ``stop`` ends the run after the
    item in flight.
    """
    result = BackfillReport()
    total = len(plan.items)
    bytes_done = 0
    if progress is not None:
        progress(BackfillProgress(0, total, 0, plan.total_bytes))
    for done, item in enumerate(plan.items, start=1):
        if stop is not None and stop.is_set():
            log.info("backfill stopped after %d of %d files", done - 1, total)
            break
        error: str | None = None
        report: IngestReport | None = None
        try:
            data = client.get_zip(item.path)
        except NemwebError as exc:  # 404 or an HTML page; NemwebUnavailable propagates
            error = str(exc)
            log.warning("backfill: %s not fetched: %s", item.name, exc)
            result.failed.append((item.name, error))
        else:
            if raw_dir is not None:
                keep_raw(raw_dir / _raw_folder(item.file), item.name, data)
            report = _ingest_item(lake, item, data, client.url(item.path), stop)
            result.ingest.merge(report)
            if report.quarantined:
                error = report.quarantined[0][1]
                result.failed.append((item.name, error))
            else:
                result.ingested.append(item.name)
        bytes_done += item.size or 0
        if progress is not None:
            progress(
                BackfillProgress(done, total, bytes_done, plan.total_bytes, item, report, error)
            )
    return result


def _ingest_item(
    lake: Lake, item: BackfillItem, data: bytes, origin: str, stop: threading.Event | None
) -> IngestReport:
    """Ingest one file in its own publish, waiting a while if the collector holds the lock."""
    attempt = 0
    while True:
        attempt += 1
        try:
            with lake.writer() as writer:
                report = ingest_blobs(writer, [Blob(item.name, data, origin)])
                if not report.quarantined:
                    record = {"sha256": sha256(data), "size": len(data), "tables": item.tables}
                    writer.set_state(state_key(item.name), json.dumps(record))
                return report
        except StoreBusy as exc:
            if attempt >= BUSY_ATTEMPTS:
                raise
            log.info("backfill waits for the writer lock (%s)", exc)
            if stop is not None and stop.wait(BUSY_PAUSE):
                raise
            if stop is None:
                time.sleep(BUSY_PAUSE)


def _raw_folder(file: NemwebFile) -> str:
    return f"archive/{file.feed}" if file.kind is Kind.ARCHIVE else "mmsdm"


def backfill(
    settings: Settings,
    start: date,
    end: date,
    tables: Collection[str] | None = None,
    progress: Callable[[BackfillProgress], None] | None = None,
    *,
    client: NemwebClient | None = None,
    stop: threading.Event | None = None,
) -> tuple[BackfillPlan, BackfillReport]:
    """The ``nemdash backfill`` command: plan ``start``..``end`` (inclusive), then run it."""
    lake = Lake(settings.paths)
    own = client is None
    http = client if client is not None else NemwebClient.from_settings(settings)
    try:
        plan = plan_backfill(start, end, tables, http, lake=lake)
        raw = settings.paths.raw if settings.keep_raw else None
        report = run_backfill(plan, lake, http, progress, raw_dir=raw, stop=stop)
        return plan, report
    finally:
        if own:
            http.close()
