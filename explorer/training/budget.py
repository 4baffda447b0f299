"""A run's time budget: `train --time-limit SECONDS` bounds the whole command.

After training, the bundle still has to be written: the catalogue encoded, the images packed,
the 2-D maps computed. UMAP and t-SNE take minutes on a 2-core CPU (9,200 items with other work
running: UMAP 251 s, t-SNE 377 s), so they are planned before training starts: PCA always;
UMAP and t-SNE only where their estimated time fits in MAP_SHARE of the limit, the others
skipped with a message (the app's Catalogue map page has a button that computes a skipped map
and saves it in the bundle, explorer/app/map_compute.py). Training gets the limit minus the
estimated finishing work.

The estimates are deliberately pessimistic (measured on a loaded 2-core machine, see
PROJECTION_COST): a quiet or bigger machine finishes early rather than late.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

MAP_SHARE = 0.10  # of the time limit, at most, for the UMAP / t-SNE maps
# seconds = a + b * items, fitted to 1,000 / 4,000 / 9,200 items of 16-D codes on this 2-core
# machine at load 4-16 (the first UMAP of a process includes numba's compilation)
PROJECTION_COST = {"pca": (0.5, 2e-5), "umap": (15.0, 0.026), "tsne": (10.0, 0.040)}
# encoding + packing images, seconds per 64 px item at the same load (scaled by pixels)
FINISH_COST_PER_ITEM = 0.007


def projection_seconds(method: str, n_items: int) -> float:
    a, b = PROJECTION_COST.get(method, (10.0, 0.04))
    return a + b * n_items


def finish_seconds(n_items: int, image_size: int) -> float:
    """Encoding the catalogue and packing its images (pessimistic)."""
    return 5.0 + FINISH_COST_PER_ITEM * n_items * (image_size / 64) ** 2


@dataclass(frozen=True)
class RunBudget:
    time_limit: float                 # what was asked for (0: none)
    train_seconds: float              # the training's share (0: no limit)
    reserve_seconds: float            # kept for encoding, packing and the kept maps
    projections: tuple[str, ...]      # the maps to compute
    skipped: dict[str, str] = field(default_factory=dict)  # map -> why it is not computed

    def to_dict(self) -> dict[str, Any]:
        return {"time_limit": self.time_limit, "train_seconds": round(self.train_seconds, 1),
                "reserve_seconds": round(self.reserve_seconds, 1),
                "projections": list(self.projections), "skipped": dict(self.skipped)}

    def message(self) -> str:
        if self.time_limit <= 0:
            return ""
        kept = ", ".join(self.projections) or "no maps"
        msg = (f"time limit {self.time_limit:g} s for the whole command: up to "
               f"{self.train_seconds:.0f} s of training, about {self.reserve_seconds:.0f} s "
               f"kept for encoding, packing and the maps ({kept})")
        for method, why in self.skipped.items():
            msg += f"; {method} skipped: {why}"
        return msg


def plan_run_budget(time_limit: float, n_items: int, image_size: int,
                    projections: Iterable[str], map_share: float = MAP_SHARE,
                    writes_bundle: bool = True) -> RunBudget:
    """Split a time limit between training and the work after it (a pure function). A run
    that writes no bundle (benchmarks: write_bundle=False) has no work after training, so the
    training gets the whole limit."""
    wanted = tuple(projections)
    if time_limit <= 0:
        return RunBudget(0.0, 0.0, 0.0, wanted)
    if not writes_bundle:
        return RunBudget(float(time_limit), float(time_limit), 0.0, wanted)
    allowance = map_share * time_limit
    kept: list[str] = []
    skipped: dict[str, str] = {}
    used = 0.0
    for method in wanted:
        est = projection_seconds(method, n_items)
        if method == "pca" or used + est <= allowance:
            kept.append(method)
            used += est
        else:
            later = (f"add it later with `python -m explorer project BUNDLE --method "
                     f"{method}` or with the button on the app's Catalogue map page")
            skipped[method] = (f"about {est:.0f} s for {n_items:,} items, more than the "
                               f"{max(allowance - used, 0):.0f} s left of the {allowance:.0f} s "
                               f"({map_share:.0%} of the time limit) the maps may take; made "
                               f"after training if it ends early enough, else {later}, or "
                               f"give a longer limit")
    reserve = finish_seconds(n_items, image_size) + used
    # the training keeps at least half the limit, however pessimistic the estimates
    train = max(time_limit - reserve, 0.5 * time_limit)
    return RunBudget(float(time_limit), train, time_limit - train, tuple(kept), skipped)
