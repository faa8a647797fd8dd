"""Backfill planning and runs against a real local NEMWEB: daily ARCHIVE and MMSDM monthly files."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from nemdash.collector import backfill as backfill_module
from nemdash.collector.backfill import (
    BackfillProgress,
    backfill,
    plan_backfill,
    run_backfill,
    state_key,
)
from nemdash.config import Settings
from nemdash.errors import StoreBusy
from nemdash.nemweb.client import NemwebClient
from nemdash.store.lake import Lake
from nemweb_server import FaultyNemweb, build_tree
from test_collector import read_table

DAILY = "PUBLIC_DISPATCHIS_20190516.zip"
MMSDM_PRICE = "PUBLIC_ARCHIVE%23DISPATCHPRICE%23FILE01%23202604010000.zip"
MMSDM_SCADA = "PUBLIC_ARCHIVE%23DISPATCH_UNIT_SCADA%23FILE01%23202604010000.zip"


class Interrupted(Exception):
    """Raised from the progress callback to stand for Ctrl-C in the middle of a backfill."""


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory, nemweb_root: Path) -> Path:
    return build_tree(tmp_path_factory.mktemp("nemweb"), nemweb_root)


@pytest.fixture
def site(tree: Path) -> Iterator[FaultyNemweb]:
    with FaultyNemweb(tree) as server:
        yield server


@pytest.fixture
def client(site: FaultyNemweb) -> Iterator[NemwebClient]:
    with NemwebClient(site.url, timeout=5, retries=0, backoff=0) as http:
        yield http


@pytest.fixture
def settings(tmp_path: Path, site: FaultyNemweb) -> Settings:
    return Settings(data_dir=tmp_path / "data", nemweb_url=site.url, http_backoff=0)


def test_recent_day_is_planned_from_the_daily_archive(client: NemwebClient) -> None:
    plan = plan_backfill(date(2019, 5, 16), date(2019, 5, 16), ["dispatch_price"], client)
    assert [(i.name, i.source, i.days) for i in plan.items] == [
        (DAILY, "archive", (date(2019, 5, 16),))
    ]
    assert plan.items[0].size == 4697149
    assert plan.missing == []


def test_old_month_is_planned_from_mmsdm_files_of_our_tables(client: NemwebClient) -> None:
    plan = plan_backfill(
        date(2026, 4, 1), date(2026, 4, 30), ["dispatch_price", "unit_scada"], client
    )
    assert sorted(i.name for i in plan.items) == sorted([MMSDM_PRICE, MMSDM_SCADA])
    assert all(i.source == "mmsdm" and len(i.days) == 30 for i in plan.items)
    assert plan.missing == []


def test_data_on_no_source_is_reported_missing(client: NemwebClient) -> None:
    plan = plan_backfill(
        date(2019, 5, 16), date(2019, 5, 17), ["dispatch_price", "unit_scada"], client
    )
    assert [i.name for i in plan.items] == [DAILY]
    missing = {(m.table, m.day) for m in plan.missing}
    assert missing == {
        ("dispatch_price", date(2019, 5, 17)),
        ("unit_scada", date(2019, 5, 16)),
        ("unit_scada", date(2019, 5, 17)),
    }
    assert all("MMSDM" in m.reason for m in plan.missing)


def test_month_without_our_table_says_which_table_is_missing(client: NemwebClient) -> None:
    plan = plan_backfill(date(2026, 4, 2), date(2026, 4, 2), ["trading_price"], client)
    assert plan.items == []
    assert [(m.table, m.day) for m in plan.missing] == [("trading_price", date(2026, 4, 2))]
    assert "no trading_price file" in plan.missing[0].reason


def test_mmsdm_dvd_names_and_file_splits_are_found(tmp_path: Path, nemweb_root: Path) -> None:
    month = build_tree(tmp_path / "t", nemweb_root, include=lambda p: "MMSDM_2026_04" in p)
    data = next(month.rglob("DATA"))
    (data / MMSDM_SCADA).rename(data / MMSDM_SCADA.replace("FILE01", "FILE02"))
    (data / MMSDM_PRICE).rename(data / "PUBLIC_DVD_DISPATCHPRICE_202604010000.zip")
    (data / "PUBLIC_ARCHIVE%23DISPATCH_UNIT_SCADA%23FILE01%23202604010000.zip").write_bytes(b"x")
    with (
        FaultyNemweb(month) as server,
        NemwebClient(server.url, retries=0) as http,
    ):
        plan = plan_backfill(
            date(2026, 4, 1), date(2026, 4, 1), ["unit_scada", "dispatch_price"], http
        )
    assert [i.name for i in plan.items] == [
        "PUBLIC_ARCHIVE%23DISPATCH_UNIT_SCADA%23FILE01%23202604010000.zip",
        "PUBLIC_ARCHIVE%23DISPATCH_UNIT_SCADA%23FILE02%23202604010000.zip",
        "PUBLIC_DVD_DISPATCHPRICE_202604010000.zip",
    ]
    assert [i.file.file_number for i in plan.items] == [1, 2, 1]


def test_backfill_of_a_day_from_the_daily_archive(settings: Settings) -> None:
    events: list[BackfillProgress] = []
    _, report = backfill(
        settings, date(2019, 5, 16), date(2019, 5, 16), ["dispatch_price"], events.append
    )
    assert report.ingested == [DAILY]
    assert [e.done for e in events] == [0, 1]
    assert events[-1].bytes_done == events[-1].total_bytes == 4697149
    lake = Lake(settings.paths)
    price = read_table(lake, "dispatch_price")
    assert price.num_rows == 288 * 5
    six_pm = price.filter(
        pc.equal(price["settlementdate"], pa.scalar(datetime(2019, 5, 16, 18), pa.timestamp("us")))
    )
    rrp = dict(zip(six_pm["regionid"].to_pylist(), six_pm["rrp"].to_pylist(), strict=True))
    assert rrp["VIC1"] == pytest.approx(290)
    assert rrp["NSW1"] == pytest.approx(275.84137)
    # The whole file is ingested: its other tables come along.
    assert read_table(lake, "interconnector_flow").num_rows > 0
    assert (settings.paths.raw / "archive" / "DispatchIS_Reports" / DAILY).is_file()
    # Done once: a second plan has nothing left to fetch.
    with NemwebClient(str(settings.nemweb_url)) as http:
        again = plan_backfill(
            date(2019, 5, 16), date(2019, 5, 16), ["dispatch_price"], http, lake=lake
        )
    assert again.items == []
    assert [i.name for i in again.done] == [DAILY]


def test_interrupted_backfill_resumes_without_loss_or_duplicates(
    settings: Settings, client: NemwebClient, site: FaultyNemweb
) -> None:
    lake = Lake(settings.paths)
    tables_ = ["dispatch_price", "unit_scada"]
    plan = plan_backfill(date(2026, 4, 1), date(2026, 4, 30), tables_, client, lake=lake)
    assert len(plan.items) == 2
    first_item = plan.items[0].name

    def interrupt_after_first(event: BackfillProgress) -> None:
        if event.done == 1:
            raise Interrupted

    with pytest.raises(Interrupted):
        run_backfill(plan, lake, client, interrupt_after_first)
    assert lake.get_state(state_key(first_item)) is not None
    done_first = {t: read_table(lake, t).num_rows for t in tables_}
    assert sorted(done_first.values()) == [0, 2880]

    resumed = plan_backfill(date(2026, 4, 1), date(2026, 4, 30), tables_, client, lake=lake)
    assert [i.name for i in resumed.done] == [first_item]
    assert len(resumed.items) == 1
    requests_before = site.requests.copy()
    report = run_backfill(resumed, lake, client)
    assert report.ingested == [resumed.items[0].name]
    assert site.requests[plan.items[0].path] == requests_before[plan.items[0].path]

    price = read_table(lake, "dispatch_price")
    scada = read_table(lake, "unit_scada")
    assert price.num_rows == 2880
    assert scada.num_rows == 2880
    nsw = price.filter(pc.equal(price["regionid"], "NSW1"))
    assert pc.mean(nsw["rrp"]).as_py() == pytest.approx(65.6174, abs=1e-4)
    hdwf2 = scada.filter(pc.equal(scada["duid"], "HDWF2"))
    assert pc.sum(hdwf2["scadavalue"]).as_py() == pytest.approx(56324.2)
    # Running the whole plan again changes nothing.
    before = lake.version()
    again = run_backfill(plan, lake, client)
    assert again.ingest.skipped == 2
    assert lake.version() == before
    assert read_table(lake, "dispatch_price").num_rows == 2880


def test_listed_file_that_is_gone_is_reported_and_skipped(
    settings: Settings, client: NemwebClient, site: FaultyNemweb
) -> None:
    plan = plan_backfill(
        date(2026, 4, 1), date(2026, 4, 1), ["dispatch_price", "unit_scada"], client
    )
    gone = next(i for i in plan.items if i.name == MMSDM_PRICE)
    site.forbidden(gone.path)
    events: list[BackfillProgress] = []
    report = run_backfill(plan, Lake(settings.paths), client, events.append)
    assert [n for n, _ in report.failed] == [MMSDM_PRICE]
    assert "403" in report.failed[0][1]
    assert report.ingested == [MMSDM_SCADA]
    assert [e.error is not None for e in events[1:]] == [i.name == MMSDM_PRICE for i in plan.items]


def test_backfill_waits_for_the_writer_lock_then_gives_up(
    settings: Settings, client: NemwebClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(backfill_module, "BUSY_ATTEMPTS", 3)
    monkeypatch.setattr(backfill_module, "BUSY_PAUSE", 0.0)
    day = date(2026, 4, 1)
    plan = plan_backfill(day, day, ["unit_scada"], client)
    collector_lake = Lake(settings.paths)
    with collector_lake.writer(), pytest.raises(StoreBusy):
        run_backfill(plan, Lake(settings.paths, lock_timeout=0.01), client)
    assert Lake(settings.paths).get_state(state_key(MMSDM_SCADA)) is None
