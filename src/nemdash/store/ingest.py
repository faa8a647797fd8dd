"""From AEMO files to a publish: the one path every source takes into the lake.

Local files (``nemdash ingest``), live downloads (the collector) and archive downloads
(backfill) all arrive here as :class:`Blob` s. Each blob is checked against the manifest (name +
SHA-256: a file already ingested is a fast no-op), walked (CSV, zip, zip of zips), parsed, and its
kept tables are published together in **one** publish, so that a batch is either wholly visible or
not at all. A blob that cannot be read (truncated, corrupt, an HTML page) is quarantined with its
reason and does not stop the others. A footer count that disagrees with the line count is ingested
and reported (AEMO's MMSDM files re-written by other tools keep the original count).
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from nemdash.errors import SourceError
from nemdash.nemweb.archive import read_source
from nemdash.store.lake import LakeWriter, SourceRecord
from nemdash.tables import TABLES

log = logging.getLogger(__name__)

#: Extensions ``nemdash ingest`` picks up when given a folder.
SOURCE_SUFFIXES = (".zip", ".csv")


@dataclass(frozen=True)
class Blob:
    """One source file's bytes and where it came from."""

    name: str
    data: bytes
    origin: str | None = None


@dataclass
class IngestReport:
    """What one ingest did: counts, rows per table, quarantined files and footer mismatches."""

    seen: int = 0
    skipped: int = 0
    ingested: int = 0
    quarantined: list[tuple[str, str]] = field(default_factory=list)
    footer_mismatches: list[str] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)
    version: int | None = None
    changed: dict[str, tuple[datetime, datetime]] = field(default_factory=dict)
    """Per table, the first and last time (naive NEM time) of the rows published: the rollup
    buckets to recompute (``store.rollups.update_rollups``)."""

    def merge(self, other: IngestReport) -> None:
        """Add another report's counts to this one (the newest version wins)."""
        self.seen += other.seen
        self.skipped += other.skipped
        self.ingested += other.ingested
        self.quarantined.extend(other.quarantined)
        self.footer_mismatches.extend(other.footer_mismatches)
        for table, n in other.rows.items():
            self.rows[table] = self.rows.get(table, 0) + n
        if other.version is not None:
            self.version = other.version
        for table, (low, high) in other.changed.items():
            if table in self.changed:
                low, high = min(low, self.changed[table][0]), max(high, self.changed[table][1])
            self.changed[table] = (low, high)


def sha256(data: bytes) -> str:
    """Hex SHA-256 of a source file's bytes (the manifest's identity of a file)."""
    return hashlib.sha256(data).hexdigest()


def ingest_blobs(
    writer: LakeWriter,
    blobs: Iterable[Blob],
    *,
    tables: Collection[str] | None = None,
) -> IngestReport:
    """Parse every new blob and publish all their rows in one publish.

    ``tables`` limits what is kept (spec names; None keeps every table nemdash knows).
    """
    report = IngestReport()
    data: dict[str, list[pa.Table]] = defaultdict(list)
    sources: list[SourceRecord] = []
    for blob in blobs:
        report.seen += 1
        digest = sha256(blob.data)
        if writer.lake.has_source(blob.name, digest):
            report.skipped += 1
            continue
        try:
            parsed = list(read_source(blob.data, blob.name, keep=tables))
        except SourceError as exc:
            log.warning("quarantined %s: %s", blob.name, exc)
            writer.quarantine(blob.name, str(exc), blob.origin, blob.data)
            report.quarantined.append((blob.name, str(exc)))
            continue
        rows: dict[str, int] = defaultdict(int)
        mismatches: list[str] = []
        for mms in parsed:
            for name, table in mms.tables().items():
                data[name].append(table)
                rows[name] += table.num_rows
            if not mms.footer_ok:
                mismatches.append(
                    f"{mms.source}: footer says {mms.footer_count} lines, file has {mms.line_count}"
                )
        if mismatches:
            log.info("footer count mismatch in %s", "; ".join(mismatches))
            report.footer_mismatches.extend(mismatches)
        sources.append(
            SourceRecord(
                name=blob.name,
                sha256=digest,
                size=len(blob.data),
                rows=dict(rows),
                footer_ok=not mismatches,
                footer_detail="; ".join(mismatches) or None,
                origin=blob.origin,
            )
        )
        report.ingested += 1
        for name, n in rows.items():
            report.rows[name] = report.rows.get(name, 0) + n
    if sources:
        result = writer.publish(data, sources)
        report.version = result.version
        report.changed = _time_ranges(data)
    return report


def _time_ranges(data: dict[str, list[pa.Table]]) -> dict[str, tuple[datetime, datetime]]:
    """First and last value of each table's time column over the rows given."""
    ranges: dict[str, tuple[datetime, datetime]] = {}
    for name, parts in data.items():
        column = TABLES[name].time_column
        for part in parts:
            bounds = pc.min_max(part.column(column))
            low, high = bounds["min"].as_py(), bounds["max"].as_py()
            if not isinstance(low, datetime) or not isinstance(high, datetime):
                continue  # no rows
            if name in ranges:
                low, high = min(low, ranges[name][0]), max(high, ranges[name][1])
            ranges[name] = (low, high)
    return ranges


def find_sources(paths: Iterable[Path]) -> list[Path]:
    """Expand files and folders into the source files to ingest, sorted by path."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(p for p in sorted(path.rglob("*")) if p.is_file() and _is_source(p))
        elif path.is_file():
            found.append(path)
        else:
            raise FileNotFoundError(f"no such file or folder: {path}")
    return found


def _is_source(path: Path) -> bool:
    return path.suffix.lower() in SOURCE_SUFFIXES


def read_blobs(paths: Iterable[Path]) -> Iterator[Blob]:
    """Blobs for local files, named by file name (as on NEMWEB), origin = the path."""
    for path in paths:
        yield Blob(name=path.name, data=path.read_bytes(), origin=str(path))


def ingest_paths(
    writer: LakeWriter,
    paths: Iterable[Path],
    *,
    tables: Collection[str] | None = None,
    batch_bytes: int = 64 * 1024 * 1024,
    on_batch: Callable[[IngestReport, int], None] | None = None,
) -> IngestReport:
    """Ingest local files, publishing a batch whenever ``batch_bytes`` of input has been read.

    Batching bounds memory (a month of SCADA is ~300 MB of CSV) while keeping each publish large
    enough to be efficient. ``on_batch(report, files_done)`` is called after each publish.
    """
    total = IngestReport()
    batch: list[Path] = []
    size = 0
    done = 0
    for path in paths:
        batch.append(path)
        size += path.stat().st_size
        if size >= batch_bytes:
            done += len(batch)
            total.merge(ingest_blobs(writer, read_blobs(batch), tables=tables))
            if on_batch is not None:
                on_batch(total, done)
            batch, size = [], 0
    if batch:
        done += len(batch)
        total.merge(ingest_blobs(writer, read_blobs(batch), tables=tables))
        if on_batch is not None:
            on_batch(total, done)
    return total
