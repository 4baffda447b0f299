"""AppTest for Find similar's "ignore an attribute direction", on a copy of the demo bundle
(the direction saved here never lands in the real bundle folder)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from explorer.bundle.core import load_bundle
from explorer.latent.directions import fit_direction, save_direction
from explorer.latent.index import LatentIndex
from tests.helpers import copy_demo_bundle, open_page


@pytest.fixture(scope="module")
def bundle_copy(tmp_path_factory) -> Path:
    return copy_demo_bundle(tmp_path_factory.mktemp("similar") / "bundle")


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("KICKSPACE_DATA_DIR", str(tmp_path / "data"))


def _save_direction(bundle, columns: tuple[str, ...], name: str, **fit):
    """Fit a direction on the first of columns the bundle has (its most common value against
    the rest) and save it next to the bundle copy."""
    b = load_bundle(bundle, check_hashes=False)
    col = next((c for c in columns if c in b.metadata.columns), None)
    if col is None:
        pytest.skip("the bundle's metadata has none of the expected categorical columns")
    positive = b.metadata[col].value_counts().index[0]
    direction = fit_direction(b.mu, b.metadata[col], positive, name=f"{col} {name}", **fit)
    save_direction(bundle, b.key, direction)
    return b, col, direction


def _similar_page(bundle) -> AppTest:
    return open_page(bundle, "pages/similar.py")


def _shown_skus(at: AppTest, n: int) -> list[str]:
    """The SKUs of the product cards on the Similar tab, in order (the caption line is
    'brand · SKU · price')."""
    skus = []
    for c in at.caption:
        parts = [p.strip() for p in c.value.split("·")]
        if len(parts) >= 2 and not c.value.startswith("distance"):
            skus.append(parts[1].replace("\\", ""))
    return skus[:n]


def test_ignoring_an_attribute_direction_reranks_the_similar_products(bundle_copy):
    b, col, direction = _save_direction(
        bundle_copy, ("silhouette", "upper_colour", "material", "brand"), "test",
        method="mean-diff")
    at = _similar_page(bundle_copy)
    k = at.slider(key="sim_k").value
    select = at.multiselect(key="sim_ignore_dir")
    assert select.options == [f"{col} test"]
    plain = _shown_skus(at, k)

    select.set_value([direction.slug])
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(f"ignoring {col} test" in m.value.replace("\\", "") for m in at.markdown)
    ignored = _shown_skus(at, k)

    # what the page shows is the index with that direction projected out of the distance
    anchor = 0  # the page's default product
    want = LatentIndex(b.mu, ignore_directions=direction.vector[None]).query(
        b.mu[anchor], k=k, exclude=np.array([anchor]))[0][0]
    skus = b.metadata["sku"].astype(str).to_numpy()
    assert ignored == list(skus[want])
    plain_want = LatentIndex(b.mu).query(b.mu[anchor], k=k, exclude=np.array([anchor]))[0][0]
    assert plain == list(skus[plain_want])
    assert ignored != plain, "leaving out a real attribute direction should change the ranking"


def test_like_this_but_moves_along_a_saved_attribute_direction(bundle_copy):
    _, _, direction = _save_direction(bundle_copy, ("silhouette", "material", "brand"), "but")
    at = _similar_page(bundle_copy)
    slider = at.slider(key=f"lb_dir_{direction.slug}")
    before = [i for i in at.image if "edited" in i.captions][0].proto.SerializeToString()
    slider.set_value(3.0)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    after = [i for i in at.image if "edited" in i.captions][0].proto.SerializeToString()
    assert before != after, "moving the attribute slider should change the edited image"
