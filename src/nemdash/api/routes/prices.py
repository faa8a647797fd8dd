"""``/api/v1/prices/*``: latest prices, series, statistics, bands, time of day, high-price events.

Each route is a thin call of :mod:`nemdash.query.prices` (formulas there and in
``docs/queries.md``). Prices are the regional reference price (RRP, $/MWh) of market dispatch
(intervention 0).
"""

from __future__ import annotations

from typing import Annotated, Final

import pyarrow as pa
from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from nemdash.api.deps import (
    DEFAULT_POINTS,
    FormatQuery,
    MaxPointsQuery,
    RangeDep,
    RegionsQuery,
    ResolutionQuery,
    RuntimeDep,
    check_points,
    parse_time,
    values,
)
from nemdash.api.errors import ERROR_RESPONSES
from nemdash.api.formats import Format
from nemdash.api.models import (
    HighPriceEvents,
    LatestPrices,
    PriceBands,
    PriceProfile,
    PriceSeries,
    PriceStats,
)
from nemdash.api.routes import TABLE_RESPONSES
from nemdash.errors import InvalidParameter
from nemdash.query import prices
from nemdash.query.connection import Database

router = APIRouter(prefix="/prices", tags=["prices"], responses=ERROR_RESPONSES)

#: Units the column names do not say.
PRICE_UNITS: Final = {
    "contribution": "$/MWh",
    "lower": "$/MWh",
    "upper": "$/MWh",
    "minute_of_day": "",
}


@router.get(
    "/latest", response_model=LatestPrices, responses=TABLE_RESPONSES, summary="Latest prices"
)
async def latest(
    request: Request,
    runtime: RuntimeDep,
    region: RegionsQuery = None,
    intervals: Annotated[
        int, Query(ge=1, le=2016, description="Intervals per region, newest last.")
    ] = 12,
    at: Annotated[
        str | None,
        Query(
            max_length=40,
            description="End of the last interval (default: the newest in the store).",
        ),
    ] = None,
    fmt: FormatQuery = Format.json,
) -> Response:
    """The last intervals' RRP per region, flags for negative and above $300, 1 h and 24 h means."""
    moment = parse_time(at, "at") if at is not None else None

    def compute(db: Database) -> pa.Table:
        return prices.latest_prices(db, regions=values(region), intervals=intervals, at=moment)

    return await runtime.table(request, fmt, compute, units=PRICE_UNITS, filename="prices-latest")


@router.get(
    "/series", response_model=PriceSeries, responses=TABLE_RESPONSES, summary="Price series"
)
async def series(
    request: Request,
    runtime: RuntimeDep,
    window: RangeDep,
    region: RegionsQuery = None,
    resolution: ResolutionQuery = None,
    max_points: MaxPointsQuery = DEFAULT_POINTS,
    fmt: FormatQuery = Format.json,
) -> Response:
    """Mean, min and max RRP per bucket and region, at the finest resolution within the budget."""

    def compute(db: Database) -> pa.Table:
        start, end = window.bounds(db)
        check_points(start, end, resolution)
        return prices.price_series(
            db,
            regions=values(region),
            start=start,
            end=end,
            resolution=resolution,
            max_points=max_points,
        )

    return await runtime.table(request, fmt, compute, units=PRICE_UNITS, filename="prices-series")


@router.get(
    "/stats", response_model=PriceStats, responses=TABLE_RESPONSES, summary="Price statistics"
)
async def stats(
    request: Request,
    runtime: RuntimeDep,
    window: RangeDep,
    region: RegionsQuery = None,
    fmt: FormatQuery = Format.json,
) -> Response:
    """Mean, min, max, std, negative and high-price counts, time-, generation- and load-weighted
    prices per region."""

    def compute(db: Database) -> pa.Table:
        start, end = window.bounds(db)
        return prices.price_stats(db, regions=values(region), start=start, end=end)

    return await runtime.table(request, fmt, compute, units=PRICE_UNITS, filename="prices-stats")


@router.get("/bands", response_model=PriceBands, responses=TABLE_RESPONSES, summary="Price bands")
async def bands(
    request: Request,
    runtime: RuntimeDep,
    window: RangeDep,
    region: RegionsQuery = None,
    fmt: FormatQuery = Format.json,
) -> Response:
    """Time share, mean price and contribution to the mean of the bands below $0, $0-300,
    $300-1,000 and above $1,000."""

    def compute(db: Database) -> pa.Table:
        start, end = window.bounds(db)
        return prices.price_bands(db, regions=values(region), start=start, end=end)

    return await runtime.table(request, fmt, compute, units=PRICE_UNITS, filename="prices-bands")


@router.get(
    "/time-of-day",
    response_model=PriceProfile,
    responses=TABLE_RESPONSES,
    summary="Prices by time of day",
)
async def time_of_day(
    request: Request,
    runtime: RuntimeDep,
    window: RangeDep,
    region: RegionsQuery = None,
    step_minutes: Annotated[
        int, Query(description="5 or 30: the time-of-day step (period-ending).")
    ] = 30,
    fmt: FormatQuery = Format.json,
) -> Response:
    """Mean, min and max RRP by 5- or 30-minute time of day over the range, per region."""
    if step_minutes not in (5, 30):
        raise InvalidParameter(
            f"step_minutes must be 5 or 30, got {step_minutes}",
            parameter="step_minutes",
            value=step_minutes,
            allowed=("5", "30"),
        )

    def compute(db: Database) -> pa.Table:
        start, end = window.bounds(db)
        return prices.price_time_of_day(
            db, regions=values(region), start=start, end=end, step_minutes=step_minutes
        )

    return await runtime.table(
        request, fmt, compute, units=PRICE_UNITS, filename="prices-time-of-day"
    )


@router.get(
    "/events",
    response_model=HighPriceEvents,
    responses=TABLE_RESPONSES,
    summary="High-price events",
)
async def events(
    request: Request,
    runtime: RuntimeDep,
    window: RangeDep,
    region: RegionsQuery = None,
    threshold: Annotated[
        float,
        Query(ge=-1000, le=100_000, description="RRP ($/MWh) an interval must exceed."),
    ] = prices.HIGH_PRICE,
    min_intervals: Annotated[
        int, Query(ge=1, le=105_408, description="Shortest run kept, in 5-minute intervals.")
    ] = 1,
    fmt: FormatQuery = Format.json,
) -> Response:
    """Runs of consecutive 5-minute intervals with RRP above the threshold, per region."""

    def compute(db: Database) -> pa.Table:
        start, end = window.bounds(db)
        return prices.high_price_events(
            db,
            regions=values(region),
            start=start,
            end=end,
            threshold=threshold,
            min_intervals=min_intervals,
        )

    return await runtime.table(
        request, fmt, compute, units={**PRICE_UNITS, "threshold": "$/MWh"}, filename="prices-events"
    )
