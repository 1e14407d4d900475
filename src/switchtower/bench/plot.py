"""The cost-quality plot: the router's threshold and value sweeps, baselines marked."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["plot_curve"]

_MARKERS: Mapping[str, str] = {
    "always-frontier": "s",
    "always-cheapest": "v",
    "random": "x",
    "oracle": "*",
}


def plot_curve(result: Mapping[str, Any], path: str | Path) -> Path:
    """Write a PNG of quality against cost fraction for the mixed workload.

    ``result`` is the benchmark's JSON (:meth:`BenchResult.to_json`): its ``sweep``
    points make the threshold rule's curve, ``sweep_value.points`` the value rule's,
    ``summary`` is the default-threshold point, and each entry of ``baselines`` is one
    marker.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(7.5, 5.0))
    curves: Sequence[tuple[Sequence[Mapping[str, Any]], str, dict[str, Any]]] = (
        (result.get("sweep", []), "switchtower (threshold sweep)", {"linestyle": "-"}),
        (
            result.get("sweep_value", {}).get("points", []),
            "switchtower (value rule sweep)",
            {"linestyle": "--", "color": "tab:green"},
        ),
    )
    for points, label, style in curves:
        pts = sorted(points, key=lambda p: (p["cost_fraction"], p["quality"]))
        if pts:
            xs, ys = [p["cost_fraction"] for p in pts], [p["quality"] for p in pts]
            ax.plot(xs, ys, marker=".", label=label, **style)
    summary = result.get("summary", {})
    if summary:
        ax.scatter(
            [summary["cost_fraction"]],
            [summary["quality"]],
            s=90,
            color="tab:blue",
            edgecolors="black",
            zorder=5,
            label="switchtower (default threshold)",
        )
    for name, base in sorted(result.get("baselines", {}).items()):
        s = base.get("summary", base)
        ax.scatter(
            [s["cost_fraction"]],
            [s["quality"]],
            marker=_MARKERS.get(name, "o"),
            s=70,
            zorder=4,
            label=name,
        )
    ax.set_xlabel("cost fraction (of always-frontier, real-time)")
    ax.set_ylabel("quality (mean recorded quality)")
    ax.set_title(f"switchtower bench ({result.get('mode', 'offline')}): cost vs quality")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
