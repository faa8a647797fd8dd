"""The hot set: the dashboard's default views, for every region and preset range, as calls.

The cache warmer (:func:`nemdash.query.cache.warm`) runs these at start-up and after each refresh
so that the first visitor after new data finds every default view computed. A cache key is the
function, its parameters and the store version, so the warm-up only helps if the dashboard asks
*exactly* the same calls: it must take its ranges from :func:`preset_range` and leave the
parameters it does not set at their defaults (``regions=None`` for all regions, not a list).

Preset ranges end at the end of the half hour holding the latest interval in the store (so the
current half hour shows, flagged partial) and reach back a whole number of days; ``all`` starts
at the midnight before the first interval. Times are NEM time (UTC+10), period-ending.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Final

from nemdash import nemtime
from nemdash.errors import QueryError
from nemdash.query.connection import Database
from nemdash.query.generation import (
    capacity_utilisation,
    generation_mix,
    generation_stats,
    generation_time_of_day,
    renewable_share,
)
from nemdash.query.interconnectors import interconnector_flows
from nemdash.query.metadata import NEM, fuels, time_span
from nemdash.query.prices import (
    high_price_events,
    latest_prices,
    price_bands,
    price_series,
    price_stats,
    price_time_of_day,
)
from nemdash.tables import REGIONS

log = logging.getLogger(__name__)

#: Preset ranges of the dashboard: their length (None: everything in the store).
PRESETS: Final[Mapping[str, timedelta | None]] = {
    "1d": timedelta(days=1),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
    "90d": timedelta(days=90),
    "1y": timedelta(days=365),
    "all": None,
}

#: The table whose first and last interval anchor the presets.
_ANCHOR_TABLE = "dispatch_price"


def data_span(db: Database) -> tuple[datetime, datetime] | None:
    """First and last interval end of the prices in the store (aware NEM time), from the
    manifest; None for an empty store."""
    span = time_span(db, _ANCHOR_TABLE)
    if span is None:
        return None
    return nemtime.from_naive(span[0]), nemtime.from_naive(span[1])


def preset_range(
    db: Database, preset: str, *, at: datetime | None = None
) -> tuple[datetime, datetime] | None:
    """``(start, end)`` of a preset (aware NEM time), or None for an empty store.

    ``at`` (aware) stands for the latest interval (default: the store's). ``end`` is the end of
    the half hour holding it; ``start`` is ``end`` minus the preset's length, or for ``all`` the
    midnight before the store's first interval.
    """
    if preset not in PRESETS:
        raise QueryError(f"unknown preset range {preset!r}; use one of {', '.join(PRESETS)}")
    span = data_span(db)
    if at is not None:
        latest = nemtime.ensure_aware(at)
    elif span is not None:
        latest = span[1]
    else:
        return None
    end = nemtime.interval_ending(latest, 30)
    length = PRESETS[preset]
    if length is not None:
        return end - length, end
    first = span[0] if span is not None else end - timedelta(days=1)
    start = datetime.combine((first - timedelta(microseconds=1)).date(), time(), first.tzinfo)
    return start, end


@dataclass(frozen=True)
class HotCall:
    """One call of a cached query function with fixed keyword arguments."""

    function: Callable[..., object]
    db: Database = field(repr=False)
    kwargs: tuple[tuple[str, object], ...]

    def __call__(self) -> object:
        return self.function(self.db, **dict(self.kwargs))

    @property
    def name(self) -> str:
        return str(getattr(self.function, "__name__", self.function))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.kwargs)
        return f"{self.name}({args})"


def hot_set(
    db: Database,
    *,
    presets: Iterable[str] = tuple(PRESETS),
    at: datetime | None = None,
) -> list[HotCall]:
    """The dashboard's default calls for every preset range and region, most used first.

    Per preset: the prices tab for all regions (series, statistics, bands, time of day,
    high-price events); the generation tab for the NEM and each region (mix, renewable share,
    statistics, utilisation, time of day); the interconnector flows in AEMO's sign (the NEM's
    view) and from each region. Once: the latest prices and the fuel list. Shorter presets come
    first, as they are looked at most. Empty for an empty store.
    """

    def call(function: Callable[..., object], **kwargs: object) -> HotCall:
        return HotCall(function, db, tuple(kwargs.items()))

    ranges = []
    for preset in presets:
        span = preset_range(db, preset, at=at)
        if span is None:
            return []
        ranges.append(span)
    calls = [call(latest_prices), call(fuels)]
    for start, end in ranges:
        bounds = {"start": start, "end": end}
        calls += [
            call(price_series, **bounds),
            call(price_stats, **bounds),
            call(price_bands, **bounds),
            call(price_time_of_day, **bounds),
            call(high_price_events, **bounds),
        ]
        for area in (NEM, *REGIONS):
            calls += [
                call(generation_mix, region=area, **bounds),
                call(renewable_share, region=area, **bounds),
                call(generation_stats, region=area, **bounds),
                call(capacity_utilisation, region=area, **bounds),
                call(generation_time_of_day, region=area, **bounds),
            ]
        calls.append(call(interconnector_flows, **bounds))
        calls += [call(interconnector_flows, region=r, **bounds) for r in REGIONS]
    log.debug("hot set: %d calls over %d preset ranges", len(calls), len(ranges))
    return calls


__all__ = ["PRESETS", "HotCall", "data_span", "hot_set", "preset_range"]
