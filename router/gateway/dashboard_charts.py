"""The dashboard's charts as inline SVG, drawn on the server from the numbers its JSON
endpoints give: no JavaScript, no library, nothing fetched, so the page works offline and
prints. Every mark carries its number twice: as visible text and as `data-label` /
`data-value` attributes (what the browser test compares with the JSON)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape

PALETTE = ("#2563eb", "#16a34a", "#ea580c", "#9333ea", "#0891b2", "#dc2626", "#ca8a04", "#4b5563",
           "#db2777", "#65a30d")
LABEL_W = 230
BAR_W = 360
ROW_H = 22
LEGEND_COLUMN_W = 330  # room for a long model id
Format = Callable[[float], str]


def color(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def _number(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def empty(message: str = "no requests in this window") -> str:
    return f'<p class="empty">{escape(message)}</p>'


def bars(rows: Sequence[tuple[str, float]], fmt: Format = _number, series: str = "value") -> str:
    """Horizontal bars, one per (label, value), scaled to the largest."""
    if not rows:
        return empty()
    top = max((v for _, v in rows), default=0) or 1
    height = ROW_H * len(rows) + 6
    parts = [f'<svg class="chart" width="{LABEL_W + BAR_W + 110}" height="{height}" role="img">']
    for i, (label, value) in enumerate(rows):
        y = 3 + i * ROW_H
        w = max(1.0, BAR_W * value / top) if value else 0
        parts.append(
            f'<text x="{LABEL_W - 6}" y="{y + 15}" text-anchor="end">{escape(label)}</text>'
            f'<rect class="mark" x="{LABEL_W}" y="{y + 3}" width="{w:.1f}" height="{ROW_H - 6}" fill="{color(i)}"'
            f' data-series="{escape(series)}" data-label="{escape(label)}" data-value="{_number(value)}">'
            f'<title>{escape(label)}: {escape(fmt(value))}</title></rect>'
            f'<text class="value" x="{LABEL_W + w + 6:.1f}" y="{y + 15}">{escape(fmt(value))}</text>')
    parts.append("</svg>")
    return "".join(parts)


def grouped_bars(labels: Sequence[str], series: Sequence[tuple[str, Sequence[float | None]]],
                 fmt: Format = _number) -> str:
    """For each label, one bar per series (e.g. p50 and p95), with a legend; None: no bar."""
    if not labels:
        return empty()
    values = [v for _, vs in series for v in vs if v is not None]
    top = max(values, default=0) or 1
    group_h = ROW_H * len(series) + 8
    height = group_h * len(labels) + 28
    parts = [f'<svg class="chart" width="{LABEL_W + BAR_W + 110}" height="{height}" role="img">']
    for s, (name, _) in enumerate(series):
        parts.append(f'<rect x="{LABEL_W + s * 110}" y="4" width="12" height="12" fill="{color(s)}"/>'
                     f'<text x="{LABEL_W + s * 110 + 16}" y="15">{escape(name)}</text>')
    for i, label in enumerate(labels):
        y0 = 26 + i * group_h
        parts.append(f'<text x="{LABEL_W - 6}" y="{y0 + group_h / 2 + 2:.0f}" text-anchor="end">{escape(label)}</text>')
        for s, (name, vs) in enumerate(series):
            value = vs[i]
            if value is None:
                continue
            y = y0 + s * ROW_H
            w = max(1.0, BAR_W * value / top) if value else 0
            parts.append(
                f'<rect class="mark" x="{LABEL_W}" y="{y + 3}" width="{w:.1f}" height="{ROW_H - 6}"'
                f' fill="{color(s)}" data-series="{escape(name)}" data-label="{escape(label)}"'
                f' data-value="{_number(value)}"><title>{escape(label)} {escape(name)}: {escape(fmt(value))}</title>'
                f'</rect><text class="value" x="{LABEL_W + w + 6:.1f}" y="{y + 15}">{escape(fmt(value))}</text>')
    parts.append("</svg>")
    return "".join(parts)


def shares(rows: Sequence[tuple[str, Sequence[tuple[str, float]]]]) -> str:
    """One 100% bar per label, split by (name, share 0..1); a legend of every name."""
    if not rows:
        return empty()
    names = sorted({n for _, parts in rows for n, _ in parts})
    colors = {n: color(i) for i, n in enumerate(names)}
    legend_rows = (len(names) + 1) // 2
    height = ROW_H * len(rows) + 12 + 18 * legend_rows
    parts = [f'<svg class="chart" width="{LABEL_W + 2 * LEGEND_COLUMN_W}" height="{height}" role="img">']
    for i, (label, split) in enumerate(rows):
        y = 3 + i * ROW_H
        parts.append(f'<text x="{LABEL_W - 6}" y="{y + 15}" text-anchor="end">{escape(label)}</text>')
        x = float(LABEL_W)
        for name, share in split:
            w = BAR_W * share
            parts.append(
                f'<rect class="mark" x="{x:.1f}" y="{y + 3}" width="{w:.1f}" height="{ROW_H - 6}" fill="{colors[name]}"'
                f' data-series="{escape(name)}" data-label="{escape(label)}" data-value="{share:g}">'
                f'<title>{escape(label)}: {escape(name)} {share:.1%}</title></rect>')
            if w > 34:
                parts.append(f'<text class="inside" x="{x + 4:.1f}" y="{y + 15}">{share:.0%}</text>')
            x += w
    base = ROW_H * len(rows) + 12
    for i, name in enumerate(names):
        x, y = LABEL_W + (i % 2) * LEGEND_COLUMN_W, base + (i // 2) * 18
        parts.append(f'<rect x="{x}" y="{y}" width="12" height="12" fill="{colors[name]}"/>'
                     f'<text x="{x + 16}" y="{y + 11}">{escape(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def lines(series: Sequence[tuple[str, Sequence[int]]], tick: Callable[[int], str]) -> str:
    """One polyline per (name, counts per step); `tick(step index)` labels the x axis."""
    if not series:
        return empty()
    steps = len(series[0][1])
    top = max((v for _, vs in series for v in vs), default=0) or 1
    width, height, left, bottom = LABEL_W + BAR_W + 110, 220, 50, 190
    plot_w = width - left - 130
    parts = [f'<svg class="chart" width="{width}" height="{height}" role="img">',
             f'<line x1="{left}" y1="{bottom}" x2="{left + plot_w}" y2="{bottom}" stroke="#999"/>',
             f'<text x="{left - 6}" y="18" text-anchor="end">{top}</text>',
             f'<text x="{left - 6}" y="{bottom}" text-anchor="end">0</text>']
    for k in range(0, steps, max(1, steps // 6)):
        x = left + plot_w * k / max(1, steps - 1)
        parts.append(f'<text class="tick" x="{x:.0f}" y="{bottom + 16}" text-anchor="middle">{escape(tick(k))}</text>')
    for s, (name, values) in enumerate(series):
        points = " ".join(f"{left + plot_w * k / max(1, steps - 1):.1f},{bottom - 170 * v / top:.1f}"
                          for k, v in enumerate(values))
        parts.append(f'<polyline class="mark" fill="none" stroke="{color(s)}" stroke-width="2" points="{points}"'
                     f' data-series="{escape(name)}" data-label="{escape(name)}" data-value="{sum(values)}">'
                     f'<title>{escape(name)}: {sum(values)} requests</title></polyline>'
                     f'<text x="{left + plot_w + 8}" y="{18 + s * 16}" fill="{color(s)}">{escape(name)} '
                     f'({sum(values)})</text>')
    parts.append("</svg>")
    return "".join(parts)
