"""Product labels ("name · brand · SKU") are made once per bundle for every product, and read
the same as one made from the product's metadata row (the pickers format up to 200 options on
every rerun)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from explorer.app.widgets import item_label, item_labels, product_labels


def _row_label(md: pd.DataFrame, i: int) -> str:
    """The label as it was made before: from the product's metadata row."""
    row = md.iloc[i]
    name = row.get("name") if "name" in md.columns else None
    if name is None or (isinstance(name, float) and np.isnan(name)):
        name = row.get("file", row["sku"])
    parts = [str(name)]
    if "brand" in md.columns and isinstance(row.get("brand"), str):
        parts.append(str(row["brand"]))
    parts.append(str(row["sku"]))
    return " · ".join(parts)


def test_labels_read_as_the_metadata_rows_do():
    md = pd.DataFrame({"sku": ["KS-1", "KS-2", "KS-3", "KS-4"],
                       "name": ["Driftwood", None, "Nova <b>", np.nan],
                       "brand": ["Holloway", "Glide", np.nan, "Nova"],
                       "file": ["a.png", "b.png", "c.png", None],
                       "price": [1.5, 2.0, 3.0, 4.0]})
    text = pd.StringDtype(na_value=np.nan)              # read_metadata_csv's string columns
    md["name"] = md["name"].astype(text)
    md["brand"] = md["brand"].astype(text)
    for frame in (md, md.drop(columns=["brand"]), md.drop(columns=["name", "file"]),
                  md.assign(sku=[10, 11, 12, 13])):
        got = product_labels(frame)
        assert got == [_row_label(frame, i) for i in range(len(frame))], got
    assert product_labels(md)[:2] == ["Driftwood · Holloway · KS-1", "b.png · Glide · KS-2"]
    na = md.assign(name=md["name"].astype("string"))   # pd.NA for a missing name, too
    assert product_labels(na)[1] == "b.png · Glide · KS-2"


def test_a_bundles_labels_are_made_once_and_match_its_rows():
    class Bundle:                                       # the two attributes item_label reads
        metadata = pd.DataFrame({"sku": [f"KS-{i}" for i in range(50)],
                                 "name": [f"shoe {i}" for i in range(50)]})
        extras: dict = {}
    b = Bundle()
    first = item_labels(b)
    assert item_labels(b) is first                      # kept with the bundle, not remade
    assert [item_label(b, i) for i in (0, 49)] == ["shoe 0 · KS-0", "shoe 49 · KS-49"]
    assert first == [_row_label(b.metadata, i) for i in range(50)]
