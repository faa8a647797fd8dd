"""``/api/v1/interconnectors/flows``: flows with limits, from AEMO's or one region's view.

A thin call of :func:`nemdash.query.interconnectors.interconnector_flows`. With ``region``,
positive flow is an import into that region and the limits are turned the same way; without,
AEMO's sign (positive from the first-named region to the second).
"""

from __future__ import annotations

from typing import Annotated

import pyarrow as pa
from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from nemdash.api.deps import (
    DEFAULT_POINTS,
    FormatQuery,
    InterconnectorId,
    MaxPointsQuery,
    RangeDep,
    RegionId,
    ResolutionQuery,
    RuntimeDep,
    check_points,
    values,
)
from nemdash.api.errors import ERROR_RESPONSES
from nemdash.api.formats import Format
from nemdash.api.models import InterconnectorFlows
from nemdash.api.routes import TABLE_RESPONSES
from nemdash.errors import InvalidParameter
from nemdash.query import interconnectors
from nemdash.query.connection import Database

router = APIRouter(prefix="/interconnectors", tags=["interconnectors"], responses=ERROR_RESPONSES)


@router.get(
    "/flows",
    response_model=InterconnectorFlows,
    responses=TABLE_RESPONSES,
    summary="Interconnector flows with limits",
)
async def flows(
    request: Request,
    runtime: RuntimeDep,
    window: RangeDep,
    region: Annotated[
        RegionId | None,
        Query(description="See the flows from this region: positive = import into it."),
    ] = None,
    interconnector: Annotated[
        list[InterconnectorId] | None,
        Query(description="Interconnectors (repeat for several). Default: all (of the region)."),
    ] = None,
    resolution: ResolutionQuery = None,
    max_points: MaxPointsQuery = DEFAULT_POINTS,
    fmt: FormatQuery = Format.json,
) -> Response:
    """Mean, min and max flow, dispatch target and import/export limits per bucket and
    interconnector."""
    chosen = values(interconnector)
    if region is not None and chosen is not None:
        adjacent = tuple(interconnectors.signs_for(region.value))
        outside = [i for i in chosen if i not in adjacent]
        if outside:
            raise InvalidParameter(
                f"interconnector {', '.join(outside)} does not touch {region.value}; "
                f"its interconnectors are {', '.join(adjacent)}",
                parameter="interconnector",
                value=outside,
                allowed=adjacent,
                code="invalid_interconnector",
            )

    def compute(db: Database) -> pa.Table:
        start, end = window.bounds(db)
        check_points(start, end, resolution)
        return interconnectors.interconnector_flows(
            db,
            region=region.value if region is not None else None,
            interconnectors=chosen,
            start=start,
            end=end,
            resolution=resolution,
            max_points=max_points,
        )

    return await runtime.table(request, fmt, compute, filename="interconnector-flows")
