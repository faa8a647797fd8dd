"""Pydantic models of the API's responses, named for what they are.

Times are ISO 8601 with the ``+10:00`` offset (NEM time, UTC+10, period-ending). Series
responses are rendered straight from Arrow for speed (:mod:`nemdash.api.formats`); their models
here document that JSON exactly (a schemathesis test checks every response against them).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

# -- shared ---------------------------------------------------------------------------------------


class Meta(BaseModel):
    """What every data response says about itself."""

    model_config = ConfigDict(extra="forbid")

    store_version: int = Field(description="The store version the data was read at.")
    synthetic: bool = Field(description="True when the store holds the synthetic demo data.")
    generated_at: datetime = Field(description="When this response was computed (NEM time).")
    rows: int | None = Field(default=None, description="Rows in `data` (tables only).")
    units: dict[str, str] = Field(
        default_factory=dict, description="Unit of each numeric column (`$/MWh`, `MW`, ...)."
    )
    start: datetime | None = Field(
        default=None, description="Start of the effective range (exclusive, period-ending)."
    )
    end: datetime | None = Field(default=None, description="End of the effective range.")
    resolution: str | None = Field(default=None, description="Resolution of a series.")
    notes: dict[str, str] = Field(
        default_factory=dict, description="Other facts the query recorded (e.g. the threshold)."
    )


class ErrorDetail(BaseModel):
    """What went wrong, and what would be accepted."""

    status: int = Field(description="The HTTP status, repeated.")
    code: str = Field(description="A stable reason, e.g. `invalid_region`, `range_too_long`.")
    message: str = Field(description="What was wrong and what to do instead.")
    parameter: str | None = Field(default=None, description="The parameter at fault.")
    value: str | None = Field(default=None, description="The value given, as received.")
    allowed: list[str] | None = Field(default=None, description="What would be accepted.")
    limit: int | None = Field(default=None, description="The limit exceeded, where one was.")


class ErrorResponse(BaseModel):
    """The one error shape of the API (every 4xx and 5xx)."""

    error: ErrorDetail


# -- status ---------------------------------------------------------------------------------------


class CycleSummary(BaseModel):
    """The last collection cycle this process ran."""

    started: datetime
    finished: datetime | None
    files_ingested: int
    files_quarantined: int
    files_failed: int
    nemweb_down: bool
    store_version: int | None = Field(description="Version it published, if any.")


class CollectorStatus(BaseModel):
    """Who collects, and how it goes."""

    enabled: bool = Field(description="Whether this server is configured to collect.")
    role: Literal["collector", "reader", "off"] = Field(
        description="`collector`: this process collects; `reader`: another process does; "
        "`off`: no server process collects."
    )
    alive: bool = Field(description="The collecting thread or process is running.")
    pid: int | None = Field(description="PID of the collecting process.")
    last_cycle: CycleSummary | None = Field(description="Only in the collecting process.")
    consecutive_failures: int = Field(description="Cycles in a row that found NEMWEB down.")


class FeedStatus(BaseModel):
    """One NEMWEB feed, from the collector's state in the manifest."""

    feed: str
    watermark: datetime | None = Field(description="Time of the newest file handled.")
    lag_seconds: float | None = Field(description="Now minus the watermark.")
    stale: bool = Field(description="Lag above the `stale_after` setting (or never collected).")
    last_success: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    failing: bool = Field(description="The last attempt failed (error newer than success).")


class CacheLayerStatus(BaseModel):
    """Counters of one cache layer (this process) and its size."""

    hits: int
    misses: int
    entries: int
    bytes: int
    max_bytes: int
    hit_ratio: float | None


class CacheStatus(BaseModel):
    """The query caches and the rendered-response cache of this process."""

    memory: CacheLayerStatus
    disk: CacheLayerStatus
    responses: CacheLayerStatus


class QuarantinedFile(BaseModel):
    """A source file that could not be ingested."""

    name: str
    reason: str
    at: datetime


class BackgroundProblem(BaseModel):
    """An error the background refresh met and went past."""

    at: datetime
    source: str
    message: str


class ProcessStatus(BaseModel):
    """This server process."""

    pid: int
    started_at: datetime
    uptime_seconds: float


class ServerStatus(BaseModel):
    """Health for people and load balancers: 200 when it can serve, 503 when it cannot."""

    status: Literal["ok", "degraded", "unavailable"] = Field(
        description="`ok`; `degraded`: serving, but data stale or NEMWEB failing; "
        "`unavailable`: cannot serve (503)."
    )
    problems: list[str] = Field(description="Why it is not `ok`, one line each.")
    store_version: int | None
    synthetic: bool | None
    generated_at: datetime
    process: ProcessStatus
    collector: CollectorStatus
    feeds: list[FeedStatus]
    cache: CacheStatus | None
    quarantine: list[QuarantinedFile] = Field(description="The most recent, newest first.")
    recent_errors: list[BackgroundProblem] = Field(description="Newest first.")


# -- metadata -------------------------------------------------------------------------------------


class Region(BaseModel):
    """A NEM region."""

    regionid: str
    name: str
    rooftop_subregions: list[str] = Field(
        description="Rooftop PV sub-regions that make it up (never add them to the region)."
    )


class RegionList(BaseModel):
    """The NEM regions."""

    meta: Meta
    data: list[Region]


class Fuel(BaseModel):
    """A fuel of the taxonomy, with the registry's units and capacity."""

    fuel: str
    label: str
    renewable: bool
    storage: bool
    units: int
    registered_capacity_mw: float | None


class FuelList(BaseModel):
    """Every fuel a query may name."""

    meta: Meta
    data: list[Fuel]


class TableCoverage(BaseModel):
    """Rows, files and time span of one table, from the manifest."""

    table: str
    kind: str = Field(description="`aemo`, `rollup` or `registry`.")
    rows: int
    files: int
    bytes: int
    first_interval: datetime | None
    last_interval: datetime | None
    lag_minutes: float | None = Field(description="Now minus the last interval end.")
    store_version: int


class CoverageList(BaseModel):
    """What the store holds, per table."""

    meta: Meta
    data: list[TableCoverage]


class StoreInfo(BaseModel):
    """The store: its version, whether it is the synthetic demo, and when it last changed."""

    meta: Meta
    store_version: int
    synthetic: bool
    published_at: datetime | None = Field(description="When the current version was published.")
    tables: list[str] = Field(description="Tables with data.")


# -- prices ---------------------------------------------------------------------------------------


class LatestPrice(BaseModel):
    """One recent interval of one region, with its 1 h and 24 h averages."""

    regionid: str
    interval_end: datetime
    rrp: float | None
    negative: bool | None
    above_300: bool | None
    rrp_avg_1h: float | None
    intervals_1h: int | None
    rrp_avg_24h: float | None
    intervals_24h: int | None


class LatestPrices(BaseModel):
    """The last intervals per region."""

    meta: Meta
    data: list[LatestPrice]


class PricePoint(BaseModel):
    """RRP over one bucket of one region ($/MWh)."""

    bucket_end: datetime
    regionid: str
    rrp_mean: float | None
    rrp_min: float | None
    rrp_max: float | None
    intervals: int
    completeness: float | None


class PriceSeries(BaseModel):
    """Prices per bucket and region."""

    meta: Meta
    data: list[PricePoint]


class RegionPriceStats(BaseModel):
    """Price statistics of one region over the range ($/MWh)."""

    regionid: str
    intervals: int
    expected_intervals: int
    completeness: float | None
    rrp_mean: float | None
    rrp_min: float | None
    rrp_max: float | None
    rrp_std: float | None
    negative_intervals: int
    above_300_intervals: int
    above_1000_intervals: int
    generation_weighted_rrp: float | None
    load_weighted_rrp: float | None


class PriceStats(BaseModel):
    """Price statistics per region."""

    meta: Meta
    data: list[RegionPriceStats]


class PriceBand(BaseModel):
    """One price band of one region."""

    regionid: str
    band: str
    lower: float | None
    upper: float | None
    intervals: int
    time_share_pct: float | None
    rrp_mean: float | None
    contribution: float | None


class PriceBands(BaseModel):
    """Time share, mean and contribution of each price band, per region."""

    meta: Meta
    data: list[PriceBand]


class PriceTimeOfDay(BaseModel):
    """Mean, min and max RRP at one time of day (period-ending)."""

    regionid: str
    minute_of_day: int
    time_of_day: str
    rrp_mean: float | None
    rrp_min: float | None
    rrp_max: float | None
    intervals: int


class PriceProfile(BaseModel):
    """Prices by time of day, per region."""

    meta: Meta
    data: list[PriceTimeOfDay]


class HighPriceEvent(BaseModel):
    """A run of consecutive intervals above the threshold."""

    regionid: str
    event_start: datetime
    event_end: datetime
    intervals: int
    duration_minutes: int
    peak_rrp: float | None
    peak_interval_end: datetime | None
    mean_rrp: float | None


class HighPriceEvents(BaseModel):
    """High-price events, in time order."""

    meta: Meta
    data: list[HighPriceEvent]


# -- generation -----------------------------------------------------------------------------------


class MixPoint(BaseModel):
    """One series (fuel, battery charging, imports...) over one bucket."""

    bucket_end: datetime
    series: str
    mw: float | None
    energy_mwh: float | None
    completeness: float | None
    rrp: float | None


class GenerationMix(BaseModel):
    """Generation by fuel per bucket, with the price."""

    meta: Meta
    data: list[MixPoint]


class FuelStats(BaseModel):
    """Output, energy, share and received price of one fuel over the range."""

    fuel: str
    average_mw: float | None
    energy_gwh: float | None
    generated_gwh: float | None
    consumed_gwh: float | None
    share_pct: float | None
    volume_weighted_rrp: float | None
    consumption_weighted_rrp: float | None
    completeness: float | None


class GenerationStats(BaseModel):
    """Per-fuel statistics, largest first."""

    meta: Meta
    data: list[FuelStats]


class FuelUtilisation(BaseModel):
    """Capacity utilisation of one fuel (its capacity basis named)."""

    fuel: str
    generated_mwh: float | None
    capacity_mwh: float | None
    capacity_mw: float | None
    utilisation_pct: float | None
    registered_capacity_mw: float | None
    capacity_basis: str | None


class CapacityUtilisation(BaseModel):
    """Utilisation by fuel."""

    meta: Meta
    data: list[FuelUtilisation]


class GenerationTimeOfDay(BaseModel):
    """Mean MW of one series at one half hour of the day."""

    series: str
    minute_of_day: int
    time_of_day: str
    mw: float | None


class GenerationProfile(BaseModel):
    """Generation by time of day, per series."""

    meta: Meta
    data: list[GenerationTimeOfDay]


class RenewablePoint(BaseModel):
    """Renewable share of one bucket."""

    bucket_end: datetime
    renewable_mwh: float | None
    total_mwh: float | None
    share_pct: float | None
    completeness: float | None


class RenewableShare(BaseModel):
    """Renewable share per bucket."""

    meta: Meta
    data: list[RenewablePoint]


# -- interconnectors ------------------------------------------------------------------------------


class FlowPoint(BaseModel):
    """Mean flow and limits of one interconnector over one bucket (positive = import)."""

    bucket_end: datetime
    interconnectorid: str
    from_regionid: str
    to_regionid: str
    flow_mw: float | None
    flow_min_mw: float | None
    flow_max_mw: float | None
    target_mw: float | None
    import_limit_mw: float | None
    export_limit_mw: float | None
    intervals: int
    completeness: float | None


class InterconnectorFlows(BaseModel):
    """Flows with limits per bucket and interconnector."""

    meta: Meta
    data: list[FlowPoint]


# -- stations -------------------------------------------------------------------------------------


class StationMatch(BaseModel):
    """A unit matching a search, with how it matched."""

    duid: str
    station_name: str | None
    participant: str | None
    regionid: str | None
    fuel: str | None
    registered_capacity_mw: float | None
    match: str = Field(description="`duid`, `prefix`, `substring` or `similar` (best first).")
    score: float | None


class StationMatches(BaseModel):
    """Search results, best first."""

    meta: Meta
    data: list[StationMatch]


class PivotRow(BaseModel):
    """Figures of one group of units (only the grouped keys are present)."""

    regionid: str | None = None
    fuel: str | None = None
    station_name: str | None = None
    duid: str | None = None
    energy_mwh: float | None
    revenue: float | None
    average_price: float | None
    capacity_mw: float | None
    utilisation_pct: float | None
    units: int


class StationList(BaseModel):
    """Stations (by region and fuel) that reported output in the range."""

    meta: Meta
    data: list[PivotRow]


class UnitFigures(BaseModel):
    """One unit's figures over the range."""

    duid: str
    station_name: str | None
    regionid: str | None
    fuel: str | None
    registered_capacity_mw: float | None
    energy_mwh: float | None
    revenue: float | None
    average_price: float | None
    capacity_factor_pct: float | None
    peak_mw: float | None
    running_hours: float | None
    intervals: int
    priced_intervals: int
    completeness: float | None


class StationSummary(BaseModel):
    """A station's (or unit's) energy, revenue, received price, capacity factor, peak, hours."""

    meta: Meta
    station_name: str | None
    duids: list[str]
    regionids: list[str]
    fuels: list[str]
    start: datetime
    end: datetime
    hours: float
    energy_mwh: float
    revenue: float | None
    average_price: float | None = Field(description="Revenue / energy, $/MWh.")
    registered_capacity_mw: float | None
    capacity_factor_pct: float | None
    capacity_basis: str = Field(description="What the capacity factor is divided by.")
    peak_mw: float | None
    peak_basis: str
    running_hours: float
    intervals: int
    expected_intervals: int
    completeness: float
    units: list[UnitFigures]


class UnitPoint(BaseModel):
    """One unit's output over one bucket."""

    bucket_end: datetime
    duid: str
    mw_mean: float | None
    mw_min: float | None
    mw_max: float | None
    energy_mwh: float | None
    intervals: int
    completeness: float | None


class StationSeries(BaseModel):
    """Output per bucket and unit."""

    meta: Meta
    data: list[UnitPoint]


# -- analysis -------------------------------------------------------------------------------------


class PivotTable(BaseModel):
    """Energy, revenue, average price, capacity and utilisation per group."""

    meta: Meta
    data: list[PivotRow]


__all__ = [
    "BackgroundProblem",
    "CacheLayerStatus",
    "CacheStatus",
    "CapacityUtilisation",
    "CollectorStatus",
    "CoverageList",
    "CycleSummary",
    "ErrorDetail",
    "ErrorResponse",
    "FeedStatus",
    "FlowPoint",
    "Fuel",
    "FuelList",
    "FuelStats",
    "FuelUtilisation",
    "GenerationMix",
    "GenerationProfile",
    "GenerationStats",
    "GenerationTimeOfDay",
    "HighPriceEvent",
    "HighPriceEvents",
    "InterconnectorFlows",
    "LatestPrice",
    "LatestPrices",
    "Meta",
    "MixPoint",
    "PivotRow",
    "PivotTable",
    "PriceBand",
    "PriceBands",
    "PricePoint",
    "PriceProfile",
    "PriceSeries",
    "PriceStats",
    "PriceTimeOfDay",
    "ProcessStatus",
    "QuarantinedFile",
    "Region",
    "RegionList",
    "RegionPriceStats",
    "RenewablePoint",
    "RenewableShare",
    "ServerStatus",
    "StationList",
    "StationMatch",
    "StationMatches",
    "StationSeries",
    "StationSummary",
    "StoreInfo",
    "TableCoverage",
    "UnitFigures",
    "UnitPoint",
]
