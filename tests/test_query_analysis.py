"""The pivot: every grouping adds up to the ungrouped total, and the figures are worked by hand."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from nemdash.errors import QueryError
from nemdash.query.analysis import PIVOT_KEYS, pivot
from nemdash.query.connection import Database
from query_factory import DAY1, HOURS, UNLISTED, Inputs, aware, build_store, market

DAY2 = DAY1 + timedelta(days=1)


@pytest.fixture(scope="module")
def inputs() -> Inputs:
    return market(1)


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory, inputs: Inputs) -> Iterator[Database]:
    database = build_store(Path(tmp_path_factory.mktemp("pivot")) / "data", inputs)
    yield database
    database.close()


SPAN = {"start": aware(DAY1), "end": aware(DAY2)}
GROUPINGS = [
    list(order)
    for size in range(1, len(PIVOT_KEYS) + 1)
    for keys in itertools.combinations(PIVOT_KEYS, size)
    for order in itertools.permutations(keys)
]


def test_every_grouping_adds_up_to_the_ungrouped_total(db: Database) -> None:
    total = pivot(db, **SPAN).to_pylist()  # type: ignore[arg-type]
    assert len(total) == 1
    for keys in GROUPINGS:
        rows = pivot(db, group_by=keys, **SPAN).to_pylist()  # type: ignore[arg-type]
        assert list(rows[0])[: len(keys)] == [PIVOT_KEYS[k] for k in keys]
        for measure in ("energy_mwh", "revenue", "capacity_mw", "units"):
            assert sum(r[measure] or 0 for r in rows) == pytest.approx(total[0][measure]), (
                keys,
                measure,
            )


def test_pivot_by_fuel_by_hand(db: Database, inputs: Inputs) -> None:
    rows = {r["fuel"]: r for r in pivot(db, group_by="fuel", **SPAN).to_pylist()}  # type: ignore[arg-type]
    times = [t for (d, t) in inputs.scada if d == "BW01" and DAY1 < t <= DAY2]
    coal = sum(inputs.scada[d, t] for d in ("BW01", "BW02") for t in times) * HOURS
    assert rows["coal_black"]["energy_mwh"] == pytest.approx(coal)
    assert rows["coal_black"]["capacity_mw"] == 1320.0
    assert rows["coal_black"]["utilisation_pct"] == pytest.approx(100 * coal / (1320 * 24))
    assert rows["coal_black"]["units"] == 2
    revenue = sum(
        inputs.scada[d, t] * HOURS * inputs.trading["NSW1", t]
        for d in ("BW01", "BW02")
        for t in times
        if ("NSW1", t) in inputs.trading
    )
    assert rows["coal_black"]["revenue"] == pytest.approx(revenue)
    # AEMO's DG_* pseudo-unit is left out; the unlisted unit is its own unknown station.
    assert "other" not in rows
    assert rows["unknown"]["revenue"] is None
    assert rows["unknown"]["average_price"] is None
    assert rows["coal_brown"]["utilisation_pct"] is None  # no registered capacity
    assert "rooftop_solar" not in rows  # no DUID, not in the pivot


def test_unknown_units_and_filters(db: Database) -> None:
    rows = pivot(db, group_by=["region", "station", "duid"], **SPAN).to_pylist()  # type: ignore[arg-type]
    unknown = [r for r in rows if r["regionid"] == "unknown"]
    assert [(r["station_name"], r["duid"]) for r in unknown] == [(UNLISTED, UNLISTED)]
    sa = pivot(db, group_by=["duid"], regions=["SA1"], **SPAN)  # type: ignore[arg-type]
    assert sa.column("duid").to_pylist() == ["HPR1", "SUNNY1"]
    wind = pivot(db, group_by=["station"], fuels=["wind", "hydro"], **SPAN)  # type: ignore[arg-type]
    assert wind.column("station_name").to_pylist() == ["Gordon", "Windy Hill Wind Farm"]


def test_bad_keys_are_refused(db: Database) -> None:
    with pytest.raises(QueryError, match="cannot group by 'participant'"):
        pivot(db, group_by=["participant"], **SPAN)  # type: ignore[arg-type]
    with pytest.raises(QueryError, match="given twice"):
        pivot(db, group_by=["fuel", "fuel"], **SPAN)  # type: ignore[arg-type]
    aliased = pivot(db, group_by=["regionid", "station_name"], **SPAN)  # type: ignore[arg-type]
    assert aliased.column_names[:2] == ["regionid", "station_name"]
