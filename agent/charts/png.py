"""The symptom chart as a PNG (matplotlib, Agg) for places that take images, not SVG: Slack file uploads.

Same numbers and markers as `agent.charts.svg.series_svg`.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime

from agent.charts.incident import SymptomSeries, epoch
from agent.charts.svg import ACCENT, ACTION, ONSET, nice_top


def series_png(s: SymptomSeries, width_in: float = 7.0, height_in: float = 2.8, dpi: int = 110) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    t = mdates.date2num([datetime.fromtimestamp(epoch(ts), UTC) for ts, _ in s.points])
    v = [val for _, val in s.points]
    fig, ax = plt.subplots(figsize=(width_in, height_in), dpi=dpi)
    try:
        ax.plot(t, v, color=ACCENT, linewidth=2, marker="o", markersize=2.5)
        ax.set_ylim(0, nice_top(max(v) * 1.05))
        for m in s.markers:
            at = float(mdates.date2num(datetime.fromtimestamp(epoch(m.ts), UTC)))
            colour = ONSET if m.kind == "onset" else ACTION
            ax.axvline(at, color=colour, linestyle="--", linewidth=1.3)
            ax.annotate(m.label, (at, 1.0), xycoords=("data", "axes fraction"), xytext=(4, -12 if m.kind == "onset"
                        else -26), textcoords="offset points", color=colour, fontsize=8)
        ax.set_title(f"{s.service} {s.metric}" + (f" ({s.unit})" if s.unit else ""), loc="left", fontsize=10)
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M", tz=UTC))
        ax.grid(axis="y", color="#e3e6eb")
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        return buf.getvalue()
    finally:
        plt.close(fig)
