"""``/api/v1/generation/*``: the mix by fuel, per-fuel statistics, utilisation, time of day and
renewable share, for the NEM or one region.

Each route is a thin call of :mod:`nemdash.query.generation` (formulas there and in
``docs/queries.md``): energy = MW x hours, rooftop PV included as ``rooftop_solar``, battery
charging and exports as negative series, imports as their own.
"""

from __future__ import annotations

from typing import Final

import pyarrow as pa
from fastapi import APIRouter, Request
from starlette.responses import Response

from nemdash.api.deps import (
    DEFAULT_POINTS,
    Area,
    AreaQuery,
    FormatQuery,
    FuelsQuery,
    MaxPointsQuery,
    RangeDep,
    ResolutionQuery,
    RuntimeDep,
    check_points,
    values,
)
from nemdash.api.errors import ERROR_RESPONSES
from nemdash.api.formats import Format
from nemdash.api.models import (
    CapacityUtilisation,
    GenerationMix,
    GenerationProfile,
    GenerationStats,
    RenewableShare,
)
from nemdash.api.routes import TABLE_RESPONSES
from nemdash.query import generation
from nemdash.query.connection import Database

router = APIRouter(prefix="/generation", tags=["generation"], responses=ERROR_RESPONSES)

#: Units the column names do not say.
GENERATION_UNITS: Final = {"minute_of_day": ""}


@router.get(
    "/mix", response_model=GenerationMix, responses=TABLE_RESPONSES, summary="Generation mix"
)
async def mix(
    request: Request,
    runtime: RuntimeDep,
    window: RangeDep,
    region: AreaQuery = Area.NEM,
    resolution: ResolutionQuery = None,
    max_points: MaxPointsQuery = DEFAULT_POINTS,
    fmt: FormatQuery = Format.json,
) -> Response:
    """Mean MW and energy per bucket and fuel (imports, exports and charging as their own series),
    with the price on the same buckets."""

    def compute(db: Database) -> pa.Table:
        start, end = window.bounds(db)
        check_points(start, end, resolution)
        return generation.generation_mix(
            db,
            region=region.value,
            start=start,
            end=end,
            resolution=resolution,
            max_points=max_points,
        )

    return await runtime.table(
        request, fmt, compute, units=GENERATION_UNITS, filename="generation-mix"
    )


@router.get(
    "/stats",
    response_model=GenerationStats,
    responses=TABLE_RESPONSES,
    summary="Generation statistics per fuel",
)
async def stats(
    request: Request,
    runtime: RuntimeDep,
    window: RangeDep,
    region: AreaQuery = Area.NEM,
    fmt: FormatQuery = Format.json,
) -> Response:
    """Average MW, energy, share and volume-weighted price of each fuel over the range."""

    def compute(db: Database) -> pa.Table:
        start, end = window.bounds(db)
        return generation.generation_stats(db, region=region.value, start=start, end=end)

    return await runtime.table(
        request, fmt, compute, units=GENERATION_UNITS, filename="generation-stats"
    )


@router.get(
    "/utilisation",
    response_model=CapacityUtilisation,
    responses=TABLE_RESPONSES,
    summary="Capacity utilisation by fuel",
)
async def utilisation(
    request: Request,
    runtime: RuntimeDep,
    window: RangeDep,
    region: AreaQuery = Area.NEM,
    fmt: FormatQuery = Format.json,
) -> Response:
    """Energy / (capacity x hours) x 100 per fuel, naming the capacity used."""

    def compute(db: Database) -> pa.Table:
        start, end = window.bounds(db)
        return generation.capacity_utilisation(db, region=region.value, start=start, end=end)

    return await runtime.table(
        request, fmt, compute, units=GENERATION_UNITS, filename="generation-utilisation"
    )


@router.get(
    "/time-of-day",
    response_model=GenerationProfile,
    responses=TABLE_RESPONSES,
    summary="Generation by time of day",
)
async def time_of_day(
    request: Request,
    runtime: RuntimeDep,
    window: RangeDep,
    region: AreaQuery = Area.NEM,
    fuel: FuelsQuery = None,
    fmt: FormatQuery = Format.json,
) -> Response:
    """Mean MW by half hour of the day per series, over the range."""

    def compute(db: Database) -> pa.Table:
        start, end = window.bounds(db)
        return generation.generation_time_of_day(
            db, region=region.value, start=start, end=end, fuels=values(fuel)
        )

    return await runtime.table(
        request, fmt, compute, units=GENERATION_UNITS, filename="generation-time-of-day"
    )


@router.get(
    "/renewable-share",
    response_model=RenewableShare,
    responses=TABLE_RESPONSES,
    summary="Renewable share",
)
async def renewable_share(
    request: Request,
    runtime: RuntimeDep,
    window: RangeDep,
    region: AreaQuery = Area.NEM,
    resolution: ResolutionQuery = None,
    max_points: MaxPointsQuery = DEFAULT_POINTS,
    fmt: FormatQuery = Format.json,
) -> Response:
    """Renewable energy / total generation per bucket (batteries and imports in neither)."""

    def compute(db: Database) -> pa.Table:
        start, end = window.bounds(db)
        check_points(start, end, resolution)
        return generation.renewable_share(
            db,
            region=region.value,
            start=start,
            end=end,
            resolution=resolution,
            max_points=max_points,
        )

    return await runtime.table(
        request, fmt, compute, units=GENERATION_UNITS, filename="renewable-share"
    )
