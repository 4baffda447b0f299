"""A colour column is drawn in the colours it names (explorer.render.colour_names): the map's
"Red" products red, not in a palette's orange; other columns keep the palette."""
from __future__ import annotations

import pandas as pd

from explorer.render import mapview
from explorer.render.colour_names import colour_of


def _rgb(h: str) -> tuple[int, int, int]:
    return tuple(int(h[i:i + 2], 16) for i in (1, 3, 5))


def test_names_are_read_whole_then_word_by_word():
    assert colour_of("Navy Blue") == "#000080"          # navy, not blue
    assert colour_of("light grey") == "#D3D3D3"
    assert colour_of("Coffee Brown") == "#6F4E37"
    assert colour_of("Forest-Green") == "#228B22"
    assert colour_of("Multi") is None and colour_of("Brand 12") is None
    assert colour_of("Sandals") is None and colour_of("") is None


def test_a_colour_column_is_drawn_in_its_colours_and_every_value_stays_distinct():
    values = (["Red"] * 30 + ["White"] * 25 + ["Navy Blue"] * 20 + ["Grey"] * 15
              + ["Wolf Grey"] * 12 + ["Black"] * 10 + ["Multi"] * 5 + [None] * 3)
    col = mapview.column_colouring(pd.DataFrame({"base_colour": values}), "base_colour")
    r, g, b = _rgb(col.colours["Red"])
    assert r > 200 and g < 60 and b < 60
    assert max(_rgb(col.colours["Navy Blue"])) == _rgb(col.colours["Navy Blue"])[2]
    white = _rgb(col.colours["White"])
    assert 180 < min(white) and max(white) < 235          # visible on the white map
    assert _rgb(col.colours["Black"]) == (0, 0, 0)
    kept = [c for c in col.categories if c != mapview.MISSING]
    assert len({col.colours[c] for c in kept}) == len(kept)   # Grey and Wolf Grey differ
    assert col.colours["Multi"] in mapview.PALETTE             # not a colour: the palette


def test_other_columns_keep_the_palette():
    col = mapview.column_colouring(pd.DataFrame({"brand": ["Acme"] * 3 + ["Bolt"] * 2
                                                 + ["Red Wing"]}), "brand")
    assert [col.colours[c] for c in ("Acme", "Bolt", "Red Wing")] == mapview.PALETTE[:3]
