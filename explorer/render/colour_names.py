"""Colour-name columns drawn in their own colours: a map coloured by `base_colour` shows its
"Red" products red and its "Navy Blue" ones navy, not in a palette's arbitrary orange and cyan.

`named_colours(labels, weights)` recognises a label by its whole name, then word by word ("Navy
Blue" -> navy, "Coffee Brown" -> brown), in CSS's colour names (Pillow's ImageColor) and a few
names catalogues use that CSS lacks (sail, mint, charcoal, off white, gum, ...). A column is
drawn this way only when most of its products (by weight) carry a recognised name; very light
colours are darkened (their order kept) to stay visible on the white map, and two labels that land on the same
colour are told apart by lightness.
"""
from __future__ import annotations

import re
from typing import Mapping, Sequence

from PIL import ImageColor

# names catalogues use that CSS lacks (or spells differently), as hex
EXTRA = {
    "offwhite": "#F2EFE6", "sail": "#EDE6D6", "cream": "#F3E9C6", "ecru": "#E6DCC2",
    "nude": "#E3BC9A", "skin": "#E8BEAC", "camel": "#C19A6B", "mustard": "#D9A400",
    "charcoal": "#36454F", "burgundy": "#800020", "rust": "#B7410E", "mauve": "#C9A0DC",
    "peach": "#FFCBA4", "mint": "#98E2B0", "sage": "#9CAF88", "blush": "#DE7A93",
    "rose": "#E8909C", "copper": "#B87333", "bronze": "#CD7F32", "taupe": "#8B7D6B",
    "mushroom": "#BDACA3", "gum": "#B5835A", "melange": "#A8A8A8", "steel": "#7B8C9C", "coffee": "#6F4E37",
    "wolfgrey": "#B4B6B8", "coolgrey": "#8C92AC", "iceblue": "#A9D4E6", "stone": "#BDB7AB",
    "metallic": "#AAA9AD", "multi": "", "multicolour": "", "multicolor": "", "assorted": "",
}
SHARE = 0.6           # of the products (by weight) whose value must be a recognised name
LIGHT = 0.6           # luma above this is compressed into LIGHT..MAX_LIGHT (white visible,
MAX_LIGHT = 0.85      # light colours still lighter than darker ones)


def _key(name: str) -> str:
    return re.sub(r"[^a-z]", "", name.lower())


def _hex(key: str) -> str | None:
    """A name's colour: EXTRA's, else CSS's; None for an unknown name or one that names no
    single colour ("multi")."""
    if key in EXTRA:
        return EXTRA[key] or None
    try:
        r, g, b = ImageColor.getrgb(key)[:3]
    except ValueError:
        return None
    return f"#{r:02X}{g:02X}{b:02X}"


def colour_of(label: str) -> str | None:
    """The colour a label names ("Navy Blue" -> navy), or None."""
    whole = _key(label)
    if whole in EXTRA or not whole:           # ours, including names of no one colour
        return _hex(whole) if whole else None
    for key in [whole] + [_key(w) for w in re.split(r"[\s/_\-]+", label.strip())]:
        found = _hex(key) if key else None
        if found is not None:
            return found
    return None


def _rgb(h: str) -> tuple[float, float, float]:
    return tuple(int(h[i:i + 2], 16) / 255 for i in (1, 3, 5))   # type: ignore[return-value]


def _luma(rgb: Sequence[float]) -> float:
    return 0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2]


def _scale(rgb: Sequence[float], f: float) -> str:
    return "#" + "".join(f"{round(min(max(c * f, 0), 1) * 255):02X}" for c in rgb)


def named_colours(labels: Sequence[str], weights: Mapping[str, float]) -> dict[str, str] | None:
    """{label: hex} for the labels that name a colour, when those carry at least SHARE of the
    weight (product counts); None for a column that is not about colour."""
    found = {c: colour_of(c) for c in labels}
    total = sum(weights.get(c, 0) for c in labels)
    named = sum(weights.get(c, 0) for c, h in found.items() if h)
    if not total or named < SHARE * total:
        return None
    out: dict[str, str] = {}
    used: set[str] = set()
    for c in labels:
        h = found[c]
        if not h:
            continue
        rgb = _rgb(h)
        luma = _luma(rgb)
        if luma > LIGHT:                        # white on the white map: a light grey
            rgb = _rgb(_scale(rgb, (LIGHT + (luma - LIGHT) * (MAX_LIGHT - LIGHT)
                                    / (1 - LIGHT)) / luma))
            h = _scale(rgb, 1)
        step = 0
        while h in used and step < 8:           # two labels, one colour: tell apart
            step += 1
            h = _scale(rgb, 1 + 0.18 * ((step + 1) // 2) * (1 if step % 2 else -1))
        used.add(h)
        out[c] = h
    return out
