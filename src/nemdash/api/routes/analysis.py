"""``/api/v1/analysis/pivot``: energy, revenue, average price, capacity and utilisation grouped
by any ordered subset of region, fuel, station and DUID.

A thin call of :func:`nemdash.query.analysis.pivot` (formulas there): every measure is a sum or a
ratio of sums, so the rows of any grouping add up to the ungrouped total.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import pyarrow as pa
from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from nemdash.api.deps import FormatQuery, FuelsQuery, RangeDep, RegionsQuery, RuntimeDep, values
from nemdash.api.errors import ERROR_RESPONSES
from nemdash.api.formats import Format
from nemdash.api.models import PivotTable
from nemdash.api.routes import TABLE_RESPONSES
from nemdash.errors import InvalidParameter
from nemdash.query import analysis
from nemdash.query.connection import Database

router = APIRouter(prefix="/analysis", tags=["analysis"], responses=ERROR_RESPONSES)


class PivotKey(StrEnum):
    """A key the pivot groups by (``analysis.PIVOT_KEYS``)."""

    region = "region"
    fuel = "fuel"
    station = "station"
    duid = "duid"


@router.get("/pivot", response_model=PivotTable, responses=TABLE_RESPONSES, summary="The pivot")
async def pivot(
    request: Request,
    runtime: RuntimeDep,
    window: RangeDep,
    group_by: Annotated[
        list[PivotKey] | None,
        Query(description="Keys in order (repeat), e.g. region then fuel. None: one total."),
    ] = None,
    region: RegionsQuery = None,
    fuel: FuelsQuery = None,
    fmt: FormatQuery = Format.json,
) -> Response:
    """Energy, revenue, average price, capacity and utilisation per group of units."""
    keys = values(group_by) or []
    repeated = sorted({k for k in keys if keys.count(k) > 1})
    if repeated:
        raise InvalidParameter(
            f"group_by names {', '.join(repeated)} more than once",
            parameter="group_by",
            value=keys,
            allowed=tuple(k.value for k in PivotKey),
        )

    def compute(db: Database) -> pa.Table:
        start, end = window.bounds(db)
        return analysis.pivot(
            db,
            group_by=tuple(keys),
            start=start,
            end=end,
            regions=values(region),
            fuels=values(fuel),
        )

    return await runtime.table(request, fmt, compute, filename="pivot")
