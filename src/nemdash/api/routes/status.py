"""``/api/v1/status``: health for people and load balancers.

200 while the server can serve (``status`` ``ok``, or ``degraded`` when the data is stale or
NEMWEB is failing: the data it has is still served), 503 when it cannot (the manifest or the
lake cannot be read). It never needs a token, and it is never cached. What it reports:

* the collector: whether this server collects, which process does (``collector.lock``), whether
  it is alive, the last cycle (in the collecting process) and the failures in a row;
* per feed, from the collector's state in the manifest (``collector.<feed>.*``): the watermark
  (newest file handled), the lag now, the last success and the last error; a feed is **stale**
  when its lag exceeds ``stale_after`` and **failing** when its last error is newer than its
  last success;
* the query caches' and the response cache's counters, recent quarantined files and the
  background refresh's recent errors.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from nemdash import nemtime, tables
from nemdash.api.deps import SYNTHETIC_KEY, Runtime, RuntimeDep
from nemdash.api.models import (
    BackgroundProblem,
    CacheLayerStatus,
    CacheStatus,
    CollectorStatus,
    CycleSummary,
    FeedStatus,
    ProcessStatus,
    QuarantinedFile,
    ServerStatus,
)
from nemdash.collector.loop import state_key
from nemdash.query.cache import LayerStats, cache_for
from nemdash.refresh import RefreshState

log = logging.getLogger(__name__)

router = APIRouter(tags=["status"])

#: Quarantined files listed at most.
QUARANTINE_SHOWN = 10


def _when(text: str | None) -> datetime | None:
    """A time from the collector's state (ISO, naive NEM time or aware), or None."""
    if not text:
        return None
    try:
        return nemtime.ensure_aware(datetime.fromisoformat(text))
    except ValueError:
        return None


def feed_status(states: dict[str, str], feed: str, now: datetime, stale_after: float) -> FeedStatus:
    """One feed's state, lag and verdicts."""
    watermark = _when(states.get(state_key(feed, "watermark")))
    last_success = _when(states.get(state_key(feed, "last_success")))
    last_error_at = _when(states.get(state_key(feed, "last_error_at")))
    lag = (now - watermark).total_seconds() if watermark is not None else None
    return FeedStatus(
        feed=feed,
        watermark=watermark,
        lag_seconds=round(lag, 1) if lag is not None else None,
        stale=lag is None or lag > stale_after,
        last_success=last_success,
        last_error=states.get(state_key(feed, "last_error")),
        last_error_at=last_error_at,
        failing=last_error_at is not None
        and (last_success is None or last_error_at > last_success),
    )


def _layer(stats: LayerStats) -> CacheLayerStatus:
    return CacheLayerStatus(
        hits=stats.hits,
        misses=stats.misses,
        entries=stats.entries,
        bytes=stats.bytes,
        max_bytes=stats.max_bytes,
        hit_ratio=stats.hit_ratio,
    )


def _collector(state: RefreshState) -> CollectorStatus:
    cycle = state.last_cycle
    return CollectorStatus(
        enabled=state.collect,
        role=state.role,
        alive=state.collector_alive,
        pid=state.collector_pid,
        last_cycle=CycleSummary(
            started=cycle.started,
            finished=cycle.finished,
            files_ingested=cycle.ingested,
            files_quarantined=cycle.quarantined,
            files_failed=cycle.failed,
            nemweb_down=cycle.nemweb_down,
            store_version=cycle.version,
        )
        if cycle is not None
        else None,
        consecutive_failures=state.consecutive_failures,
    )


def _problems(
    runtime: Runtime, state: RefreshState, feeds: list[FeedStatus], collected: bool
) -> list[str]:
    """Why the server is degraded (empty when it is not)."""
    problems = []
    if state.role == "collector" and not state.collector_alive:
        problems.append("the collector thread has stopped (see recent_errors)")
    if state.role == "reader" and not state.collector_alive and state.collect:
        problems.append("no process holds the collector lock: nothing is collecting right now")
    if state.last_cycle is not None and state.last_cycle.nemweb_down:
        problems.append(
            f"NEMWEB was unreachable at the last cycle ({state.consecutive_failures} in a row); "
            "retrying with backoff"
        )
    if not (collected or state.collect):
        return problems  # a store filled by ingest or backfill only: feeds say nothing
    limit = runtime.settings.stale_after
    for feed in feeds:
        if feed.failing:
            problems.append(f"{feed.feed}: the last attempt failed: {feed.last_error}")
        if feed.watermark is None:
            problems.append(f"{feed.feed}: nothing collected yet")
        elif feed.stale:
            problems.append(
                f"{feed.feed}: stale, the newest file is {feed.lag_seconds or 0:,.0f} s old "
                f"(more than stale_after = {limit:g} s)"
            )
    return problems


@router.get(
    "/status",
    response_model=ServerStatus,
    responses={503: {"model": ServerStatus, "description": "The server cannot serve."}},
    summary="Health of the server, the collector and the data",
)
def server_status(runtime: RuntimeDep) -> JSONResponse:
    """Health for people and load balancers: 200 serving (ok or degraded), 503 not serving."""
    now = nemtime.now().replace(microsecond=0)
    state = runtime.refresher.state()
    problems: list[str] = []
    version: int | None = None
    synthetic: bool | None = None
    states: dict[str, str] = {}
    quarantine: list[QuarantinedFile] = []
    readable = True
    try:
        version = runtime.lake.version()
        synthetic = runtime.lake.get_state(SYNTHETIC_KEY) == "true"
        states = runtime.lake.states("collector.")
        quarantine = [
            QuarantinedFile(name=q.name, reason=q.reason, at=nemtime.ensure_aware(q.at))
            for q in runtime.lake.quarantined()[:QUARANTINE_SHOWN]
        ]
        runtime.db.refresh()
        runtime.db.query("SELECT 1", timeout=5.0)
    except Exception as exc:  # whatever it is, the answer is "cannot serve", and why
        log.error("status: the store cannot be read: %s", exc)
        readable = False
        problems.append(f"the store cannot be read: {exc}")
    feeds = [feed_status(states, feed, now, runtime.settings.stale_after) for feed in tables.FEEDS]
    collected = any(key.endswith(".watermark") for key in states)
    cache: CacheStatus | None = None
    if readable:
        problems += _problems(runtime, state, feeds, collected)
        try:
            stats = cache_for(runtime.db).stats()
            cache = CacheStatus(
                memory=_layer(stats.memory),
                disk=_layer(stats.disk),
                responses=runtime.responses.stats(),
            )
        except OSError as exc:
            problems.append(f"the query cache cannot be read: {exc}")
    verdict = "unavailable" if not readable else "degraded" if problems else "ok"
    body = ServerStatus(
        status=verdict,
        problems=problems,
        store_version=version,
        synthetic=synthetic,
        generated_at=now,
        process=ProcessStatus(
            pid=os.getpid(),
            started_at=runtime.started_at.replace(microsecond=0),
            uptime_seconds=round((now - runtime.started_at).total_seconds(), 1),
        ),
        collector=_collector(state),
        feeds=feeds,
        cache=cache,
        quarantine=quarantine,
        recent_errors=[
            BackgroundProblem(at=e.at, source=e.source, message=e.message) for e in state.errors
        ],
    )
    content: dict[str, Any] = body.model_dump(mode="json")
    return JSONResponse(
        content,
        status_code=200 if readable else 503,
        headers={"Cache-Control": "no-store"},
    )


@router.head("/status", include_in_schema=False)
def server_status_head(runtime: RuntimeDep) -> JSONResponse:
    """The same check for load balancers that ask with HEAD (no body is sent)."""
    return server_status(runtime)
