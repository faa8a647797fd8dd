# mypy: disallow-untyped-calls=False
# (Panel's widgets, panes and layouts take their params as untyped **kwargs.)
"""The Today tab: the NEM at a glance.

The latest spot prices of the five regions (the last intervals, with their 1-hour and 24-hour
averages, negative and high prices highlighted), the demand and renewable share now, the last
24 hours of the NEM's generation mix with its price, and each interconnector's flow now against
its limits. Everything covers the ``1d`` preset (the last day up to the end of the half hour
holding the newest interval), exactly the calls the cache warmer makes, so the first page after
new data is served from memory.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Final

import panel as pn
import pyarrow as pa
import pyarrow.compute as pc

from nemdash.dashboard.datastore import Filters, Span
from nemdash.dashboard.theme import (
    CSS,
    REGION_LABELS,
    fmt_number,
    fmt_price,
    price_class,
)
from nemdash.dashboard.views.base import View, heading
from nemdash.dashboard.views.charts import FlowsNowChart, MixChart
from nemdash.tables import REGIONS

#: Latest intervals shown per region (the CSV download has all that were fetched).
SHOWN_INTERVALS: Final = 6


@dataclass(frozen=True)
class TodayData:
    """What the Today tab draws (shared, cached Arrow tables)."""

    latest: pa.Table
    mix: pa.Table
    renewables: pa.Table
    demand: pa.Table
    flows: pa.Table


def _time(value: datetime | None) -> str:
    return "–" if value is None else value.strftime("%H:%M")


def _day_time(value: datetime | None) -> str:
    return "–" if value is None else value.strftime("%a %d %b %Y %H:%M")


def card(label: str, value: str, note: str = "") -> str:
    """One headline figure as HTML."""
    return (
        f'<div class="nd-card"><div class="nd-label">{html.escape(label)}</div>'
        f'<div class="nd-value">{html.escape(value)}</div>'
        f'<div class="nd-note">{html.escape(note)}</div></div>'
    )


def cards_html(data: TodayData) -> str:
    """The headline figures: demand, renewable share now and over the day, latest interval."""
    demand_rows = data.demand.to_pylist()
    demand = sum(r["demand_mw"] for r in demand_rows if r["demand_mw"] is not None)
    demand_at = max((r["bucket_end"] for r in demand_rows), default=None)
    shares = data.renewables.filter(pc.is_valid(data.renewables.column("share_pct")))
    share_now = shares.column("share_pct")[-1].as_py() if shares.num_rows else None
    share_at = shares.column("bucket_end")[-1].as_py() if shares.num_rows else None
    renewable = pc.sum(data.renewables.column("renewable_mwh")).as_py() or 0.0
    total = pc.sum(data.renewables.column("total_mwh")).as_py() or 0.0
    share_day = 100 * renewable / total if total else None
    latest = pc.max(data.latest.column("interval_end")).as_py() if data.latest.num_rows else None
    parts = [
        card(
            "NEM demand now",
            fmt_number(demand if demand_rows else None, 0, "MW"),
            f"generation incl. rooftop PV + net imports, {_time(demand_at)}",
        ),
        card("Renewable share now", fmt_number(share_now, 1, "%"), f"at {_time(share_at)}"),
        card("Renewable share, last 24 h", fmt_number(share_day, 1, "%"), "of generated energy"),
        card("Latest price interval", _time(latest), _day_time(latest) + " NEM time"),
    ]
    return f'<div style="display:flex;flex-wrap:wrap;gap:8px">{"".join(parts)}</div>'


def prices_html(latest: pa.Table, demand: pa.Table) -> str:
    """The latest prices as an HTML table: regions down, the last intervals across."""
    rows = latest.to_pylist()
    ends = sorted({r["interval_end"] for r in rows})[-SHOWN_INTERVALS:]
    by_region: dict[str, dict[datetime, dict[str, Any]]] = {}
    for row in rows:
        by_region.setdefault(row["regionid"], {})[row["interval_end"]] = row
    demand_of = {r["regionid"]: r["demand_mw"] for r in demand.to_pylist()}
    head = "".join(f"<th>{_time(e)}</th>" for e in ends)
    lines = [
        '<div class="nd-scroll"><table class="nd-prices"><thead><tr><th>Region</th>'
        f"{head}<th>1 h avg</th><th>24 h avg</th><th>Demand now</th></tr></thead><tbody>"
    ]
    for region in REGIONS:
        found = by_region.get(region, {})
        cells = []
        for end in ends:
            rrp = found[end]["rrp"] if end in found else None
            cells.append(f'<td class="{price_class(rrp)}">{fmt_price(rrp)}</td>')
        any_row = next(iter(found.values()), None)
        hour = any_row["rrp_avg_1h"] if any_row else None
        day = any_row["rrp_avg_24h"] if any_row else None
        lines.append(
            f"<tr><td>{html.escape(REGION_LABELS[region])}</td>{''.join(cells)}"
            f'<td class="{price_class(hour)}">{fmt_price(hour)}</td>'
            f'<td class="{price_class(day)}">{fmt_price(day)}</td>'
            f"<td>{fmt_number(demand_of.get(region), 0, 'MW')}</td></tr>"
        )
    lines.append("</tbody></table></div>")
    lines.append(
        '<div class="nd-note" style="color:#777;font-size:0.8em">$/MWh, 5-minute dispatch '
        "prices by interval end (NEM time). Blue: negative; red: above $300.</div>"
    )
    return "".join(lines)


class TodayView(View[TodayData]):
    """The NEM at a glance (the last day, whatever the range filter says)."""

    tab: ClassVar[str] = "today"

    def build(self) -> pn.viewable.Viewable:
        self.cards = pn.pane.HTML("", stylesheets=[CSS], sizing_mode="stretch_width")
        self.prices = pn.pane.HTML(
            "", stylesheets=[CSS], sizing_mode="stretch_width", name="today-prices"
        )
        self.mix = MixChart("today-mix", title="NEM generation by fuel, last 24 hours")
        self.flows = FlowsNowChart("today-flows")
        return pn.Column(
            self.cards,
            heading("Spot prices", self.download("latest-prices")),
            self.prices,
            heading("Generation, last 24 hours", self.download("today-mix")),
            *self.mix.panes,
            heading("Interconnectors now", self.download("today-flows")),
            self.flows.pane,
            sizing_mode="stretch_width",
        )

    def span_of(self, filters: Filters) -> Span | None:
        return self.store.today_span()

    def fetch(self, filters: Filters, span: Span) -> TodayData:
        return TodayData(
            latest=self.store.latest_prices(),
            mix=self.store.today_mix(span),
            renewables=self.store.today_renewables(span),
            demand=self.store.demand_now(span),
            flows=self.store.today_flows(span),
        )

    def apply(self, data: TodayData) -> None:
        self.keep("latest-prices", data.latest)
        self.keep("today-mix", data.mix)
        self.keep("today-flows", data.flows)
        self.name_downloads()
        self.cards.object = cards_html(data)
        self.prices.object = prices_html(data.latest, data.demand)
        self.mix.update(data.mix, price_label="NEM price (demand-weighted), $/MWh")
        self.flows.update(data.flows)


__all__ = ["TodayData", "TodayView", "cards_html", "prices_html"]
