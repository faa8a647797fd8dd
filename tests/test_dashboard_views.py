"""The dashboard's views, driven by setting DataStore params and reading what they draw.

Outside a server session the store's runner fetches inline, so each assertion sees the result
of the params just set. The store is query_factory's two-day synthetic market; expectations
come from its inputs.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from nemdash.dashboard.app import TITLE, Dashboard, create_dashboard, describe_age
from nemdash.dashboard.datastore import DataStore
from nemdash.dashboard.theme import SERIES_LABELS, fmt_energy
from nemdash.dashboard.views.analysis import PivotView
from nemdash.dashboard.views.generation import (
    InterconnectorsView,
    MixView,
    TimeOfDayView,
    UtilisationView,
)
from nemdash.dashboard.views.prices import (
    HighPriceEventsView,
    PriceBandsView,
    PriceProfileView,
    PriceSeriesView,
    PriceStatsView,
)
from nemdash.dashboard.views.stations import StationsTab
from nemdash.dashboard.views.today import TodayView
from nemdash.query import analysis
from nemdash.query.connection import Database
from nemdash.tables import REGIONS
from query_factory import DAY1, MISSING_NSW1, Inputs, build_store, market

LAST = DAY1 + timedelta(days=2)
DAY2 = DAY1 + timedelta(days=1)


@pytest.fixture(scope="module")
def inputs() -> Inputs:
    return market(2)


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory, inputs: Inputs) -> Iterator[Database]:
    database = build_store(Path(tmp_path_factory.mktemp("views")) / "data", inputs, cache=True)
    yield database
    database.close()


def store_on(db: Database, tab: str, **params: object) -> DataStore:
    return DataStore(db, tab=tab, **params)


# -- Today ----------------------------------------------------------------------------------------


def test_today_highlights_negative_and_high_prices(db: Database, inputs: Inputs) -> None:
    view = TodayView(store_on(db, "today"))
    assert view.applied == 1
    assert not view.notice.visible
    html = view.prices.object
    # At the last interval NSW1 is 1,385 (high) and SA1 alternates 100 / -20.
    assert f'class="nd-high">${inputs.rrp["NSW1", LAST]:,.2f}<' in html
    assert 'class="nd-negative">-$20.00<' in html
    # NSW1's 1-hour average: the 12 intervals ending at the last one.
    hour = [inputs.rrp["NSW1", LAST - timedelta(minutes=5 * k)] for k in range(12)]
    assert f"${sum(hour) / 12:,.2f}" in html


def test_today_draws_the_last_day_of_the_nem_mix(db: Database, inputs: Inputs) -> None:
    view = TodayView(store_on(db, "today", range="all"))  # Today ignores the range filter
    data = view.mix.source.data
    assert len(data["bucket_end"]) == 288
    assert data["bucket_end"][-1] == np.datetime64(LAST)
    assert data["coal_black"][-1] == inputs.scada["BW01", LAST] + inputs.scada["BW02", LAST]
    assert data["battery_charging"][-1] == min(inputs.scada["HPR1", LAST], 0.0)
    shown = {name for name, item in view.mix.items.items() if item.visible}
    assert "imports" not in shown  # the NEM has no imports
    assert {"coal_black", "wind", "rooftop_solar"} <= shown


def test_today_flows_are_in_aemo_sign_against_their_limits(db: Database, inputs: Inputs) -> None:
    view = TodayView(store_on(db, "today"))
    data = view.flows.source.data
    at = data["interconnectorid"].index("VIC1-NSW1")
    flow, export_limit, import_limit = inputs.flows["VIC1-NSW1", LAST]
    assert data["flow_mw"][at] == flow
    assert (data["low"][at], data["high"][at]) == (import_limit, export_limit)
    assert data["direction"][at] == "VIC1 to NSW1"
    assert data["direction"][data["interconnectorid"].index("V-SA")] == "SA1 to VIC1"


# -- Generation -----------------------------------------------------------------------------------


def test_a_hidden_view_waits_for_its_tab(db: Database) -> None:
    store = store_on(db, "today")
    view = MixView(store)
    assert view.applied == 0
    store.region = "SA1"
    assert view.applied == 0  # changed while hidden: fetched on the next visit
    store.tab = "generation"
    assert view.applied == 1
    assert view.shown.region == "SA1"
    store.gen_view = "utilisation"
    store.region = "QLD1"
    assert view.applied == 1
    store.gen_view = "mix"
    assert view.applied == 2


def test_a_region_mix_shows_imports_and_exports_and_its_price(db: Database, inputs: Inputs) -> None:
    store = store_on(db, "generation", region="NEM", range="1d")
    view = MixView(store)
    assert not view.chart.items["imports"].visible
    store.region = "NSW1"
    data = view.chart.source.data
    assert view.chart.items["imports"].visible
    assert view.chart.items["exports"].visible
    assert data["imports"][-1] == inputs.flows["VIC1-NSW1", LAST][0]
    assert data["exports"][-1] == -inputs.flows["NSW1-QLD1", LAST][0]
    assert data["rrp"][-1] == inputs.rrp["NSW1", LAST]
    assert view.chart.price_figure is not None
    assert view.chart.price_figure.title.text.startswith("NSW1 price")  # type: ignore[union-attr]
    labels = set(view.table.values("fuel"))
    assert SERIES_LABELS["coal_black"] in labels
    store.range = "all"
    assert len(view.chart.source.data["bucket_end"]) == 576


def test_utilisation_orders_fuels_by_utilisation(db: Database) -> None:
    view = UtilisationView(store_on(db, "generation", gen_view="utilisation", range="all"))
    data = view.source.data
    assert list(data["utilisation_pct"]) == sorted(data["utilisation_pct"])
    assert list(view.figure.y_range.factors) == list(data["label"])  # type: ignore[attr-defined]
    # Rooftop PV has no registered capacity, hence no utilisation bar (it is in the table).
    assert SERIES_LABELS["rooftop_solar"] not in data["label"]


def test_time_of_day_stacks_half_hours(db: Database) -> None:
    view = TimeOfDayView(store_on(db, "generation", gen_view="time_of_day", range="all"))
    data = view.chart.source.data
    assert list(data["hour"]) == [m / 60 for m in range(30, 1441, 30)]
    assert data["time_of_day"][-1] == "24:00"


def test_interconnectors_of_a_region_only(db: Database) -> None:
    store = store_on(db, "generation", gen_view="interconnectors", region="SA1", range="1d")
    view = InterconnectorsView(store)
    drawn = {ic for ic, pane in view.charts.panes.items() if pane.pane.object is not None}
    assert drawn == {"V-SA"}  # V-S-MNSP1 touches SA1 too, but has no data
    source = view.charts.sources["V-SA"].data
    # Seen from SA1 (second-named), V-SA's flow keeps AEMO's sign: -30 is an export.
    assert source["flow_mw"][-1] == -30.0
    assert (source["low"][-1], source["high"][-1]) == (-400.0, 500.0)
    assert "import into SA1" in view.note.object
    store.region = "NEM"
    drawn = {ic for ic, pane in view.charts.panes.items() if pane.pane.object is not None}
    assert drawn == {"VIC1-NSW1", "NSW1-QLD1", "V-SA", "T-V-MNSP1"}


# -- Prices ---------------------------------------------------------------------------------------


def test_price_lines_follow_the_chosen_regions_and_smoothing(db: Database, inputs: Inputs) -> None:
    store = store_on(db, "prices", range="1d")
    view = PriceSeriesView(store)
    assert all(line.visible for line in view.chart.lines.values())
    store.price_regions = ["NSW1", "SA1"]
    assert {r for r, line in view.chart.lines.items() if line.visible} == {"NSW1", "SA1"}
    raw = np.array(view.chart.source.data["SA1"])
    store.smoothing = 2
    smoothed = np.array(view.chart.source.data["SA1"])
    assert smoothed[1:] == pytest.approx((raw[1:] + raw[:-1]) / 2)
    assert "moving average over 2 points" in view.caption.object


def test_log_scale_redraws_without_prices_at_or_below_zero(db: Database) -> None:
    store = store_on(db, "prices", range="1d")
    view = PriceSeriesView(store)
    linear = view.chart.figure
    store.log_scale = True
    assert view.chart.figure is not linear
    assert view.chart.pane.pane.object is view.chart.figure
    sa1 = np.array(view.chart.source.data["SA1"])
    assert np.isnan(sa1).any()
    assert np.nanmin(sa1) > 0  # SA1's -20s are gaps


def test_a_forced_resolution_too_fine_for_the_range_says_why(db: Database) -> None:
    store = store_on(db, "prices", resolution="5m", range="2019-01-01..2024-03-02")
    view = PriceSeriesView(store)
    assert view.notice.visible
    assert view.notice.alert_type == "warning"
    assert "points per series" in view.notice.object
    store.resolution = "month"
    assert not view.notice.visible
    assert view.shown.resolution == "month"


def test_stats_bands_and_profile_cover_the_chosen_regions(db: Database) -> None:
    store = store_on(db, "prices", range="all", price_regions=["NSW1", "TAS1"])
    stats, bands, profile = PriceStatsView(store), PriceBandsView(store), PriceProfileView(store)
    assert stats.table.values("regionid") == ["NSW1", "TAS1"]
    factors = list(bands.share.x_range.factors)  # type: ignore[attr-defined]
    assert factors[:4] == [
        ("NSW1", band) for band in ("below_0", "0_to_300", "300_to_1000", "above_1000")
    ]
    assert len(factors) == 8
    tas_share = bands.tables["price-bands"].to_pylist()[5]  # TAS1, 0 to 300: always $20
    assert tas_share["time_share_pct"] == 100.0
    assert {r for r, line in profile.chart.lines.items() if line.visible} == {"NSW1", "TAS1"}


def test_high_price_events_follow_the_threshold(db: Database) -> None:
    store = store_on(db, "prices", range="all")
    view = HighPriceEventsView(store)
    # NSW1 = -50 + 5 i: above $300 from i = 71 each day, broken on day 1 by the two missing
    # intervals; no other region goes above $300.
    assert MISSING_NSW1[0] > DAY1 + timedelta(minutes=5 * 71)
    assert view.tables["price-events"].num_rows == 3
    assert set(view.table.values("regionid")) == {"NSW1"}
    store.event_threshold = 1000.0
    assert view.tables["price-events"].num_rows == 2
    assert "above $1,000/MWh" in view.summary.object


# -- Price analysis -------------------------------------------------------------------------------


def test_pivot_rows_open_and_close(db: Database) -> None:
    store = store_on(db, "analysis", range="all", group_by=["region", "fuel"])
    view = PivotView(store)
    groups = view.table.values("group")
    assert groups[0].endswith("All units")
    regions = analysis.pivot(db, group_by=["region"], start=view.span.start, end=view.span.end)  # type: ignore[union-attr]
    assert len(groups) == 1 + regions.num_rows  # the total, then each region, closed
    nsw = next(i for i, g in enumerate(groups) if g.strip().endswith("NSW1"))
    view.table.source.selected.indices = [nsw]  # a click on the row
    opened = view.table.values("group")
    nsw_fuels = {"coal_black", "wind", "pumped_hydro"}
    assert len(opened) == len(groups) + len(nsw_fuels)
    # Rows are in the order of the keys' codes: coal_black, pumped_hydro, wind.
    assert [g.strip() for g in opened[nsw + 1 : nsw + 4]] == [
        SERIES_LABELS[f] for f in sorted(nsw_fuels)
    ]
    view.toggle(nsw)
    assert view.table.values("group") == groups


def test_pivot_levels_are_each_exact(db: Database) -> None:
    store = store_on(db, "analysis", range="all", group_by=["fuel", "region"])
    view = PivotView(store)
    view.expand_all()
    groups = [g.strip() for g in view.table.values("group")]
    at = groups.index("▾ " + SERIES_LABELS["coal_black"])
    whole = analysis.pivot(db, group_by=["fuel"], start=view.span.start, end=view.span.end)  # type: ignore[union-attr]
    expected = next(r for r in whole.to_pylist() if r["fuel"] == "coal_black")
    assert view.table.values("energy_mwh")[at] == pytest.approx(expected["energy_mwh"])
    assert view.table.values("average_price")[at] == pytest.approx(expected["average_price"])
    store.group_by = ["region"]
    assert set(view.table.values("level")) == {"Total", "Region"}


# -- Stations -------------------------------------------------------------------------------------


def test_stations_search_choose_and_pick_a_unit(db: Database, inputs: Inputs) -> None:
    store = store_on(db, "stations", range="1d")
    tab = StationsTab(store)
    assert tab.view.notice.visible
    assert "Search for a station" in tab.view.notice.object
    tab.search.value_input = "bays"
    assert tab.results_box.objects == [tab.results.pane]
    assert {r["duid"] for r in tab.found} >= {"BW01", "BW02"}
    tab.choose(0)
    assert store.station == "Bayswater"
    assert store.duid == ""
    assert tab.view.applied == 1
    assert set(tab.unit.options.values()) == {"", "BW01", "BW02"}
    assert "Bayswater" in tab.view.title.object
    day = [t for (d, t) in inputs.scada if d == "BW01" and t > LAST - timedelta(days=1)]
    energy = sum(inputs.scada[d, t] for d in ("BW01", "BW02") for t in day) * 5 / 60
    assert tab.view.tables["station-units"].num_rows == 2
    assert fmt_energy(energy) in tab.view.cards.object
    tab.unit.value = "BW02"
    assert store.duid == "BW02"
    assert tab.view.tables["station-units"].num_rows == 1
    assert "unit BW02" in tab.view.title.object
    tab.close()


def test_an_unknown_station_from_a_link_says_so(db: Database) -> None:
    store = store_on(db, "stations", station="Nowhere Power")
    tab = StationsTab(store)
    assert tab.view.notice.visible
    assert "Nowhere Power" in tab.view.notice.object


# -- the page -------------------------------------------------------------------------------------


def test_the_page_builds_only_the_tab_shown(db: Database) -> None:
    store = store_on(db, "prices")
    page = Dashboard(db.settings, store)
    assert set(page.tabs.built) == {"prices"}
    store.tab = "stations"
    assert set(page.tabs.built) == {"prices", "stations"}
    assert page.tabs.tabs.active == 4
    page.tabs.tabs.active = 1
    assert store.tab == "generation"
    page.close()


def test_old_data_is_called_stale(db: Database) -> None:
    page = Dashboard(db.settings, DataStore(db))
    assert page.stale.visible
    assert "Sun 03 Mar 2024 00:00" in page.status.object
    assert "days" in page.stale.object
    assert not page.synthetic.visible


def test_values_from_a_link_are_applied_one_by_one(db: Database) -> None:
    store = DataStore(db)
    page = Dashboard(db.settings, store)
    page.url_error({"region": "XX1", "tab": "prices", "range": "30d"})
    assert (store.tab, store.range, store.region) == ("prices", "30d", "NEM")
    assert page.message.visible
    assert "region='XX1'" in page.message.object


def test_the_factory_outside_a_server_builds_a_page(db: Database) -> None:
    page = create_dashboard(db.settings, db)()
    assert page.title == TITLE  # type: ignore[union-attr]


def test_ages_are_said_roughly() -> None:
    assert describe_age(timedelta(minutes=17)) == "17 minutes"
    assert describe_age(timedelta(hours=5)) == "5 hours"
    assert describe_age(timedelta(days=3)) == "3 days"


def test_every_region_has_a_line(db: Database) -> None:
    view = PriceSeriesView(store_on(db, "prices"))
    assert tuple(view.chart.lines) == REGIONS
