"""The live collector: keep the lake in step with NEMWEB's CURRENT feeds, every five minutes.

One cycle (:meth:`Collector.run_cycle`) takes the writer lock, then for each feed of
:data:`nemdash.tables.FEEDS` lists ``Reports/CURRENT/<Feed>/``, picks the files it has not handled
yet, downloads them with bounded concurrency, and hands them all to
:func:`nemdash.store.ingest.ingest_blobs`, which publishes them in **one** publish (a file that
cannot be read is quarantined with its reason and does not stop the others). It then records per
feed, with ``set_state``: the watermark (the newest file time handled), the names handled recently,
the last success, the last error and the lag, and lets the lake compact.

Which files a cycle fetches: every listed file newer than the feed's watermark, plus any file up to
:data:`REISSUE_WINDOW` older than it that was never handled: one that failed (a 5xx that outlived
the retries, a timeout, a 403 page) and is retried next cycle, or an interval AEMO re-issued under
a new id (the lake upserts by primary key, so a re-issue replaces rows, never duplicates them). With
no watermark yet (first run), everything still in CURRENT (about 2-3 days) is fetched. A listed
file that answers 404 has rolled off between listing and download: logged at info and not asked
again (NEM-FACTS.md: an old CURRENT file gone is a state, not an alarm).

:meth:`Collector.run_forever` wakes ``settings.poll_delay`` seconds after each 5-minute boundary
(AEMO publishes some 20-40 s after the interval ends); while the newest interval of a 5-minute
feed is still missing it polls again every ``repoll_interval`` seconds (:func:`wake_time`), so a
late file is in within seconds of appearing. A restart catches up at once from its watermark,
backs off while NEMWEB is down (:func:`down_pause`), and returns promptly when its ``stop`` event
is set (the CLI sets it on SIGINT/SIGTERM).
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from nemdash import nemtime, tables
from nemdash.config import Settings
from nemdash.errors import (
    NemdashError,
    NemwebNotFound,
    NemwebUnavailable,
    TransientError,
)
from nemdash.nemweb import filenames
from nemdash.nemweb.client import NemwebClient
from nemdash.nemweb.filenames import Kind, NemwebFile
from nemdash.store.ingest import Blob, ingest_blobs, sha256
from nemdash.store.lake import Lake, LakeWriter
from nemdash.store.rollups import missing_tables, update_rollups

log = logging.getLogger(__name__)

#: How far behind its watermark a feed still looks for files it never handled (re-issues, retries).
REISSUE_WINDOW = timedelta(hours=24)
#: AEMO's publication step for the live feeds.
POLL_PERIOD = nemtime.FIVE_MINUTES
#: Feeds AEMO publishes every 5 minutes: a late interval of these is polled for again soon.
FIVE_MINUTE_FEEDS = frozenset({"DispatchIS_Reports", "Dispatch_SCADA", "TradingIS_Reports"})
#: Longest pause between polls while NEMWEB is down.
MAX_DOWN_PAUSE = timedelta(minutes=30)


def state_key(feed: str, item: str) -> str:
    """The manifest state key of one collector fact about a feed, e.g. ``collector.X.watermark``."""
    return f"collector.{feed}.{item}"


@dataclass
class FeedReport:
    """What one cycle did for one feed."""

    feed: str
    listed: int = 0
    fetched: list[str] = field(default_factory=list)
    """Files downloaded this cycle."""
    ingested: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    """Downloaded but already in the lake (same name and SHA-256)."""
    quarantined: list[tuple[str, str]] = field(default_factory=list)
    """(name, reason): unreadable files, kept in the quarantine folder."""
    rolled_off: list[str] = field(default_factory=list)
    """Listed, then 404: gone from CURRENT before we got it."""
    failed: list[tuple[str, str]] = field(default_factory=list)
    """(name, reason): not fetched this time (timeout, 5xx, HTML page); retried next cycle."""
    error: str | None = None
    """Why the feed's listing could not be read, if it could not."""
    unavailable: bool = False
    """True when the listing failed because NEMWEB timed out, refused or answered 5xx/429."""
    watermark: datetime | None = None
    lag: timedelta | None = None


@dataclass
class CycleReport:
    """What one collection cycle did."""

    started: datetime
    finished: datetime | None = None
    feeds: dict[str, FeedReport] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    footer_mismatches: list[str] = field(default_factory=list)
    version: int | None = None
    """The store version published by this cycle (None when nothing new was published)."""
    changed: dict[str, tuple[datetime, datetime]] = field(default_factory=dict)
    """Per table, the first and last time of the rows published (for the rollups)."""

    @property
    def nemweb_down(self) -> bool:
        """True when no feed could even be listed because NEMWEB was unreachable."""
        return bool(self.feeds) and all(f.unavailable for f in self.feeds.values())

    @property
    def ingested(self) -> int:
        return sum(len(f.ingested) for f in self.feeds.values())

    @property
    def quarantined(self) -> list[tuple[str, str]]:
        return [q for f in self.feeds.values() for q in f.quarantined]


@dataclass(frozen=True)
class _Candidate:
    """A listed CURRENT file the cycle wants (feed and time known, unlike a bare NemwebFile)."""

    file: NemwebFile
    feed: str
    timestamp: datetime

    @property
    def name(self) -> str:
        return self.file.name


@dataclass
class _FeedState:
    watermark: datetime | None
    seen: dict[str, datetime]


def next_poll(now: datetime, poll_delay: float) -> datetime:
    """The first ``boundary + poll_delay`` strictly after ``now`` (boundaries every 5 minutes)."""
    delay = timedelta(seconds=poll_delay)
    wake = nemtime.interval_ending(now - delay, 5) + delay
    return wake if wake > now else wake + POLL_PERIOD


def late_feeds(report: CycleReport, boundary: datetime) -> list[str]:
    """The 5-minute feeds whose interval ending at ``boundary`` was not in after ``report``.

    A feed that could not be listed at all is not counted: NEMWEB being down has its own backoff.
    """
    return [
        name
        for name, feed in report.feeds.items()
        if name in FIVE_MINUTE_FEEDS
        and not feed.unavailable
        and (feed.watermark is None or feed.watermark < boundary)
    ]


def wake_time(report: CycleReport | None, now: datetime, settings: Settings) -> datetime:
    """When to poll next after a successful cycle: the regular poll, or sooner while late.

    The regular poll is ``poll_delay`` after each boundary. If a 5-minute feed's interval ending
    at the last boundary is still missing after it (AEMO is late), poll again every
    ``repoll_interval`` seconds for up to ``repoll_window`` seconds after that boundary, so that a
    late file is in within seconds of appearing rather than at the next regular poll. With
    ``poll_every`` set, simply that many seconds on.
    """
    if settings.poll_every > 0:
        return now + timedelta(seconds=settings.poll_every)
    regular = next_poll(now, settings.poll_delay)
    boundary = regular - POLL_PERIOD - timedelta(seconds=settings.poll_delay)
    if report is None or not late_feeds(report, boundary):
        return regular
    if (now - boundary).total_seconds() >= settings.repoll_window:
        return regular
    return min(regular, now + timedelta(seconds=settings.repoll_interval))


def down_pause(failures: int) -> timedelta:
    """Pause after ``failures`` cycles in a row found NEMWEB down: 5, 10, 20, then 30 minutes."""
    if failures <= 0:
        return POLL_PERIOD
    return min(POLL_PERIOD * (1 << min(failures - 1, 8)), MAX_DOWN_PAUSE)


class Collector:
    """Polls the CURRENT feeds and ingests what is new; one instance per data directory."""

    def __init__(
        self,
        settings: Settings,
        lake: Lake,
        client: NemwebClient | None = None,
        *,
        feeds: Iterable[str] | None = None,
        clock: Callable[[], datetime] = nemtime.now,
    ) -> None:
        self.settings = settings
        self.lake = lake
        self._owns_client = client is None
        self.client = client if client is not None else NemwebClient.from_settings(settings)
        self.feeds = tuple(feeds) if feeds is not None else tuple(tables.FEEDS)
        unknown = [f for f in self.feeds if f not in tables.FEEDS]
        if unknown:
            raise KeyError(f"unknown feeds {unknown}; known feeds: {', '.join(tables.FEEDS)}")
        self.clock = clock

    def close(self) -> None:
        """Close the HTTP client if this collector made it."""
        if self._owns_client:
            self.client.close()

    def run_cycle(self, stop: threading.Event | None = None) -> CycleReport:
        """One pass over the feeds: list, download what is new, ingest in one publish, record.

        Raises :class:`~nemdash.errors.StoreBusy` when another process holds the writer lock.
        """
        report = CycleReport(started=self.clock())
        with self.lake.writer() as writer:
            states = {feed: self._load_state(feed) for feed in self.feeds}
            wanted: list[_Candidate] = []
            for feed in self.feeds:
                feed_report = FeedReport(feed, watermark=states[feed].watermark)
                report.feeds[feed] = feed_report
                wanted.extend(self._new_files(feed, states[feed], feed_report))
            blobs = self._download(wanted, report, states, stop)
            by_name = {f.name: f for f in wanted}
            new_blobs = []
            for blob in blobs:
                parsed = by_name[blob.name]
                if self.lake.has_source(blob.name, sha256(blob.data)):
                    # Already in the lake (e.g. a crash between publish and state): a no-op.
                    report.feeds[parsed.feed].skipped.append(blob.name)
                    states[parsed.feed].seen[blob.name] = parsed.timestamp
                else:
                    new_blobs.append(blob)
            if new_blobs:
                ingest = ingest_blobs(writer, new_blobs)
                report.rows = ingest.rows
                report.version = ingest.version
                report.changed = ingest.changed
                report.footer_mismatches = ingest.footer_mismatches
                quarantined = dict(ingest.quarantined)
                for blob in new_blobs:
                    parsed = by_name[blob.name]
                    feed_report = report.feeds[parsed.feed]
                    if blob.name in quarantined:
                        feed_report.quarantined.append((blob.name, quarantined[blob.name]))
                    else:
                        feed_report.ingested.append(blob.name)
                    states[parsed.feed].seen[blob.name] = parsed.timestamp
            report.finished = self.clock()
            for feed in self.feeds:
                self._save_state(writer, feed, states[feed], report.feeds[feed], report.finished)
            if report.version is not None or missing_tables(self.lake):
                # New data, or a rollup table added by a newer nemdash: bring them up to date.
                self._update_rollups(writer, report)
            writer.maybe_compact()
        self._log(report)
        return report

    def run_forever(
        self,
        stop: threading.Event,
        *,
        on_cycle: Callable[[CycleReport], None] | None = None,
    ) -> None:
        """Collect until ``stop`` is set: at once (catching up), then in step with AEMO."""
        failures = 0
        while not stop.is_set():
            report: CycleReport | None = None
            try:
                report = self.run_cycle(stop)
            except TransientError as exc:  # StoreBusy: another writer; NEMWEB trouble mid-cycle
                failures += 1
                log.warning("collection cycle skipped: %s", exc)
            else:
                failures = failures + 1 if report.nemweb_down else 0
                if on_cycle is not None:
                    on_cycle(report)
            now = self.clock()
            if failures and self.settings.poll_every > 0:
                wake = now + timedelta(seconds=self.settings.poll_every)  # a mirror: no backoff
                log.warning("NEMWEB unreachable or store busy; next try at %s", wake)
            elif failures:
                wake = next_poll(now + down_pause(failures) - POLL_PERIOD, self.settings.poll_delay)
                log.warning("NEMWEB unreachable or store busy; next try at %s", wake)
            else:
                wake = wake_time(report, now, self.settings)
            stop.wait(max(0.0, (wake - now).total_seconds()))
        log.info("collector stopped")

    def _update_rollups(self, writer: LakeWriter, report: CycleReport) -> None:
        """Bring the rollups up to date with this cycle's publish.

        A failure here is logged, not raised: the data is already published, and the next
        update recomputes everything published since the rollups' recorded base version.
        """
        try:
            rollups = update_rollups(writer, self.lake, report.changed)
        except NemdashError:
            log.exception("rollup update failed; the next cycle catches up")
            return
        if rollups.versions:
            report.version = rollups.versions[-1]

    def _load_state(self, feed: str) -> _FeedState:
        watermark_text = self.lake.get_state(state_key(feed, "watermark"))
        seen_text = self.lake.get_state(state_key(feed, "seen"))
        watermark = datetime.fromisoformat(watermark_text) if watermark_text else None
        seen: dict[str, datetime] = {}
        if seen_text:
            seen = {name: datetime.fromisoformat(t) for name, t in json.loads(seen_text).items()}
        return _FeedState(watermark, seen)

    def _new_files(self, feed: str, state: _FeedState, report: FeedReport) -> list[_Candidate]:
        spec = tables.FEEDS[feed]
        try:
            listing = self.client.list_dir(spec.current_dir)
        except NemdashError as exc:
            report.error = str(exc)
            report.unavailable = isinstance(exc, NemwebUnavailable)
            log.warning("%s: cannot list %s: %s", feed, spec.current_dir, exc)
            return []
        files = []
        for entry in listing.files:
            parsed = filenames.parse(entry.name)
            if parsed is None or parsed.kind is not Kind.CURRENT or parsed.feed != feed:
                continue
            if parsed.timestamp is not None:
                files.append(_Candidate(parsed, feed, parsed.timestamp))
        report.listed = len(files)
        floor = state.watermark - REISSUE_WINDOW if state.watermark else None
        return sorted(
            (
                f
                for f in files
                if f.name not in state.seen and (floor is None or f.timestamp > floor)
            ),
            key=lambda f: (f.timestamp, f.name),
        )

    def _download(
        self,
        wanted: list[_Candidate],
        report: CycleReport,
        states: dict[str, _FeedState],
        stop: threading.Event | None,
    ) -> list[Blob]:
        blobs: list[Blob] = []
        downloads = self.client.fetch_many(f.file.path for f in wanted)
        try:
            for parsed, download in zip(wanted, downloads, strict=False):
                feed_report = report.feeds[parsed.feed]
                if isinstance(download.error, NemwebNotFound):
                    log.info("%s rolled off NEMWEB before it was fetched; skipped", parsed.name)
                    feed_report.rolled_off.append(parsed.name)
                    states[parsed.feed].seen[parsed.name] = parsed.timestamp
                elif download.error is not None or download.data is None:
                    log.warning("%s not fetched, will retry: %s", parsed.name, download.error)
                    feed_report.failed.append((parsed.name, str(download.error)))
                else:
                    feed_report.fetched.append(parsed.name)
                    if self.settings.keep_raw:
                        keep_raw(self.settings.paths.raw / parsed.feed, parsed.name, download.data)
                    url = self.client.url(parsed.file.path)
                    blobs.append(Blob(parsed.name, download.data, url))
                if stop is not None and stop.is_set():
                    log.info("stop requested: ingesting the %d files already fetched", len(blobs))
                    break
        finally:
            downloads.close()  # cancels the downloads not started yet
        return blobs

    def _save_state(
        self,
        writer: LakeWriter,
        feed: str,
        state: _FeedState,
        report: FeedReport,
        now: datetime,
    ) -> None:
        handled = [state.seen[n] for n in (*report.ingested, *report.skipped, *report.rolled_off)]
        handled += [state.seen[n] for n, _ in report.quarantined]
        if handled:
            newest = max(handled)
            state.watermark = max(newest, state.watermark) if state.watermark else newest
        report.watermark = state.watermark
        if state.watermark is not None:
            floor = state.watermark - REISSUE_WINDOW
            state.seen = {n: t for n, t in state.seen.items() if t > floor}
            report.lag = now - state.watermark
            writer.set_state(state_key(feed, "watermark"), state.watermark.isoformat())
            writer.set_state(state_key(feed, "lag_seconds"), f"{report.lag.total_seconds():.0f}")
        writer.set_state(
            state_key(feed, "seen"),
            json.dumps({n: t.isoformat() for n, t in sorted(state.seen.items())}),
        )
        problems = [report.error] if report.error else []
        problems += [f"{n}: {why}" for n, why in (*report.failed, *report.quarantined)]
        if problems:
            writer.set_state(state_key(feed, "last_error"), "; ".join(problems))
            writer.set_state(state_key(feed, "last_error_at"), now.isoformat())
        if report.error is None:
            writer.set_state(state_key(feed, "last_success"), now.isoformat())

    @staticmethod
    def _log(report: CycleReport) -> None:
        for feed in report.feeds.values():
            if feed.fetched or feed.error or feed.failed:
                log.info(
                    "%s: listed %d, fetched %d, ingested %d, quarantined %d, rolled off %d, "
                    "failed %d, watermark %s",
                    feed.feed,
                    feed.listed,
                    len(feed.fetched),
                    len(feed.ingested),
                    len(feed.quarantined),
                    len(feed.rolled_off),
                    len(feed.failed),
                    feed.watermark.isoformat() if feed.watermark else "none",
                )


def keep_raw(folder: Path, name: str, data: bytes) -> None:
    """Keep a downloaded zip as ``folder/name``, atomically (temp file, then rename)."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    if target.exists() and target.stat().st_size == len(data):
        return
    temp = folder / f".{name}.{os.getpid()}.{threading.get_ident()}.tmp"
    temp.write_bytes(data)
    os.replace(temp, target)


def collect(
    settings: Settings,
    once: bool = False,
    stop: threading.Event | None = None,
    *,
    client: NemwebClient | None = None,
    on_cycle: Callable[[CycleReport], None] | None = None,
) -> CycleReport | None:
    """The ``nemdash collect`` command: one cycle (``once``) or until ``stop`` is set."""
    lake = Lake(settings.paths)
    collector = Collector(settings, lake, client=client)
    try:
        if once:
            report = collector.run_cycle(stop)
            if on_cycle is not None:
                on_cycle(report)
            return report
        collector.run_forever(stop or threading.Event(), on_cycle=on_cycle)
        return None
    finally:
        collector.close()
