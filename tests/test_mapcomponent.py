"""explorer.app.mapcomponent's pure parts: the points buffer, colour codes, and what the browser
sends back (parsed without trusting it)."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd

from explorer.app import mapcomponent as mc
from explorer.render import mapview


def test_points_round_trip_within_the_quantisation_step():
    rng = np.random.default_rng(0)
    xy = rng.normal(size=(1_000, 2)).astype(np.float32) * [5, 2]
    codes = rng.integers(0, 6, 1_000).astype(np.uint8)
    every = mc.pack_points(xy, np.arange(1_000), codes)
    assert not every.has_ids and len(every.data) == 5 * 1_000          # 5 bytes a point
    drawn = np.sort(rng.choice(1_000, 300, replace=False))
    some = mc.pack_points(xy, drawn, codes)
    assert some.has_ids and len(some.data) == 9 * 300
    ids, pos, got = mc.unpack_points(some)
    assert ids.tolist() == drawn.tolist() and got.tolist() == codes[drawn].tolist()
    back = np.asarray(some.centre) + pos * some.half
    assert np.abs(back - xy[drawn]).max() <= 2 * some.half / 65535 + 1e-6
    assert some.key != every.key


def test_colour_codes_categorical_and_numeric():
    md = pd.DataFrame({"b": ["x", "y", "x", None], "p": [1.0, 2.0, np.nan, 4.0]})
    cat = mc.colour_codes(mapview.column_colouring(md, "b"), 4)
    assert [label for label, _ in cat.legend] == ["x (2)", "y (1)", "(missing) (1)"]
    assert cat.codes.tolist() == [0, 1, 0, 2]
    num = mc.colour_codes(mapview.Colouring("numeric", "p", values=md["p"].to_numpy()), 4)
    assert num.codes[0] == 0 and num.codes[3] == mc.N_BINS - 1 and num.codes[2] == mc.N_BINS
    assert len(num.palette) == mc.N_BINS + 1 and num.range == ("1", "4")


def test_values_from_the_browser_are_checked_not_trusted():
    assert mc.parse_value(None) == (None, None, [])
    assert mc.parse_value("x") == (None, None, [])
    bad = {"event": {"seq": "a", "kind": "box", "x": [1, 2]}, "view": ["nan", 1, 2],
           "need": ["3", "x", None, 4.0]}
    event, view, need = mc.parse_value(bad)
    assert event is None and view is None and need == [3, 4]
    event, view, _ = mc.parse_value({"event": {"seq": 4, "kind": "lasso", "x": [0, 2, 0],
                                               "y": [0, 0, 2]}, "view": [1, 2, 0.5]})
    assert event.kind == "lasso" and event.seq == 4 and view == [1.0, 2.0, 0.5]
    assert mc.parse_value({"event": {"seq": 1, "kind": "drop tables"}})[0] is None


def test_events_select_among_the_visible_products_only():
    xy = np.array([[0.2, 0.2], [1.5, 1.5], [0.5, 0.1], [0.1, 0.5]], np.float32)
    visible = np.array([0, 1, 2])
    lasso = mc.MapEvent(1, "lasso", x=[0, 1, 0], y=[0, 0, 1])
    assert mc.event_selection(lasso, xy, visible).tolist() == [0, 2]      # 3 is filtered out
    box = mc.MapEvent(2, "box", x=[0, 2, 2, 0], y=[0, 0, 2, 2])
    assert mc.event_selection(box, xy, visible).tolist() == [0, 1, 2]
    assert mc.event_selection(mc.MapEvent(3, "click", index=3), xy, visible).tolist() == []
    assert mc.event_selection(mc.MapEvent(3, "click", index=1), xy, visible).tolist() == [1]


def test_hover_texts_travel_as_plain_json():
    md = pd.DataFrame({"sku": ["<b>1</b>", "2"], "name": ["<script>x</script>", None],
                       "brand": ["A & B", "C"]})
    rows = json.loads(mc.shard_texts(md, 0, 1024))
    assert rows == [["<script>x</script>", "<b>1</b>", "A & B"], ["", "2", "C"]]


def test_an_event_says_whether_it_adds_to_or_takes_from_the_selection():
    def op(event):
        got, _, _ = mc.parse_value({"seq": 1, "event": {"seq": 1, **event}})
        return got.op
    box = {"kind": "box", "x": [0, 1, 1, 0], "y": [0, 0, 1, 1]}
    assert op(box) == "set"
    assert op({**box, "op": "add"}) == "add"
    assert op({"kind": "click", "index": 3, "op": "remove"}) == "remove"
    assert op({**box, "op": "xor"}) == "set"          # from a browser: anything else replaces
    assert op({**box, "op": ["add"]}) == "set"
    assert op({"kind": "clear", "op": "add"}) == "set"
