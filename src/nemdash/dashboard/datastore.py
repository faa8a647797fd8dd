# mypy: disallow-untyped-calls=False
# (param's Parameterized takes its params as untyped **kwargs.)
"""The DataStore: one per browser session, holding its filters and asking the query layer.

Panel's "structure data store" pattern (STYLE.md): the :class:`DataStore` owns every filter of a
session as a ``param`` (tab, region, range, resolution, the pivot's grouping, the station...);
the views (:mod:`nemdash.dashboard.views`) only read it, through :meth:`DataStore.filters` (a
frozen snapshot taken on the session's thread) and the query methods below, each one call of a
typed, cached query function.

No data is copied per session: the query functions return Arrow tables from the process-wide
result cache (:mod:`nemdash.query.cache`), shared by every session and immutable; a view turns
the part it draws into its own Bokeh ``ColumnDataSource``. Calls are made exactly as the cache
warmer makes them (:mod:`nemdash.query.hotset`): ranges from :func:`preset_range`, all regions
(``regions=None``) with the selection applied afterwards, defaults left alone, so the first
visitor after new data finds the default views computed.

Ranges (``range``) are a preset (``1d``, ``7d``, ``30d``, ``90d``, ``1y``, ``all``: ending at the
end of the half hour holding the store's latest interval) or custom calendar days
``YYYY-MM-DD..YYYY-MM-DD`` (both days whole: from the first day's midnight to the midnight after
the last day). Times are NEM time (UTC+10), period-ending.

Fetches run through a :class:`Runner`: inline in tests (set a param, read the result), on a
worker thread in a server session, with the result applied on the session's document thread.
"""

from __future__ import annotations

import io
import logging
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, Generic, TypeVar

import numpy as np
import pandas as pd
import param
import pyarrow as pa
import pyarrow.compute as pc
from panel.io.state import set_curdoc

from nemdash import nemtime
from nemdash.api.formats import render_csv, units_of
from nemdash.demo.build import SYNTHETIC_KEY
from nemdash.errors import InvalidParameter
from nemdash.query import analysis, generation, interconnectors, prices, stations
from nemdash.query.connection import Database
from nemdash.query.hotset import PRESETS, data_span, preset_range
from nemdash.query.metadata import ALL_FUELS, FUEL_LABELS, NEM, REGION_NAMES, column
from nemdash.query.resolution import MAX_FORCED_POINTS, Resolution, count_points
from nemdash.tables import REGIONS

log = logging.getLogger(__name__)

T = TypeVar("T")

#: The dashboard's tabs, in order.
TABS: Final[tuple[str, ...]] = ("today", "generation", "prices", "analysis", "stations")
#: The Generation tab's sub-tabs.
GENERATION_VIEWS: Final[tuple[str, ...]] = ("mix", "utilisation", "time_of_day", "interconnectors")
#: ``auto`` lets the point budget choose (query.resolution); the others force a resolution.
AUTO: Final = "auto"
RESOLUTIONS: Final[tuple[str, ...]] = (AUTO, *(r.value for r in Resolution))
#: The resolutions as the dashboard names them.
RESOLUTION_CHOICES: Final[dict[str, str]] = {
    "Auto (fits the chart)": AUTO,
    "5 minutes": "5m",
    "30 minutes": "30m",
    "1 hour": "1h",
    "Day": "day",
    "Month": "month",
    "Quarter": "quarter",
    "Year": "year",
}
#: The NEM and its regions as the dashboard names them.
REGION_CHOICES: Final[dict[str, str]] = {
    "NEM (all regions)": NEM,
    **{f"{r} {REGION_NAMES[r]}": r for r in REGIONS},
}
#: Custom ranges: whole calendar days, first and last included.
CUSTOM_RANGE: Final = re.compile(r"^(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})$")
_RANGE_REGEX: Final = r"^(" + "|".join(PRESETS) + r"|\d{4}-\d{2}-\d{2}\.\.\d{4}-\d{2}-\d{2})$"
DEFAULT_RANGE: Final = "7d"
#: Store params kept in the page's URL (param name -> query-string name): a link reproduces a view.
URL_PARAMETERS: Final[Mapping[str, str]] = {
    "tab": "tab",
    "region": "region",
    "range": "range",
    "gen_view": "view",
    "price_regions": "regions",
    "resolution": "resolution",
    "smoothing": "smooth",
    "log_scale": "log",
    "envelope": "envelope",
    "group_by": "group",
    "pivot_regions": "pivot_regions",
    "pivot_fuels": "pivot_fuels",
    "station": "station",
    "duid": "unit",
}
#: Step of a station's time-of-day profile (minutes), as the other profiles.
PROFILE_MINUTES: Final = 30


# -- running fetches ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome(Generic[T]):
    """What a fetch gave: a value, or the exception it raised."""

    value: T | None = None
    error: Exception | None = None


class Runner:
    """Runs fetches inline: ``apply`` is called before :meth:`submit` returns (tests, scripts)."""

    def submit(self, fetch: Callable[[], T], apply: Callable[[Outcome[T]], None]) -> None:
        """Compute ``fetch()`` and hand the outcome to ``apply``."""
        apply(_outcome(fetch))

    def call_soon(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` where the session's models may be changed (here: at once)."""
        callback()

    def close(self) -> None:
        """Drop whatever has not been applied yet (the session has ended)."""


def _outcome(fetch: Callable[[], T]) -> Outcome[T]:
    try:
        return Outcome(value=fetch())
    except Exception as exc:  # handed to the view, which says what went wrong
        return Outcome(error=exc)


class SessionRunner(Runner):
    """Runs fetches on a worker thread and applies them on the session's document.

    The query runs off the event loop (DuckDB releases the GIL), so one session's slow query does
    not hold up the others; the result is applied in a ``doc.add_next_tick_callback``, the one
    thread-safe way into a Bokeh document, which then holds the document lock.
    """

    def __init__(self, executor: Executor, doc: Any) -> None:
        self._executor = executor
        self._doc = doc
        self._closed = threading.Event()

    def submit(self, fetch: Callable[[], T], apply: Callable[[Outcome[T]], None]) -> None:
        if self._closed.is_set():
            return
        future = self._executor.submit(_outcome, fetch)

        def done(finished: Future[Outcome[T]]) -> None:
            outcome = finished.result()
            self.call_soon(lambda: apply(outcome))

        future.add_done_callback(done)

    def call_soon(self, callback: Callable[[], None]) -> None:
        if self._closed.is_set():
            return

        def guarded() -> None:
            if self._closed.is_set():
                return
            # As Panel's own scheduled callbacks do: with the session's document current,
            # Panel applies pane changes at once, in order with the raw Bokeh changes.
            with set_curdoc(self._doc):
                callback()

        try:
            self._doc.add_next_tick_callback(guarded)
        except Exception:  # the session went away between the check and the call
            log.debug("dashboard session closed; dropped an update", exc_info=True)

    def close(self) -> None:
        self._closed.set()


# -- the filters ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    """A snapshot of a session's filters, taken on its thread, handed to a fetch."""

    region: str
    range: str
    price_regions: tuple[str, ...]
    resolution: str | None
    """None: chosen by the point budget."""
    smoothing: int
    log_scale: bool
    envelope: bool
    event_threshold: float
    group_by: tuple[str, ...]
    pivot_regions: tuple[str, ...] | None
    """None: every region."""
    pivot_fuels: tuple[str, ...] | None
    """None: every fuel."""
    station: str
    duid: str
    version: int


@dataclass(frozen=True)
class Span:
    """The range of a view: aware NEM-time ``(start, end]`` and how it is described."""

    start: datetime
    end: datetime
    label: str

    @property
    def days(self) -> float:
        return (self.end - self.start) / timedelta(days=1)


def parse_range(text: str) -> tuple[str, str] | None:
    """``(first_day, last_day)`` of a custom range, or None for a preset."""
    found = CUSTOM_RANGE.match(text)
    return (found.group(1), found.group(2)) if found else None


def resolve_span(db: Database, text: str) -> Span | None:
    """The span of a range text (preset or custom days); None when the store is empty.

    Raises :class:`InvalidParameter` for a custom range whose days are not dates or whose last
    day is before its first.
    """
    custom = parse_range(text)
    if custom is None:
        if text not in PRESETS:
            raise InvalidParameter(
                f"unknown range {text!r}; use one of {', '.join(PRESETS)} or "
                "YYYY-MM-DD..YYYY-MM-DD",
                parameter="range",
                value=text,
                allowed=(*PRESETS, "YYYY-MM-DD..YYYY-MM-DD"),
                code="invalid_range",
            )
        found = preset_range(db, text)
        if found is None:
            return None
        start, end = found
        label = "everything in the store" if text == "all" else f"the last {text}"
        return Span(start, end, f"{label} ({_day_text(start)} to {_day_text(end)})")
    first, last = custom
    try:
        start = nemtime.parse_user_time(first)
        end = nemtime.parse_user_time(last, end_of_day=True)
    except ValueError as exc:
        raise InvalidParameter(
            f"range {text!r}: {exc}",
            parameter="range",
            value=text,
            allowed="YYYY-MM-DD..YYYY-MM-DD",
            code="invalid_range",
        ) from exc
    if end <= start:
        raise InvalidParameter(
            f"range {text!r} ends before it starts; give the first day, then the last",
            parameter="range",
            value=text,
            allowed="YYYY-MM-DD..YYYY-MM-DD",
            code="invalid_range",
        )
    return Span(start, end, f"{first} to {last} (whole days)")


def _day_text(value: datetime) -> str:
    return nemtime.to_naive(value).strftime("%Y-%m-%d %H:%M")


# -- the store ------------------------------------------------------------------------------------


class DataStore(param.Parameterized):
    """A session's filters, and the query-layer calls that answer them."""

    tab: param.Selector[str] = param.Selector(
        objects=list(TABS), default="today", doc="The tab shown."
    )
    region: param.Selector[str] = param.Selector(
        objects=REGION_CHOICES, default=NEM, doc="Generation tab: the NEM or one region."
    )
    range = param.String(
        default=DEFAULT_RANGE,
        regex=_RANGE_REGEX,
        doc="A preset (1d, 7d, 30d, 90d, 1y, all) or YYYY-MM-DD..YYYY-MM-DD (whole days).",
    )
    gen_view: param.Selector[str] = param.Selector(
        objects=list(GENERATION_VIEWS), default="mix", doc="Generation tab: the sub-tab shown."
    )
    price_regions = param.ListSelector(
        default=list(REGIONS), objects=list(REGIONS), doc="Prices tab: the regions drawn."
    )
    resolution: param.Selector[str] = param.Selector(
        objects=RESOLUTION_CHOICES,
        default=AUTO,
        doc="Prices tab: the resolution (auto: the point budget decides).",
    )
    smoothing = param.Integer(
        default=1, bounds=(1, 288), doc="Prices tab: moving average over this many points."
    )
    log_scale = param.Boolean(default=False, doc="Prices tab: a logarithmic price axis.")
    envelope = param.Boolean(default=False, doc="Prices tab: draw each bucket's min-max range.")
    event_threshold = param.Number(
        default=prices.HIGH_PRICE, bounds=(0, None), doc="Prices tab: high-price threshold, $/MWh."
    )
    group_by = param.ListSelector(
        default=["region", "fuel"],
        objects={"Region": "region", "Fuel": "fuel", "Station": "station", "DUID": "duid"},
        doc="Price analysis: the pivot's row keys, outermost first.",
    )
    pivot_regions = param.ListSelector(
        default=[], objects=list(REGIONS), doc="Price analysis: keep these regions (none: all)."
    )
    pivot_fuels = param.ListSelector(
        default=[],
        objects={FUEL_LABELS[f]: f for f in ALL_FUELS},
        doc="Price analysis: keep these fuels (none: all).",
    )
    station = param.String(default="", doc="Stations tab: the station (its registry name).")
    duid = param.String(default="", doc="Stations tab: one unit of it (empty: whole station).")
    version = param.Integer(default=-1, doc="The store version the session shows.")

    def __init__(self, db: Database, *, runner: Runner | None = None, **params: Any) -> None:
        super().__init__(**params)
        self.db = db
        self.runner = runner if runner is not None else Runner()
        self._synthetic: bool | None = None

    # -- state ------------------------------------------------------------------------------------

    def filters(self) -> Filters:
        """The current filters (read them on the session's thread, fetch with them anywhere)."""
        return Filters(
            region=self.region,
            range=self.range,
            price_regions=tuple(r for r in REGIONS if r in self.price_regions),
            resolution=None if self.resolution == AUTO else self.resolution,
            smoothing=self.smoothing,
            log_scale=self.log_scale,
            envelope=self.envelope,
            event_threshold=float(self.event_threshold),
            group_by=tuple(self.group_by),
            pivot_regions=tuple(self.pivot_regions) or None,
            pivot_fuels=tuple(self.pivot_fuels) or None,
            station=self.station.strip(),
            duid=self.duid.strip(),
            version=self.version,
        )

    def new_version(self, version: int) -> None:
        """The store moved on: views showing data redraw, the others on their next visit."""
        if version != self.version:
            log.debug("dashboard session: store version %d -> %d", self.version, version)
            self._synthetic = None
            self.version = version

    @property
    def synthetic(self) -> bool:
        """Whether the store holds the synthetic demo data (its manifest says so)."""
        if self._synthetic is None:
            self._synthetic = self.db.lake.get_state(SYNTHETIC_KEY) == "true"
        return self._synthetic

    def last_interval(self) -> datetime | None:
        """The newest price interval in the store (aware NEM time), from the manifest."""
        span = data_span(self.db)
        return None if span is None else span[1]

    def span(self, f: Filters | None = None) -> Span | None:
        """The range of the filters (None: the store is empty)."""
        return resolve_span(self.db, (f or self.filters()).range)

    def today_span(self) -> Span | None:
        """The last day: the Today tab's range (the ``1d`` preset, as warmed)."""
        return resolve_span(self.db, "1d")

    # -- Today ------------------------------------------------------------------------------------

    def latest_prices(self) -> pa.Table:
        """The last 12 prices per region with their 1 h and 24 h averages."""
        return prices.latest_prices(self.db)

    def today_mix(self, span: Span, region: str = NEM) -> pa.Table:
        """The generation mix of the last day (NEM or a region)."""
        return generation.generation_mix(self.db, region=region, start=span.start, end=span.end)

    def today_renewables(self, span: Span) -> pa.Table:
        """The NEM's renewable share over the last day."""
        return generation.renewable_share(self.db, region=NEM, start=span.start, end=span.end)

    def today_flows(self, span: Span) -> pa.Table:
        """Every interconnector over the last day, in AEMO's sign."""
        return interconnectors.interconnector_flows(self.db, start=span.start, end=span.end)

    def demand_now(self, span: Span) -> pa.Table:
        """Each region's demand at its latest interval: ``regionid``, ``bucket_end``, ``demand_mw``.

        Demand here is what the region consumed: its net generation by fuel (rooftop PV
        included, batteries charging and pumping subtracted) plus imports minus exports, from
        the region's last-day generation mix (warmed). AEMO's TOTALDEMAND (which leaves out
        rooftop PV) has no query function yet; this method is where it would plug in.
        """
        rows = []
        for region in REGIONS:
            mix = self.today_mix(span, region)
            if mix.num_rows == 0:
                continue
            last = pc.max(mix.column("bucket_end"))
            latest = mix.filter(pc.equal(mix.column("bucket_end"), last))
            total = pc.sum(latest.column("mw")).as_py()
            rows.append({"regionid": region, "bucket_end": last.as_py(), "demand_mw": total})
        schema = pa.schema(
            [
                column("regionid", pa.string()),
                column("bucket_end", pa.timestamp("us")),
                column("demand_mw", pa.float64()),
            ]
        )
        return pa.Table.from_pylist(rows, schema=schema)

    # -- Generation -------------------------------------------------------------------------------

    def generation_mix(self, f: Filters, span: Span) -> pa.Table:
        """The mix by fuel (with imports/exports for a region) and the price, per bucket."""
        return generation.generation_mix(self.db, region=f.region, start=span.start, end=span.end)

    def generation_stats(self, f: Filters, span: Span) -> pa.Table:
        """Per fuel: average MW, GWh, share and volume-weighted price."""
        return generation.generation_stats(self.db, region=f.region, start=span.start, end=span.end)

    def capacity_utilisation(self, f: Filters, span: Span) -> pa.Table:
        """Capacity utilisation by fuel."""
        return generation.capacity_utilisation(
            self.db, region=f.region, start=span.start, end=span.end
        )

    def generation_time_of_day(self, f: Filters, span: Span) -> pa.Table:
        """Mean MW by half hour of the day, per series."""
        return generation.generation_time_of_day(
            self.db, region=f.region, start=span.start, end=span.end
        )

    def interconnector_flows(self, f: Filters, span: Span) -> pa.Table:
        """The region's interconnectors (positive = import), or all in AEMO's sign for the NEM."""
        if f.region == NEM:
            return interconnectors.interconnector_flows(self.db, start=span.start, end=span.end)
        return interconnectors.interconnector_flows(
            self.db, region=f.region, start=span.start, end=span.end
        )

    # -- Prices -----------------------------------------------------------------------------------

    def price_series(self, f: Filters, span: Span) -> pa.Table:
        """Price per bucket of the chosen regions (mean, min, max) at the chosen resolution."""
        table = prices.price_series(
            self.db, start=span.start, end=span.end, resolution=f.resolution
        )
        return keep_regions(table, f.price_regions)

    def price_stats(self, f: Filters, span: Span) -> pa.Table:
        """Price statistics of the chosen regions."""
        return keep_regions(
            prices.price_stats(self.db, start=span.start, end=span.end), f.price_regions
        )

    def price_bands(self, f: Filters, span: Span) -> pa.Table:
        """Time share and contribution of each price band, per chosen region."""
        return keep_regions(
            prices.price_bands(self.db, start=span.start, end=span.end), f.price_regions
        )

    def price_time_of_day(self, f: Filters, span: Span) -> pa.Table:
        """Mean price by half hour of the day, per chosen region."""
        return keep_regions(
            prices.price_time_of_day(self.db, start=span.start, end=span.end), f.price_regions
        )

    def high_price_events(self, f: Filters, span: Span) -> pa.Table:
        """Runs of intervals above the threshold in the chosen regions."""
        return keep_regions(
            prices.high_price_events(
                self.db, start=span.start, end=span.end, threshold=f.event_threshold
            ),
            f.price_regions,
        )

    # -- Price analysis ---------------------------------------------------------------------------

    def pivot_levels(self, f: Filters, span: Span) -> list[pa.Table]:
        """The pivot at each depth of the grouping: the total, then one table per key added."""
        levels = []
        for depth in range(len(f.group_by) + 1):
            levels.append(
                analysis.pivot(
                    self.db,
                    group_by=f.group_by[:depth],
                    start=span.start,
                    end=span.end,
                    regions=f.pivot_regions,
                    fuels=f.pivot_fuels,
                )
            )
        return levels

    # -- Stations ---------------------------------------------------------------------------------

    def station_search(self, text: str, limit: int = 20) -> pa.Table:
        """Units whose DUID or station name matches ``text``, best first."""
        return stations.station_search(self.db, query=text, limit=limit)

    def _who(self, f: Filters) -> tuple[str | None, str | None]:
        """``(station, duid)``: the unit when one is chosen, else the station."""
        if f.duid:
            return None, f.duid
        if f.station:
            return f.station, None
        raise InvalidParameter(
            "choose a station first: search by name or DUID",
            parameter="station",
            value="",
            code="missing_station",
        )

    def station_summary(self, f: Filters, span: Span) -> stations.StationSummary:
        """Energy, revenue, average price, capacity factor, peak, running hours."""
        station, duid = self._who(f)
        return stations.station_summary(
            self.db, station=station, duid=duid, start=span.start, end=span.end
        )

    def station_series(self, f: Filters, span: Span) -> pa.Table:
        """Output per bucket and unit."""
        station, duid = self._who(f)
        return stations.station_series(
            self.db, station=station, duid=duid, start=span.start, end=span.end
        )

    def station_prices(self, span: Span, region: str) -> pa.Table:
        """The price of the station's region over the same buckets as its output."""
        table = prices.price_series(self.db, start=span.start, end=span.end)
        return keep_regions(table, (region,))

    def station_time_of_day(self, f: Filters, span: Span) -> pa.Table:
        """Mean MW of the station (or unit) by half hour of the day (hourly for long ranges).

        ``mw`` = mean over the days of the range of the station's mean output in each half hour
        ending at ``minute_of_day`` (30 .. 1440, period-ending), from its 30-minute series. No
        query function gives a station's profile yet; this one call stands for it.
        """
        step = Resolution.THIRTY_MINUTES
        if count_points(span.start, span.end, step) > MAX_FORCED_POINTS:
            step = Resolution.HOUR
        station, duid = self._who(f)
        series = stations.station_series(
            self.db, station=station, duid=duid, start=span.start, end=span.end, resolution=step
        )
        return time_of_day_profile(series)


# -- helpers shared by the views ------------------------------------------------------------------


def keep_regions(table: pa.Table, regions: Sequence[str]) -> pa.Table:
    """The rows of ``regions`` (a filtered view; the cached table itself is not changed)."""
    if set(regions) >= set(REGIONS):
        return table
    mask = pc.is_in(table.column("regionid"), value_set=pa.array(list(regions), pa.string()))
    return table.filter(mask)


def wide(
    table: pa.Table, *, index: str, columns: str, values: str, names: Sequence[str]
) -> dict[str, Any]:
    """A long table as columns for a ``ColumnDataSource``: ``index`` and one column per name.

    Names absent from the table are zeros (a stacked area needs every stacker); the index is
    sorted. Timestamps stay naive NEM wall-clock values, which Bokeh draws as they are.
    """
    frame = table.select([index, columns, values]).to_pandas()
    pivoted = frame.pivot_table(index=index, columns=columns, values=values, aggfunc="sum")
    pivoted = pivoted.reindex(columns=list(names)).fillna(0.0).sort_index()
    data: dict[str, Any] = {index: pivoted.index.to_numpy()}
    for name in names:
        data[name] = pivoted[name].to_numpy(dtype="float64")
    return data


def per_bucket(table: pa.Table, *, index: str, value: str) -> np.ndarray[Any, Any]:
    """The first ``value`` of each distinct ``index`` in sorted order (e.g. a mix's price)."""
    frame = table.select([index, value]).to_pandas()
    first = frame.groupby(index, sort=True)[value].first()
    return first.to_numpy(dtype="float64")


def moving_average(values: np.ndarray[Any, Any], window: int) -> np.ndarray[Any, Any]:
    """Trailing mean over ``window`` points (fewer at the start); NaN points are skipped."""
    if window <= 1:
        return values
    series = pd.Series(values, dtype="float64")
    return series.rolling(window, min_periods=1).mean().to_numpy()


def time_of_day_profile(series: pa.Table) -> pa.Table:
    """Mean total MW by time of day of a station's series (``bucket_end``, ``duid``, ``mw_mean``).

    The units' means are summed per bucket first (the station's output), then averaged over the
    buckets sharing a time of day. ``minute_of_day`` is period-ending: 1440 is the bucket ending
    at midnight.
    """
    schema = pa.schema(
        [
            column("minute_of_day", pa.int64()),
            column("time_of_day", pa.string()),
            column("mw", pa.float64()),
            column("buckets", pa.int64()),
        ]
    )
    if series.num_rows == 0:
        return schema.empty_table()
    frame = series.select(["bucket_end", "mw_mean"]).to_pandas()
    total = frame.groupby("bucket_end", sort=True)["mw_mean"].sum()
    stamps = pd.DatetimeIndex(total.index)
    clock = (stamps.hour * 60 + stamps.minute).to_numpy()
    minutes = np.where(clock == 0, 1440, clock)  # period-ending: midnight closes the day
    profile = total.groupby(minutes).agg(["mean", "count"]).sort_index()
    minute = profile.index.to_numpy(dtype="int64")
    labels = [f"{m // 60:02d}:{m % 60:02d}" for m in minute]
    return pa.table(
        {
            "minute_of_day": pa.array(minute, pa.int64()),
            "time_of_day": pa.array(labels, pa.string()),
            "mw": pa.array(profile["mean"].to_numpy(dtype="float64"), pa.float64()),
            "buckets": pa.array(profile["count"].to_numpy(dtype="int64"), pa.int64()),
        },
        schema=schema,
    )


def csv_bytes(table: pa.Table, *, synthetic: bool) -> io.BytesIO:
    """The table as the API's CSV (units in the header names, ``+10:00`` timestamps)."""
    return io.BytesIO(render_csv(table, units_of(table), synthetic=synthetic))


def table_range(table: pa.Table) -> str:
    """``2024-03-01T00:00..2024-03-08T00:00`` from a result's metadata, for file names."""
    meta = table.schema.metadata or {}
    start = meta.get(b"nemdash.start", b"").decode()[:16]
    end = meta.get(b"nemdash.end", b"").decode()[:16]
    return f"{start}..{end}" if start and end else ""


__all__ = [
    "AUTO",
    "DEFAULT_RANGE",
    "GENERATION_VIEWS",
    "RESOLUTIONS",
    "TABS",
    "URL_PARAMETERS",
    "DataStore",
    "Filters",
    "Outcome",
    "Runner",
    "SessionRunner",
    "Span",
    "csv_bytes",
    "keep_regions",
    "moving_average",
    "parse_range",
    "per_bucket",
    "resolve_span",
    "table_range",
    "time_of_day_profile",
    "wide",
]
