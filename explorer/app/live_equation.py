"""The equation picture drawn by the live component (explorer.app.live_decoder, equation=):
what its JavaScript (static/live_decoder/equation.js) needs to draw
explorer.render.pictures.equation_picture in the browser, for the values of the picture it
shows, with the same layout numbers and font, and to offer it as a PNG download made there. So
an arithmetic weight's release needs nothing from the server, and the picture and its file are
never those of older weights."""
from __future__ import annotations

import numpy as np

from explorer.render.pictures import EQUATION_LAYOUT, data_url, font, pixel_scale


def equation_spec(terms: list | None, tile: int = 160, file_name: str = "equation.png"
                  ) -> dict | None:
    """What the browser needs to draw explorer.render.pictures.equation_picture itself:
    terms [(operator, image [S, S, 3], label, control index or None)] -> {"terms": [{op,
    image (PNG data URL), label, weight}], "scale", "layout", "ascent", "file_name",
    "font"}; None for no terms. A weighted term's caption is "<value> × <label>"
    (explorer.render.pictures.equation_caption shortens it as the server does)."""
    if not terms:
        return None
    out = []
    for op, img, label, weight in terms:
        if weight is not None and not (isinstance(weight, int) and weight >= 0):
            raise ValueError(f"equation term {label!r}: weight must be a control index, "
                             f"got {weight!r}")
        out.append({"op": str(op), "image": data_url(np.asarray(img, np.uint8), "PNG"),
                    "label": str(label), "weight": weight})
    size = int(np.asarray(terms[0][1]).shape[1])
    L = EQUATION_LAYOUT
    return {"terms": out, "scale": pixel_scale(size, tile), "layout": L,
            "ascent": [font(L["op_size"]).getmetrics()[0], font(L["cap_size"]).getmetrics()[0]],
            "file_name": file_name, "font": "DejaVuSans.ttf"}
