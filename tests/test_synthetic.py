"""The procedural sneaker catalogue: determinism, shapes, factors, metadata and the CLI."""
from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from explorer.cli import synth as synth_cli
from explorer.data import synthetic
from explorer.data.catalogue import Catalogue
from explorer.cli import main
from explorer.data.synthetic import FACTORS, generate, render, sample_item

META_COLUMNS = ["sku", "name", "brand", "model", "colorway", "silhouette", "material",
                "upper_colour", "sole_colour", "price", "release_year"]


@pytest.fixture(scope="module")
def items500() -> pd.DataFrame:
    return pd.DataFrame([sample_item(0, i) for i in range(500)])


def vivid(item: dict) -> dict:
    """The item with a saturated mid-tone upper, so that its hue shows."""
    return {**item, "factor_upper_sat": 0.8, "factor_upper_light": 0.5}


# ------------------------------------------------------------------ determinism
def test_same_seed_and_index_give_identical_item_and_pixels():
    a, b = sample_item(3, 17), sample_item(3, 17)
    assert a == b
    assert np.array_equal(render(a, 64), render(b, 64))


def test_items_depend_on_seed_and_index():
    assert sample_item(0, 5) != sample_item(0, 6)
    assert sample_item(0, 5) != sample_item(1, 5)
    assert sample_item(0, 5)["sku"].startswith("KS-000005-")


def test_generate_slices_overlap_exactly():
    a = generate(12, size=32, seed=4, start=0, workers=1, progress=False)
    b = generate(12, size=32, seed=4, start=6, workers=1, progress=False)
    assert np.array_equal(a.images[6:], b.images[:6])
    pd.testing.assert_frame_equal(a.metadata.iloc[6:].reset_index(drop=True),
                                  b.metadata.iloc[:6].reset_index(drop=True))
    assert b.source == {"kind": "synthetic", "seed": 4, "n": 12, "size": 32, "start": 6}


def test_worker_count_does_not_change_the_catalogue():
    one = generate(20, size=32, seed=1, workers=1, progress=False)
    two = generate(20, size=32, seed=1, workers=2, progress=False)
    assert np.array_equal(one.images, two.images)
    pd.testing.assert_frame_equal(one.metadata, two.metadata)
    assert one.fingerprint == two.fingerprint


# ------------------------------------------------------------------ images
@pytest.mark.parametrize("size", [32, 64, 128])
def test_render_shape_dtype_and_white_corners(size):
    for index in range(6):  # the six first items cover several silhouettes
        img = render(sample_item(0, index), size)
        assert img.shape == (size, size, 3) and img.dtype == np.uint8
        k = max(2, size // 16)
        for corner in (img[:k, :k], img[:k, -k:], img[-k:, :k], img[-k:, -k:]):
            assert corner.min() >= 250


def test_shoe_fills_most_of_the_frame_width():
    for index in range(10):
        img = render(sample_item(0, index), 64).astype(int)
        cols = np.where((255 - img).sum(axis=(0, 2)) > 60)[0]  # columns with shoe in them
        assert cols.max() - cols.min() + 1 >= 0.75 * 64


def test_generate_shapes_and_metadata():
    cat = generate(10, size=48, seed=0, workers=1, progress=False)
    assert isinstance(cat, Catalogue)
    assert cat.images.shape == (10, 48, 48, 3) and cat.images.dtype == np.uint8
    assert len(cat.metadata) == 10
    assert cat.factor_columns == [f.column for f in FACTORS]
    for i in range(10):
        assert np.array_equal(cat.images[i], render(sample_item(0, i), 48))


@pytest.mark.parametrize("factor, value", [
    ("upper_hue", None), ("silhouette", None), ("logo", None), ("sole_thickness", None),
    ("toe_shape", None), ("material", None), ("collar_padding", None), ("sole_light", None),
    ("accent_light", None), ("heel_tab_light", None),
])
def test_changing_one_factor_changes_the_image(factor, value):
    base = vivid(sample_item(0, 3))
    spec = synthetic.FACTOR_BY_NAME[factor]
    col = spec.column
    if spec.kind == "categorical":
        changed = {**base, col: (base[col] + 1) % len(spec.values)}
    else:
        lo, hi = spec.low, spec.high
        changed = {**base, col: lo + hi - base[col] if abs(base[col] - (lo + hi) / 2) > 0.2
                   else (lo if base[col] > (lo + hi) / 2 else hi)}
    a, b = render(base, 64).astype(int), render(changed, 64).astype(int)
    assert np.abs(a - b).sum() > 500, f"{factor} made no visible difference"


def test_lace_colour_shows_on_laced_shoes():
    item = sample_item(0, 0)
    laced = {**item, "factor_silhouette": synthetic.SILHOUETTES.index("high-top"),
             "factor_lace_light": 0.15}
    other = {**laced, "factor_lace_light": 0.9}
    assert np.abs(render(laced, 64).astype(int) - render(other, 64).astype(int)).sum() > 500


# ------------------------------------------------------------------ factors
def test_factors_describe_the_factor_columns(items500):
    names = [f.name for f in FACTORS]
    assert len(set(names)) == len(names)
    for f in FACTORS:
        assert f.kind in ("categorical", "continuous")
        assert f.column in items500.columns
        values = items500[f.column]
        if f.kind == "categorical":
            assert values.dtype.kind == "i"
            assert set(values) == set(range(len(f.values)))  # every value occurs
        else:
            assert values.dtype.kind == "f"
            # scale: the full design draws only its top end (a nuisance)
            low, high = synthetic.SCALE_RANGE if f.name == "scale" else (f.low, f.high)
            assert f.low <= low and values.min() >= low and values.max() <= high <= f.high
            assert values.nunique() > 100
            assert values.max() - values.min() > 0.7 * (high - low)
    factor_cols = [c for c in items500.columns if c.startswith("factor_")]
    assert factor_cols == [f.column for f in FACTORS]


def test_factor_columns_are_not_correlated(items500):
    cols = [f.column for f in FACTORS]
    corr = items500[cols].corr().abs().to_numpy().copy()
    np.fill_diagonal(corr, 0.0)
    worst = np.unravel_index(corr.argmax(), corr.shape)
    assert corr.max() < 0.2, f"{cols[worst[0]]} ~ {cols[worst[1]]}: {corr.max():.2f}"


def test_colours_cover_the_hue_circle_and_neutrals(items500):
    chroma = items500[items500.factor_upper_sat > 0.3]
    counts = np.histogram(chroma.factor_upper_hue, bins=6, range=(0, 1))[0]
    assert counts.min() > 10
    names = set(items500.upper_colour)
    assert {"White", "Black"} & names and {"Grey", "Light Grey", "Charcoal"} & names
    assert {"Cream", "Sail", "Bone"} & names


# ------------------------------------------------------------------ metadata
def test_metadata_columns_and_values(items500):
    for col in META_COLUMNS:
        assert col in items500.columns
    assert items500.sku.is_unique
    assert items500.sku.str.fullmatch(r"KS-\d{6}-[0-9a-f]{2}").all()
    assert items500.price.dtype.kind == "f" and items500.release_year.dtype.kind == "i"
    assert items500.price.between(20, 400).all()
    assert items500.release_year.between(1985, 2025).all()
    first = items500.iloc[0]
    assert first["name"].startswith(first.brand + " " + first.model)
    assert first["name"].endswith(f"'{first.colorway}'")
    assert set(items500.silhouette) == set(synthetic.SILHOUETTES)
    # boots cost more than slip-ons of the same material, on average
    by_sil = items500.groupby("silhouette").price.mean()
    assert by_sil["boot"] > by_sil["slip-on"]


def test_brand_is_tied_to_logo_and_silhouette(items500):
    assert (items500.groupby(["factor_logo", "factor_silhouette"]).brand.nunique() == 1).all()


def test_slip_ons_keep_their_lace_factor_but_have_no_lace_colour(items500):
    slip = items500[items500.silhouette == "slip-on"]
    assert (slip.lace_colour == "none").all()
    assert slip.factor_lace_hue.notna().all() and slip.factor_lace_hue.nunique() == len(slip)


# ------------------------------------------------------------------ command line
def test_cli_round_trip(tmp_path):
    out, sheet = tmp_path / "cat", tmp_path / "s.png"
    assert main(["synth", "--n", "40", "--out", str(out), "--sheet", str(sheet),
                 "--workers", "1", "--no-progress"]) == 0
    cat = Catalogue.load(out, verify=True)
    assert len(cat) == 40 and cat.size == 64
    assert cat.source == {"kind": "synthetic", "seed": 0, "n": 40, "size": 64, "start": 0}
    assert np.array_equal(cat.images[7], render(sample_item(0, 7), 64))
    assert cat.metadata.sku.tolist() == [sample_item(0, i)["sku"] for i in range(40)]
    assert cat.factor_columns == [f.column for f in FACTORS]
    img = Image.open(sheet)
    assert img.format == "PNG" and img.width > 5 * 64  # 8 columns (40 items: 5 rows)


def test_cli_sheet_only(tmp_path):
    sheet = tmp_path / "sub" / "sheet.png"
    assert main(["synth", "--sheet", str(sheet), "--size", "32", "--workers", "1",
                 "--no-progress"]) == 0
    img = Image.open(sheet)
    assert img.size == (2 + 8 * 34, 2 + 8 * 34)  # 64 items, 8 x 8, pad 2


def test_cli_needs_out_or_sheet(capsys):
    assert main(["synth", "--n", "5"]) == 2
    assert "--out" in capsys.readouterr().err


def test_every_flag_has_help():
    parser = argparse.ArgumentParser()
    synth_cli.add_arguments(parser)
    for action in parser._actions:
        assert action.help, f"{action.option_strings} has no help text"


# ------------------------------------------------------------------ the study design
def test_study_design_varies_six_factors_independently_and_fixes_the_rest(tmp_path):
    study = pd.DataFrame([sample_item(0, i, "study") for i in range(600)])
    varied = [f.column for f in FACTORS if f.name in synthetic.STUDY_VARIED]
    fixed = [f.column for f in FACTORS if f.name not in synthetic.STUDY_VARIED]
    assert len(varied) == 6 and len(varied) + len(fixed) == len(FACTORS)
    assert (study[fixed].nunique() == 1).all()
    for name, levels in synthetic.STUDY_VARIED.items():
        col = study["factor_" + name]
        if levels is None:  # categorical: every value appears
            assert col.nunique() == len(synthetic.FACTOR_BY_NAME[name].values)
        else:  # a grid of levels across the factor's range, every one used
            assert sorted(col.unique()) == sorted(levels)
            lo, hi = synthetic.FACTOR_BY_NAME[name].range
            assert lo <= min(levels) and max(levels) <= hi
    corr = study[varied].corr().abs().to_numpy().copy()
    np.fill_diagonal(corr, 0.0)
    assert corr.max() < 0.15
    # a draw of its own: the full design's items are not the study's with factors pinned
    full = pd.DataFrame([sample_item(0, i) for i in range(50)])
    assert not np.allclose(full.factor_sole_thickness, study.factor_sole_thickness[:50])
    with pytest.raises(ValueError, match="design must be one of full, study"):
        sample_item(0, 0, "nope")
    # the CLI writes it, and evaluate keeps only the six varied factors
    out = tmp_path / "study"
    assert main(["synth", "--design", "study", "--n", "30", "--size", "32", "--out", str(out),
                 "--workers", "1", "--no-progress"]) == 0
    cat = Catalogue.load(out, verify=True)
    assert cat.source["design"] == "study" and cat.name == "synthetic-study"
    assert np.array_equal(cat.images[4], render(sample_item(0, 4, "study"), 32))
    from explorer.evaluation.evaluate import factor_columns
    assert factor_columns(cat.metadata) == varied
