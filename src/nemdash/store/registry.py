"""The DUID registry table: one row per unit, merged from three sources, with provenance.

Precedence (see ``docs/registry.md``), per group of facts:

* **identity** (station_name, participant, region, dispatch_type, classification): AEMO's
  registration list, else Open Electricity's stations.json, else the DUID's name; an unlisted
  DUID sharing a stem with a listed one (KIDSPHL1, KIDSPHG1) takes its station and region.
* **fuel**: AEMO's fuel where its text is precise; Open Electricity's where AEMO's is vague or
  missing, or where it refines AEMO's ``hydro`` to ``pumped_hydro``; then AEMO's vague fuel; then
  the name rules; ``other`` when nothing says anything. Hydro units of a station that also has
  pumped-hydro units (Tumut 3 with its pumps SNOWYP, Shoalhaven, Wivenhoe) are pumped hydro.
* **capacity** (registered, maximum, consumption, storage): AEMO's where it gives a generation
  capacity, else Open Electricity's registered capacity. A ``-`` in AEMO's list is NULL, not 0.

Each group records its source (``*_source``: ``aemo_registration_list``, ``open_electricity`` or
``inferred_from_name``) and that source's date (``*_source_date``), so provenance is queryable:
``SELECT fuel_source, count(*) FROM duid_registry GROUP BY 1``. ``inferred`` is true when the
identity or the fuel comes from the name alone; ``is_aggregate`` marks AEMO's ``DG_*``/``RT_*``
pseudo-units, which appear in SCADA but are not physical units.

The table is replaced as a whole by :func:`update_registry` through the lake's writer, with the
source files it was built from kept under ``<data_dir>/registry/sources/``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import httpx
import pyarrow as pa

from nemdash.config import Settings
from nemdash.nemweb.registry_sources import (
    SOURCE_AEMO,
    SOURCE_NAME,
    SOURCE_OE,
    RegistryUnit,
    classify_by_name,
    fetch_bytes,
    read_registration_list,
    read_stations_json,
)
from nemdash.store.lake import LakeWriter, SourceRecord

logger = logging.getLogger(__name__)

REGISTRY_TABLE: Final = "duid_registry"

_TEXT = pa.string()
_FLOAT = pa.float64()
_DATE = pa.date32()
_BOOL = pa.bool_()


def _column(name: str, kind: pa.DataType, doc: str, *, required: bool = False) -> pa.Field[Any]:
    """A registry column; its meaning travels in the Parquet field metadata."""
    return pa.field(name, kind, nullable=not required, metadata={"doc": doc})


#: The registry's columns, in order, with what each means (also in docs/registry.md).
REGISTRY_SCHEMA: Final = pa.schema(
    [
        _column("duid", _TEXT, "AEMO dispatchable unit id", required=True),
        _column("station_name", _TEXT, "A station groups DUIDs (ER01..ER04 is Eraring)"),
        _column("participant", _TEXT, "Registered participant (AEMO's list only)"),
        _column("region", _TEXT, "NSW1, QLD1, SA1, TAS1 or VIC1"),
        _column("dispatch_type", _TEXT, "generator, load or bidirectional"),
        _column("classification", _TEXT, "AEMO: Scheduled, Semi-Scheduled, Non-Scheduled"),
        _column("fuel", _TEXT, "One code of the fuel taxonomy", required=True),
        _column("technology", _TEXT, "AEMO's Technology Type - Descriptor, as written"),
        _column("aemo_fuel", _TEXT, "AEMO's Fuel Source - Primary / Descriptor, as written"),
        _column("oe_fueltech_id", _TEXT, "Open Electricity's fueltech_id"),
        _column("oe_status", _TEXT, "Open Electricity's status: operating or retired"),
        _column("registered_capacity_mw", _FLOAT, "Nameplate generation capacity, MW"),
        _column("max_capacity_mw", _FLOAT, "Maximum generation capacity, MW"),
        _column("registered_consumption_mw", _FLOAT, "Nameplate consumption capacity, MW"),
        _column("max_consumption_mw", _FLOAT, "Maximum consumption capacity, MW"),
        _column("storage_mwh", _FLOAT, "Maximum storage capacity, MWh"),
        _column("identity_source", _TEXT, "Source of station/region/type", required=True),
        _column("identity_source_date", _DATE, "That source's as-of date"),
        _column("fuel_source", _TEXT, "Source of the fuel", required=True),
        _column("fuel_source_date", _DATE, "That source's as-of date"),
        _column("capacity_source", _TEXT, "Source of the capacities (NULL: none has one)"),
        _column("capacity_source_date", _DATE, "That source's as-of date"),
        _column("inferred", _BOOL, "Identity or fuel from the name alone", required=True),
        _column("is_aggregate", _BOOL, "AEMO DG_*/RT_* pseudo-unit", required=True),
        _column("note", _TEXT, "Why a fact was inferred or adjusted"),
    ]
)

#: AEMO fuels that Open Electricity may refine: its fuel wins where AEMO's says less.
_REFINEMENTS: Final = {("hydro", "pumped_hydro")}
#: Words dropped from station names to group a station's units (Tumut 3 Power Station / Pumps).
_STATION_NOISE = re.compile(r"\(.*?\)|\bpower station\b|\bpumps?\b|\bstation\b", re.I)


@dataclass(frozen=True)
class RegistrySummary:
    """What one registry update stored."""

    units: int
    by_source: dict[str, int]
    """Units by ``identity_source``."""
    fuel_by_source: dict[str, int]
    """Units by ``fuel_source``."""
    inferred: int
    aggregates: int
    version: int
    """Store version of the publish that replaced the registry."""
    sources: list[str] = field(default_factory=list)
    """Names of the source files kept under ``<data_dir>/registry/sources/``."""


def build_registry(
    aemo: list[RegistryUnit],
    oe: list[RegistryUnit] | None,
    extra_duids: Iterable[str] = (),
) -> pa.Table:
    """Merge the sources into one row per DUID (sorted), with per-fact provenance.

    ``extra_duids`` (e.g. the DUIDs seen in SCADA) that no source lists get rows classified by
    name and flagged ``inferred``; AEMO's ``DG_*``/``RT_*`` pseudo-units get ``is_aggregate``.
    """
    by_aemo = _by_duid(aemo, SOURCE_AEMO)
    by_oe = _by_duid(oe or [], SOURCE_OE)
    extras = {d.strip() for d in extra_duids if d and d.strip()}
    rows = [
        _merge(duid, by_aemo.get(duid), by_oe.get(duid))
        for duid in sorted(by_aemo.keys() | by_oe.keys() | extras)
    ]
    _borrow_from_siblings(rows)
    _pumped_hydro_stations(rows)
    table = pa.Table.from_pylist(rows, schema=REGISTRY_SCHEMA)
    logger.info(
        "registry: %d units (%d AEMO, %d Open Electricity only, %d inferred)",
        table.num_rows,
        len(by_aemo),
        len(by_oe.keys() - by_aemo.keys()),
        sum(1 for r in rows if r["inferred"]),
    )
    return table


def _by_duid(units: Iterable[RegistryUnit], source: str) -> dict[str, RegistryUnit]:
    """Index one source's units by DUID (first wins), checking that they are that source's."""
    indexed: dict[str, RegistryUnit] = {}
    for unit in units:
        if unit.source != source:
            raise ValueError(f"{unit.duid}: expected a unit from {source}, got {unit.source}")
        indexed.setdefault(unit.duid, unit)
    return indexed


def _merge(duid: str, aemo: RegistryUnit | None, oe: RegistryUnit | None) -> dict[str, object]:
    """One registry row for ``duid`` from what AEMO, Open Electricity and the name say."""
    listed = aemo or oe
    by_name = classify_by_name(duid, listed.station_name if listed else None)
    identity = listed or by_name
    notes: list[str] = []
    if identity is by_name and not by_name.is_aggregate:
        notes.append("no source lists this DUID")

    fuel_unit = _fuel_unit(aemo, oe, by_name)
    fuel = fuel_unit.fuel or "other"
    if fuel_unit is by_name:
        if identity is not by_name:
            notes.append("no source names its fuel")
        notes.append(by_name.note or "fuel from the name")
    elif fuel_unit is oe and aemo is not None:
        notes.append(
            f"fuel from Open Electricity ({oe.oe_fueltech_id}): AEMO's list says {aemo.aemo_fuel!r}"
            if aemo.aemo_fuel
            else f"fuel from Open Electricity ({oe.oe_fueltech_id}): AEMO's list names none"
        )

    capacity = next(
        (
            u
            for u in (aemo, oe)
            if u is not None
            and (u.registered_capacity_mw is not None or u.max_capacity_mw is not None)
        ),
        None,
    )
    return {
        "duid": duid,
        "station_name": identity.station_name,
        "participant": identity.participant,
        "region": identity.region,
        "dispatch_type": identity.dispatch_type,
        "classification": identity.classification,
        "fuel": fuel,
        "technology": aemo.technology if aemo else None,
        "aemo_fuel": aemo.aemo_fuel if aemo else None,
        "oe_fueltech_id": oe.oe_fueltech_id if oe else None,
        "oe_status": oe.oe_status if oe else None,
        "registered_capacity_mw": capacity.registered_capacity_mw if capacity else None,
        "max_capacity_mw": capacity.max_capacity_mw if capacity else None,
        "registered_consumption_mw": capacity.registered_consumption_mw if capacity else None,
        "max_consumption_mw": capacity.max_consumption_mw if capacity else None,
        "storage_mwh": capacity.storage_mwh if capacity else None,
        "identity_source": identity.source,
        "identity_source_date": identity.source_date,
        "fuel_source": fuel_unit.source,
        "fuel_source_date": fuel_unit.source_date,
        "capacity_source": capacity.source if capacity else None,
        "capacity_source_date": capacity.source_date if capacity else None,
        "inferred": identity is by_name or fuel_unit is by_name,
        "is_aggregate": by_name.is_aggregate and aemo is None and oe is None,
        "note": "; ".join(notes) or None,
    }


def _fuel_unit(
    aemo: RegistryUnit | None, oe: RegistryUnit | None, by_name: RegistryUnit
) -> RegistryUnit:
    """The source whose fuel the registry keeps (see the module docstring for the order)."""
    oe_fuel = oe.fuel if oe is not None else None
    if aemo is not None and aemo.fuel is not None and aemo.fuel_precise:
        if oe is not None and (aemo.fuel, oe_fuel) in _REFINEMENTS:
            return oe
        return aemo
    if oe is not None and oe_fuel is not None and oe.fuel_precise:
        return oe
    if aemo is not None and aemo.fuel is not None:
        return aemo
    if by_name.fuel is not None:
        return by_name
    if oe is not None and oe_fuel is not None:
        return oe
    return by_name


def _borrow_from_siblings(rows: list[dict[str, object]]) -> None:
    """Give an unlisted DUID the station, participant and region of a listed one with its stem.

    Units of one station share a DUID stem (KIDSPHG1 listed; KIDSPHG2, KIDSPHL1 seen in SCADA
    only). The stem must be at least 5 characters and cover all but the last two of the unlisted
    DUID, and every listed DUID sharing the longest such prefix must agree on station and region;
    otherwise nothing is borrowed. The row stays ``inferred`` and its note names the sibling.
    """
    listed = [r for r in rows if r["identity_source"] != SOURCE_NAME]
    for row in rows:
        if row["identity_source"] != SOURCE_NAME or row["is_aggregate"]:
            continue
        duid = str(row["duid"])
        best = 0
        siblings: list[dict[str, object]] = []
        for other in listed:
            common = _common_prefix(duid, str(other["duid"]))
            if common > best:
                best, siblings = common, [other]
            elif common == best and common:
                siblings.append(other)
        if best < max(5, len(duid) - 2):
            continue
        if len({(s["station_name"], s["region"]) for s in siblings}) != 1:
            continue
        sibling = siblings[0]
        for name in ("station_name", "participant", "region"):
            row[name] = sibling[name]
        borrowed = f"station, participant and region from {sibling['duid']} (same DUID stem)"
        if row["fuel_source"] == SOURCE_NAME and row["fuel"] == "other":
            row["fuel"] = sibling["fuel"]
            borrowed += ", and its fuel"
        row["note"] = f"{row['note']}; {borrowed}" if row["note"] else borrowed


def _common_prefix(a: str, b: str) -> int:
    """Length of the common leading characters of two DUIDs."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def _station_key(row: Mapping[str, object]) -> tuple[object, str] | None:
    """Participant and station name without "Power Station"/"Pumps", to group a station's units."""
    name = row["station_name"]
    if not isinstance(name, str):
        return None
    return row["participant"], " ".join(_STATION_NOISE.sub(" ", name).lower().split())


def _pumped_hydro_stations(rows: list[dict[str, object]]) -> None:
    """Make the hydro units of a station that has pumped-hydro units pumped hydro (in place).

    AEMO files Tumut 3's generators as "Hydro - Gravity" and lists its pumps (SNOWYP) apart;
    both belong to one pumped-storage station. Grouping is by participant and station name.
    """
    pumped = {
        key
        for row in rows
        if row["fuel"] == "pumped_hydro" and (key := _station_key(row)) is not None
    }
    for row in rows:
        if row["fuel"] == "hydro" and _station_key(row) in pumped:
            row["fuel"] = "pumped_hydro"
            note = "pumped hydro: its station also has pumped-hydro units"
            row["note"] = f"{row['note']}; {note}" if row["note"] else note


def update_registry(
    writer: LakeWriter,
    settings: Settings,
    *,
    xlsx: Path | None = None,
    stations_json: str | None = None,
    extra_duids: Iterable[str] = (),
    client: httpx.Client | None = None,
) -> RegistrySummary:
    """Download (or read) the sources, build the registry and replace it in the lake.

    ``xlsx`` is a local copy of AEMO's workbook (else ``settings.registry_url`` is downloaded);
    ``stations_json`` a path or URL (else ``settings.stations_json_url``, if set). Every source is
    checked before anything is written: an HTML error page raises ``RegistryError`` and stores
    nothing.
    """
    aemo_origin = str(xlsx) if xlsx is not None else settings.registry_url
    aemo_data, _ = fetch_bytes(aemo_origin, settings, client=client)
    # Dated by the workbook's own modified date (AEMO's as-of date), not by the download.
    aemo = read_registration_list(aemo_data)
    kept = [("nem-registration-and-exemption-list.xlsx", aemo_data, aemo_origin, len(aemo))]

    oe: list[RegistryUnit] | None = None
    oe_origin = stations_json or settings.stations_json_url
    if oe_origin:
        oe_data, oe_date = fetch_bytes(oe_origin, settings, client=client)
        oe = read_stations_json(oe_data, source_date=oe_date)
        kept.append(("stations.json", oe_data, oe_origin, len(oe)))

    table = build_registry(aemo, oe, extra_duids)
    sources = [
        _keep_source(settings.paths.registry / "sources", name, data, origin, units)
        for name, data, origin, units in kept
    ]
    result = writer.replace_table(REGISTRY_TABLE, table, sources)
    identity = Counter(table.column("identity_source").to_pylist())
    fuel = Counter(table.column("fuel_source").to_pylist())
    summary = RegistrySummary(
        units=table.num_rows,
        by_source={s: identity[s] for s in (SOURCE_AEMO, SOURCE_OE, SOURCE_NAME) if identity[s]},
        fuel_by_source={s: fuel[s] for s in (SOURCE_AEMO, SOURCE_OE, SOURCE_NAME) if fuel[s]},
        inferred=sum(1 for v in table.column("inferred").to_pylist() if v),
        aggregates=sum(1 for v in table.column("is_aggregate").to_pylist() if v),
        version=result.version,
        sources=[s.name for s in sources],
    )
    logger.info("registry updated: %s", summary)
    return summary


def _keep_source(folder: Path, name: str, data: bytes, origin: str, units: int) -> SourceRecord:
    """Write a checked source file atomically under ``folder``, named by its content hash."""
    digest = hashlib.sha256(data).hexdigest()
    stem, dot, suffix = name.rpartition(".")
    kept_name = f"{stem}-{digest[:12]}{dot}{suffix}"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / kept_name
    if not target.exists():
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{kept_name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return SourceRecord(
        name=kept_name,
        sha256=digest,
        size=len(data),
        rows={REGISTRY_TABLE: units},
        footer_ok=True,
        footer_detail=None,
        origin=origin,
    )
