"""Factor names checked against the model's own pictures: a suggested name is applied only
when decoding the factor's traversal shows the named attribute changing; otherwise "dim N"
with a description of what visibly changes."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from explorer.latent.naming import (FactorName, applied_names, confirmed_suggestions,
                                    dim_label, load_checked, save_checked)
from explorer.latent.naming_check import describe_change

REPO = Path(__file__).resolve().parents[1]


def _shoe(top=20, left=10, upper=(200, 30, 30), sole=(40, 40, 40), size=64):
    img = np.full((size, size, 3), 255, np.uint8)
    img[top:44, left:left + 40] = upper
    img[44:50, left:left + 40] = sole
    return img


def _trav(*frames):
    return np.stack([np.stack(frames)] * 3)          # three anchors, same traversal


@pytest.mark.parametrize("lo, hi, expected", [
    (_shoe(upper=(200, 30, 30)), _shoe(upper=(30, 30, 200)), "colour of the upper"),
    (_shoe(upper=(60, 60, 60)), _shoe(upper=(180, 180, 180)), "lightness of the upper"),
    (_shoe(sole=(200, 30, 30)), _shoe(sole=(30, 200, 30)), "colour of the sole"),
    (_shoe(upper=(120, 40, 40), sole=(40, 20, 20)),
     _shoe(upper=(220, 140, 140), sole=(140, 120, 120)), "overall brightness"),
    (_shoe(top=26), _shoe(top=10), "height of the shoe (taller →)"),
    (_shoe(left=6), _shoe(left=12), "position of the shoe (left–right)"),
    (_shoe(), _shoe(), "little visible change"),
])
def test_what_changes_is_read_from_the_pictures(lo, hi, expected):
    assert describe_change(_trav(lo, hi)) == expected


def test_only_confirmed_suggestions_are_applied_and_saved_names_win(tmp_path):
    checked = {0: FactorName(0, "", "suggested", "upper_hue ↑", True, "", "colour of the upper"),
               1: FactorName(1, "", "none", "silhouette: boot vs runner", False, "",
                             "colour of the whole shoe")}
    names = applied_names({}, checked)
    assert dim_label(0, names) == "dim 0 · upper_hue ↑ (suggested)"
    assert dim_label(1, names) == "dim 1"                       # refused: stays "dim N"
    assert dim_label(0, applied_names({0: "upper colour"}, checked)) == "dim 0 · upper colour"
    save_checked(tmp_path, "k1", checked)
    back = load_checked(tmp_path, "k1")
    assert back[0].confirmed and not back[1].confirmed
    assert back[1].description == "colour of the whole shoe"
    assert load_checked(tmp_path, "other weights") is None


def test_use_suggestions_fills_in_only_confirmed_ones():
    checked = {0: FactorName(0, "", "suggested", "upper_hue ↑", True, "", "colour of the upper"),
               1: FactorName(1, "", "none", "silhouette: boot vs runner", False, "",
                             "colour of the whole shoe"),
               2: FactorName(2, "", "none", "", False, "no suggestion", "little visible change")}
    draft, skipped = confirmed_suggestions({1: "my name", 2: "kept"}, checked)
    assert draft == {0: "upper_hue ↑", 1: "my name", 2: "kept"}
    assert list(skipped) == [1] and "silhouette" in skipped[1] and "whole shoe" in skipped[1]
    assert confirmed_suggestions({3: "x"}, None) == ({3: "x"}, {})   # check still running


def _check(bundle_name: str, wanted) -> dict:
    from explorer.bundle.core import load_bundle
    from explorer.metrics.association import suggest_names
    from explorer.latent.naming_check import checked_names
    b = load_bundle(REPO / "checkpoints" / bundle_name)
    sub = np.sort(np.random.default_rng(0).choice(len(b), size=min(4000, len(b)),
                                                  replace=False))
    suggestions = suggest_names(b.mu[sub], b.metadata.iloc[sub].reset_index(drop=True))
    dims = [d for d, s in enumerate(suggestions) if wanted(s)]
    assert dims, suggestions
    return checked_names(b.decode, b.mu, b.metadata, suggestions, dims=dims)


def test_the_study_bundles_upper_hue_dimension_gets_its_name():
    got = _check("study", lambda s: s.startswith(("upper_hue", "sole_light")))
    hue = [f for f in got.values() if f.suggestion.startswith("upper_hue")]
    assert hue and all(f.confirmed for f in hue), [f.evidence for f in hue]
    assert all("upper_hue" in f.label and "(suggested)" in f.label for f in hue)
    # the study's near-inactive dimensions are also suggested "sole_light": their pictures
    # barely change, so that name is refused for them
    quiet = [f for f in got.values() if f.description == "little visible change"]
    assert quiet and not any(f.confirmed for f in quiet)


def test_the_demo_gives_no_silhouette_name_to_a_colour_change():
    got = _check("demo", lambda s: s.startswith("silhouette"))
    for f in got.values():
        if f.confirmed:
            assert any(w in f.description for w in ("height", "shape", "size")), f
        else:
            assert f.label == f"dim {f.dim}" and f.description


def test_the_shipped_bundles_carry_their_check():
    for name in ("demo", "study"):
        from explorer.bundle.core import read_bundle_info
        info = read_bundle_info(REPO / "checkpoints" / name)
        from explorer.bundle.core import load_bundle
        b = load_bundle(REPO / "checkpoints" / name, check_hashes=False)
        got = load_checked(b.path, b.key)
        assert got is not None and len(got) == info["model_config"]["latent_dim"], name


def test_slider_labels_use_the_checked_names():
    import re

    from streamlit.testing.v1 import AppTest
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=180)
    at.run()
    at.switch_page("pages/sliders.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    labels = {re.sub(r"\\(.)", r"\1", s.label) for s in at.slider}
    from explorer.bundle.core import load_bundle
    b = load_bundle(REPO / "checkpoints" / "demo", check_hashes=False)
    checked = load_checked(b.path, b.key)
    for d, f in checked.items():
        want = f"dim {d} · {f.suggestion} (suggested)" if f.confirmed else f"dim {d}"
        assert want in labels, (want, sorted(labels))
    # a suggestion the pictures refused never labels a slider (the demo refuses most of its
    # "silhouette: ..." suggestions, whose traversals change brightness or size)
    refused = ({f.suggestion for f in checked.values() if f.suggestion and not f.confirmed}
               - {f.suggestion for f in checked.values() if f.confirmed})
    assert refused
    assert not any(r in label for r in refused for label in labels), sorted(labels)
