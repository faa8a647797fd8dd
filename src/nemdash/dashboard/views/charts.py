# mypy: disallow-untyped-calls=False
# (Panel's widgets, panes and layouts take their params as untyped **kwargs.)
"""Charts drawn on several tabs: the generation mix, price lines, interconnectors and profiles.

Each chart builds its Bokeh figure and ``ColumnDataSource`` once and is then only fed new data
(``update``): the browser receives the new columns, not a new figure, and the user's legend
choices survive. Series that may or may not be present (a region's imports, a fuel a region does
not have) get a glyph anyway, with zeros, and their legend entry and tooltip row are hidden while
they are absent. Every chart has Bokeh's save tool (PNG export) and a hover with units.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import panel as pn
import pyarrow as pa
import pyarrow.compute as pc
from bokeh.layouts import column
from bokeh.models import ColumnDataSource, HoverTool, LayoutDOM, NumeralTickFormatter
from bokeh.models.annotations.geometry import Span
from bokeh.models.annotations.labels import Title
from bokeh.models.annotations.legends import Legend, LegendItem
from bokeh.models.ranges import Range1d
from bokeh.plotting import figure

from nemdash.dashboard.datastore import moving_average, per_bucket, wide
from nemdash.dashboard.theme import (
    ALL_SERIES,
    CHART_HEIGHT,
    FUEL_COLOURS,
    INTERCONNECTOR_COLOURS,
    INTERCONNECTOR_LABELS,
    LEGEND_LABELS,
    LIMIT_BAND_COLOUR,
    NEGATIVE_SERIES,
    POSITIVE_SERIES,
    PRICE_COLOUR,
    REGION_COLOURS,
    SERIES_LABELS,
    SMALL_CHART_HEIGHT,
    TOOLS,
    category_figure,
    time_figure,
)
from nemdash.query.interconnectors import INTERCONNECTORS
from nemdash.tables import REGIONS


def _legend_below(fig: figure, columns: int = 3) -> Legend:
    """Move the figure's legend under the plot (a phone keeps the plot's width)."""
    legend = fig.legend[0]
    legend.orientation = "horizontal"
    legend.ncols = columns
    legend.click_policy = "hide"
    legend.label_text_font_size = "8pt"
    legend.glyph_width = 14
    legend.spacing = 2
    fig.add_layout(legend, "below")
    return legend


def _items(legend: Legend, names: Sequence[str]) -> dict[str, LegendItem]:
    """Legend items by series name (in the order the glyphs were drawn)."""
    items = [item for item in legend.items if isinstance(item, LegendItem)]
    return dict(zip(names, items, strict=True))


class FigurePane(pn.viewable.Viewer):
    """A responsive pane that holds its figure only while the figure has data to draw.

    BokehJS cannot range a figure without data and says so in the browser console, so the
    figure is sent to the browser with its first data (:meth:`draw`) and taken out again when
    there is nothing to draw (:meth:`clear`).
    """

    def __init__(self, fig: LayoutDOM | None, name: str) -> None:
        super().__init__()
        self.figure = fig
        # An empty pane, not a hidden one: BokehJS ranges a hidden figure (and warns) anyway.
        self.pane = pn.pane.Bokeh(None, sizing_mode="stretch_width", name=name)

    def draw(self, fig: LayoutDOM | None = None, *, data: bool = True) -> None:
        """Put the figure (or a new one) on screen; without ``data``, take it off instead."""
        if fig is not None:
            self.figure = fig
        if not data or self.figure is None:
            self.clear()
            return
        if self.pane.object is not self.figure:
            self.pane.object = self.figure

    def clear(self) -> None:
        """Take the figure off screen."""
        if self.pane.object is not None:
            self.pane.object = None

    def __panel__(self) -> pn.viewable.Viewable:
        return self.pane


def set_title(fig: figure, text: str) -> None:
    """Change a figure's title text."""
    if isinstance(fig.title, Title):
        fig.title.text = text
    else:
        fig.title = text


def pane(fig: LayoutDOM, name: str) -> FigurePane:
    """A :class:`FigurePane` for ``fig``."""
    return FigurePane(fig, name)


class MixChart:
    """Generation stacked by series: fuels above zero, charging, pumping and exports below.

    Over time (``x="bucket_end"``) with the price beneath on the same time axis, or over the
    time of day (``x="hour"``, 0.5 .. 24, period-ending) without a price.
    """

    def __init__(
        self,
        name: str,
        *,
        title: str,
        x: str = "bucket_end",
        price: bool = True,
        height: int = CHART_HEIGHT,
    ) -> None:
        self.x = x
        empty: dict[str, Any] = {
            x: np.array([], dtype="datetime64[us]" if x == "bucket_end" else "float64")
        }
        empty.update({s: np.array([], dtype="float64") for s in (*ALL_SERIES, "supply", "rrp")})
        empty["time_of_day"] = np.array([], dtype="object")
        self.source = ColumnDataSource(empty, name=f"{name}-source")
        if x == "bucket_end":
            fig = time_figure(title=title, y_label="MW", name=name, height=height)
        else:
            fig = figure(
                title=title,
                name=name,
                height=height,
                sizing_mode="stretch_width",
                tools=TOOLS,
                toolbar_location="above",
                x_range=Range1d(start=0.5, end=24),
                min_border_left=60,
            )
            fig.xaxis.axis_label = "Hour of day, NEM time (half hour ending)"
            fig.xaxis.ticker = list(range(0, 25, 3))
            fig.yaxis.axis_label = "MW"
            fig.yaxis.formatter = NumeralTickFormatter(format="0,0")
            fig.toolbar.logo = None
        self.figure = fig
        fig.varea_stack(
            stackers=list(POSITIVE_SERIES),
            x=x,
            source=self.source,
            color=[FUEL_COLOURS[s] for s in POSITIVE_SERIES],
            legend_label=[LEGEND_LABELS[s] for s in POSITIVE_SERIES],
        )
        fig.varea_stack(
            stackers=list(NEGATIVE_SERIES),
            x=x,
            source=self.source,
            color=[FUEL_COLOURS[s] for s in NEGATIVE_SERIES],
            legend_label=[LEGEND_LABELS[s] for s in NEGATIVE_SERIES],
        )
        fig.add_layout(Span(location=0, dimension="width", line_color="#555", line_width=1))
        top = fig.line(x, "supply", source=self.source, line_alpha=0, line_width=1)
        self.items = _items(_legend_below(fig), ALL_SERIES)
        when = (
            ("NEM time", "@bucket_end{%F %H:%M}")
            if x == "bucket_end"
            else ("Half hour ending", "@time_of_day")
        )
        self._when = when
        self.hover = HoverTool(
            renderers=[top],
            tooltips=[when],
            formatters={"@bucket_end": "datetime"},
            mode="vline",
        )
        fig.add_tools(self.hover)
        self.price_figure: figure | None = None
        if price:
            prices = time_figure(
                title="Price",
                y_label="$/MWh",
                name=f"{name}-price",
                height=SMALL_CHART_HEIGHT,
                x_range=fig.x_range,
            )
            prices.yaxis.formatter = NumeralTickFormatter(format="$0,0")
            line = prices.line(
                "bucket_end", "rrp", source=self.source, color=PRICE_COLOUR, line_width=1.5
            )
            prices.add_tools(
                HoverTool(
                    renderers=[line],
                    tooltips=[when, ("Price", "@rrp{$0,0.00} /MWh")],
                    formatters={"@bucket_end": "datetime"},
                    mode="vline",
                )
            )
            self.price_figure = prices
        # One pane for both figures: models shared by two panes (the x range) confuse BokehJS.
        layout: LayoutDOM = (
            fig
            if self.price_figure is None
            else column(fig, self.price_figure, sizing_mode="stretch_width")
        )
        self.panes: list[FigurePane] = [pane(layout, name)]

    def update(self, table: pa.Table, *, value: str = "mw", price_label: str = "Price") -> None:
        """Draw a long table of ``series`` and ``value`` per ``bucket_end`` (or minute of day)."""
        key = "bucket_end" if self.x == "bucket_end" else "minute_of_day"
        data = wide(table, index=key, columns="series", values=value, names=ALL_SERIES)
        if self.x != "bucket_end":
            minutes = data.pop(key).astype("int64")
            data["hour"] = minutes / 60
            data["time_of_day"] = np.array([f"{m // 60:02d}:{m % 60:02d}" for m in minutes])
        else:
            data["time_of_day"] = np.array([""] * len(data[key]), dtype="object")
        positive = [data[s] for s in POSITIVE_SERIES]
        data["supply"] = np.sum(positive, axis=0) if len(data[self.x]) else np.array([])
        if "rrp" in table.column_names and table.num_rows:
            data["rrp"] = per_bucket(table, index=key, value="rrp")
        else:
            data["rrp"] = np.full(len(data[self.x]), np.nan)
        present = set(pc.unique(table.column("series")).to_pylist()) if table.num_rows else set()
        for series, item in self.items.items():
            item.visible = series in present
        rows = [(SERIES_LABELS[s], f"@{{{s}}}{{0,0}} MW") for s in ALL_SERIES if s in present]
        self.hover.tooltips = [self._when, *rows]
        if self.price_figure is not None:
            set_title(self.price_figure, price_label)
        self.source.data = data
        for shown in self.panes:
            shown.draw(data=table.num_rows > 0)


class PriceLines:
    """Price over time, one line per region, with an optional min-max envelope per region."""

    def __init__(self, name: str, *, title: str, log_scale: bool = False) -> None:
        self.name = name
        empty: dict[str, Any] = {"bucket_end": np.array([], dtype="datetime64[us]")}
        for region in REGIONS:
            for suffix in ("", "_min", "_max"):
                empty[f"{region}{suffix}"] = np.array([], dtype="float64")
        self.source = ColumnDataSource(empty, name=f"{name}-source")
        self.title = title
        self.log_scale = log_scale
        self.pane = FigurePane(self._draw(), name)

    def _draw(self) -> figure:
        fig = time_figure(
            title=self.title,
            y_label="$/MWh"
            + (" (log scale; prices at or below $0 not drawn)" if self.log_scale else ""),
            name=self.name,
            y_axis_type="log" if self.log_scale else "linear",
        )
        if not self.log_scale:
            fig.yaxis.formatter = NumeralTickFormatter(format="$0,0")
        self.envelopes = {}
        self.lines = {}
        for region in REGIONS:
            colour = REGION_COLOURS[region]
            self.envelopes[region] = fig.varea(
                "bucket_end",
                f"{region}_min",
                f"{region}_max",
                source=self.source,
                color=colour,
                alpha=0.15,
                visible=False,
            )
            self.lines[region] = fig.line(
                "bucket_end",
                region,
                source=self.source,
                color=colour,
                line_width=1.5,
                legend_label=region,
            )
        _legend_below(fig, columns=5)
        self.hover = HoverTool(
            renderers=[next(iter(self.lines.values()))],
            tooltips=[("NEM time", "@bucket_end{%F %H:%M}")],
            formatters={"@bucket_end": "datetime"},
            mode="vline",
        )
        fig.add_tools(self.hover)
        self.figure = fig
        return fig

    def update(
        self,
        table: pa.Table,
        regions: Sequence[str],
        *,
        smoothing: int = 1,
        envelope: bool = False,
        log_scale: bool = False,
        title: str | None = None,
    ) -> None:
        """Draw a ``price_series`` table (``bucket_end``, ``regionid``, ``rrp_mean/min/max``)."""
        if log_scale != self.log_scale:
            self.log_scale = log_scale
            self.pane.clear()
            self.pane.figure = self._draw()
        if title is not None:
            set_title(self.figure, title)
        means = wide(
            table, index="bucket_end", columns="regionid", values="rrp_mean", names=REGIONS
        )
        lows = wide(table, index="bucket_end", columns="regionid", values="rrp_min", names=REGIONS)
        highs = wide(table, index="bucket_end", columns="regionid", values="rrp_max", names=REGIONS)
        data: dict[str, Any] = {"bucket_end": means["bucket_end"]}
        present = set(pc.unique(table.column("regionid")).to_pylist()) if table.num_rows else set()
        for region in REGIONS:
            mean = _missing_as_nan(means[region], region in present)
            data[region] = _positive(moving_average(mean, smoothing), log_scale)
            data[f"{region}_min"] = _positive(
                _missing_as_nan(lows[region], region in present), log_scale
            )
            data[f"{region}_max"] = _positive(
                _missing_as_nan(highs[region], region in present), log_scale
            )
        shown = [r for r in REGIONS if r in regions and r in present]
        for region in REGIONS:
            self.lines[region].visible = region in shown
            self.envelopes[region].visible = envelope and region in shown
        self.hover.renderers = [self.lines[shown[0]]] if shown else []
        self.hover.tooltips = [
            ("NEM time", "@bucket_end{%F %H:%M}"),
            *((r, f"@{{{r}}}{{$0,0.00}} /MWh") for r in shown),
        ]
        self.source.data = data
        self.pane.draw(data=table.num_rows > 0)


def _missing_as_nan(values: np.ndarray[Any, Any], present: bool) -> np.ndarray[Any, Any]:
    """A region absent from the result is drawn as nothing, not as zeros."""
    return values if present else np.full(len(values), np.nan)


def _positive(values: np.ndarray[Any, Any], log_scale: bool) -> np.ndarray[Any, Any]:
    """On a log axis, prices at or below zero cannot be drawn: gaps instead."""
    if not log_scale:
        return values
    return np.where(values > 0, values, np.nan)


class ProfileLines:
    """A value by time of day, one line per key (regions), period-ending half hours."""

    def __init__(
        self,
        name: str,
        *,
        title: str,
        y_label: str,
        keys: Sequence[str],
        colours: Mapping[str, str],
        unit: str,
        y_format: str = "0,0",
    ) -> None:
        self.keys = tuple(keys)
        self.unit = unit
        empty: dict[str, Any] = {"hour": np.array([], dtype="float64")}
        empty["time_of_day"] = np.array([], dtype="object")
        empty.update({k: np.array([], dtype="float64") for k in keys})
        self.source = ColumnDataSource(empty, name=f"{name}-source")
        fig = figure(
            title=title,
            name=name,
            height=CHART_HEIGHT,
            sizing_mode="stretch_width",
            tools=TOOLS,
            toolbar_location="above",
            x_range=Range1d(start=0, end=24),
            min_border_left=60,
        )
        fig.toolbar.logo = None
        fig.xaxis.axis_label = "Hour of day, NEM time (half hour ending)"
        fig.xaxis.ticker = list(range(0, 25, 3))
        fig.yaxis.axis_label = y_label
        fig.yaxis.formatter = NumeralTickFormatter(format=y_format)
        self.lines = {
            k: fig.line(
                "hour", k, source=self.source, color=colours[k], line_width=2, legend_label=k
            )
            for k in keys
        }
        _legend_below(fig, columns=5)
        self.hover = HoverTool(tooltips=[("Half hour ending", "@time_of_day")], mode="vline")
        fig.add_tools(self.hover)
        self.figure = fig
        self.pane = pane(fig, name)
        self._format = y_format

    def update(self, table: pa.Table, *, key: str, value: str, shown: Sequence[str]) -> None:
        """Draw a long table of ``key``, ``minute_of_day`` and ``value``."""
        data = wide(table, index="minute_of_day", columns=key, values=value, names=self.keys)
        minutes = data.pop("minute_of_day").astype("int64")
        data["hour"] = minutes / 60
        data["time_of_day"] = np.array(
            [f"{m // 60:02d}:{m % 60:02d}" for m in minutes], dtype="object"
        )
        present = set(pc.unique(table.column(key)).to_pylist()) if table.num_rows else set()
        visible = [k for k in self.keys if k in shown and k in present]
        for k, line in self.lines.items():
            line.visible = k in visible
            if k not in present:
                data[k] = np.full(len(minutes), np.nan)
        self.hover.renderers = [self.lines[visible[0]]] if visible else []
        self.hover.tooltips = [
            ("Half hour ending", "@time_of_day"),
            *((k, f"@{{{k}}}{{{self._format}}} {self.unit}") for k in visible),
        ]
        self.source.data = data
        self.pane.draw(data=table.num_rows > 0)


class InterconnectorCharts:
    """One small chart per interconnector: its flow inside the band its limits leave.

    The band runs from ``-export_limit_mw`` to ``import_limit_mw`` (query.interconnectors: the
    flow stays inside it); positive flow is an import into the chosen region, or for the whole
    NEM AEMO's sign (from the first-named region to the second).
    """

    def __init__(self, name: str) -> None:
        self.sources: dict[str, ColumnDataSource] = {}
        self.panes: dict[str, FigurePane] = {}
        for ic in INTERCONNECTORS:
            source = ColumnDataSource(
                {
                    "bucket_end": np.array([], dtype="datetime64[us]"),
                    "flow_mw": np.array([], dtype="float64"),
                    "low": np.array([], dtype="float64"),
                    "high": np.array([], dtype="float64"),
                },
                name=f"{name}-{ic}-source",
            )
            fig = time_figure(
                title=INTERCONNECTOR_LABELS[ic],
                y_label="MW",
                name=f"{name}-{ic}",
                height=SMALL_CHART_HEIGHT + 40,
            )
            fig.varea(
                "bucket_end", "low", "high", source=source, color=LIMIT_BAND_COLOUR, alpha=0.8
            )
            line = fig.line(
                "bucket_end",
                "flow_mw",
                source=source,
                color=INTERCONNECTOR_COLOURS[ic],
                line_width=1.5,
            )
            fig.add_layout(Span(location=0, dimension="width", line_color="#555", line_width=1))
            fig.add_tools(
                HoverTool(
                    renderers=[line],
                    tooltips=[
                        ("NEM time", "@bucket_end{%F %H:%M}"),
                        ("Flow", "@flow_mw{0,0} MW"),
                        ("Import limit", "@high{0,0} MW"),
                        ("Export limit", "@low{0,0} MW"),
                    ],
                    formatters={"@bucket_end": "datetime"},
                    mode="vline",
                )
            )
            self.sources[ic] = source
            self.panes[ic] = FigurePane(fig, f"{name}-{ic}")

    def update(self, table: pa.Table) -> None:
        """Draw an ``interconnector_flows`` table; interconnectors absent from it are hidden."""
        frame = table.select(
            ["bucket_end", "interconnectorid", "flow_mw", "import_limit_mw", "export_limit_mw"]
        ).to_pandas()
        for ic, source in self.sources.items():
            rows = frame[frame["interconnectorid"] == ic].sort_values("bucket_end")
            source.data = {
                "bucket_end": rows["bucket_end"].to_numpy(),
                "flow_mw": rows["flow_mw"].to_numpy(dtype="float64"),
                "low": -rows["export_limit_mw"].to_numpy(dtype="float64"),
                "high": rows["import_limit_mw"].to_numpy(dtype="float64"),
            }
            if len(rows):
                self.panes[ic].draw()
            else:
                self.panes[ic].clear()


class FlowsNowChart:
    """Each interconnector's latest flow as a bar inside the grey bar of its limits."""

    def __init__(self, name: str) -> None:
        factors = list(INTERCONNECTORS)
        self.source = ColumnDataSource(
            {
                "interconnectorid": factors,
                "flow_mw": [0.0] * len(factors),
                "low": [0.0] * len(factors),
                "high": [0.0] * len(factors),
                "colour": [INTERCONNECTOR_COLOURS[i] for i in factors],
                "label": [INTERCONNECTOR_LABELS[i] for i in factors],
                "direction": [""] * len(factors),
            },
            name=f"{name}-source",
        )
        fig = category_figure(
            title="Interconnector flows now, against their limits",
            x_label="MW, positive from the first-named region to the second",
            name=name,
            factors=factors,
            height=280,
        )
        band = fig.hbar(
            y="interconnectorid",
            left="low",
            right="high",
            height=0.7,
            source=self.source,
            color=LIMIT_BAND_COLOUR,
        )
        flow = fig.hbar(
            y="interconnectorid",
            left=0,
            right="flow_mw",
            height=0.35,
            source=self.source,
            color="colour",
        )
        fig.add_layout(Span(location=0, dimension="height", line_color="#555", line_width=1))
        fig.add_tools(
            HoverTool(
                renderers=[band, flow],
                tooltips=[
                    ("Interconnector", "@label"),
                    ("Flow", "@flow_mw{0,0} MW (@direction)"),
                    ("Limits", "@low{0,0} .. @high{0,0} MW"),
                ],
            )
        )
        self.figure = fig
        self.pane = pane(fig, name)

    def update(self, table: pa.Table) -> None:
        """Draw the latest bucket of an ``interconnector_flows`` table (AEMO's sign)."""
        latest: dict[str, dict[str, Any]] = {}
        for found in table.to_pylist():
            latest[found["interconnectorid"]] = found  # the table is in time order
        factors = list(INTERCONNECTORS)
        flows: list[float] = []
        lows: list[float] = []
        highs: list[float] = []
        directions: list[str] = []
        for ic in factors:
            row = latest.get(ic)
            flow = row["flow_mw"] if row else None
            flows.append(flow if flow is not None else np.nan)
            lows.append(-(row["export_limit_mw"] or 0.0) if row else np.nan)
            highs.append((row["import_limit_mw"] or 0.0) if row else np.nan)
            first, second = INTERCONNECTORS[ic]
            if flow is None:
                directions.append("no data")
            else:
                directions.append(f"{first} to {second}" if flow >= 0 else f"{second} to {first}")
        data: dict[str, Any] = dict(self.source.data)
        data.update(flow_mw=flows, low=lows, high=highs, direction=directions)
        self.source.data = data
        self.pane.draw(data=table.num_rows > 0)


__all__ = [
    "FlowsNowChart",
    "InterconnectorCharts",
    "MixChart",
    "PriceLines",
    "ProfileLines",
    "pane",
]
