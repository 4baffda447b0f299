"""Small real catalogues for tests (no mocks: real pixels, real files)."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from explorer.data.catalogue import Catalogue

TINY_MODEL = {"latent_dim": 4, "channels": (8, 8, 8), "hidden_dim": 32}


def blocks_catalogue(n: int = 96, size: int = 32, seed: int = 0) -> Catalogue:
    """Coloured blocks of varying height and colour on white, with two ground-truth factors."""
    rng = np.random.default_rng(seed)
    imgs = np.full((n, size, size, 3), 255, np.uint8)
    heights = rng.integers(size // 6, size - size // 4, n)
    colours = rng.integers(0, 4, n)
    palette = np.array([[200, 30, 30], [30, 160, 40], [30, 60, 200], [20, 20, 20]], np.uint8)
    for i in range(n):
        imgs[i, size - 4 - heights[i]:size - 4, 4:size - 4] = palette[colours[i]]
    md = pd.DataFrame({
        "sku": [f"SKU-{i:04d}" for i in range(n)],
        "name": [f"Block {i}" for i in range(n)],
        "brand": np.array(["Acme", "Bolt"])[colours % 2],
        "colour": np.array(["red", "green", "blue", "black"])[colours],
        "factor_height": heights.astype(float),
        "factor_colour": colours,
    })
    return Catalogue(imgs, md, name="blocks", source={"kind": "test-blocks", "seed": seed})


def copy_demo_bundle(dst: Path) -> Path:
    """A copy of the demo bundle at dst, without its checkpoint or saved names/directions, so
    that what a test saves never lands in the real bundle folder; skips when there is none."""
    import pytest

    from explorer.app import cache
    src = Path(cache.DEFAULT_BUNDLE)
    if not (src / "bundle.json").is_file():
        pytest.skip(f"no bundle at {src}")
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns(
        "checkpoint", "names.json", "directions.json", ".*"))
    return dst


def open_page(bundle: Path | str, page: str):
    """An AppTest of app.py with `bundle` chosen, switched to `page` ("pages/similar.py") and
    run once; fails on any exception the page raised."""
    from streamlit.testing.v1 import AppTest
    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "app.py"),
                           default_timeout=240)
    at.session_state["bundle_path"] = str(bundle)
    at.run()
    at.switch_page(page)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def sidebar_link(page, name: str):
    """The sidebar's link to a page, by its exact title (the home page also links to some
    pages in its body, so a page-wide search can find two once that part has drawn)."""
    return page.get_by_test_id("stSidebarNavItems").get_by_role("link", name=name, exact=True)
