"""Find similar's imputation tab offers exactly the schema's imputable columns (the map's
filter columns) and reports a numeric column's hold-out error."""
from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from explorer.bundle.core import load_bundle
from explorer.data.schema import imputable_columns
from tests.helpers import copy_demo_bundle

APP = str(Path(__file__).resolve().parents[1] / "app.py")


@pytest.fixture(scope="module")
def bundle_copy(tmp_path_factory) -> Path:
    return copy_demo_bundle(tmp_path_factory.mktemp("impute") / "bundle")


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("KICKSPACE_DATA_DIR", str(tmp_path / "data"))


def test_imputation_offers_the_schema_columns_and_scores_a_numeric_one(bundle_copy):
    md = load_bundle(bundle_copy, check_hashes=False).metadata
    at = AppTest.from_file(APP, default_timeout=240)
    at.session_state["bundle_path"] = str(bundle_copy)
    at.run()
    at.switch_page("pages/similar.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    box = at.selectbox(key="imp_col")
    offered = [o.rsplit(" (", 1)[0] for o in box.options]   # "price (3 missing)" -> "price"
    assert sorted(offered) == sorted(imputable_columns(md))
    numeric = [c for c in offered if c in ("price", "release_year")]
    if not numeric:
        pytest.skip("the demo catalogue has no numeric column")
    box.set_value(numeric[0]).run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(m.label == "Mean error on hidden values" for m in at.metric)
