#!/usr/bin/env python3
"""Draws p99 delivery latency against deliveries/s, one line per server, as an SVG.

    python3 loadtest/plot.py -o docs/img/fanout-p99.svg \\
        classchat=/tmp/classchat-compare.X/classchat.json \\
        "Node.js Socket.IO"=/tmp/classchat-compare.X/node.json

Each input is what `classchat-load fanout` prints (loadtest/run.sh, loadtest/compare.sh):
one JSON object per run with its "steps", each step with "rate", "deliveriesPerSecond"
and "latencyMs" {"p50", "p99", ...}. A file may hold other lines too (the last run in it
is used), or only step objects (e.g. the "step N msg/s: {...}" lines of the log). A
LABEL= prefix names the line; without one the file name does. Standard library only.
"""

import argparse
import json
import math
import sys
from html import escape
from pathlib import Path

COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf"]
W, H = 760, 480
LEFT, RIGHT, TOP, BOTTOM = 78, 24, 58, 62  # margins around the plot area


def load(path):
    """The steps of the last run in `path`, as (rate, deliveries/s, p99 ms), and the run."""
    run, steps = None, []
    for line in Path(path).read_text().splitlines():
        if "{" not in line:
            continue
        try:
            obj = json.loads(line[line.index("{"):])
        except json.JSONDecodeError:
            continue
        if isinstance(obj, dict) and "steps" in obj:
            run = obj
        elif isinstance(obj, dict) and "latencyMs" in obj and "deliveriesPerSecond" in obj:
            steps.append(obj)
    if run is None:
        try:  # a whole file holding one (pretty-printed) run
            obj = json.loads(Path(path).read_text())
            run = obj if isinstance(obj, dict) and "steps" in obj else None
        except json.JSONDecodeError:
            pass
    if run is not None:
        steps = run["steps"]
    points = [(s.get("rate"), float(s["deliveriesPerSecond"]), float(s["latencyMs"]["p99"]))
              for s in steps]
    if not points:
        sys.exit(f"plot.py: {path}: no fanout steps found")
    return points, run or {}


def nice_step(span, ticks=6):
    raw = span / ticks
    mag = 10 ** math.floor(math.log10(raw))
    return next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)


def fmt_count(v):
    if v >= 1000 and v % 1000 == 0:
        return f"{v / 1000:.0f}k"
    if v >= 1000:
        return f"{v / 1000:g}k"
    return f"{v:g}"


def fmt_ms(v):
    return f"{v:,.0f}" if v >= 1 else f"{v:g}"


def svg(series, title, subtitle, target_ms):
    """The SVG text; `series` is [(label, [(rate, x, y), ...])]."""
    xs = [x for _, pts in series for _, x, _ in pts]
    ys = [y for _, pts in series for _, _, y in pts] + ([target_ms] if target_ms else [])
    x_step = nice_step(max(xs))
    x_max = math.ceil(max(xs) / x_step) * x_step
    y_lo = 10 ** math.floor(math.log10(max(min(ys), 0.1)))
    y_hi = 10 ** math.ceil(math.log10(max(ys)))
    if y_hi <= y_lo:
        y_hi = y_lo * 10
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM

    def px(x):
        return LEFT + pw * x / x_max

    def py(y):
        y = min(max(y, y_lo), y_hi)
        return TOP + ph * (1 - (math.log10(y) - math.log10(y_lo)) / (math.log10(y_hi) - math.log10(y_lo)))

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" '
           'font-family="Helvetica, Arial, sans-serif" font-size="12">',
           f'<rect width="{W}" height="{H}" fill="#ffffff"/>',
           f'<text x="{W / 2}" y="22" text-anchor="middle" font-size="16" font-weight="bold">{escape(title)}</text>']
    if subtitle:
        out.append(f'<text x="{W / 2}" y="41" text-anchor="middle" fill="#555555">{escape(subtitle)}</text>')
    # Grid, ticks and tick labels.
    x = 0.0
    while x <= x_max + 1e-9:
        out.append(f'<line x1="{px(x):.1f}" y1="{TOP}" x2="{px(x):.1f}" y2="{TOP + ph}" stroke="#e6e6e6"/>')
        out.append(f'<line x1="{px(x):.1f}" y1="{TOP + ph}" x2="{px(x):.1f}" y2="{TOP + ph + 5}" stroke="#333333"/>')
        out.append(f'<text x="{px(x):.1f}" y="{TOP + ph + 19}" text-anchor="middle">{fmt_count(x)}</text>')
        x += x_step
    decade = y_lo
    while decade <= y_hi * 1.0001:
        for m in range(1, 10):
            y = decade * m
            if y > y_hi * 1.0001:
                break
            major = m == 1
            out.append(f'<line x1="{LEFT}" y1="{py(y):.1f}" x2="{LEFT + pw}" y2="{py(y):.1f}" '
                       f'stroke="{"#dddddd" if major else "#f2f2f2"}"/>')
            out.append(f'<line x1="{LEFT - (5 if major else 3)}" y1="{py(y):.1f}" x2="{LEFT}" y2="{py(y):.1f}" stroke="#333333"/>')
            if major:
                out.append(f'<text x="{LEFT - 8}" y="{py(y) + 4:.1f}" text-anchor="end">{fmt_ms(y)}</text>')
        decade *= 10
    if target_ms:
        ty = py(target_ms)
        out.append(f'<line x1="{LEFT}" y1="{ty:.1f}" x2="{LEFT + pw}" y2="{ty:.1f}" stroke="#777777" '
                   'stroke-dasharray="6 4"/>')
        out.append(f'<text x="{LEFT + pw - 4}" y="{ty - 5:.1f}" text-anchor="end" fill="#555555">'
                   f'target: p99 &lt; {fmt_ms(target_ms)} ms</text>')
    out.append(f'<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="none" stroke="#333333"/>')
    out.append(f'<text x="{LEFT + pw / 2}" y="{H - 18}" text-anchor="middle" font-size="13">'
               'deliveries per second</text>')
    out.append(f'<text transform="translate(20 {TOP + ph / 2}) rotate(-90)" text-anchor="middle" '
               'font-size="13">p99 latency, ms (log scale)</text>')
    # One line per server, a marker per step (its numbers as a tooltip); the legend on top.
    width = max(len(label) for label, _ in series) * 7 + 56
    legend = [f'<rect x="{LEFT + 6}" y="{TOP + 6}" width="{width}" height="{20 * len(series) + 4}" '
              'fill="#ffffff" fill-opacity="0.9" stroke="#cccccc"/>']
    for i, (label, pts) in enumerate(series):
        color = COLORS[i % len(COLORS)]
        path = " ".join(f"{px(x):.1f},{py(y):.1f}" for _, x, y in pts)
        out.append(f'<polyline class="series" data-label="{escape(label)}" points="{path}" fill="none" '
                   f'stroke="{color}" stroke-width="2"/>')
        for rate, x, y in pts:
            tip = f"{label}: {rate:g} msg/s, {x:,.0f} deliveries/s, p99 {y:,.1f} ms" if rate is not None \
                else f"{label}: {x:,.0f} deliveries/s, p99 {y:,.1f} ms"
            out.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3.5" fill="{color}">'
                       f'<title>{escape(tip)}</title></circle>')
        ly = TOP + 18 + 20 * i
        legend.append(f'<line x1="{LEFT + 14}" y1="{ly}" x2="{LEFT + 40}" y2="{ly}" stroke="{color}" stroke-width="2"/>')
        legend.append(f'<circle cx="{LEFT + 27}" cy="{ly}" r="3.5" fill="{color}"/>')
        legend.append(f'<text x="{LEFT + 48}" y="{ly + 4}">{escape(label)}</text>')
    out.extend(legend)
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("inputs", nargs="+", metavar="[LABEL=]FILE")
    ap.add_argument("-o", "--output", default="docs/img/fanout-p99.svg")
    ap.add_argument("--title", default="Fanout: p99 latency against deliveries/s")
    ap.add_argument("--subtitle", help="default: the runs' scenario (rooms x members, nodes)")
    ap.add_argument("--target-ms", type=float, default=50, help="dashed line; 0 for none")
    args = ap.parse_args()
    series, runs = [], []
    for spec in args.inputs:
        label, sep, path = spec.rpartition("=")
        if not sep:
            label, path = Path(spec).stem, spec
        points, run = load(path)
        series.append((label, points))
        runs.append(run)
    subtitle = args.subtitle
    if subtitle is None:
        r = runs[0]
        parts = []
        if r.get("rooms") and r.get("members"):
            parts.append(f"{r['rooms']} rooms \u00d7 {r['members']:,} members")
        if r.get("nodes"):
            parts.append(f"{r['nodes']} node{'s' if r['nodes'] != 1 else ''} per server")
        subtitle = ", ".join(parts)
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(svg(series, args.title, subtitle, args.target_ms))
    print(f"plot.py: wrote {out} ({', '.join(f'{l}: {len(p)} steps' for l, p in series)})")


if __name__ == "__main__":
    main()
