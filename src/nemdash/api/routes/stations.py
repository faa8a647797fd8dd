"""``/api/v1/stations*``: search, a list with filters, a summary and a series per station or unit.

Thin calls of :mod:`nemdash.query.stations` and, for the list, of the pivot
(:func:`nemdash.query.analysis.pivot` grouped by station, region and fuel). A station is a group
of DUIDs sharing a name in the DUID registry; ``station`` takes that name (any case), ``duid``
one unit. Capacity factors name their denominator (``capacity_basis``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import pyarrow as pa
from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from nemdash import nemtime
from nemdash.api.deps import (
    DEFAULT_POINTS,
    FormatQuery,
    FuelsQuery,
    MaxPointsQuery,
    RangeDep,
    RegionsQuery,
    ResolutionQuery,
    RuntimeDep,
    check_points,
    values,
)
from nemdash.api.errors import ERROR_RESPONSES
from nemdash.api.formats import Format
from nemdash.api.models import (
    StationList,
    StationMatches,
    StationSeries,
    StationSummary,
    UnitFigures,
)
from nemdash.api.responses import StoreState
from nemdash.api.routes import TABLE_RESPONSES
from nemdash.errors import InvalidParameter
from nemdash.query import analysis, stations
from nemdash.query.connection import Database

router = APIRouter(tags=["stations"], responses=ERROR_RESPONSES)

StationQuery = Annotated[
    str | None,
    Query(min_length=1, max_length=100, description="A station name (any case), e.g. Eraring."),
]
DuidQuery = Annotated[
    str | None, Query(min_length=1, max_length=40, description="A unit's DUID, e.g. ER01.")
]


def _one_of(station: str | None, duid: str | None) -> None:
    """Refuse unless exactly one of ``station`` and ``duid`` is given."""
    if (station is None) == (duid is None):
        raise InvalidParameter(
            "give exactly one of station (a station name) or duid (a unit id); "
            "find them with /api/v1/stations/search?q=...",
            parameter="station" if station is None else "duid",
            value=station or duid,
            allowed=("station=<name>", "duid=<DUID>"),
            code="missing_parameter" if station is None else "invalid_parameter",
        )


@router.get(
    "/stations/search",
    response_model=StationMatches,
    responses=TABLE_RESPONSES,
    summary="Search stations and units",
)
async def search(
    request: Request,
    runtime: RuntimeDep,
    q: Annotated[
        str, Query(min_length=1, max_length=100, description="Part of a station name or DUID.")
    ],
    limit: Annotated[int, Query(ge=1, le=1000, description="Most results.")] = 20,
    fmt: FormatQuery = Format.json,
) -> Response:
    """Units whose DUID or station name matches: exact DUID, prefix, substring, then similar."""
    if not q.strip():
        raise InvalidParameter(
            "q is blank; give part of a station name or a DUID",
            parameter="q",
            value=q,
            allowed=("1 to 100 characters, not all spaces",),
        )

    def compute(db: Database) -> pa.Table:
        return stations.station_search(db, query=q, limit=limit)

    return await runtime.table(request, fmt, compute, units={"score": ""}, filename="stations")


@router.get(
    "/stations",
    response_model=StationList,
    responses=TABLE_RESPONSES,
    summary="Stations, filtered by region and fuel",
)
async def station_list(
    request: Request,
    runtime: RuntimeDep,
    window: RangeDep,
    region: RegionsQuery = None,
    fuel: FuelsQuery = None,
    fmt: FormatQuery = Format.json,
) -> Response:
    """Stations with output in the range (by region and fuel): energy, revenue, average price,
    capacity and utilisation."""

    def compute(db: Database) -> pa.Table:
        start, end = window.bounds(db)
        return analysis.pivot(
            db,
            group_by=("station", "region", "fuel"),
            start=start,
            end=end,
            regions=values(region),
            fuels=values(fuel),
        )

    return await runtime.table(request, fmt, compute, filename="stations")


def _aware(value: datetime) -> datetime:
    return nemtime.ensure_aware(value)


@router.get(
    "/stations/summary",
    response_model=StationSummary,
    summary="Summary of a station or unit",
)
async def summary(
    request: Request,
    runtime: RuntimeDep,
    window: RangeDep,
    station: StationQuery = None,
    duid: DuidQuery = None,
) -> Response:
    """Energy, revenue, average received price, capacity factor, peak and running hours of a
    station (or one unit), and the same per unit."""
    _one_of(station, duid)

    def compute(db: Database, state: StoreState) -> StationSummary:
        start, end = window.bounds(db)
        found = stations.station_summary(db, station=station, duid=duid, start=start, end=end)
        units = [UnitFigures.model_validate(row) for row in found.units.to_pylist()]
        fields: dict[str, Any] = {
            name: getattr(found, name)
            for name in StationSummary.model_fields
            if name not in ("meta", "units", "start", "end", "completeness")
        }
        return StationSummary(
            meta=state.meta(
                start=_aware(found.start),
                end=_aware(found.end),
                units={
                    "energy_mwh": "MWh",
                    "revenue": "$",
                    "average_price": "$/MWh",
                    "registered_capacity_mw": "MW",
                    "capacity_factor_pct": "%",
                    "peak_mw": "MW",
                    "running_hours": "hours",
                    "hours": "hours",
                },
            ),
            start=_aware(found.start),
            end=_aware(found.end),
            completeness=found.completeness,
            units=units,
            **fields,
        )

    return await runtime.model(request, compute)


@router.get(
    "/stations/series",
    response_model=StationSeries,
    responses=TABLE_RESPONSES,
    summary="Output series of a station or unit",
)
async def series(
    request: Request,
    runtime: RuntimeDep,
    window: RangeDep,
    station: StationQuery = None,
    duid: DuidQuery = None,
    resolution: ResolutionQuery = None,
    max_points: MaxPointsQuery = DEFAULT_POINTS,
    fmt: FormatQuery = Format.json,
) -> Response:
    """Mean, min and max MW and energy per bucket and unit of a station (or one unit)."""
    _one_of(station, duid)

    def compute(db: Database) -> pa.Table:
        start, end = window.bounds(db)
        check_points(start, end, resolution)
        return stations.station_series(
            db,
            station=station,
            duid=duid,
            start=start,
            end=end,
            resolution=resolution,
            max_points=max_points,
        )

    return await runtime.table(request, fmt, compute, filename="station-series")
