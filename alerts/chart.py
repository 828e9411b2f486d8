"""A chart of the series for HTML e-mail, drawn with table cells, not images.

E-mail clients strip SVG and block inline or remote images until the reader
allows them, which is exactly when a risk manager glances at an alert. Plain
``<td>``/``<div>`` boxes with heights and background colours render in
Outlook, Gmail and Apple Mail alike: one bar a month, the months from the
change point on in the alert's colour, festival months pale, and the level
before the change drawn across as a dark line.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

__all__ = ["series_chart_html"]

HEIGHT = 90  # px of the plotting area
BAR = "#7a9cc6"
AFTER = "#e8590c"
EXCLUDED = "#d9dee5"
LINE = "#222"


def _box(height: int, colour: str | None, width: int) -> str:
    if height <= 0:
        return ""
    bg = f"background:{colour};" if colour else ""
    return (f'<div style="{bg}height:{height}px;width:{width}px;font-size:0;line-height:0;'
            f'overflow:hidden">&nbsp;</div>')


def series_chart_html(periods: Sequence[str], values: Sequence[float | None], *, change_period: str | None,
                      baseline: float | None, excluded: Sequence[str] = (), labels: dict[str, str] | None = None,
                      colour: str = AFTER) -> str:
    """HTML for the chart, or "" when there is nothing to draw.

    >>> out = series_chart_html(["2024-01", "2024-02", "2024-03"], [10, 12, 5], change_period="2024-03",
    ...                         baseline=11)
    >>> out.count("<td") >= 3 and "2024-03" in out
    True
    """
    points = [(p, v) for p, v in zip(periods, values, strict=False)
              if v is not None and not (isinstance(v, float) and math.isnan(v))]
    if len(points) < 2:
        return ""
    labels = labels or {}
    top = max([v for _, v in points] + ([baseline] if baseline is not None else []))
    if top <= 0:
        return ""
    width = max(6, min(18, 540 // len(periods)))
    base_h = round(HEIGHT * baseline / top) if baseline is not None else None
    skip = set(excluded)
    after = False
    cells = []
    for p in periods:
        v = dict(points).get(p)
        after = after or p == change_period
        if v is None:
            cells.append(f'<td style="vertical-align:bottom;padding:0 1px">{_box(1, EXCLUDED, width)}</td>')
            continue
        bar_h = max(1, round(HEIGHT * v / top))
        fill = EXCLUDED if p in skip else (colour if after else BAR)
        stack = []
        if base_h is None or base_h == 0:
            stack = [_box(HEIGHT - bar_h, None, width), _box(bar_h, fill, width)]
        elif base_h > bar_h:
            stack = [_box(HEIGHT - base_h, None, width), _box(1, LINE, width), _box(base_h - bar_h - 1, None, width),
                     _box(bar_h, fill, width)]
        else:
            stack = [_box(HEIGHT - bar_h, None, width), _box(bar_h - base_h, fill, width), _box(1, LINE, width),
                     _box(base_h - 1, fill, width)]
        title = html.escape(f"{p}: {v:g}")
        cells.append(f'<td title="{title}" style="vertical-align:bottom;padding:0 1px">{"".join(stack)}</td>')
    first, last = html.escape(periods[0]), html.escape(periods[-1])
    legend = []
    if change_period:
        legend.append(f'<span style="color:{colour}">■</span> {html.escape(labels.get("after", "from the change"))}'
                      f" ({html.escape(change_period)})")
    if baseline is not None:
        legend.append(f'<span style="color:{LINE}">━</span> {html.escape(labels.get("baseline", "level before"))}')
    if skip:
        legend.append(f'<span style="color:{EXCLUDED}">■</span> {html.escape(labels.get("excluded", "festival"))}')
    return (
        '<table role="presentation" style="border-collapse:collapse;margin:6px 0 2px"><tr>' + "".join(cells)
        + f'</tr></table><div style="font-size:11px;color:#666;display:flex;justify-content:space-between;'
        f'max-width:{len(periods) * (width + 2)}px"><span>{first}</span><span>{last}</span></div>'
        + f'<div style="font-size:12px;color:#444;margin-bottom:6px">{" &nbsp; ".join(legend)}</div>'
    )
