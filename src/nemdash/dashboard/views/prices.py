# mypy: disallow-untyped-calls=False
# (Panel's widgets, panes and layouts take their params as untyped **kwargs.)
"""The Prices tab: regional spot prices over any range, at any resolution.

* **Series**: the mean price per bucket of each chosen region (resolution from 5 minutes to a
  year; ``auto`` lets the point budget choose), with an optional moving average, min-max
  envelope and logarithmic axis (which cannot draw prices at or below $0: they are left out).
* **Statistics**: time-weighted, load-weighted and generation-weighted means, extremes,
  standard deviation and counts of negative, above-$300 and above-$1,000 intervals.
* **Time of day**: the mean price by half hour of the day.
* **Bands**: per region, the share of time in each price band (below $0, $0-300, $300-1,000,
  above $1,000) against the band's contribution to the mean price.
* **High-price events**: runs of consecutive intervals above a threshold.

Prices are 5-minute dispatch prices (``intervention = 0``) in $/MWh, NEM time, period-ending.
"""

from __future__ import annotations

from typing import Any, ClassVar, Final

import panel as pn
import pyarrow as pa
from bokeh.models import ColumnDataSource, FactorRange, HoverTool, NumeralTickFormatter
from bokeh.models.axes import CategoricalAxis
from bokeh.plotting import figure

from nemdash.dashboard.datastore import DataStore, Filters, Span
from nemdash.dashboard.theme import BAND_COLOURS, BAND_LABELS, REGION_COLOURS
from nemdash.dashboard.views.base import Col, View, heading, new_table
from nemdash.dashboard.views.charts import PriceLines, ProfileLines, pane
from nemdash.dashboard.views.controls import RangeControl
from nemdash.tables import REGIONS

STATS_COLUMNS: Final = (
    Col("regionid", "Region"),
    Col("rrp_mean", "Time-weighted", "$0,0.00"),
    Col("load_weighted_rrp", "Load-weighted", "$0,0.00"),
    Col("generation_weighted_rrp", "Generation-weighted", "$0,0.00"),
    Col("rrp_min", "Min", "$0,0.00"),
    Col("rrp_max", "Max", "$0,0.00"),
    Col("rrp_std", "Std dev", "0,0.00"),
    Col("negative_intervals", "< $0", "0,0"),
    Col("above_300_intervals", "> $300", "0,0"),
    Col("above_1000_intervals", "> $1,000", "0,0"),
    Col("completeness", "Data", "0%"),
)
STATS_NOTE: Final = (
    "Prices in $/MWh: time-weighted = mean of the 5-minute prices; load-weighted by the region's "
    "demand; generation-weighted = revenue / energy of its generators. The last columns count "
    "5-minute intervals; Data = intervals present / intervals in the range."
)
BAND_COLUMNS: Final = (
    Col("regionid", "Region"),
    Col("band", "Band", labels=BAND_LABELS),
    Col("intervals", "Intervals", "0,0"),
    Col("time_share_pct", "Time (%)", "0.0"),
    Col("rrp_mean", "Mean in band ($/MWh)", "$0,0.00"),
    Col("contribution", "Contribution ($/MWh)", "$0,0.00"),
)
EVENT_COLUMNS: Final = (
    Col("regionid", "Region"),
    Col("event_start", "Start (NEM time)"),
    Col("event_end", "End (NEM time)"),
    Col("duration_minutes", "Minutes", "0,0"),
    Col("peak_rrp", "Peak ($/MWh)", "$0,0.00"),
    Col("peak_interval_end", "Peak at (interval end)"),
    Col("mean_rrp", "Mean ($/MWh)", "$0,0.00"),
)


class PriceSeriesView(View[pa.Table]):
    """The price series of the chosen regions."""

    tab: ClassVar[str] = "prices"
    watches: ClassVar[tuple[str, ...]] = (
        "price_regions",
        "range",
        "resolution",
        "smoothing",
        "log_scale",
        "envelope",
    )

    def build(self) -> pn.viewable.Viewable:
        self.chart = PriceLines("price-series", title="Spot price", log_scale=self.store.log_scale)
        self.caption = pn.pane.Markdown("", styles={"color": "#666", "font-size": "0.85em"})
        return pn.Column(
            heading("Price", self.download("price-series")),
            self.chart.pane,
            self.caption,
            sizing_mode="stretch_width",
        )

    def fetch(self, filters: Filters, span: Span) -> pa.Table:
        return self.store.price_series(filters, span)

    def apply(self, data: pa.Table) -> None:
        filters = self.shown
        self.keep("price-series", data)
        self.name_downloads()
        resolution = (data.schema.metadata or {}).get(b"nemdash.resolution", b"").decode()
        during = self.span.label if self.span is not None else ""
        self.chart.update(
            data,
            filters.price_regions,
            smoothing=filters.smoothing,
            envelope=filters.envelope,
            log_scale=filters.log_scale,
            title=f"Spot price, {resolution} means, {during}",
        )
        smoothing = (
            f"; moving average over {filters.smoothing} points" if filters.smoothing > 1 else ""
        )
        envelope = (
            "; shaded: each bucket's lowest to highest 5-minute price" if filters.envelope else ""
        )
        self.caption.object = (
            f"Mean 5-minute dispatch price per {resolution} bucket (interval ending, NEM time)"
            f"{smoothing}{envelope}."
        )


class PriceStatsView(View[pa.Table]):
    """Statistics of the chosen regions over the range."""

    tab: ClassVar[str] = "prices"
    watches: ClassVar[tuple[str, ...]] = ("price_regions", "range")

    def build(self) -> pn.viewable.Viewable:
        self.table = new_table(STATS_COLUMNS, name="price-stats")
        return pn.Column(
            heading("Statistics", self.download("price-stats")),
            pn.pane.Markdown(STATS_NOTE, styles={"color": "#666", "font-size": "0.85em"}),
            self.table,
            sizing_mode="stretch_width",
        )

    def fetch(self, filters: Filters, span: Span) -> pa.Table:
        return self.store.price_stats(filters, span)

    def apply(self, data: pa.Table) -> None:
        self.keep("price-stats", data)
        self.name_downloads()
        self.table.update(data)


class PriceProfileView(View[pa.Table]):
    """The mean price by half hour of the day."""

    tab: ClassVar[str] = "prices"
    watches: ClassVar[tuple[str, ...]] = ("price_regions", "range")

    def build(self) -> pn.viewable.Viewable:
        self.chart = ProfileLines(
            "price-time-of-day",
            title="Mean price by time of day",
            y_label="$/MWh",
            keys=REGIONS,
            colours=REGION_COLOURS,
            unit="/MWh",
            y_format="$0,0",
        )
        return pn.Column(
            heading("Time of day", self.download("price-time-of-day")),
            self.chart.pane,
            sizing_mode="stretch_width",
        )

    def fetch(self, filters: Filters, span: Span) -> pa.Table:
        return self.store.price_time_of_day(filters, span)

    def apply(self, data: pa.Table) -> None:
        self.keep("price-time-of-day", data)
        self.name_downloads()
        self.chart.update(data, key="regionid", value="rrp_mean", shown=self.shown.price_regions)


class PriceBandsView(View[pa.Table]):
    """Share of time against contribution to the mean price, per band and region."""

    tab: ClassVar[str] = "prices"
    watches: ClassVar[tuple[str, ...]] = ("price_regions", "range")

    def build(self) -> pn.viewable.Viewable:
        self.sources: list[ColumnDataSource] = []
        self.share = self._figure("price-bands-share", "Share of time (%)", "share", "0")
        self.contribution = self._figure(
            "price-bands-contribution",
            "Contribution to the mean price ($/MWh)",
            "contribution",
            "$0,0",
        )
        self.table = new_table(BAND_COLUMNS, name="price-bands-table", max_rows=20)
        self.panes = [
            pane(self.share, "price-bands-share"),
            pane(self.contribution, "price-bands-contribution"),
        ]
        return pn.Column(
            heading("Price bands", self.download("price-bands")),
            *self.panes,
            pn.pane.Markdown(
                "Contribution = the band's sum of prices / all intervals: the four add up to "
                "the time-weighted mean price.",
                styles={"color": "#666", "font-size": "0.85em"},
            ),
            self.table,
            sizing_mode="stretch_width",
        )

    def _figure(self, name: str, label: str, field: str, fmt: str) -> figure:
        # A source per figure: the two figures sit in two panes, which must share no model.
        source = ColumnDataSource(
            {"x": [], "band": [], "label": [], "share": [], "contribution": [], "colour": []},
            name=f"{name}-source",
        )
        self.sources.append(source)
        fig = figure(
            title=label,
            name=name,
            height=260,
            x_range=FactorRange(factors=[]),
            sizing_mode="stretch_width",
            tools="save,reset",
            toolbar_location="above",
        )
        bars = fig.vbar(
            x="x", top=field, width=0.85, source=source, color="colour", legend_field="label"
        )
        fig.add_tools(
            HoverTool(
                renderers=[bars],
                tooltips=[
                    ("Band", "@label"),
                    ("Share of time", "@share{0.0} %"),
                    ("Contribution", "@contribution{$0,0.00} /MWh"),
                ],
            )
        )
        fig.yaxis.formatter = NumeralTickFormatter(format=fmt)
        for axis in fig.xaxis:
            if isinstance(axis, CategoricalAxis):
                axis.major_label_text_font_size = "0pt"
                axis.group_text_font_size = "9pt"
        fig.xgrid.grid_line_color = None
        fig.legend.visible = False
        fig.toolbar.logo = None
        return fig

    def fetch(self, filters: Filters, span: Span) -> pa.Table:
        return self.store.price_bands(filters, span)

    def apply(self, data: pa.Table) -> None:
        self.keep("price-bands", data)
        self.name_downloads()
        rows = data.to_pylist()
        factors = [(r["regionid"], r["band"]) for r in rows]
        for fig in (self.share, self.contribution):
            fig.x_range.factors = factors  # type: ignore[attr-defined]
        for source in self.sources:
            source.data = {
                "x": factors,
                "band": [r["band"] for r in rows],
                "label": [BAND_LABELS[r["band"]] for r in rows],
                "share": [r["time_share_pct"] for r in rows],
                "contribution": [r["contribution"] for r in rows],
                "colour": [BAND_COLOURS[r["band"]] for r in rows],
            }
        for shown in self.panes:
            shown.draw(data=bool(rows))
        self.table.update(data)


class HighPriceEventsView(View[pa.Table]):
    """Runs of intervals above the threshold."""

    tab: ClassVar[str] = "prices"
    watches: ClassVar[tuple[str, ...]] = ("price_regions", "range", "event_threshold")

    def build(self) -> pn.viewable.Viewable:
        self.table = new_table(EVENT_COLUMNS, name="price-events", max_rows=12)
        self.summary = pn.pane.Markdown("")
        threshold = pn.widgets.FloatInput.from_param(
            self.store.param.event_threshold, label="Threshold ($/MWh)", width=160, step=50.0
        )
        return pn.Column(
            heading("High-price events", threshold, self.download("price-events")),
            self.summary,
            self.table,
            sizing_mode="stretch_width",
        )

    def fetch(self, filters: Filters, span: Span) -> pa.Table:
        return self.store.high_price_events(filters, span)

    def apply(self, data: pa.Table) -> None:
        self.keep("price-events", data)
        self.name_downloads()
        self.summary.object = (
            f"{data.num_rows:,} run(s) of consecutive 5-minute intervals above "
            f"${self.shown.event_threshold:,.0f}/MWh."
        )
        self.table.update(data)


class PricesTab(pn.viewable.Viewer):
    """The controls above the price views."""

    def __init__(self, store: DataStore, **params: Any) -> None:
        super().__init__(**params)
        self.store = store
        self.range = RangeControl(store)
        regions = pn.widgets.CheckButtonGroup.from_param(
            store.param.price_regions,
            label="Regions",
            color="default",
            variant="outline",
            margin=(5, 10),
        )
        resolution = pn.widgets.Select.from_param(
            store.param.resolution, label="Resolution", width=170, margin=(5, 10)
        )
        smoothing = pn.widgets.IntInput.from_param(
            store.param.smoothing, label="Moving average (points)", width=170, margin=(5, 10)
        )
        log_scale = pn.widgets.Checkbox.from_param(
            store.param.log_scale, label="Log scale", margin=(5, 10)
        )
        envelope = pn.widgets.Checkbox.from_param(
            store.param.envelope, label="Min-max envelope", margin=(5, 10)
        )
        self.views = [
            PriceSeriesView(store),
            PriceStatsView(store),
            PriceProfileView(store),
            PriceBandsView(store),
            HighPriceEventsView(store),
        ]
        self.layout = pn.Column(
            pn.FlexBox(regions, self.range, align_items="end"),
            pn.FlexBox(
                resolution,
                smoothing,
                pn.Column(log_scale, envelope, margin=(5, 0)),
                align_items="end",
            ),
            *self.views,
            sizing_mode="stretch_width",
        )

    def close(self) -> None:
        """Stop following the store."""
        self.range.close()
        for view in self.views:
            view.close()

    def __panel__(self) -> pn.viewable.Viewable:
        return self.layout


__all__ = [
    "HighPriceEventsView",
    "PriceBandsView",
    "PriceProfileView",
    "PriceSeriesView",
    "PriceStatsView",
    "PricesTab",
]
