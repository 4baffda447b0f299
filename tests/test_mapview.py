"""explorer.render.mapview: what the map draws, and selections mapped back to catalogue indices."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from explorer.render.map_images import (grid_image, image_figure, representative_subset,
                                        scatter_image, snap_to_grid, to_jpeg)
from explorer.render.map_selection import area_selection, in_polygon, page_of, selected_points
from explorer.render.mapview import (MISSING, OTHER, categorical_colouring, cluster_colouring,
                                     colour_options, column_colouring, density_grid,
                                     filter_mask, filterable_columns, hover_texts, plan_points,
                                     scatter_figure)


def catalogue(n: int = 200, seed: int = 0) -> tuple[np.ndarray, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    xy = rng.normal(0, 1, (n, 2)).astype(np.float32)
    md = pd.DataFrame({
        "sku": [f"SKU-{i:05d}" for i in range(n)],
        "name": [f"Shoe {i}" for i in range(n)],
        "brand": rng.choice(["Acme", "Bolt", "Crux"], n),
        "price": rng.uniform(40, 200, n).round(2),
        "year": rng.integers(2000, 2004, n),
    })
    return xy, md


def test_small_catalogues_are_drawn_whole():
    plan = plan_points(np.arange(1000), max_points=5000)
    assert plan.mode == "all" and not plan.sampled
    np.testing.assert_array_equal(plan.drawn, np.arange(1000))
    assert "all 1,000" in plan.describe()


def test_sampling_is_seeded_and_within_the_filter():
    visible = np.flatnonzero(np.arange(100_000) % 3 == 0)     # a filter keeps every third
    plan = plan_points(visible, max_points=5_000, density_above=50_000, seed=7)
    assert plan.mode == "sample" and plan.n_visible == len(visible)
    assert len(plan.drawn) == 5_000 and (np.diff(plan.drawn) > 0).all()
    assert np.isin(plan.drawn, visible).all()
    np.testing.assert_array_equal(plan.drawn, plan_points(visible, 5_000, 50_000, seed=7).drawn)
    assert "5,000 of 33,334" in plan.describe()


def test_aggregated_mode_above_the_threshold():
    mask = np.ones(400_000, bool)
    plan = plan_points(mask, max_points=50_000, density_above=300_000)
    assert plan.mode == "density" and len(plan.drawn) == 50_000
    assert "density of all 400,000" in plan.describe()
    assert plan_points(np.ones(299_999, bool)).mode == "sample"


def test_selection_maps_back_to_catalogue_indices_when_sampled_and_filtered():
    xy, md = catalogue(3_000)
    visible = np.flatnonzero(md["brand"].to_numpy() != "Bolt")
    plan = plan_points(visible, max_points=500, density_above=10**9, seed=1)
    mf = scatter_figure(xy, plan, column_colouring(md, "brand"), md)
    fig = mf.figure
    # every drawn point's (curve, index) maps to the catalogue row it was drawn from
    points = []
    for curve, trace in enumerate(fig.data):
        if curve not in mf.trace_indices:
            continue
        tx, ty = np.asarray(trace.x), np.asarray(trace.y)
        for i in range(0, len(tx), 7):
            points.append({"curve_number": curve, "point_index": i, "x": tx[i], "y": ty[i]})
    got = selected_points(points, mf.trace_indices)
    assert len(got) == len(points)
    assert (md["brand"].to_numpy()[got] != "Bolt").all()
    for p in points[::5]:
        (i,) = selected_points([p], mf.trace_indices)
        assert tuple(xy[i]) == (p["x"], p["y"])       # the point drawn there is catalogue row i
    # hover text of each point names its product
    trace0 = fig.data[0]
    first = mf.trace_indices[0][0]
    assert md["sku"].iloc[first] in trace0.hovertext[0]
    # points of traces not in the mapping (density, highlight) are ignored
    assert len(selected_points([{"curve_number": 99, "point_index": 0}], mf.trace_indices)) == 0


def test_area_selection_includes_undrawn_items():
    xy = np.array([[0, 0], [1, 1], [2, 2], [3, 3], [0.5, 0.2]], np.float32)
    got = area_selection(xy, np.arange(5), boxes=[{"x": [1.1, -0.1], "y": [-0.1, 1.5]}])
    assert got.tolist() == [0, 1, 4]
    got = area_selection(xy, np.array([0, 1, 2]), boxes=[{"x": [-1, 5], "y": [-1, 5]}])
    assert got.tolist() == [0, 1, 2]                 # filtered-out items are never selected
    lasso = {"x": [0.3, 2.5, 2.5, 0.3], "y": [-0.5, -0.5, 0.5, 0.5]}
    assert area_selection(xy, np.arange(5), lassos=[lasso]).tolist() == [4]


def test_point_in_polygon():
    sq = ([0, 2, 2, 0], [0, 0, 2, 2])
    pts = np.array([[1, 1], [3, 1], [-0.1, 0.5], [1.9, 1.9]])
    assert in_polygon(pts, *sq).tolist() == [True, False, False, True]


def test_hover_text_is_escaped():
    xy, md = catalogue(3)
    md.loc[1, "name"] = '<img src=x onerror="alert(1)">'
    md.loc[2, "brand"] = "A&B <b>"
    text = hover_texts(md, [0, 1, 2])
    assert "<img" not in text[1] and "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in text[1]
    assert "A&amp;B &lt;b&gt;" in text[2]
    assert text[0].startswith("<b>Shoe 0</b><br>SKU-00000")
    # legend entries (categories, tags) are escaped as well
    md["brand"] = ["<b>x</b>", "y", "y"]
    mf = scatter_figure(xy, plan_points(np.arange(3)), column_colouring(md, "brand"), md)
    names = [t.name for t in mf.figure.data]
    assert not any("<b>" in n for n in names) and any("&lt;b&gt;x&lt;/b&gt;" in n for n in names)


def test_colourings():
    xy, md = catalogue(500)
    brand = column_colouring(md, "brand")
    assert brand.kind == "categorical" and set(brand.categories) == {"Acme", "Bolt", "Crux"}
    assert column_colouring(md, "price").kind == "numeric"
    year = column_colouring(md, "year")                   # few integers: discrete, in order
    assert year.kind == "categorical" and year.categories == ["2000", "2001", "2002", "2003"]
    many = categorical_colouring([f"c{i % 30}" for i in range(300)] + [None], max_categories=5)
    assert len(many.categories) == 7 and many.categories[-2:] == [OTHER, MISSING]
    assert (many.labels == OTHER).sum() == 250
    clus = cluster_colouring(np.array([0, 1, -1, 1]))
    assert clus.categories == ["cluster 0", "cluster 1", "noise"]
    assert "sku" not in colour_options(md) and "name" not in colour_options(md)
    assert {"brand", "price", "year"} <= set(colour_options(md))


def test_filters():
    xy, md = catalogue(400)
    md.loc[0, "price"] = np.nan
    cats, nums = filterable_columns(md)
    assert "brand" in cats and "price" in nums and "sku" not in cats + nums
    mask = filter_mask(md, {"brand": ["Acme"]}, {"price": (50.0, 100.0)})
    expect = (md["brand"] == "Acme") & md["price"].between(50, 100)
    np.testing.assert_array_equal(mask, expect.to_numpy())
    assert filter_mask(md, {"brand": []}).all()


def test_paging():
    items = list(range(95))
    assert page_of(items, 1, 30) == (list(range(30)), 4)
    assert page_of(items, 4, 30) == (list(range(90, 95)), 4)
    assert page_of(items, 9, 30)[0] == list(range(90, 95))
    assert page_of([], 1, 30) == ([], 1)


def test_density_grid_counts_everything():
    xy, _ = catalogue(10_000)
    counts, xc, yc = density_grid(xy, bins=50)
    assert counts.shape == (50, 50) and counts.sum() == 10_000
    assert len(xc) == len(yc) == 50


def test_density_figure_keeps_the_mapping():
    xy, md = catalogue(2_000)
    plan = plan_points(np.arange(2_000), max_points=300, density_above=1_000)
    mf = scatter_figure(xy, plan, column_colouring(md, None), md, visible=np.arange(2_000))
    assert mf.figure.data[0].type == "heatmap" and 0 not in mf.trace_indices
    drawn = np.concatenate(list(mf.trace_indices.values()))
    assert sorted(drawn.tolist()) == plan.drawn.tolist()


@pytest.mark.parametrize("n, exact_max", [(37, 1_600), (400, 1_600), (1_000, 10)])
def test_grid_snapping_is_a_permutation_into_distinct_cells(n, exact_max):
    xy, _ = catalogue(n, seed=n)
    cells, rows, cols = snap_to_grid(xy, exact_max=exact_max)
    assert rows * cols >= n
    assert len(np.unique(cells)) == n
    assert cells.min() >= 0 and cells.max() < rows * cols


def test_grid_snapping_keeps_the_layout():
    # points already on a 5 x 4 lattice snap onto the same lattice (row 0 = top)
    gx, gy = np.meshgrid(np.arange(5), np.arange(4))
    xy = np.stack([gx.ravel(), gy.ravel()], 1).astype(np.float32)
    perm = np.random.default_rng(0).permutation(len(xy))
    cells, rows, cols = snap_to_grid(xy[perm], rows=4, cols=5)
    r, c = np.divmod(cells, cols)
    np.testing.assert_array_equal(c, xy[perm, 0])
    np.testing.assert_array_equal(r, 3 - xy[perm, 1])
    # the cheaper approximation is also exact on a lattice
    cells2, _, _ = snap_to_grid(xy[perm], rows=4, cols=5, exact_max=0)
    np.testing.assert_array_equal(cells2, cells)
    with pytest.raises(ValueError):
        snap_to_grid(xy, rows=2, cols=2)


def test_representative_subset_covers_the_map():
    rng = np.random.default_rng(0)
    xy = np.concatenate([rng.normal(0, 0.1, (5_000, 2)), rng.normal(5, 0.1, (50, 2))])
    sub = representative_subset(xy, 100, seed=0)
    assert 0 < len(sub) <= 100 and len(np.unique(sub)) == len(sub)
    assert (sub >= 5_000).any(), "the small far cluster must be represented"
    np.testing.assert_array_equal(sub, representative_subset(xy, 100, seed=0))
    assert representative_subset(xy[:50], 100).tolist() == list(range(50))


def test_image_maps_render():
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 255, (12, 16, 16, 3), dtype=np.uint8)
    xy = rng.normal(0, 1, (12, 2))
    cells, rows, cols = snap_to_grid(xy)
    sheet = grid_image(imgs, cells, rows, cols, thumb=8, pad=1)
    assert sheet.size == (cols * 9 + 1, rows * 9 + 1)
    # the first item's tile is at its cell
    r, c = divmod(int(cells[0]), cols)
    tile = np.asarray(sheet)[1 + r * 9: 1 + r * 9 + 8, 1 + c * 9: 1 + c * 9 + 8]
    np.testing.assert_array_equal(
        tile, np.asarray(Image.fromarray(imgs[0]).resize((8, 8), Image.LANCZOS)))
    free = scatter_image(imgs, xy, size=200, thumb=20)
    assert max(free.size) == 200 and np.asarray(free).min() < 255
    wide = scatter_image(imgs[:2], np.array([[0, 0], [10, 1]]), size=300, thumb=20)
    assert wide.size == (300, 100)                        # 10:1 clipped to 3:1
    px = np.asarray(wide)
    tile0 = np.asarray(Image.fromarray(imgs[0]).resize((20, 20), Image.NEAREST))  # enlarged
    np.testing.assert_array_equal(px[-20:, :20], tile0)           # item 0 at bottom left
    assert px[:20, -20:].min() < 255 and px[:20, :20].min() == 255   # y up: item 1 top right
    fig = image_figure(scatter_image(imgs, xy[:, [0, 0]], size=200, thumb=20))
    assert fig.data[0].type == "image" and fig.data[0].source.startswith("data:image/jpeg")
    assert fig.layout.height == 900                      # a square picture, capped
    wide = image_figure(to_jpeg(sheet), size=(1800, 600))
    assert wide.layout.height == 300 and wide.data[0].source.startswith("data:image/jpeg")


def test_numeric_range_keeps_whole_numbers_whole():
    from explorer.render.mapview import numeric_range, numeric_ranges
    md = pd.DataFrame({"release_year": [1985, 2001, 2025],
                       "year_as_float": [1985.0, np.nan, 2025.0],    # read from a CSV with a gap
                       "price": [49.99, 120.0, 89.5]})
    lo, hi, step = numeric_range(md["release_year"])
    assert (lo, hi, step) == (1985, 2025, 1)
    assert all(type(v) is int for v in (lo, hi, step))   # a slider formats ints as "1985"
    lo, hi, step = numeric_range(md["year_as_float"])
    assert (lo, hi, step) == (1985, 2025, 1) and type(lo) is int
    assert numeric_range(md["price"]) == (49.99, 120.0, None)
    assert set(numeric_ranges(md, ["price", "release_year"])) == {"price", "release_year"}
    with pytest.raises(ValueError, match="no finite number"):
        numeric_range(pd.Series([np.nan, None], name="empty"))


def test_sorted_unique_matches_numpy_on_unsorted_repeated_and_sorted_indices():
    from explorer.render.map_selection import sorted_unique
    rng = np.random.default_rng(3)
    for v in (np.zeros(0, np.int64), np.array([4]), np.array([5, 5]), np.array([3, -1, 3, 2, -1]),
              rng.integers(-10, 40, 500), np.arange(7)):
        assert sorted_unique(v).tolist() == np.unique(v).tolist()
    assert sorted_unique(np.array([9, 2, 9, 0])).tolist() == [0, 2, 9]


def test_a_selection_grows_and_shrinks_by_steps_and_a_link_holds_them():
    from explorer.render.map_selection import (MAX_STEPS, combine, combined_definition,
                                               replay_steps)
    assert combine([5, 1], [3, 1, 99, -1], "set", 10).tolist() == [1, 3]
    assert combine([5, 1], [3, 1, 99], "add", 10).tolist() == [1, 3, 5]
    assert combine([5, 1, 3], [3, 7], "remove", 10).tolist() == [1, 5]
    with pytest.raises(ValueError, match="unknown selection operation 'xor'"):
        combine([1], [2], "xor", 10)
    box = {"kind": "box", "x": [0, 1], "y": [0, 1]}
    lasso = {"kind": "lasso", "x": [0, 1, 0], "y": [0, 0, 1]}
    # a definition grows into steps; a selection without one stands as its SKUs when few
    two = combined_definition(box, None, lasso, "add")
    assert two == {"kind": "steps", "steps": [box, {**lasso, "op": "add"}]}
    three = combined_definition(two, None, box, "remove")
    assert [s.get("op") for s in three["steps"]] == [None, "add", "remove"]
    assert combined_definition(None, ["A1", "B2"], box, "add")["steps"][0] == \
        {"kind": "skus", "skus": ["A1", "B2"]}
    assert combined_definition(None, None, box, "add") is None        # many clicked: no link
    assert combined_definition(box, None, None, "add") is None        # a step with no definition
    assert combined_definition(box, None, lasso, "set") is None
    full = {"kind": "steps", "steps": [box] + [{**box, "op": "add"}] * (MAX_STEPS - 1)}
    assert combined_definition(full, None, lasso, "add") is None      # too long for a link
    # replayed with a reader of one definition
    found = {"box": [1, 2, 3, 4], "lasso": [3, 4, 5], "skus": [9]}
    steps = combined_definition(combined_definition(box, None, lasso, "remove"), None,
                                {"kind": "skus", "skus": ["x"]}, "add")
    assert replay_steps(steps, lambda d: found[d["kind"]], 10).tolist() == [1, 2, 9]
    for bad in ({"kind": "steps", "steps": []}, {"kind": "steps", "steps": "box"},
                {"kind": "steps", "steps": [box, {**lasso, "op": "set"}]},
                {"kind": "steps", "steps": [box, lasso]},
                {"kind": "steps", "steps": [box, {"kind": "steps", "steps": [box]}]},
                {"kind": "steps", "steps": [box] * (MAX_STEPS + 1)}):
        with pytest.raises(ValueError):
            replay_steps(bad, lambda d: found[d["kind"]], 10)
