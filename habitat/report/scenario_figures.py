"""Scenario maps for the report: per scenario, the cells it changes and the change in suitability
and current against the baseline run (OUT/scenarios/<name>/ beside OUT/)."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from habitat.io.rasters import open_raster, read_band  # noqa: E402
from habitat.io.tables import read_table  # noqa: E402
from habitat.report.figures import figure_png  # noqa: E402

#: (stage, layer, panel title) of the difference panels, when both runs hold the layer.
DIFFERENCE_PANELS = (("suitability", "suitability", "change in suitability"),
                     ("circuit", "cumulative_current", "change in cumulative current (A)"))


def _layer(out_dir: Path, stage: str, layer_id: str) -> np.ndarray | None:
    try:
        info = json.loads((out_dir / stage / "_stage.json").read_text(encoding="utf-8"))["outputs"][layer_id]
    except (FileNotFoundError, KeyError, json.JSONDecodeError):
        return None
    with open_raster(out_dir / info["path"]) as ds:
        values = read_band(ds).astype(np.float64)
        if ds.nodata is not None and not np.isnan(ds.nodata):
            values[values == ds.nodata] = np.nan
    return values


def scenario_names(out_dir: Path) -> list[str]:
    """Scenarios that have a finished run under OUT/scenarios/, sorted."""
    root = Path(out_dir) / "scenarios"
    return sorted(p.parent.name for p in root.glob("*/manifest.json")) if root.exists() else []


def scenario_figure(out_dir: Path, name: str, *, dpi: int = 150, stamp: str = "") -> bytes:
    """One PNG: cells whose habitat class the scenario changes, then the difference panels.

    ``stamp`` (e.g. "SYNTHETIC DATA" for the demo) is printed in the top-left corner, as on the maps.
    """
    base_dir, run_dir = Path(out_dir), Path(out_dir) / "scenarios" / name
    panels = []
    before, after = _layer(base_dir, "ingest", "habitat_class_current"), _layer(run_dir, "ingest", "habitat_class_current")
    if before is not None and after is not None:
        panels.append(("cells changed (habitat class)", np.where(before != after, 1.0, np.nan), "changed"))
    for stage, layer_id, title in DIFFERENCE_PANELS:
        a, b = _layer(base_dir, stage, layer_id), _layer(run_dir, stage, layer_id)
        if a is not None and b is not None and a.shape == b.shape:
            panels.append((title, b - a, "difference"))
    fig, axes = plt.subplots(1, max(len(panels), 1), figsize=(4.2 * max(len(panels), 1), 3.6), squeeze=False)
    for ax, (title, values, kind) in zip(axes[0], panels):
        if kind == "changed":
            if before is not None:
                ax.imshow(np.where(before > 0, before, np.nan), cmap="Greys", alpha=0.35, interpolation="nearest")
            ax.imshow(values, cmap="autumn", vmin=0, vmax=1, interpolation="nearest")
            title = f"{title}: {int(np.nansum(values))} cells"
        else:
            limit = float(np.nanmax(np.abs(values))) if np.isfinite(values).any() else 0.0
            image = ax.imshow(values, cmap="RdBu", vmin=-limit or -1, vmax=limit or 1, interpolation="nearest")
            fig.colorbar(image, ax=ax, shrink=0.7)
        ax.set_title(title, fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(f"Scenario {name} against the baseline (scenario - baseline)", fontsize=9)
    if stamp:
        fig.text(0.01, 0.98, stamp, ha="left", va="top", fontsize=7, color="#b2182b", fontweight="bold")
    png = figure_png(fig, dpi=dpi)
    plt.close(fig)
    return png


def scenario_figures(out_dir: Path | None, *, dpi: int = 150, stamp: str = "") -> list[tuple[str, str, bytes]]:
    """(title, figure file stem, PNG bytes) per scenario run under ``out_dir``."""
    if out_dir is None:
        return []
    return [(f"Scenario {name}: changes against the baseline", f"scenario_{name}",
             scenario_figure(out_dir, name, dpi=dpi, stamp=stamp)) for name in scenario_names(out_dir)]


def comparison_table(out_dir: Path | None) -> pd.DataFrame | None:
    """OUT/scenarios/comparison.csv when present."""
    path = None if out_dir is None else Path(out_dir) / "scenarios" / "comparison.csv"
    return read_table(path) if path is not None and path.exists() else None
