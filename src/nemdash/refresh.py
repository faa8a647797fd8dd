"""The server's background refresh: collect, roll up, re-warm, and tell whoever listens.

One :class:`Refresher` runs in every server process (every uvicorn worker), in threads beside the
request handlers:

* **Version watch** (every process). It reads :meth:`Lake.version` every ``cache_version_poll``
  seconds (at least :data:`MIN_POLL`; a SQLite read, cheap) and, when the store version moves,
  announces it: the DuckDB views move to the new version, the query cache is told
  (:meth:`QueryCache.note_version`), the hot set is re-warmed in the background
  (:func:`nemdash.query.cache.warm`) and every :meth:`Refresher.on_new_version` subscriber is
  called with the version (the API drops its rendered responses; dashboard sessions redraw). A
  process that does not collect thus notices another's publish within about a second.
* **Collector** (one process). With ``collect``, the watch also tries to take the collector lock
  ``<data_dir>/collector.lock`` (a ``filelock.FileLock``, which the kernel frees if the process
  dies) without waiting, and again every :data:`LOCK_RETRY` seconds while it does not hold it: of
  several workers exactly one holds it and collects, and if that one dies another takes over. The
  holder runs :meth:`Collector.run_forever` in a thread. A cycle that publishes also brings the
  rollups up to date under the same writer lock (the collector calls
  :func:`~nemdash.store.rollups.update_rollups`, which also picks up anything published but not
  yet rolled up, e.g. after a crash); after it the refresh announces the new version at once,
  without waiting for the poll. When NEMWEB is down the collector backs off by itself
  (``down_pause``); the server keeps serving what it has, and ``/api/v1/status`` reports the
  feeds as failing or stale.
* **Stopping** (:meth:`Refresher.stop`, called when the server shuts down on SIGTERM/SIGINT)
  sets the collector's ``stop`` event: a cycle stops downloading, ingests what it already has
  (one publish), records its state and returns; rollups are not started any more. Should it take
  longer than the timeout, the thread (a daemon) is abandoned mid-write, which the lake survives
  like a crash: nothing half-written is ever visible.

The collector holds the writer lock (``writer.lock``) only for a cycle or a rollup update, so a
``nemdash ingest`` can still run beside the server (the collector then skips a cycle: StoreBusy).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime

from filelock import FileLock, Timeout

from nemdash import nemtime
from nemdash.collector.loop import Collector, CycleReport
from nemdash.config import Settings
from nemdash.nemweb.client import NemwebClient
from nemdash.query.cache import Warmup, cache_for, warm
from nemdash.query.connection import Database
from nemdash.store.lake import Lake

log = logging.getLogger(__name__)

#: Shortest pause between two reads of the store version.
MIN_POLL = 0.2
#: Seconds between attempts to take the collector lock while another process holds it.
LOCK_RETRY = 10.0
#: Pause before the collector loop is started again after an unexpected error.
CRASH_PAUSE = 60.0
#: Background errors kept for ``/api/v1/status``.
ERRORS_KEPT = 20

#: A function returning the hot set: calls of cached query functions to warm after each refresh.
HotSet = Callable[[Database], Iterable[Callable[[], object]]]
#: A subscriber told each new store version (called on a background thread: return quickly).
VersionCallback = Callable[[int], None]


@dataclass(frozen=True)
class CycleSummary:
    """What the last collection cycle of this process did (times in NEM time)."""

    started: datetime
    finished: datetime | None
    ingested: int
    quarantined: int
    failed: int
    nemweb_down: bool
    version: int | None
    rows: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, report: CycleReport) -> CycleSummary:
        """The summary of a collector's cycle report."""
        return cls(
            started=nemtime.ensure_aware(report.started),
            finished=nemtime.ensure_aware(report.finished) if report.finished else None,
            ingested=report.ingested,
            quarantined=len(report.quarantined),
            failed=sum(len(f.failed) for f in report.feeds.values()),
            nemweb_down=report.nemweb_down,
            version=report.version,
            rows=dict(report.rows),
        )


@dataclass(frozen=True)
class BackgroundError:
    """An error the background refresh met (it went on)."""

    at: datetime
    source: str
    message: str


@dataclass(frozen=True)
class RefreshState:
    """What the background refresh of this process is doing, for ``/api/v1/status``."""

    collect: bool
    """Whether this server is configured to collect (``server_collect``)."""
    role: str
    """``collector`` (this process collects), ``reader`` (another does) or ``off``."""
    collector_alive: bool
    """This process's collector thread runs, or (reader) the lock holder's process is alive."""
    collector_pid: int | None
    last_cycle: CycleSummary | None
    consecutive_failures: int
    """Cycles in a row that found NEMWEB unreachable."""
    version: int
    """The last store version announced (-1 before the first)."""
    errors: tuple[BackgroundError, ...]
    """Recent errors, newest first."""


class VersionBus:
    """In-process publish/subscribe of new store versions."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: list[VersionCallback] = []

    def subscribe(self, callback: VersionCallback) -> Callable[[], None]:
        """Call ``callback(version)`` at each new version; returns a function that unsubscribes."""
        with self._lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._lock, suppress(ValueError):
                self._subscribers.remove(callback)

        return unsubscribe

    def publish(self, version: int) -> None:
        """Tell every subscriber; one that raises is logged and the others are still told."""
        with self._lock:
            subscribers = list(self._subscribers)
        for callback in subscribers:
            try:
                callback(version)
            except Exception:
                log.exception("a store-version subscriber (%r) failed", callback)

    def __len__(self) -> int:
        return len(self._subscribers)


def _record_pid(fd: int) -> None:
    """Write our PID into the collector lock we now hold (filelock's ``on_acquired`` hook)."""
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)


def lock_holder(settings: Settings) -> int | None:
    """The PID recorded in the collector lock, if that process is alive (None otherwise)."""
    try:
        text = settings.paths.collector_lock.read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    if not text.strip().isdigit():
        return None
    pid = int(text.strip())
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid  # alive, owned by another user
    return pid


class Refresher:
    """The background refresh of one server process (see the module docstring)."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        *,
        collect: bool,
        hot_set: HotSet | None = None,
        client: NemwebClient | None = None,
        lock_retry: float = LOCK_RETRY,
    ) -> None:
        self.settings = settings
        self.db = db
        self.lake: Lake = db.lake
        self.collect = collect
        self.bus = VersionBus()
        self._hot_set = hot_set
        self._client = client
        self._lock_retry = lock_retry
        self._poll = max(settings.cache_version_poll, MIN_POLL)
        self._stop = threading.Event()
        self._state_lock = threading.Lock()
        self._announce_lock = threading.Lock()
        self._announced = -1
        self._last_cycle: CycleSummary | None = None
        self._failures = 0
        self._errors: deque[BackgroundError] = deque(maxlen=ERRORS_KEPT)
        self._collector_lock: FileLock | None = None
        self._watch_thread: threading.Thread | None = None
        self._collector_thread: threading.Thread | None = None
        self._warmup: Warmup | None = None

    # -- public -----------------------------------------------------------------------------------

    def on_new_version(self, callback: VersionCallback) -> Callable[[], None]:
        """Subscribe to new store versions (e.g. a dashboard session); returns the unsubscriber."""
        return self.bus.subscribe(callback)

    def start(self) -> None:
        """Start the version watch (which takes the collector lock when it can)."""
        if self._watch_thread is not None:
            return
        self._stop.clear()
        self._watch_thread = threading.Thread(
            target=self._watch, name="nemdash-version-watch", daemon=True
        )
        self._watch_thread.start()

    def stop(self, timeout: float | None = None) -> bool:
        """Stop collecting and watching; True if every thread ended within ``timeout`` seconds."""
        self._stop.set()
        limit = self.settings.shutdown_timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        ended = True
        for thread in (self._collector_thread, self._watch_thread):
            if thread is None:
                continue
            thread.join(max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                ended = False
                log.warning(
                    "%s did not stop within %.0f s; abandoning it (the lake is crash-safe)",
                    thread.name,
                    limit,
                )
        warmup = self._warmup
        if warmup is not None and not warmup.done:
            # A newer (empty) warm-up makes the running one stop at its next job, so that the
            # DuckDB connection is not closed under it.
            superseding = warm(self.db, [])
            for run in (warmup, superseding):
                if not run.join(max(0.0, deadline - time.monotonic())):
                    ended = False
        if ended:
            self._release_lock()
        return ended

    @property
    def collecting(self) -> bool:
        """Whether this process holds the collector lock."""
        return self._collector_lock is not None

    def state(self) -> RefreshState:
        """A snapshot of what the refresh is doing."""
        thread = self._collector_thread
        pid: int | None
        if self.collecting:
            role, pid, alive = "collector", os.getpid(), thread is not None and thread.is_alive()
        else:
            holder = lock_holder(self.settings)
            role = "reader" if self.collect or holder is not None else "off"
            pid, alive = holder, holder is not None
        with self._state_lock:
            return RefreshState(
                collect=self.collect,
                role=role,
                collector_alive=alive,
                collector_pid=pid,
                last_cycle=self._last_cycle,
                consecutive_failures=self._failures,
                version=self._announced,
                errors=tuple(reversed(self._errors)),
            )

    def announce(self, version: int) -> bool:
        """Act on a store version: views, cache, warm-up, subscribers; False if already known."""
        with self._announce_lock:
            if version == self._announced:
                return False
            self._announced = version
        log.info("store version %d: refreshing views and re-warming the hot set", version)
        try:
            self.db.refresh()
            cache_for(self.db).note_version(version)
        except Exception as exc:
            self._record("refresh", exc)
        if self._hot_set is not None and not self._stop.is_set():
            try:
                self._warmup = warm(self.db, self._hot_set(self.db))
            except Exception as exc:
                self._record("warm-up", exc)
        self.bus.publish(version)
        return True

    @property
    def warmup(self) -> Warmup | None:
        """The latest warm-up started (None before the first)."""
        return self._warmup

    # -- threads ----------------------------------------------------------------------------------

    def _watch(self) -> None:
        next_try = 0.0
        while not self._stop.is_set():
            if self.collect and not self.collecting and time.monotonic() >= next_try:
                if self._take_lock():
                    self._start_collector()
                else:
                    next_try = time.monotonic() + self._lock_retry
            try:
                self.announce(self.lake.version())
            except Exception as exc:
                self._record("version watch", exc)
            self._stop.wait(self._poll)

    def _take_lock(self) -> bool:
        path = self.settings.paths.collector_lock
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            lock = FileLock(
                path,
                blocking=False,
                thread_local=False,
                preserve_lock_file=True,
                on_acquired=_record_pid,
            )
            lock.acquire()
        except Timeout:
            return False
        except OSError as exc:
            self._record("collector lock", exc)
            return False
        self._collector_lock = lock
        log.info("this process (PID %d) collects; lock %s", os.getpid(), path)
        return True

    def _release_lock(self) -> None:
        lock, self._collector_lock = self._collector_lock, None
        if lock is None:
            return
        with suppress(OSError):
            os.truncate(self.settings.paths.collector_lock, 0)  # the PID would soon be wrong
        lock.release()

    def _start_collector(self) -> None:
        self._collector_thread = threading.Thread(
            target=self._collect, name="nemdash-collector", daemon=True
        )
        self._collector_thread.start()

    def _collect(self) -> None:
        collector = Collector(self.settings, self.lake, client=self._client)
        try:
            while not self._stop.is_set():
                try:
                    collector.run_forever(self._stop, on_cycle=self._after_cycle)
                except Exception as exc:
                    self._record("collector", exc)
                    log.exception("the collector failed; starting it again in %.0f s", CRASH_PAUSE)
                    self._stop.wait(CRASH_PAUSE)
        finally:
            collector.close()

    def _after_cycle(self, report: CycleReport) -> None:
        summary = CycleSummary.of(report)
        with self._state_lock:
            self._last_cycle = summary
            self._failures = self._failures + 1 if report.nemweb_down else 0
        try:
            self.announce(self.lake.version())
        except Exception as exc:  # run_forever must go on whatever happens here
            self._record("after cycle", exc)

    def _record(self, source: str, exc: BaseException) -> None:
        message = f"{exc}" or type(exc).__name__
        with self._state_lock:
            last = self._errors[-1] if self._errors else None
            repeated = last is not None and (last.source, last.message) == (source, message)
            if not repeated:  # a failing watch would otherwise log the same line every second
                self._errors.append(BackgroundError(nemtime.now(), source, message))
        if not repeated:
            log.warning("background %s: %s", source, message, exc_info=exc)
