"""Writing an eval's figure: laid out, saved next to its JSON (folders made), closed."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def save_figure(fig: Any, path: Path, rect: tuple[float, float, float, float] | None = None) -> Path:
    """Lay out `fig` (within `rect`, when given), save it to `path` at 110 dpi and close it."""
    import matplotlib.pyplot as plt

    if rect is None:
        fig.tight_layout()
    else:
        fig.tight_layout(rect=rect)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
