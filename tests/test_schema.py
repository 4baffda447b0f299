"""explorer.data.schema is the one rule for column kinds: the map's filters and colours, k-NN
labels, imputation and the association scores all treat a column the same way."""
import pathlib
import re

import numpy as np
import pandas as pd
import pytest

from explorer.data import schema
from explorer.latent.impute import column_kind
from explorer.metrics.association import column_kinds
from explorer.metrics.knn import label_columns, score_columns
from explorer.render.mapview import colour_options, column_colouring, filterable_columns

N = 600
ROOT = pathlib.Path(__file__).resolve().parents[1]


def table(n: int = N) -> pd.DataFrame:
    i = np.arange(n)
    return pd.DataFrame({
        "sku": [f"S{k}" for k in i],
        "product_id": i,                                  # an identifier by its name
        "name": [f"Shoe {k}" for k in i],
        "text55": [f"v{k % 55}" for k in i],              # the 51..60 text column
        "text250": [f"w{k % 250}" for k in i],            # many values: free text
        "blurb": [f"a unique description {k}" for k in i],  # near-unique
        "year": 2000 + i % 8,                              # few whole numbers
        "size15": 30 + i % 15,                             # 13..20 whole numbers
        "price": np.linspace(10, 99, n),
        "flag": i % 3 == 0,
        "constant": "x",
        "factor_colour": i % 4,
        "colour": np.array(["red", "blue", "green", "black"])[i % 4],
        "factor_height": np.linspace(0, 1, n),
    })


def test_kinds_and_reasons():
    md = table()
    kinds = {c: schema.kind_of(md[c], c) for c in md.columns}
    assert kinds == {
        "sku": "identifier", "product_id": "identifier", "name": "identifier",
        "text55": "categorical", "text250": "free text", "blurb": "free text",
        "year": "categorical", "size15": "categorical", "price": "numeric",
        "flag": "categorical", "constant": "constant", "factor_colour": "categorical",
        "colour": "categorical", "factor_height": "numeric"}
    assert "unique per item" in schema.classify(md["blurb"], "blurb")[1]
    assert "200-category cap" in schema.classify(md["text250"], "text250")[1]
    assert "continuous factor" in schema.classify(md["factor_height"], "factor_height")[1]


def test_one_rule_for_filters_knn_labels_imputation_and_associations():
    """A column is a map filter, a k-NN label and imputable together or not at all (the
    55-value text column used to be a filter but not imputable; the 15-value integer column a
    range filter but a categorical vote)."""
    md = table()
    cats, nums = filterable_columns(md)
    labels = label_columns(md)
    imputable = schema.imputable_columns(md)
    assoc = column_kinds(md)
    for c in ("text55", "year", "size15", "flag", "colour"):
        assert c in cats and c in labels and c in imputable, c
        assert assoc[c] == "categorical" and column_kind(md[c]) == "categorical", c
        assert column_colouring(md, c).kind == "categorical", c
    for c in ("text250", "blurb", "sku", "product_id", "name", "constant"):
        assert c not in cats + nums and c not in labels and c not in imputable, c
        assert c not in assoc and c not in colour_options(md), c
    assert nums == ["price"] and "price" in imputable and assoc["price"] == "numeric"
    assert column_kind(md["price"]) == "numeric" and column_colouring(md, "price").kind == "numeric"
    # factors: k-NN labels and colours, never filters, imputation or card details
    assert "factor_colour" in labels and "factor_colour" in colour_options(md)
    assert not any(schema.is_factor(c) for c in cats + nums + imputable)
    assert "factor_height" not in labels and "factor_height" in colour_options(md)


def test_score_columns_says_why_and_obeys_its_caps():
    md = table()
    cols, skipped = score_columns(md)
    assert cols == schema.label_columns(md)
    assert skipped["sku"] == "an identifier" and skipped["price"].startswith("numeric")
    assert skipped["text250"].startswith("free text")
    cols, skipped = score_columns(md, min_classes=5, max_classes=20)
    assert "flag" not in cols and skipped["flag"] == "fewer than 5 values"
    assert "text55" not in cols and "over the cap of 20" in skipped["text55"]


def test_factor_names_shadowing_and_cards():
    md = table()
    assert schema.factor_columns(md) == ["factor_colour", "factor_height"]
    assert schema.factor_columns(["a", "factor_b"]) == ["factor_b"]
    assert schema.display_name("factor_colour") == "colour"
    # factor_colour says what colour says: left out of the categorical list unless asked for
    assert "factor_colour" not in schema.categorical_columns(md)
    assert "factor_colour" in schema.categorical_columns(md, shadowed=True)
    assert schema.ground_truth_factors(md) == ["factor_colour", "factor_height"]
    assert schema.card_detail_columns(md.columns) == [
        "product_id", "text55", "text250", "blurb", "year", "size15", "flag", "constant",
        "colour"]


def test_named_columns_skip_only_the_identifier_rule():
    md = table()
    assert column_kinds(md, ["sku", "year"]) == {"year": "categorical"}  # sku is near-unique
    assert column_kinds(md, ["product_id"]) == {"product_id": "numeric"}
    with pytest.raises(KeyError, match="nope"):
        column_kinds(md, ["nope"])


def test_small_tables_and_missing_values():
    s = pd.Series(["a", "b", None, "c"])          # all distinct but too few to call unique
    assert schema.kind_of(s) == "categorical"
    assert schema.kind_of(pd.Series([np.nan, np.nan])) == "empty"
    assert schema.kind_of(pd.Series([1.5, 2.5, 1.5])) == "numeric"   # not whole numbers
    assert schema.kind_of(pd.Series([1.0, 2.0, np.nan])) == "categorical"


@pytest.mark.parametrize("name", ["FACTOR_PREFIX", "SKIP_COLUMNS", "_CARD_SKIP", "ID_NAMES"])
def test_the_rules_are_defined_once(name):
    pattern = re.compile(rf"^\s*{name}\s*=", re.M)
    found = [str(p.relative_to(ROOT)) for d in ("explorer", "pages")
             for p in (ROOT / d).rglob("*.py") if pattern.search(p.read_text())]
    assert found in ([], ["explorer/data/schema.py"]), found
