# mypy: disallow-untyped-calls=False
# (Panel's widgets, panes and layouts take their params as untyped **kwargs.)
"""The Stations tab: find a station or unit, then its output, price and figures over the range.

* **Search** by name or DUID, fuzzy (the query layer's ``station_search``: exact DUID, then
  prefixes, substrings and similar words); click a result to show its station.
* **Whole station or one unit**: a station is the group of DUIDs sharing a registry name.
* **Output and price over time**: the units' output stacked (MW), the price of the station's
  region beneath on the same time axis.
* **Summary figures** over the range: energy, revenue, average received price (revenue / energy),
  capacity factor (energy / (registered capacity x hours) x 100), peak, running hours.
* **Time of day**: the mean output by half hour of the day.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any, ClassVar, Final

import numpy as np
import panel as pn
import pyarrow as pa
from bokeh.layouts import column
from bokeh.models import ColumnDataSource, HoverTool, NumeralTickFormatter
from bokeh.models.renderers import DataRenderer

from nemdash.dashboard.datastore import DataStore, Filters, Outcome, Span, wide
from nemdash.dashboard.theme import (
    CSS,
    FUEL_COLOURS,
    PRICE_COLOUR,
    SERIES_LABELS,
    SMALL_CHART_HEIGHT,
    fmt_energy,
    fmt_money,
    fmt_number,
    fmt_price,
    time_figure,
)
from nemdash.dashboard.views.base import Col, View, heading, new_table
from nemdash.dashboard.views.charts import FigurePane, ProfileLines
from nemdash.dashboard.views.controls import RangeControl
from nemdash.dashboard.views.today import card
from nemdash.query.stations import StationSummary

SEARCH_COLUMNS: Final = (
    Col("station_name", "Station"),
    Col("duid", "DUID"),
    Col("regionid", "Region"),
    Col("fuel", "Fuel", labels=SERIES_LABELS),
    Col("registered_capacity_mw", "Capacity (MW)", "0,0"),
    Col("match", "Match"),
)
UNIT_COLUMNS: Final = (
    Col("duid", "DUID"),
    Col("fuel", "Fuel", labels=SERIES_LABELS),
    Col("registered_capacity_mw", "Capacity MW", "0,0"),
    Col("energy_mwh", "Energy MWh", "0,0"),
    Col("revenue", "Revenue $", "$0,0"),
    Col("average_price", "Avg price $/MWh", "$0,0.00"),
    Col("capacity_factor_pct", "Capacity factor %", "0.0"),
    Col("peak_mw", "Peak MW", "0,0"),
    Col("running_hours", "Running h", "0,0.0"),
    Col("completeness", "Data", "0%"),
)
#: Colours for the units of a station, in DUID order (the fuel's colour is the first).
UNIT_SHADES: Final = ("#1F77B4", "#FF7F0E", "#2CA02C", "#D62728", "#9467BD", "#8C564B", "#E377C2")
WHOLE_STATION: Final = "Whole station"
MIN_SEARCH: Final = 2


@dataclass(frozen=True)
class StationData:
    """What the station view draws."""

    summary: StationSummary
    series: pa.Table
    prices: pa.Table
    profile: pa.Table


def summary_html(summary: StationSummary) -> str:
    """The summary figures as cards."""
    factor_note = "energy / (registered capacity x hours)"
    parts = [
        card("Energy", fmt_energy(summary.energy_mwh), f"over {summary.hours:,.1f} h"),
        card("Revenue", fmt_money(summary.revenue), "energy x regional spot price"),
        card("Average received price", fmt_price(summary.average_price), "$/MWh, revenue / energy"),
        card("Capacity factor", fmt_number(summary.capacity_factor_pct, 1, "%"), factor_note),
        card("Peak", fmt_number(summary.peak_mw, 0, "MW"), summary.peak_basis),
        card(
            "Running hours", fmt_number(summary.running_hours, 1, "h"), "output above 0, unit-hours"
        ),
        card(
            "Registered capacity",
            fmt_number(summary.registered_capacity_mw, 0, "MW"),
            f"{len(summary.duids)} unit(s)",
        ),
        card("Data present", fmt_number(100 * summary.completeness, 0, "%"), "of unit-intervals"),
    ]
    return f'<div style="display:flex;flex-wrap:wrap;gap:8px">{"".join(parts)}</div>'


class StationView(View[StationData]):
    """A station's (or unit's) figures, output and price over time, and time-of-day profile."""

    tab: ClassVar[str] = "stations"
    watches: ClassVar[tuple[str, ...]] = ("station", "duid", "range")

    def build(self) -> pn.viewable.Viewable:
        self.title = pn.pane.Markdown("", sizing_mode="stretch_width")
        self.cards = pn.pane.HTML("", stylesheets=[CSS], sizing_mode="stretch_width")
        self.output = FigurePane(None, "station-output")
        self.profile = ProfileLines(
            "station-time-of-day",
            title="Mean output by time of day",
            y_label="MW",
            keys=("output",),
            colours={"output": "#1F77B4"},
            unit="MW",
        )
        self.units = new_table(UNIT_COLUMNS, name="station-units")
        # Filled with its parts when the first station is shown: nothing to show before.
        self.body = pn.Column(sizing_mode="stretch_width")
        self._parts = [
            self.title,
            self.cards,
            heading(
                "Output and price",
                self.download("station-output"),
                self.download("station-price", "Price CSV"),
            ),
            self.output,
            heading("Time of day", self.download("station-time-of-day")),
            self.profile.pane,
            heading("Units", self.download("station-units")),
            self.units,
        ]
        return self.body

    def waiting_for(self, filters: Filters) -> str | None:
        if filters.station or filters.duid:
            return None
        return "Search for a station by name or DUID above, then click it."

    def fetch(self, filters: Filters, span: Span) -> StationData:
        summary = self.store.station_summary(filters, span)
        region = summary.regionids[0] if summary.regionids else None
        prices = (
            self.store.station_prices(span, region)
            if region is not None
            else pa.table({"bucket_end": pa.array([], pa.timestamp("us"))})
        )
        return StationData(
            summary=summary,
            series=self.store.station_series(filters, span),
            prices=prices,
            profile=self.store.station_time_of_day(filters, span),
        )

    def apply(self, data: StationData) -> None:
        summary = data.summary
        self.keep("station-output", data.series)
        self.keep("station-price", data.prices)
        self.keep("station-time-of-day", data.profile)
        self.keep("station-units", summary.units)
        self.name_downloads()
        who = summary.station_name or summary.duids[0]
        if len(summary.duids) == 1 and self.shown.duid:
            who = f"{who}, unit {summary.duids[0]}"
        fuels = ", ".join(SERIES_LABELS.get(f, f) for f in summary.fuels)
        during = self.span.label if self.span is not None else ""
        self.title.object = (
            f"### {html.escape(who)}\n{', '.join(summary.regionids)} · {fuels} · {during}"
        )
        self.cards.object = summary_html(summary)
        self._draw_output(data, who)
        profile = data.profile.append_column(
            "key", pa.array(["output"] * data.profile.num_rows, pa.string())
        )
        self.profile.update(profile, key="key", value="mw", shown=("output",))
        self.units.update(summary.units)
        if not self.body.objects:
            # Last: the parts reach the browser whole, with the data just set (a change to a
            # model the browser has not been sent yet would fail there).
            self.body[:] = self._parts

    def _draw_output(self, data: StationData, who: str) -> None:
        """A new figure per station (its units are the stacked series) and the price beneath."""
        found = {str(d) for d in data.series.column("duid").to_pylist() if d is not None}
        duids = sorted(found) or list(data.summary.duids)
        source = ColumnDataSource(
            wide(data.series, index="bucket_end", columns="duid", values="mw_mean", names=duids),
            name="station-output-source",
        )
        fig = time_figure(title=f"Output of {who}", y_label="MW", name="station-output")
        fuel = data.summary.fuels[0] if data.summary.fuels else "other"
        colours = [FUEL_COLOURS.get(fuel, "#999999"), *UNIT_SHADES][: len(duids)]
        while len(colours) < len(duids):
            colours.append(UNIT_SHADES[len(colours) % len(UNIT_SHADES)])
        areas = fig.varea_stack(
            stackers=duids, x="bucket_end", source=source, color=colours, legend_label=duids
        )
        fig.legend.click_policy = "hide"
        fig.legend.location = "top_left"
        top: list[DataRenderer] = list(areas[-1:])
        fig.add_tools(
            HoverTool(
                renderers=top,
                tooltips=[
                    ("NEM time", "@bucket_end{%F %H:%M}"),
                    *((d, f"@{{{d}}}{{0,0.0}} MW") for d in duids),
                ],
                formatters={"@bucket_end": "datetime"},
                mode="vline",
            )
        )
        prices = data.prices
        price_source = ColumnDataSource(
            {
                "bucket_end": prices.column("bucket_end").to_numpy()
                if prices.num_rows
                else np.array([], dtype="datetime64[us]"),
                "rrp": prices.column("rrp_mean").to_numpy()
                if prices.num_rows
                else np.array([], dtype="float64"),
            },
            name="station-price-source",
        )
        region = ", ".join(data.summary.regionids)
        price_fig = time_figure(
            title=f"{region} price, $/MWh",
            y_label="$/MWh",
            name="station-price",
            height=SMALL_CHART_HEIGHT,
            x_range=fig.x_range,
        )
        price_fig.yaxis.formatter = NumeralTickFormatter(format="$0,0")
        line = price_fig.line("bucket_end", "rrp", source=price_source, color=PRICE_COLOUR)
        price_fig.add_tools(
            HoverTool(
                renderers=[line],
                tooltips=[("NEM time", "@bucket_end{%F %H:%M}"), ("Price", "@rrp{$0,0.00} /MWh")],
                formatters={"@bucket_end": "datetime"},
                mode="vline",
            )
        )
        # One pane for both: they share the time axis, and a model shared by two panes
        # confuses BokehJS.
        self.output.draw(column(fig, price_fig, sizing_mode="stretch_width"))


class StationsTab(pn.viewable.Viewer):
    """The search, the unit chooser and the station view."""

    def __init__(self, store: DataStore, **params: Any) -> None:
        super().__init__(**params)
        self.store = store
        self.range = RangeControl(store)
        self.search = pn.widgets.TextInput(
            label="Search stations (name or DUID)",
            placeholder="e.g. Bayswater, ER01, wind",
            width=320,
            margin=(5, 10),
        )
        self.results = new_table(SEARCH_COLUMNS, name="station-search", max_rows=8, sortable=False)
        self.results.on_click(self.choose)
        # Holds the results while there are some to show.
        self.results_box = pn.Column(sizing_mode="stretch_width")
        self.found: list[dict[str, Any]] = []
        self._token = 0
        self.unit = pn.widgets.Select(
            label="Show", options={WHOLE_STATION: ""}, value="", width=220, margin=(5, 10)
        )
        self.view = StationView(store)
        self.search.param.watch(self._search, "value_input")
        self.unit.param.watch(self._unit_chosen, "value")
        self._watchers = [store.param.watch(self._station_changed, ["station", "duid"])]
        self._station_changed()
        self.layout = pn.Column(
            pn.FlexBox(self.search, self.unit, self.range, align_items="end"),
            self.results_box,
            self.view,
            sizing_mode="stretch_width",
        )

    def _search(self, event: Any) -> None:
        text = (event.new or "").strip()
        self._token += 1
        token = self._token
        if len(text) < MIN_SEARCH:
            self.results_box[:] = []
            return
        self.results_box.loading = True
        self.store.runner.submit(
            lambda: self.store.station_search(text), lambda o: self._found(token, o)
        )

    def _found(self, token: int, outcome: Outcome[pa.Table]) -> None:
        if token != self._token:
            return
        self.results_box.loading = False
        table = outcome.value
        if table is None:
            self.found = []
            self.results_box[:] = []
            if outcome.error is not None:
                self.view.show_error(outcome.error)
            return
        self.found = table.to_pylist()
        self.results.update(table)
        self.results_box[:] = [self.results]

    def choose(self, row: int) -> None:
        """Show the station of the search result at ``row``."""
        if not 0 <= row < len(self.found):
            return
        unit = self.found[row]
        if unit["station_name"]:
            self.store.param.update(station=unit["station_name"], duid="")
        else:
            self.store.param.update(station="", duid=unit["duid"])
        self.results_box[:] = []

    def _station_changed(self, *_events: Any) -> None:
        """Offer the chosen station's units in the unit chooser."""
        station, duid = self.store.station, self.store.duid
        options = {WHOLE_STATION: ""}
        if station:
            try:
                table = self.store.station_search(station, limit=100)
            except Exception:  # a bad name from a URL: the view says what is wrong
                table = None
            if table is not None:
                for row in table.to_pylist():
                    if (row["station_name"] or "").lower() == station.lower():
                        options[row["duid"]] = row["duid"]
        if duid and duid not in options.values():
            options[duid] = duid
        self.unit.options = options
        self.unit.value = duid

    def _unit_chosen(self, event: Any) -> None:
        if event.new != self.store.duid:
            self.store.duid = event.new or ""

    def close(self) -> None:
        """Stop following the store."""
        self.range.close()
        self.view.close()
        for watcher in self._watchers:
            self.store.param.unwatch(watcher)

    def __panel__(self) -> pn.viewable.Viewable:
        return self.layout


__all__ = ["StationData", "StationView", "StationsTab", "summary_html"]
