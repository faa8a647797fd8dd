"""``/api/v1/metadata/*``: regions, fuels, coverage per table, and the store itself."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pyarrow as pa
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.responses import Response

from nemdash import nemtime
from nemdash.api.deps import RuntimeDep
from nemdash.api.errors import ERROR_RESPONSES
from nemdash.api.models import (
    CoverageList,
    Fuel,
    FuelList,
    Region,
    RegionList,
    StoreInfo,
    TableCoverage,
)
from nemdash.api.responses import StoreState
from nemdash.query import metadata
from nemdash.query.connection import Database

router = APIRouter(prefix="/metadata", tags=["metadata"], responses=ERROR_RESPONSES)


def _aware(value: object) -> object:
    """Naive NEM-time datetimes of a query result as aware ones (for +10:00 in JSON)."""
    return nemtime.from_naive(value) if isinstance(value, datetime) else value


def _rows(table: pa.Table) -> list[dict[str, Any]]:
    return [{k: _aware(v) for k, v in row.items()} for row in table.to_pylist()]


@router.get("/regions", response_model=RegionList, summary="The NEM regions")
async def regions(request: Request, runtime: RuntimeDep) -> Response:
    """The five NEM regions, their names and the rooftop PV sub-regions that make them up."""

    def compute(db: Database, state: StoreState) -> RegionList:
        rows = [Region.model_validate(r) for r in _rows(metadata.regions(db))]
        return RegionList(meta=state.meta(rows=len(rows)), data=rows)

    return await runtime.model(request, compute)


@router.get("/fuels", response_model=FuelList, summary="The fuels")
async def fuels(request: Request, runtime: RuntimeDep) -> Response:
    """Every fuel a query may name, whether renewable or storage, with registered units and MW."""

    def compute(db: Database, state: StoreState) -> FuelList:
        rows = [Fuel.model_validate(r) for r in _rows(metadata.fuels(db))]
        return FuelList(
            meta=state.meta(rows=len(rows), units={"registered_capacity_mw": "MW"}), data=rows
        )

    return await runtime.model(request, compute)


@router.get("/coverage", response_model=CoverageList, summary="Coverage and freshness per table")
def coverage(runtime: RuntimeDep) -> JSONResponse:
    """Per table: rows, files, bytes, first and last interval and the lag behind now (not cached:
    the lag moves with the clock)."""
    state = runtime.store_state()
    rows = [
        TableCoverage.model_validate(r) for r in _rows(metadata.coverage_and_freshness(runtime.db))
    ]
    body = CoverageList(
        meta=state.meta(rows=len(rows), units={"lag_minutes": "minutes", "bytes": "bytes"}),
        data=rows,
    )
    return JSONResponse(body.model_dump(mode="json"), headers={"Cache-Control": "no-cache"})


@router.get("/store", response_model=StoreInfo, summary="The store version and synthetic flag")
async def store(request: Request, runtime: RuntimeDep) -> Response:
    """The store version, whether it holds the synthetic demo data, and its tables."""

    def compute(db: Database, state: StoreState) -> StoreInfo:
        history = db.lake.versions(limit=1)
        published = history[0].published_at if history else None
        return StoreInfo(
            meta=state.meta(),
            store_version=state.version,
            synthetic=state.synthetic,
            published_at=nemtime.ensure_aware(published) if published else None,
            tables=sorted(db.lake.tables()),
        )

    return await runtime.model(request, compute)
