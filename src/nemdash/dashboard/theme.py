"""The dashboard's look: one palette per kind of series, number formats, figures and CSS.

Every chart and table takes its colours from here, so that black coal is the same black on the
Today tab, in the generation mix, in the utilisation bars and in a station's chart. The fuel
colours follow the conventions NEM analysts know from Open Electricity's explorer (coal dark,
gas orange, hydro blue, wind green, solar yellow, batteries violet-blue, imports purple).

Times on every axis and in every tooltip are NEM time (UTC+10, period-ending): the lake's naive
timestamps are handed to Bokeh as they are, so the wall clock shown is AEMO's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Final, Literal

from bokeh.models import DatetimeTickFormatter, FactorRange, NumeralTickFormatter
from bokeh.models.ranges import Range
from bokeh.plotting import figure

from nemdash.query.generation import EXPORTS, IMPORTS
from nemdash.query.metadata import CONSUMING_SERIES, FUEL_LABELS, NEM, REGION_NAMES
from nemdash.store.rollup_specs import ROOFTOP_FUEL, UNKNOWN
from nemdash.tables import REGIONS

#: One colour per series of the generation mix (fuels, their consuming parts, imports, exports).
FUEL_COLOURS: Final[Mapping[str, str]] = {
    "coal_brown": "#744A26",
    "coal_black": "#121212",
    "biomass": "#1D7A7A",
    "distillate": "#F35020",
    "gas_other": "#F48E1B",
    "gas_ccgt": "#FDB462",
    "gas_ocgt": "#FFCD96",
    "hydro": "#4582B4",
    "pumped_hydro": "#2E6A9E",
    "wind": "#417505",
    "solar_utility": "#FED500",
    ROOFTOP_FUEL: "#FFF58D",
    "battery": "#3245C8",
    "other": "#A0A0A0",
    UNKNOWN: "#D0D0D0",
    IMPORTS: "#521986",
    "battery_charging": "#577CFF",
    "pumped_hydro_pumping": "#88AFD0",
    EXPORTS: "#927BAD",
}
#: Series stacked above zero, bottom first (baseload at the bottom, as analysts draw it).
POSITIVE_SERIES: Final[tuple[str, ...]] = (
    "coal_brown",
    "coal_black",
    "biomass",
    "distillate",
    "gas_other",
    "gas_ccgt",
    "gas_ocgt",
    "hydro",
    "pumped_hydro",
    "wind",
    "solar_utility",
    ROOFTOP_FUEL,
    "battery",
    "other",
    UNKNOWN,
    IMPORTS,
)
#: Series stacked below zero: batteries charging, pumped hydro pumping, exports.
NEGATIVE_SERIES: Final[tuple[str, ...]] = (*CONSUMING_SERIES.values(), EXPORTS)
ALL_SERIES: Final[tuple[str, ...]] = (*POSITIVE_SERIES, *NEGATIVE_SERIES)

SERIES_LABELS: Final[Mapping[str, str]] = {
    **FUEL_LABELS,
    UNKNOWN: "Unknown",
    "battery": "Battery (discharging)",
    "battery_charging": "Battery (charging)",
    "pumped_hydro_pumping": "Pumped hydro (pumping)",
    IMPORTS: "Imports",
    EXPORTS: "Exports",
}

#: Short names for legends (a phone's width holds three columns of them).
LEGEND_LABELS: Final[Mapping[str, str]] = {
    "coal_brown": "Brown coal",
    "coal_black": "Black coal",
    "biomass": "Biomass",
    "distillate": "Distillate",
    "gas_other": "Gas other",
    "gas_ccgt": "Gas CCGT",
    "gas_ocgt": "Gas OCGT",
    "hydro": "Hydro",
    "pumped_hydro": "Pumped hydro",
    "wind": "Wind",
    "solar_utility": "Solar farms",
    ROOFTOP_FUEL: "Rooftop PV",
    "battery": "Battery",
    "other": "Other",
    UNKNOWN: "Unknown",
    IMPORTS: "Imports",
    "battery_charging": "Charging",
    "pumped_hydro_pumping": "Pumping",
    EXPORTS: "Exports",
}

#: One colour per region (and the whole market).
REGION_COLOURS: Final[Mapping[str, str]] = {
    "NSW1": "#1F77B4",
    "QLD1": "#9467BD",
    "SA1": "#D62728",
    "TAS1": "#2CA02C",
    "VIC1": "#FF7F0E",
    NEM: "#333333",
}
REGION_LABELS: Final[Mapping[str, str]] = {
    **{r: f"{r} ({REGION_NAMES[r]})" for r in REGIONS},
    NEM: "NEM (all regions)",
}

#: Price bands (query.prices.PRICE_BANDS), cold to hot.
BAND_COLOURS: Final[Mapping[str, str]] = {
    "below_0": "#2B83BA",
    "0_to_300": "#ABDDA4",
    "300_to_1000": "#FDAE61",
    "above_1000": "#D7191C",
}
BAND_LABELS: Final[Mapping[str, str]] = {
    "below_0": "below $0",
    "0_to_300": "$0 to $300",
    "300_to_1000": "$300 to $1,000",
    "above_1000": "above $1,000",
}

#: One colour per interconnector.
INTERCONNECTOR_COLOURS: Final[Mapping[str, str]] = {
    "NSW1-QLD1": "#9467BD",
    "N-Q-MNSP1": "#C5B0D5",
    "VIC1-NSW1": "#1F77B4",
    "V-SA": "#D62728",
    "V-S-MNSP1": "#FF9896",
    "T-V-MNSP1": "#2CA02C",
}
INTERCONNECTOR_LABELS: Final[Mapping[str, str]] = {
    "NSW1-QLD1": "NSW1-QLD1 (QNI)",
    "N-Q-MNSP1": "N-Q-MNSP1 (Terranora)",
    "VIC1-NSW1": "VIC1-NSW1",
    "V-SA": "V-SA (Heywood)",
    "V-S-MNSP1": "V-S-MNSP1 (Murraylink)",
    "T-V-MNSP1": "T-V-MNSP1 (Basslink)",
}
#: Colour of a price line drawn under a generation chart.
PRICE_COLOUR: Final = "#B03060"
#: Colour of a limit band (the room an interconnector has between its limits).
LIMIT_BAND_COLOUR: Final = "#DDDDDD"

#: Price above which a latest price is flagged high (NEM-FACTS: the band users look at).
HIGH_PRICE: Final = 300.0

CHART_HEIGHT: Final = 360
SMALL_CHART_HEIGHT: Final = 220
TOOLS: Final = "pan,xwheel_zoom,box_zoom,reset,save"

#: Stylesheet of the dashboard: price highlights, figure cards, the banners. Small on purpose.
CSS: Final = """
.nd-prices { border-collapse: collapse; font-variant-numeric: tabular-nums; width: 100%; }
.nd-prices th, .nd-prices td { padding: 4px 8px; text-align: right; white-space: nowrap; }
.nd-prices th:first-child, .nd-prices td:first-child { text-align: left; }
.nd-prices thead th { border-bottom: 1px solid #ccc; font-weight: 600; }
.nd-prices td.nd-negative { background: #D6E9F8; color: #0B4F8A; font-weight: 600; }
.nd-prices td.nd-high { background: #FAD4D4; color: #9B1111; font-weight: 600; }
.nd-scroll { overflow-x: auto; max-width: 100%; }
.nd-card { border: 1px solid #e3e3e3; border-radius: 6px; padding: 8px 12px; min-width: 150px; }
.nd-card .nd-label { color: #666; font-size: 0.85em; }
.nd-card .nd-value { font-size: 1.6em; font-weight: 600; font-variant-numeric: tabular-nums; }
.nd-card .nd-note { color: #888; font-size: 0.75em; }
.nd-status { font-size: 0.9em; }
"""


# -- numbers --------------------------------------------------------------------------------------


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def fmt_number(value: float | None, digits: int = 0, unit: str = "") -> str:
    """``1,234.5 MW``; an en dash for a missing or non-finite value."""
    if value is None or not _finite(value):
        return "–"
    text = f"{value:,.{digits}f}"
    return f"{text} {unit}".strip() if unit else text


def fmt_price(value: float | None) -> str:
    """A price in $/MWh with cents: ``-$12.34``."""
    if value is None or not _finite(value):
        return "–"
    return f"{'-' if value < 0 else ''}${abs(value):,.2f}"


def fmt_money(value: float | None) -> str:
    """Dollars without cents, in thousands or millions when large: ``$1.23 M``."""
    if value is None or not _finite(value):
        return "–"
    sign, size = ("-" if value < 0 else ""), abs(value)
    if size >= 1e9:
        return f"{sign}${size / 1e9:,.2f} B"
    if size >= 1e6:
        return f"{sign}${size / 1e6:,.2f} M"
    if size >= 1e4:
        return f"{sign}${size / 1e3:,.1f} k"
    return f"{sign}${size:,.0f}"


def fmt_energy(mwh: float | None) -> str:
    """Energy in MWh, or GWh above 10,000 MWh."""
    if mwh is None or not _finite(mwh):
        return "–"
    if abs(mwh) >= 10_000:
        return f"{mwh / 1000:,.1f} GWh"
    return f"{mwh:,.0f} MWh"


def price_class(rrp: float | None) -> str:
    """The CSS class of a price cell: negative, high (above $300) or none."""
    if rrp is None or not _finite(rrp):
        return ""
    if rrp < 0:
        return "nd-negative"
    if rrp > HIGH_PRICE:
        return "nd-high"
    return ""


# -- figures --------------------------------------------------------------------------------------


def datetime_ticks() -> DatetimeTickFormatter:
    """Tick labels of a NEM-time axis (a new model per figure: a Bokeh model belongs to one
    document, and every session is a document)."""
    return DatetimeTickFormatter(
        minutes="%H:%M",
        hourmin="%H:%M",
        hours="%H:%M",
        days="%d %b",
        months="%b %Y",
        years="%Y",
    )


def time_figure(
    *,
    title: str,
    y_label: str,
    name: str,
    height: int = CHART_HEIGHT,
    x_range: Range | None = None,
    y_axis_type: Literal["linear", "log"] = "linear",
) -> figure:
    """A responsive figure with a NEM-time axis, the save tool (PNG export) and zoom tools."""
    fig = figure(
        title=title,
        name=name,
        height=height,
        sizing_mode="stretch_width",
        x_axis_type="datetime",
        y_axis_type=y_axis_type,
        tools=TOOLS,
        active_scroll=None,
        toolbar_location="above",
        min_border_left=60,
    )
    if x_range is not None:
        fig.x_range = x_range
    fig.xaxis.formatter = datetime_ticks()
    fig.xaxis.axis_label = "NEM time (UTC+10, interval ending)"
    fig.yaxis.axis_label = y_label
    if y_axis_type == "linear":
        fig.yaxis.formatter = NumeralTickFormatter(format="0,0")
    fig.toolbar.logo = None
    return fig


def category_figure(
    *,
    title: str,
    x_label: str,
    name: str,
    factors: Sequence[str],
    height: int = CHART_HEIGHT,
) -> figure:
    """A responsive figure of horizontal bars, one per factor (fuels, interconnectors...)."""
    fig = figure(
        title=title,
        name=name,
        height=height,
        sizing_mode="stretch_width",
        y_range=FactorRange(factors=list(factors)),
        tools="save,reset",
        toolbar_location="above",
        min_border_left=60,
    )
    fig.xaxis.axis_label = x_label
    fig.xaxis.formatter = NumeralTickFormatter(format="0,0")
    fig.ygrid.grid_line_color = None
    fig.toolbar.logo = None
    return fig


__all__ = [
    "ALL_SERIES",
    "BAND_COLOURS",
    "BAND_LABELS",
    "CSS",
    "FUEL_COLOURS",
    "INTERCONNECTOR_COLOURS",
    "INTERCONNECTOR_LABELS",
    "LEGEND_LABELS",
    "NEGATIVE_SERIES",
    "POSITIVE_SERIES",
    "REGION_COLOURS",
    "REGION_LABELS",
    "SERIES_LABELS",
    "category_figure",
    "fmt_energy",
    "fmt_money",
    "fmt_number",
    "fmt_price",
    "price_class",
    "time_figure",
]
