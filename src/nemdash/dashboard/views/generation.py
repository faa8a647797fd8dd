# mypy: disallow-untyped-calls=False
# (Panel's widgets, panes and layouts take their params as untyped **kwargs.)
"""The Generation tab: the mix by fuel for the NEM or a region, over any range.

* **Mix**: a stacked area by fuel (rooftop PV included; batteries charging, pumped hydro pumping
  and exports below zero; imports as their own series) with the price beneath on the same time
  axis, and a table per fuel: average MW, GWh, share and volume-weighted price.
* **Utilisation**: capacity utilisation by fuel (generated energy / (registered capacity of the
  units reporting x hours) x 100, the query layer's ``capacity_utilisation``).
* **Time of day**: the mean MW by half hour of the day, stacked as the mix.
* **Interconnectors**: each interconnector's flow inside the band its limits leave (positive =
  import into the region; for the NEM, AEMO's sign).

Each sub-tab is built and fetched the first time it is shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Final

import panel as pn
import pyarrow as pa
from bokeh.models import ColumnDataSource, HoverTool

from nemdash.dashboard.datastore import DataStore, Filters, Span
from nemdash.dashboard.theme import FUEL_COLOURS, SERIES_LABELS, category_figure
from nemdash.dashboard.views.base import Col, View, heading, new_table
from nemdash.dashboard.views.charts import InterconnectorCharts, MixChart, pane, set_title
from nemdash.dashboard.views.controls import LazyTabs, RangeControl
from nemdash.query.metadata import NEM

STATS_COLUMNS: Final = (
    Col("fuel", "Fuel", labels=SERIES_LABELS),
    Col("average_mw", "Avg MW", "0,0"),
    Col("energy_gwh", "Net GWh", "0,0.0"),
    Col("generated_gwh", "Generated GWh", "0,0.0"),
    Col("consumed_gwh", "Consumed GWh", "0,0.0"),
    Col("share_pct", "Share %", "0.0"),
    Col("volume_weighted_rrp", "Received $/MWh", "$0,0.00"),
    Col("consumption_weighted_rrp", "Paid $/MWh", "$0,0.00"),
    Col("completeness", "Data", "0%"),
)
STATS_NOTE: Final = (
    "Share = the fuel's generated energy / all generated energy (rooftop PV and battery "
    "discharge included). Received = volume-weighted price (revenue / energy generated); Paid = "
    "the same for energy consumed (batteries charging, pumping). Data = intervals present."
)
UTILISATION_COLUMNS: Final = (
    Col("fuel", "Fuel", labels=SERIES_LABELS),
    Col("generated_mwh", "Generated MWh", "0,0"),
    Col("capacity_mw", "Capacity reporting MW", "0,0"),
    Col("utilisation_pct", "Utilisation %", "0.0"),
    Col("registered_capacity_mw", "Registered MW today", "0,0"),
)


def price_label(region: str) -> str:
    """The title of the price beneath a mix."""
    if region == NEM:
        return "NEM price (demand-weighted over the regions), $/MWh"
    return f"{region} price, $/MWh"


@dataclass(frozen=True)
class MixData:
    mix: pa.Table
    stats: pa.Table


class MixView(View[MixData]):
    """The stacked mix with its price, and the per-fuel table."""

    tab: ClassVar[str] = "generation"
    subview: ClassVar[str | None] = "mix"
    watches: ClassVar[tuple[str, ...]] = ("region", "range")

    def build(self) -> pn.viewable.Viewable:
        self.chart = MixChart("generation-mix", title="Generation by fuel")
        self.table = new_table(STATS_COLUMNS, name="generation-stats")
        return pn.Column(
            heading("Generation by fuel", self.download("generation-mix")),
            *self.chart.panes,
            heading("By fuel over the range", self.download("generation-stats")),
            pn.pane.Markdown(STATS_NOTE, styles={"color": "#666", "font-size": "0.85em"}),
            self.table,
            sizing_mode="stretch_width",
        )

    def fetch(self, filters: Filters, span: Span) -> MixData:
        return MixData(
            mix=self.store.generation_mix(filters, span),
            stats=self.store.generation_stats(filters, span),
        )

    def apply(self, data: MixData) -> None:
        region = self.shown.region
        self.keep("generation-mix", data.mix)
        self.keep("generation-stats", data.stats)
        self.name_downloads()
        where = "the NEM" if region == NEM else region
        during = self.span.label if self.span is not None else ""
        set_title(self.chart.figure, f"Generation by fuel, {where}, {during}")
        self.chart.update(data.mix, price_label=price_label(region))
        self.table.update(data.stats)


class UtilisationView(View[pa.Table]):
    """Capacity utilisation by fuel: bars and a table."""

    tab: ClassVar[str] = "generation"
    subview: ClassVar[str | None] = "utilisation"
    watches: ClassVar[tuple[str, ...]] = ("region", "range")

    def build(self) -> pn.viewable.Viewable:
        self.source = ColumnDataSource(
            {"fuel": [], "label": [], "utilisation_pct": [], "colour": [], "capacity_mw": []},
            name="generation-utilisation-source",
        )
        fig = category_figure(
            title="Capacity utilisation by fuel",
            x_label="% of the registered capacity of the units reporting",
            name="generation-utilisation",
            factors=[],
            height=380,
        )
        bars = fig.hbar(
            y="label", right="utilisation_pct", height=0.7, source=self.source, color="colour"
        )
        fig.add_tools(
            HoverTool(
                renderers=[bars],
                tooltips=[
                    ("Fuel", "@label"),
                    ("Utilisation", "@utilisation_pct{0.0} %"),
                    ("Capacity reporting", "@capacity_mw{0,0} MW"),
                ],
            )
        )
        self.figure = fig
        self.table = new_table(UTILISATION_COLUMNS, name="generation-utilisation-table")
        self.pane = pane(fig, "generation-utilisation")
        return pn.Column(
            heading("Capacity utilisation", self.download("generation-utilisation")),
            self.pane,
            pn.pane.Markdown(
                "Utilisation = generated energy / (registered capacity of the units reporting "
                "SCADA at each interval x hours) x 100. Rooftop PV has no registered capacity.",
                styles={"color": "#666", "font-size": "0.85em"},
            ),
            self.table,
            sizing_mode="stretch_width",
        )

    def fetch(self, filters: Filters, span: Span) -> pa.Table:
        return self.store.capacity_utilisation(filters, span)

    def apply(self, data: pa.Table) -> None:
        self.keep("generation-utilisation", data)
        self.name_downloads()
        rows = [r for r in data.to_pylist() if r["utilisation_pct"] is not None]
        rows.sort(key=lambda r: r["utilisation_pct"])
        labels = [SERIES_LABELS.get(r["fuel"], r["fuel"]) for r in rows]
        self.figure.y_range.factors = labels  # type: ignore[attr-defined]
        self.source.data = {
            "fuel": [r["fuel"] for r in rows],
            "label": labels,
            "utilisation_pct": [r["utilisation_pct"] for r in rows],
            "colour": [FUEL_COLOURS.get(r["fuel"], "#999999") for r in rows],
            "capacity_mw": [r["capacity_mw"] for r in rows],
        }
        self.pane.draw(data=bool(rows))
        self.table.update(data)


class TimeOfDayView(View[pa.Table]):
    """The mean mix by half hour of the day."""

    tab: ClassVar[str] = "generation"
    subview: ClassVar[str | None] = "time_of_day"
    watches: ClassVar[tuple[str, ...]] = ("region", "range")

    def build(self) -> pn.viewable.Viewable:
        self.chart = MixChart(
            "generation-time-of-day", title="Mean generation by time of day", x="hour", price=False
        )
        return pn.Column(
            heading("Time of day", self.download("generation-time-of-day")),
            *self.chart.panes,
            sizing_mode="stretch_width",
        )

    def fetch(self, filters: Filters, span: Span) -> pa.Table:
        return self.store.generation_time_of_day(filters, span)

    def apply(self, data: pa.Table) -> None:
        self.keep("generation-time-of-day", data)
        self.name_downloads()
        self.chart.update(data)


class InterconnectorsView(View[pa.Table]):
    """Flows against their limits, one chart per interconnector."""

    tab: ClassVar[str] = "generation"
    subview: ClassVar[str | None] = "interconnectors"
    watches: ClassVar[tuple[str, ...]] = ("region", "range")

    def build(self) -> pn.viewable.Viewable:
        self.charts = InterconnectorCharts("generation-interconnectors")
        self.note = pn.pane.Markdown("", styles={"color": "#666", "font-size": "0.85em"})
        return pn.Column(
            heading("Interconnectors", self.download("interconnector-flows")),
            self.note,
            *self.charts.panes.values(),
            sizing_mode="stretch_width",
        )

    def fetch(self, filters: Filters, span: Span) -> pa.Table:
        return self.store.interconnector_flows(filters, span)

    def apply(self, data: pa.Table) -> None:
        self.keep("interconnector-flows", data)
        self.name_downloads()
        region = self.shown.region
        if region == NEM:
            self.note.object = (
                "Measured flow (MW), AEMO's sign: positive from the first-named region to the "
                "second. Grey: the room between the export and import limits."
            )
        else:
            self.note.object = (
                f"Measured flow (MW), positive = import into {region}, negative = export. "
                "Grey: the room between the limits."
            )
        self.charts.update(data)


class GenerationTab(pn.viewable.Viewer):
    """The region and range controls above the four sub-tabs."""

    def __init__(self, store: DataStore, **params: Any) -> None:
        super().__init__(**params)
        self.store = store
        self.range = RangeControl(store)
        region = pn.widgets.Select.from_param(
            store.param.region, label="Region", width=220, margin=(5, 10)
        )
        self.subtabs = LazyTabs(
            store,
            "gen_view",
            [
                ("mix", "Mix", lambda: MixView(store)),
                ("utilisation", "Utilisation", lambda: UtilisationView(store)),
                ("time_of_day", "Time of day", lambda: TimeOfDayView(store)),
                ("interconnectors", "Interconnectors", lambda: InterconnectorsView(store)),
            ],
            name="generation-views",
        )
        self.layout = pn.Column(
            pn.FlexBox(region, self.range, align_items="end"),
            self.subtabs,
            sizing_mode="stretch_width",
        )

    def close(self) -> None:
        """Stop following the store."""
        self.range.close()
        self.subtabs.close()

    def __panel__(self) -> pn.viewable.Viewable:
        return self.layout


__all__ = [
    "GenerationTab",
    "InterconnectorsView",
    "MixView",
    "TimeOfDayView",
    "UtilisationView",
    "price_label",
]
