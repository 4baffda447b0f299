"""The procedural sneaker catalogue: side-view product photos with known ground-truth factors.

Every item is a function of ``(seed, index)`` only (and of the design: "full", the default,
or "study", the six-factor catalogue for measuring disentanglement; see STUDY_VARIED)::

    item = sample_item(seed, index)      # factor values + metadata, one flat dict
    img = render(item, size=64)          # uint8 [size, size, 3]
    cat = generate(30000, size=64)       # Catalogue, rendered in parallel

``item`` holds the metadata columns of the catalogue table (sku, name, brand, ...) and one
``factor_<name>`` entry per ground-truth factor in :data:`FACTORS` (integer codes for
categorical factors, floats for continuous ones). :func:`render` reads only the ``factor_``
entries, so a caller may change one of them and render again to see what that factor does.

Metadata columns: ``sku`` (unique, "KS-000123-ab"), ``name`` ("Vantor Court Hi 'Ember'":
brand, model, height, colorway), ``brand`` (fictional, a function of logo and silhouette),
``model``, ``colorway`` (a nickname from the upper and accent colours), ``colours``
("Upper/Accent-Sole" colour names), ``silhouette``, ``material``, ``toe_shape``, ``logo``,
``upper_colour``, ``accent_colour``, ``sole_colour``, ``lace_colour`` ("none" on slip-ons),
``heel_tab_colour`` (readable names, nearest of a 51-colour palette), ``price`` (float, from
brand x silhouette x material, with noise) and ``release_year`` (int).

All factors are sampled independently of one another. The one physical exception: slip-ons have
no laces, so their ``factor_lace_*`` values are sampled (and stored) like everyone else's but are
not drawn (and their ``lace_colour`` reads "none").

Rendering: the shoe is drawn flat with PIL polygons at ``SUPERSAMPLE`` times the output size
(4x, so edges are anti-aliased), with a cached texture tile per material; it is then box-filtered
down to the output size, where smooth fields (form shading, leather highlights, suede sheen,
the soft shadow under the sole) are applied with numpy at low cost.

Command line (explorer/cli/synth.py):
``python -m explorer synth --n 30000 --size 64 --out data/synth --sheet s.png``
(``--design study`` for the study catalogue).

Code: factors, colour names and sampling in `synthetic_factors`, shoe geometry and textures in
`synthetic_geometry`, drawing in `synthetic_render`; this module re-exports their public names
and holds the catalogue (`generate`).
"""
from __future__ import annotations

import os
import sys

import numpy as np
import pandas as pd
from PIL import Image

from explorer.data.catalogue import Catalogue
from explorer.data.synthetic_factors import (COLOUR_PARTS, DESIGNS, FACTOR_BY_NAME, FACTORS,
                                             LOGOS, MATERIALS, SCALE_RANGE, SHIFT_RANGE,
                                             SILHOUETTES, STUDY_FIXED, STUDY_VARIED, TOE_SHAPES,
                                             Factor, _check_design, brand_for, colour_name,
                                             colour_names, factor_columns, hsl_to_rgb,
                                             sample_item)
from explorer.data.synthetic_geometry import SUPERSAMPLE
from explorer.data.synthetic_render import render

__all__ = ["COLOUR_PARTS", "DESIGNS", "FACTORS", "FACTOR_BY_NAME", "LOGOS", "MATERIALS",
           "SCALE_RANGE", "SHIFT_RANGE", "SILHOUETTES", "STUDY_FIXED", "STUDY_VARIED",
           "SUPERSAMPLE", "TOE_SHAPES", "Factor", "brand_for", "colour_name",
           "colour_names", "contact_sheet", "factor_columns", "generate", "hsl_to_rgb", "render",
           "sample_item"]


# ============================================================================ catalogue
def _render_chunk(job: tuple[int, int, int, int, str]) -> tuple[int, np.ndarray, list[dict]]:
    """Worker: items first..first+count-1 of seed -> (first, uint8 [count, S, S, 3], items)."""
    seed, first, count, size, design = job
    images = np.empty((count, size, size, 3), dtype=np.uint8)
    items = []
    for k in range(count):
        item = sample_item(seed, first + k, design)
        images[k] = render(item, size)
        items.append(item)
    return first, images, items


def _chunk_size(n: int, workers: int) -> int:
    return int(min(256, max(8, -(-n // (4 * max(workers, 1))))))


def generate(n: int, size: int = 64, seed: int = 0, start: int = 0,
             workers: int | None = None, progress: bool = True,
             design: str = "full") -> Catalogue:
    """Items start..start+n-1 of the procedural catalogue with ``seed``, as a Catalogue
    (images uint8 [n, size, size, 3], metadata one row per item, see :func:`sample_item`;
    ``design`` "study" makes the six-factor study catalogue).

    Rendered by ``workers`` processes (default: all CPUs; 1 renders in this process); the
    result does not depend on the number of workers. ``progress`` shows a tqdm bar on stderr.
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if start < 0:
        raise ValueError(f"start must be >= 0, got {start}")
    if size < 16:
        raise ValueError(f"size must be >= 16, got {size}")
    _check_design(design)
    from tqdm import tqdm

    workers = os.cpu_count() or 1 if workers is None else int(workers)
    chunk = _chunk_size(n, workers)
    jobs = [(int(seed), start + a, min(chunk, n - a), int(size), design)
            for a in range(0, n, chunk)]
    images = np.empty((n, size, size, 3), dtype=np.uint8)
    rows: list[dict | None] = [None] * n

    def collect(results) -> None:
        with tqdm(total=n, unit="img", desc=f"synth {size}px", disable=not progress,
                  file=sys.stderr) as bar:
            for first, imgs, items in results:
                a = first - start
                images[a:a + len(imgs)] = imgs
                rows[a:a + len(items)] = items
                bar.update(len(imgs))

    n_proc = min(workers, len(jobs))
    if n_proc <= 1:
        collect(map(_render_chunk, jobs))
    else:
        import multiprocessing as mp

        method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
        with mp.get_context(method).Pool(n_proc) as pool:
            collect(pool.imap_unordered(_render_chunk, jobs))
    metadata = pd.DataFrame(rows)
    source = {"kind": "synthetic", "seed": int(seed), "n": int(n), "size": int(size),
              "start": int(start)}
    if design != "full":
        source["design"] = design
    return Catalogue(images, metadata, name="synthetic" if design == "full" else
                     f"synthetic-{design}", source=source)


def contact_sheet(images: np.ndarray, scale: int = 1) -> Image.Image:
    """The first 64 images [N, H, W, 3] as an 8 x 8 contact sheet."""
    from explorer.render.sheets import image_grid

    return image_grid(images[:64], cols=8, pad=2, scale=scale)
