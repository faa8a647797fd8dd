# mypy: disallow-untyped-calls=False
# (Panel's widgets, panes and layouts take their params as untyped **kwargs.)
"""Controls shared by the tabs: the range picker and tabs whose content is built on first visit.

Both only read and set DataStore params; the views follow the store, never the widgets.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any, Final

import panel as pn
from panel.viewable import Viewer

from nemdash import nemtime
from nemdash.dashboard.datastore import DataStore, parse_range

log = logging.getLogger(__name__)

#: Range presets as the buttons say them.
PRESET_LABELS: Final = {
    "1d": "1d",
    "7d": "7d",
    "30d": "30d",
    "90d": "90d",
    "1y": "1y",
    "All": "all",
    "Custom": "custom",
}
CUSTOM: Final = "custom"


class RangeControl(Viewer):
    """Preset buttons and, for custom ranges, a date-range picker, bound to ``store.range``."""

    def __init__(self, store: DataStore, **params: Any) -> None:
        super().__init__(**params)
        self.store = store
        self.presets = pn.widgets.RadioButtonGroup(
            options=PRESET_LABELS,
            value=CUSTOM,
            color="default",
            variant="outline",
            css_classes=["nd-range"],
            margin=(5, 10),
        )
        self.dates = pn.widgets.DateRangePicker(
            label="Days (NEM time, both whole)", visible=False, width=260, margin=(0, 10)
        )
        self._syncing = False
        self._show(store.range)
        self.presets.param.watch(self._preset_chosen, "value")
        self.dates.param.watch(self._dates_chosen, "value")
        self._watcher = store.param.watch(lambda e: self._show(e.new), "range")
        self.layout = pn.Row(self.presets, self.dates, sizing_mode="stretch_width")

    def _show(self, text: str) -> None:
        """Show the store's range in the widgets (without echoing it back)."""
        self._syncing = True
        try:
            custom = parse_range(text)
            if custom is None:
                self.presets.value = text
                self.dates.visible = False
            else:
                self.presets.value = CUSTOM
                self.dates.value = (date.fromisoformat(custom[0]), date.fromisoformat(custom[1]))
                self.dates.visible = True
        finally:
            self._syncing = False

    def _preset_chosen(self, event: Any) -> None:
        if self._syncing:
            return
        if event.new != CUSTOM:
            self.store.range = event.new
            return
        self.dates.visible = True
        if self.dates.value is None:
            # Start from the days the current range covers, so "Custom" changes nothing yet.
            span = self.store.span()
            if span is not None:
                first = nemtime.to_naive(span.start).date()
                last = nemtime.to_naive(span.end - nemtime.FIVE_MINUTES).date()
                self.dates.value = (first, last)

    def _dates_chosen(self, event: Any) -> None:
        if self._syncing or event.new is None:
            return
        first, last = event.new
        self.store.range = f"{first:%Y-%m-%d}..{last:%Y-%m-%d}"

    def close(self) -> None:
        """Stop following the store."""
        self.store.param.unwatch(self._watcher)

    def __panel__(self) -> pn.viewable.Viewable:
        return self.layout


class LazyTabs(Viewer):
    """Tabs bound to a store param, each built the first time it is shown (and then kept).

    ``pages`` are (param value, title, factory); a factory returns the page's content and is
    called once. Switching tabs sets the param, and setting the param (from the URL, say)
    switches tabs.
    """

    def __init__(
        self,
        store: DataStore,
        parameter: str,
        pages: Sequence[tuple[str, str, Callable[[], Any]]],
        *,
        name: str,
        **params: Any,
    ) -> None:
        super().__init__(**params)
        self.store = store
        self.parameter = parameter
        self.values = [value for value, _, _ in pages]
        self._factories = {value: factory for value, _, factory in pages}
        self.built: dict[str, Any] = {}
        # A placeholder in each holder until its tab is built (Bokeh warns of empty layouts).
        self._holders = {
            value: pn.Column(pn.Spacer(height=0, margin=0), sizing_mode="stretch_width", name=title)
            for value, title, _ in pages
        }
        # Not Panel's ``dynamic`` tabs: those swap a hidden tab's content for a placeholder and
        # rebuild and resend all of it (every model, hundreds of kB) on each visit. Here a tab's
        # content is built and sent once, on its first visit; switching back only sends
        # ``active`` (benchmarks/dashboard_bench.py measured both).
        self.tabs = pn.Tabs(
            *((title, self._holders[value]) for value, title, _ in pages),
            dynamic=False,
            sizing_mode="stretch_width",
            name=name,
        )
        self._syncing = False
        self._select(getattr(store, parameter))
        self.tabs.param.watch(self._tab_chosen, "active")
        self._watcher = store.param.watch(lambda e: self._select(e.new), parameter)

    def _select(self, value: str) -> None:
        self._build(value)
        self._syncing = True
        try:
            self.tabs.active = self.values.index(value)
        finally:
            self._syncing = False

    def _build(self, value: str) -> None:
        if value in self.built:
            return
        content = self._factories[value]()
        self.built[value] = content
        self._holders[value][:] = [content]

    def _tab_chosen(self, event: Any) -> None:
        if self._syncing:
            return
        value = self.values[event.new]
        self._build(value)
        setattr(self.store, self.parameter, value)

    def close(self) -> None:
        """Stop following the store, and close what was built."""
        self.store.param.unwatch(self._watcher)
        for content in self.built.values():
            closer = getattr(content, "close", None)
            if callable(closer):
                closer()

    def __panel__(self) -> pn.viewable.Viewable:
        return self.tabs


__all__ = ["PRESET_LABELS", "LazyTabs", "RangeControl"]
