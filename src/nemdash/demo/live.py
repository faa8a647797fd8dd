"""The live demo: keep a synthetic demo store moving on an accelerated clock.

``nemdash demo --live --speed X`` (and tests of refresh, freshness and cache invalidation) need a
store that changes the way a real one does: a new 5-minute interval on NEMWEB, the collector
picking it up, a new store version. :class:`LiveDemo` does exactly that, through the real parts:

* a :class:`DemoClock` gives NEM time starting at the end of the built data (or where a previous
  live run stopped) and running ``speed`` times faster than real time: at speed 60 a new interval
  is due every 5 real seconds;
* when an interval is due, :class:`~nemdash.demo.tree.LiveClock` writes its CURRENT files into the
  demo's NEMWEB tree (DISPATCHIS, DISPATCHSCADA, TRADINGIS, and rooftop PV on the half hour),
  and CURRENT files older than ``keep_current`` (demo time) are rolled off, as NEMWEB drops them;
* right after, the real :class:`~nemdash.collector.loop.Collector`, whose clock is the demo clock,
  lists the tree through a :class:`~nemdash.nemweb.mirror.NemwebMirror`, downloads and ingests
  the new files in one publish and updates the rollups for them (a call of
  :func:`~nemdash.store.rollups.update_rollups` afterwards catches up anything it left).

Every timestamp the demo writes is synthetic: the interval ends, the collector's watermarks,
lags and ``last_success`` follow the demo clock, not the wall clock (the manifest's
``published_at`` alone is real time). Nothing but CURRENT files is added to the tree: no daily
ARCHIVE is written for the days the live demo makes (the store already has them).

If a cycle takes longer than an interval (a high speed on a busy machine), the intervals due are
published together and collected in one cycle, so the demo falls behind gracefully, never
skipping an interval.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import TracebackType
from typing import Final, Self

from nemdash import nemtime
from nemdash.collector.loop import Collector, CycleReport, state_key
from nemdash.config import Settings
from nemdash.demo.build import DemoStore, demo_settings
from nemdash.demo.tree import LiveClock, interval_index, interval_time
from nemdash.errors import ConfigError, NemdashError, StoreBusy
from nemdash.nemweb.client import NemwebClient
from nemdash.nemweb.filenames import parse as parse_name
from nemdash.nemweb.mirror import NemwebMirror
from nemdash.store.lake import Lake
from nemdash.store.rollups import RollupReport, update_rollups
from nemdash.tables import FEEDS

__all__ = ["DemoClock", "LiveCycle", "LiveDemo"]

log = logging.getLogger(__name__)

#: Most intervals published in one cycle when the demo has fallen behind (a day).
MAX_CATCH_UP: Final = 288
#: Cycles between two vacuums of the files that compaction retired.
VACUUM_EVERY: Final = 48
#: The feed whose newest CURRENT file says how far the tree has got.
_CLOCK_FEED: Final = "Dispatch_SCADA"


class DemoClock:
    """NEM time that starts at ``start`` and runs ``speed`` times faster than real time."""

    def __init__(
        self,
        start: datetime,
        speed: float,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if not speed > 0:
            raise ConfigError(f"the demo speed must be positive, got {speed}")
        self.start = nemtime.ensure_aware(start)
        self.speed = speed
        self._monotonic = monotonic
        self._origin = monotonic()

    def now(self) -> datetime:
        """The demo's current NEM time (aware)."""
        elapsed = (self._monotonic() - self._origin) * self.speed
        return self.start + timedelta(seconds=elapsed)

    def real_seconds_until(self, when: datetime) -> float:
        """Real seconds until the demo clock reaches ``when`` (0 if it has)."""
        ahead = (nemtime.ensure_aware(when) - self.now()).total_seconds()
        return max(0.0, ahead / self.speed)


@dataclass(frozen=True)
class LiveCycle:
    """What one step of the live demo did."""

    published: tuple[datetime, ...]
    """Interval ends published (naive NEM time), oldest first."""
    rolled_off: int
    """CURRENT files deleted because they fell out of ``keep_current``."""
    report: CycleReport | None
    """The collector's cycle (None when the writer lock was busy: retried next step)."""
    rollups: RollupReport | None
    """The catch-up rollup update after the cycle (normally empty: the collector did it)."""
    version: int
    """The store version after the step."""


class LiveDemo:
    """Publishes new intervals into a demo store's tree and collects them, on a demo clock.

    ``start()``/``stop()`` run it on a thread (``with LiveDemo(...) as live:`` does both);
    ``run_until(stop)`` runs it on the caller's thread until the event is set. ``on_cycle`` is
    called after each step (e.g. to log, or to warm caches for the new store version).
    """

    def __init__(
        self,
        settings: Settings,
        store: DemoStore,
        *,
        speed: float = 60.0,
        keep_current: timedelta = timedelta(days=2),
        on_cycle: Callable[[LiveCycle], None] | None = None,
    ) -> None:
        if not speed > 0:
            raise ConfigError(f"--speed must be positive, got {speed}")
        self.store = store
        self.speed = speed
        self.keep_current = keep_current
        self.on_cycle = on_cycle
        # The demo store's directory, with the caller's HTTP and DuckDB settings.
        self.settings = demo_settings(settings, store.root)
        self.lake = Lake(self.settings.paths)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._changed = threading.Condition()
        self._clock: DemoClock | None = None
        self._cycles = 0
        self._last: LiveCycle | None = None
        self._latest: datetime | None = None
        self._error: BaseException | None = None

    # -- state ------------------------------------------------------------------------------------

    def now(self) -> datetime:
        """The demo clock's NEM time (aware); before the first start, the resume point."""
        if self._clock is not None:
            return self._clock.now()
        return nemtime.from_naive(self.resume_point())

    @property
    def latest(self) -> datetime | None:
        """End of the last interval this demo published (naive NEM time), if any."""
        return self._latest

    @property
    def cycles(self) -> int:
        """Steps completed since the demo started."""
        return self._cycles

    @property
    def last_cycle(self) -> LiveCycle | None:
        return self._last

    @property
    def error(self) -> BaseException | None:
        """The exception that ended the background thread, if one did."""
        return self._error

    def resume_point(self) -> datetime:
        """Where the demo clock starts (naive NEM time): the newest interval already in the tree,
        the collector's watermark, or the end of the built data, whichever is latest."""
        latest = self.store.end
        watermark = self.lake.get_state(state_key(_CLOCK_FEED, "watermark"))
        if watermark:
            latest = max(latest, nemtime.to_naive(datetime.fromisoformat(watermark)))
        folder = self.store.tree_root / FEEDS[_CLOCK_FEED].current_dir
        if folder.is_dir():
            for path in folder.glob("*.zip"):
                parsed = parse_name(path.name)
                if parsed is not None and parsed.timestamp is not None:
                    latest = max(latest, nemtime.to_naive(parsed.timestamp))
        return latest

    def wait_for_cycles(self, count: int, timeout: float) -> bool:
        """Block until ``count`` steps have completed (True) or ``timeout`` seconds pass."""
        with self._changed:
            return self._changed.wait_for(
                lambda: self._cycles >= count or self._error is not None, timeout
            ) and (self._cycles >= count)

    # -- running ----------------------------------------------------------------------------------

    def start(self) -> Self:
        """Run the demo on a background thread."""
        if self._thread is not None and self._thread.is_alive():
            return self
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run_thread, name="nemdash-live-demo", daemon=True
        )
        self._thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Ask the thread to stop after its step, and wait for it (up to ``timeout`` seconds)."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                log.warning("the live demo did not stop within %.0f s", timeout)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _run_thread(self) -> None:
        try:
            self.run_until(self._stop)
        except BaseException as exc:  # kept for stop()/error; the thread must not die silently
            self._error = exc
            log.exception("the live demo stopped on an error")
            with self._changed:
                self._changed.notify_all()

    def run_until(self, stop: threading.Event) -> None:
        """Publish and collect on the demo clock until ``stop`` is set."""
        publisher = LiveClock.from_tree(self.store.tree_root)
        latest = self.resume_point()
        clock = DemoClock(nemtime.from_naive(latest), self.speed)
        self._clock = clock
        log.info(
            "live demo: synthetic NEM time starts at %s and runs %g times real time "
            "(a new interval every %.1f s)",
            latest,
            self.speed,
            nemtime.FIVE_MINUTES.total_seconds() / self.speed,
        )
        with NemwebMirror(self.store.tree_root) as mirror:
            live = self.settings.model_copy(
                update={"nemweb_url": mirror.url, "http_retries": 1, "http_backoff": 0.1}
            )
            client = NemwebClient.from_settings(live)
            collector = Collector(live, self.lake, client=client, clock=clock.now)
            try:
                while not stop.is_set():
                    now = nemtime.to_naive(clock.now())
                    due_until = min(interval_index(now), interval_index(latest) + MAX_CATCH_UP)
                    due = [
                        interval_time(n) for n in range(interval_index(latest) + 1, due_until + 1)
                    ]
                    if due:
                        self._step(publisher, collector, due, stop)
                        latest = due[-1]
                    stop.wait(clock.real_seconds_until(latest + nemtime.FIVE_MINUTES))
            finally:
                client.close()
        log.info("live demo stopped at synthetic NEM time %s", latest)

    def _step(
        self,
        publisher: LiveClock,
        collector: Collector,
        due: list[datetime],
        stop: threading.Event,
    ) -> None:
        """Publish the intervals due, roll old files off, collect, update the rollups."""
        for interval_end in due:
            publisher.publish(interval_end)
        self._latest = due[-1]
        rolled = publisher.roll_off(due[-1] - self.keep_current)
        report: CycleReport | None = None
        rollups: RollupReport | None = None
        try:
            report = collector.run_cycle(stop)
            with self.lake.writer() as writer:
                # The collector's cycle updates the rollups; this catches up whatever it left
                # (and publishes nothing when there is nothing to do).
                rollups = update_rollups(writer, self.lake, {})
                if (self._cycles + 1) % VACUUM_EVERY == 0:
                    writer.vacuum()
        except StoreBusy as exc:
            log.warning("live demo: the store is busy (%s); the files wait for the next step", exc)
        except NemdashError as exc:
            log.warning("live demo: step at %s failed: %s", due[-1], exc)
        cycle = LiveCycle(tuple(due), rolled, report, rollups, self.lake.version())
        with self._changed:
            self._cycles += 1
            self._last = cycle
            self._changed.notify_all()
        log.info(
            "live demo: published %s (%d interval%s), ingested %d files, version %d",
            due[-1],
            len(due),
            "" if len(due) == 1 else "s",
            report.ingested if report is not None else 0,
            cycle.version,
        )
        if self.on_cycle is not None:
            self.on_cycle(cycle)
