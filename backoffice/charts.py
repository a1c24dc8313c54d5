"""Charts drawn on the server as inline SVG: no JavaScript, no chart library, escaped text only."""

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

PALETTE = ["#417690", "#5b9c5b", "#b58900", "#d33682", "#6c71c4", "#cb4b16"]


def _svg(width: int, height: int, body: list[str], label: str) -> SafeString:
    return mark_safe(  # noqa: S308 - every text inside went through escape()
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{escape(label)}" class="cc-chart">' + "".join(body) + "</svg>"
    )


def stacked_bars(*, labels: list[str], series: dict[str, list[int]], title: str, width=640, height=240) -> SafeString:
    """One bar per label, stacked by series (e.g. interactions per day, by channel), with a legend."""
    left, bottom, top = 40, 30, 24
    plot_h = height - bottom - top
    n = max(len(labels), 1)
    totals = [sum(values[i] for values in series.values()) for i in range(len(labels))]
    peak = max([*totals, 1])
    slot = (width - left - 24) / n
    bar_w = max(slot * 0.7, 1)
    body = [
        f'<text x="{left}" y="14" font-size="12" font-weight="bold">{escape(title)}</text>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 24}" y2="{top + plot_h}" stroke="#999"/>',
        f'<text x="{left - 4}" y="{top + 4}" font-size="10" text-anchor="end">{peak}</text>',
        f'<text x="{left - 4}" y="{top + plot_h}" font-size="10" text-anchor="end">0</text>',
    ]
    for i, label in enumerate(labels):
        x = left + i * slot + (slot - bar_w) / 2
        y = top + plot_h
        for k, (name, values) in enumerate(series.items()):
            h = plot_h * values[i] / peak
            y -= h
            body.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" fill="{PALETTE[k % len(PALETTE)]}">'
                f"<title>{escape(name)} {escape(label)}: {values[i]}</title></rect>"
            )
        if n <= 16 or i % 2 == 0:
            body.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{height - 14}" font-size="9" text-anchor="middle">{escape(label)}</text>'
            )
    for k, name in enumerate(series):
        lx = left + k * 110
        body.append(f'<rect x="{lx}" y="{height - 10}" width="8" height="8" fill="{PALETTE[k % len(PALETTE)]}"/>')
        body.append(f'<text x="{lx + 12}" y="{height - 2}" font-size="10">{escape(name)}</text>')
    return _svg(width, height, body, title)


def horizontal_bars(*, items: list[tuple[str, int]], title: str, width=640, row=26) -> SafeString:
    """A funnel: one horizontal bar per step, scaled to the first (widest) step."""
    left = 170
    height = 24 + row * max(len(items), 1)
    peak = max([count for _label, count in items] + [1])
    body = [f'<text x="0" y="14" font-size="12" font-weight="bold">{escape(title)}</text>']
    for i, (label, count) in enumerate(items):
        y = 24 + i * row
        w = (width - left - 70) * count / peak
        body.append(f'<text x="{left - 6}" y="{y + 15}" font-size="11" text-anchor="end">{escape(label)}</text>')
        body.append(
            f'<rect x="{left}" y="{y + 3}" width="{w:.1f}" height="{row - 8}" fill="{PALETTE[i % len(PALETTE)]}"/>'
        )
        body.append(f'<text x="{left + w + 6:.1f}" y="{y + 15}" font-size="11">{count}</text>')
    return _svg(width, height, body, title)


def line(
    *,
    labels: list[str],
    values: list[float | None],
    title: str,
    maximum: float = 100.0,
    unit: str = "%",
    width=640,
    height=200,
) -> SafeString:
    """A line over the labels (e.g. OTP approval rate per day); None leaves a gap."""
    left, bottom, top = 40, 24, 24
    plot_h = height - bottom - top
    n = max(len(labels), 1)
    step = (width - left - 24) / max(n - 1, 1)
    body = [
        f'<text x="{left}" y="14" font-size="12" font-weight="bold">{escape(title)}</text>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 24}" y2="{top + plot_h}" stroke="#999"/>',
        f'<text x="{left - 4}" y="{top + 4}" font-size="10" text-anchor="end">{maximum:g}{escape(unit)}</text>',
        f'<text x="{left - 4}" y="{top + plot_h}" font-size="10" text-anchor="end">0</text>',
    ]
    points = []
    for i, value in enumerate(values):
        x = left + i * step
        if value is None:
            if len(points) > 1:
                body.append(
                    f'<polyline fill="none" stroke="{PALETTE[0]}" stroke-width="2" points="{" ".join(points)}"/>'
                )
            points = []
            continue
        y = top + plot_h - plot_h * min(value, maximum) / maximum
        points.append(f"{x:.1f},{y:.1f}")
        body.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{PALETTE[0]}"><title>{escape(labels[i])}: '
            f"{value:.1f}{escape(unit)}</title></circle>"
        )
    if len(points) > 1:
        body.append(f'<polyline fill="none" stroke="{PALETTE[0]}" stroke-width="2" points="{" ".join(points)}"/>')
    for i, label in enumerate(labels):
        if n <= 16 or i % 2 == 0:
            body.append(
                f'<text x="{left + i * step:.1f}" y="{height - 6}" font-size="9" text-anchor="middle">{escape(label)}</text>'
            )
    return _svg(width, height, body, title)
