"""The hot set: preset ranges, and a warm-up that makes the dashboard's default calls cache hits."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from nemdash.errors import QueryError
from nemdash.query.cache import cache_for, warm
from nemdash.query.connection import Database
from nemdash.query.generation import generation_mix
from nemdash.query.hotset import PRESETS, hot_set, preset_range
from nemdash.query.interconnectors import interconnector_flows
from nemdash.query.prices import high_price_events, price_series
from nemdash.tables import REGIONS
from query_factory import DAY1, Inputs, aware, build_store, market

DAY = timedelta(days=1)


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    database = build_store(Path(tmp_path_factory.mktemp("hotset")) / "data", market(1), cache=True)
    yield database
    database.close()


def test_presets_end_at_the_half_hour_of_the_latest_interval(db: Database) -> None:
    # The store's last interval ends at DAY1 + 1 day (midnight, already on a half hour).
    assert preset_range(db, "7d") == (aware(DAY1 - 6 * DAY), aware(DAY1 + DAY))
    assert preset_range(db, "all") == (aware(DAY1), aware(DAY1 + DAY))
    at = aware(DAY1 + timedelta(hours=10, minutes=7))
    assert preset_range(db, "1d", at=at) == (
        aware(DAY1 - DAY + timedelta(hours=10, minutes=30)),
        aware(DAY1 + timedelta(hours=10, minutes=30)),
    )
    with pytest.raises(QueryError, match="unknown preset range '2d'"):
        preset_range(db, "2d")


def test_an_empty_store_has_no_hot_set(tmp_path: Path) -> None:
    empty = build_store(tmp_path / "data", Inputs())
    assert preset_range(empty, "7d") is None
    assert hot_set(empty) == []
    empty.close()


def test_warming_the_hot_set_makes_the_default_views_cache_hits(db: Database) -> None:
    per_preset = 5 + 5 * (1 + len(REGIONS)) + 1 + len(REGIONS)
    assert len(hot_set(db)) == 2 + len(PRESETS) * per_preset
    calls = hot_set(db, presets=["30d"])
    assert len(calls) == 2 + per_preset
    assert "price_series(start=" in repr(calls[2])
    run = warm(db, calls)
    assert run.join(timeout=120)
    assert (run.completed, run.failed) == (len(calls), 0)
    memory = cache_for(db).memory
    before = memory.stats()
    start, end = preset_range(db, "30d") or (aware(DAY1), aware(DAY1))
    # What the dashboard asks, spelled its own way (keywords in another order): the same keys.
    series = price_series(db, end=end, start=start)
    mix = generation_mix(db, start=start, end=end, region="SA1")
    flows = interconnector_flows(db, start=start, end=end)  # the NEM's view: AEMO's sign
    events = high_price_events(db, start=start, end=end, threshold=300)  # the default, spelled
    after = memory.stats()
    assert (after.hits - before.hits, after.misses - before.misses) == (4, 0)
    assert flows.num_rows > 0
    assert events.schema.names[0] == "regionid"
    assert series.num_rows > 0
    assert mix.num_rows > 0
