"""The procedural sneaker catalogue: side-view product photos with known ground-truth factors.

Every item is a function of ``(seed, index)`` only (and of the design: "full", the default,
or "study", the six-factor catalogue for measuring disentanglement; see STUDY_VARIED)::

    item = sample_item(seed, index)      # factor values + metadata, one flat dict
    img = render(item, size=64)          # uint8 [size, size, 3]
    cat = generate(30000, size=64)       # Catalogue, rendered in parallel

``item`` holds the metadata columns of the catalogue table (sku, name, brand, ...) and one
``factor_<name>`` entry per ground-truth factor in :data:`FACTORS` (integer codes for
categorical factors, floats for continuous ones). :func:`render` reads only the ``factor_``
entries, so a caller may change one of them and render again to see what that factor does.

Metadata columns: ``sku`` (unique, "KS-000123-ab"), ``name`` ("Vantor Court Hi 'Ember'":
brand, model, height, colorway), ``brand`` (fictional, a function of logo and silhouette),
``model``, ``colorway`` (a nickname from the upper and accent colours), ``colours``
("Upper/Accent-Sole" colour names), ``silhouette``, ``material``, ``toe_shape``, ``logo``,
``upper_colour``, ``accent_colour``, ``sole_colour``, ``lace_colour`` ("none" on slip-ons),
``heel_tab_colour`` (readable names, nearest of a 51-colour palette), ``price`` (float, from
brand x silhouette x material, with noise) and ``release_year`` (int).

All factors are sampled independently of one another. The one physical exception: slip-ons have
no laces, so their ``factor_lace_*`` values are sampled (and stored) like everyone else's but are
not drawn (and their ``lace_colour`` reads "none").

Rendering: the shoe is drawn flat with PIL polygons at ``SUPERSAMPLE`` times the output size
(4x, so edges are anti-aliased), with a cached texture tile per material; it is then box-filtered
down to the output size, where smooth fields (form shading, leather highlights, suede sheen,
the soft shadow under the sole) are applied with numpy at low cost.

Command line: ``python -m explorer synth --n 30000 --size 64 --out data/synth --sheet s.png``
(``--design study`` for the study catalogue).
"""
from __future__ import annotations

import argparse
import colorsys
import math
import os
import sys
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw, ImageFilter

from explorer.data.catalogue import FACTOR_PREFIX, Catalogue

SUPERSAMPLE = 4  # shapes are drawn at SUPERSAMPLE x the output size, then box-filtered down


# ============================================================================ factors
@dataclass(frozen=True)
class Factor:
    """One ground-truth factor. Categorical: integer codes 0..len(values)-1 naming ``values``.
    Continuous: floats in [low, high]."""

    name: str
    kind: str  # "categorical" | "continuous"
    description: str
    values: tuple[str, ...] = ()
    low: float = 0.0
    high: float = 1.0

    @property
    def column(self) -> str:
        return FACTOR_PREFIX + self.name

    @property
    def range(self) -> tuple[float, float]:
        return (0.0, float(len(self.values) - 1)) if self.kind == "categorical" else (
            self.low, self.high)


SILHOUETTES = ("low court", "runner", "mid", "high-top", "boot", "slip-on")
TOE_SHAPES = ("round", "pointed", "boxy")
MATERIALS = ("leather", "suede", "mesh", "canvas")
LOGOS = ("none", "stripes", "swoosh", "star", "patch")
COLOUR_PARTS = {  # part -> (what it colours, P(the colour is a neutral), lightness skew)
    # Lightness is 0.1 + 0.84 * U ** skew: skew < 1 favours light colours (white midsoles).
    "upper": ("the upper (main panels)", 0.40, 1.0),
    "accent": ("overlays: toe cap, heel counter, eyestay, mudguard; and the logo mark", 0.30,
               1.0),
    "sole": ("the midsole (the outsole is a darker tone of it)", 0.60, 0.6),
    "lace": ("the laces (not drawn on slip-ons, which have none)", 0.55, 0.8),
    "heel_tab": ("the heel tab / pull loop", 0.35, 1.0),
}
SCALE_RANGE = (0.92, 1.0)
SHIFT_RANGE = (-0.025, 0.025)


def _colour_factors(part: str, what: str) -> list[Factor]:
    return [
        Factor(f"{part}_hue", "continuous", f"hue of {what}, on the colour circle (0=red, "
               "1/3=green, 2/3=blue); invisible when saturation is near 0", low=0.0, high=1.0),
        Factor(f"{part}_sat", "continuous", f"saturation of {what} (HSL); below 0.15 the "
               "colour reads as a neutral: white, grey, black, cream", low=0.0, high=0.85),
        Factor(f"{part}_light", "continuous", f"lightness of {what} (HSL)", low=0.1, high=0.94),
    ]


FACTORS: tuple[Factor, ...] = tuple([
    Factor("silhouette", "categorical", "shoe height and build", SILHOUETTES),
    Factor("toe_shape", "categorical", "profile of the toe box", TOE_SHAPES),
    Factor("sole_thickness", "continuous", "midsole height, 0 = thin court sole, 1 = chunky",
           low=0.0, high=1.0),
    *_colour_factors("upper", COLOUR_PARTS["upper"][0]),
    Factor("material", "categorical", "upper material: surface texture and gloss", MATERIALS),
    *_colour_factors("accent", COLOUR_PARTS["accent"][0]),
    Factor("logo", "categorical", "logo mark on the quarter panel (drawn in the accent colour)",
           LOGOS),
    *_colour_factors("sole", COLOUR_PARTS["sole"][0]),
    *_colour_factors("lace", COLOUR_PARTS["lace"][0]),
    *_colour_factors("heel_tab", COLOUR_PARTS["heel_tab"][0]),
    Factor("collar_padding", "continuous", "thickness of the padded collar roll",
           low=0.0, high=1.0),
    Factor("scale", "continuous", "shoe length as a fraction of the largest: a small nuisance "
           "in the full design (0.92-1), a factor of the study design (0.8-1)",
           low=0.80, high=SCALE_RANGE[1]),
    Factor("shift_x", "continuous", "nuisance: horizontal offset as a fraction of the frame",
           low=SHIFT_RANGE[0], high=SHIFT_RANGE[1]),
])
FACTOR_BY_NAME = {f.name: f for f in FACTORS}


def factor_columns() -> list[str]:
    """The ``factor_`` columns of a synthetic catalogue, in FACTORS order."""
    return [f.column for f in FACTORS]


# ============================================================================ colour names
# (name, family, sRGB): readable names for measured colours, nearest in CIELAB.
_PALETTE: tuple[tuple[str, str, tuple[int, int, int]], ...] = (
    ("White", "white", (250, 250, 250)), ("Sail", "cream", (238, 234, 222)),
    ("Cream", "cream", (242, 228, 190)), ("Bone", "cream", (222, 212, 192)),
    ("Light Grey", "grey", (200, 200, 202)), ("Wolf Grey", "grey", (160, 161, 164)),
    ("Grey", "grey", (125, 125, 127)), ("Cool Grey", "grey", (118, 124, 134)),
    ("Charcoal", "grey", (70, 70, 74)), ("Black", "black", (24, 24, 26)),
    ("Red", "red", (205, 32, 38)), ("Crimson", "red", (160, 20, 48)),
    ("Burgundy", "red", (108, 24, 38)), ("Coral", "orange", (240, 122, 100)),
    ("Orange", "orange", (242, 122, 24)), ("Burnt Orange", "orange", (186, 84, 28)),
    ("Peach", "orange", (248, 196, 160)), ("Gum", "brown", (186, 128, 70)),
    ("Tan", "brown", (206, 170, 122)), ("Khaki", "brown", (186, 176, 130)),
    ("Brown", "brown", (122, 76, 40)), ("Chocolate", "brown", (72, 44, 26)),
    ("Yellow", "yellow", (246, 214, 30)), ("Lemon", "yellow", (250, 240, 128)),
    ("Mustard", "yellow", (200, 158, 34)), ("Gold", "yellow", (214, 172, 56)),
    ("Olive", "green", (110, 110, 42)), ("Lime", "green", (168, 220, 52)),
    ("Green", "green", (40, 158, 70)), ("Forest Green", "green", (30, 82, 46)),
    ("Mint", "green", (170, 230, 200)), ("Sage", "green", (150, 170, 140)),
    ("Teal", "teal", (0, 128, 128)), ("Turquoise", "teal", (60, 200, 196)),
    ("Aqua", "teal", (128, 222, 230)), ("Sky Blue", "blue", (130, 188, 236)),
    ("Ice Blue", "blue", (196, 220, 242)), ("Blue", "blue", (40, 92, 204)),
    ("Royal Blue", "blue", (32, 58, 170)), ("Navy", "blue", (22, 32, 82)),
    ("Denim", "blue", (80, 110, 150)), ("Indigo", "purple", (62, 40, 132)),
    ("Purple", "purple", (120, 50, 162)), ("Violet", "purple", (152, 92, 212)),
    ("Lavender", "purple", (202, 182, 236)), ("Plum", "purple", (100, 40, 82)),
    ("Magenta", "pink", (202, 30, 150)), ("Hot Pink", "pink", (242, 70, 152)),
    ("Pink", "pink", (246, 162, 192)), ("Rose", "pink", (210, 110, 130)),
    ("Blush", "pink", (246, 212, 212)),
)


def _srgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """sRGB in [0, 1], [..., 3] -> CIELAB (D65), [..., 3]."""
    rgb = np.asarray(rgb, dtype=np.float64)
    lin = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    m = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
    xyz = lin @ m.T / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16 / 116)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]),
                     200 * (f[..., 1] - f[..., 2])], axis=-1)


_PALETTE_LAB = _srgb_to_lab(np.array([p[2] for p in _PALETTE]) / 255.0)


def hsl_to_rgb(hue: float, sat: float, light: float) -> tuple[float, float, float]:
    """HSL (each in [0, 1]) -> sRGB floats in [0, 1]."""
    return colorsys.hls_to_rgb(hue % 1.0, light, sat)


def colour_name(rgb: tuple[float, float, float]) -> tuple[str, str]:
    """sRGB floats in [0, 1] -> (readable name, family), the nearest palette colour in CIELAB."""
    return colour_names([rgb])[0]


def colour_names(rgbs) -> list[tuple[str, str]]:
    """Like colour_name, for a list of colours [K, 3]."""
    lab = _srgb_to_lab(np.asarray(rgbs, dtype=np.float64))
    d = ((_PALETTE_LAB[None, :, :] - lab[:, None, :]) ** 2).sum(axis=2)
    return [_PALETTE[int(i)][:2] for i in d.argmin(axis=1)]


# ============================================================================ brands & names
_BRAND_BY_LOGO = {"none": "Nudo", "stripes": "Tresk", "swoosh": "Vantor", "star": "Astrel",
                  "patch": "Holloway"}
_BRAND_OVERRIDES = {("patch", "boot"): "Ridgeback", ("none", "slip-on"): "Driftwood",
                    ("patch", "runner"): "Ridgeback"}
_MODELS = {  # brand -> model per silhouette (SILHOUETTES order)
    "Vantor": ("Court", "Pace", "Court", "Court", "Terra", "Glide"),
    "Tresk": ("Kanto", "Velox", "Kanto", "Rivalry", "Alpen", "Sway"),
    "Astrel": ("Nova", "Comet", "Nova", "Nova", "Orbit", "Drift"),
    "Holloway": ("Courtland", "Mileage", "Courtland", "Courtland", "Fieldmaster", "Deckhand"),
    "Ridgeback": ("Trailhead", "Switchback", "Trailhead", "Trailhead", "Summit", "Camp"),
    "Nudo": ("Plain", "Zero", "Plain", "Plain", "Trek", "Loaf"),
    "Driftwood": ("Deck", "Deck", "Deck", "Deck", "Deck", "Deck"),
}
_HEIGHT_WORD = ("Lo", "", "Mid", "Hi", "Boot", "Slip-On")
_BRAND_PRICE = {"Vantor": 115.0, "Tresk": 100.0, "Astrel": 70.0, "Holloway": 95.0,
                "Ridgeback": 150.0, "Nudo": 65.0, "Driftwood": 55.0}
_BRAND_FOUNDED = {"Vantor": 1985, "Tresk": 1985, "Astrel": 1985, "Holloway": 1992,
                  "Ridgeback": 1998, "Nudo": 2008, "Driftwood": 2001}
_SILHOUETTE_PRICE = (1.0, 1.25, 1.1, 1.2, 1.45, 0.8)
_MATERIAL_PRICE = (1.1, 1.15, 1.0, 0.75)
_NICKNAMES = {
    "red": ("Ember", "Chili", "Cardinal", "Fireside"), "orange": ("Blaze", "Sunset", "Copper"),
    "yellow": ("Solar", "Pollen", "Goldrush"), "green": ("Forest", "Pine", "Matcha", "Fern"),
    "teal": ("Lagoon", "Reef", "Mineral"), "blue": ("Tidal", "Glacier", "Harbor", "Royal"),
    "purple": ("Grape", "Orchid", "Amethyst"), "pink": ("Bubblegum", "Flamingo", "Blossom"),
    "brown": ("Mocha", "Saddle", "Hazel", "Timber"), "cream": ("Oatmeal", "Linen", "Vanilla"),
    "white": ("Cloud", "Summit", "Pure"), "grey": ("Cement", "Smoke", "Fog", "Wolf"),
    "black": ("Shadow", "Blackout", "Onyx"),
}
_MODIFIERS = {
    "red": "Fire", "orange": "Sunrise", "yellow": "Volt", "green": "Jungle", "teal": "Aqua",
    "blue": "Ocean", "purple": "Dusk", "pink": "Candy", "brown": "Earth", "cream": "Vintage",
    "white": "Frost", "grey": "Stone", "black": "Midnight",
}


def brand_for(logo: int, silhouette: int) -> str:
    """Fictional brand, a function of the logo mark and the silhouette."""
    key = (LOGOS[logo], SILHOUETTES[silhouette])
    return _BRAND_OVERRIDES.get(key, _BRAND_BY_LOGO[key[0]])


# ============================================================================ sampling
def _sample_colour(rng: np.random.Generator, p_neutral: float,
                   light_skew: float) -> tuple[float, float, float]:
    hue = float(rng.random())
    neutral = rng.random() < p_neutral
    sat = float(rng.uniform(0.0, 0.15) if neutral else rng.uniform(0.3, 0.85))
    light = float(0.1 + 0.84 * rng.random() ** light_skew)
    return hue, sat, light


# The "study" design: a factor-study catalogue in the manner of dSprites and 3D Shapes. Six
# salient factors vary, independently and uniformly over a grid of levels; every other factor is
# held at one value, so each ground-truth factor is visible in every image and a model *can* give
# each its own latent dimension. Hues run along an arc of the colour circle (red .. violet), not
# the whole circle, so each is one ordered quantity rather than an angle. The full design's 23
# factors are mostly the hue, saturation and lightness of small parts, many invisible on a given
# item (the hue of a neutral colour, the laces of a slip-on), which caps what any representation
# can score there.
STUDY_VARIED: dict[str, tuple[float, ...] | None] = {
    # factor -> its levels (None: categorical, all its values)
    "silhouette": None,
    "sole_thickness": tuple(np.round(np.linspace(0.0, 1.0, 5), 4)),
    "upper_hue": tuple(np.round(np.linspace(0.0, 0.75, 8), 4)),
    "accent_hue": tuple(np.round(np.linspace(0.0, 0.75, 8), 4)),
    "sole_light": tuple(np.round(np.linspace(0.12, 0.94, 5), 4)),
    "scale": tuple(np.round(np.linspace(0.80, 1.0, 5), 4)),
}
STUDY_FIXED: dict[str, float | int] = {
    "toe_shape": 0, "material": 0, "logo": 1,  # round toe, leather, stripes (in accent colour)
    "upper_sat": 0.75, "upper_light": 0.55, "accent_sat": 0.8, "accent_light": 0.42,
    "sole_hue": 0.0, "sole_sat": 0.0,
    "lace_hue": 0.0, "lace_sat": 0.0, "lace_light": 0.94,
    "heel_tab_hue": 0.0, "heel_tab_sat": 0.0, "heel_tab_light": 0.9,
    "collar_padding": 0.5, "shift_x": 0.0,
}
DESIGNS = ("full", "study")


def _check_design(design: str) -> None:
    if design not in DESIGNS:
        raise ValueError(f"design must be one of {', '.join(DESIGNS)}, got {design!r}")


def _full_factors(rng: np.random.Generator) -> dict[str, Any]:
    f: dict[str, Any] = {}
    # Every factor is drawn independently, in a fixed order (changing it changes the catalogue).
    f["silhouette"] = int(rng.integers(len(SILHOUETTES)))
    f["toe_shape"] = int(rng.integers(len(TOE_SHAPES)))
    f["sole_thickness"] = float(rng.random())
    f["material"] = int(rng.integers(len(MATERIALS)))
    f["logo"] = int(rng.integers(len(LOGOS)))
    for part, (_, p_neutral, skew) in COLOUR_PARTS.items():
        f[f"{part}_hue"], f[f"{part}_sat"], f[f"{part}_light"] = _sample_colour(
            rng, p_neutral, skew)
    f["collar_padding"] = float(rng.random())
    f["scale"] = float(rng.uniform(*SCALE_RANGE))
    f["shift_x"] = float(rng.uniform(*SHIFT_RANGE))
    return f


def _study_factors(rng: np.random.Generator) -> dict[str, Any]:
    f: dict[str, Any] = dict(STUDY_FIXED)
    for name, levels in STUDY_VARIED.items():
        if levels is None:
            f[name] = int(rng.integers(len(FACTOR_BY_NAME[name].values)))
        else:
            f[name] = float(levels[int(rng.integers(len(levels)))])
    return {factor.name: f[factor.name] for factor in FACTORS}


def sample_item(seed: int, index: int, design: str = "full") -> dict[str, Any]:
    """Factor values and metadata of item ``index`` of the catalogue with ``seed``.

    Depends only on (seed, index, design). ``design`` is "full" (every factor varies) or
    "study" (the six factors of :data:`STUDY_VARIED` vary, the rest are held at
    :data:`STUDY_FIXED`). Returns one flat dict: the metadata columns (sku, name, brand, model,
    colorway, colours, silhouette, material, toe_shape, logo, upper_colour, accent_colour,
    sole_colour, lace_colour, heel_tab_colour, price, release_year) and one ``factor_<name>``
    entry per factor in FACTORS.
    """
    if index < 0 or seed < 0:
        raise ValueError(f"seed and index must be >= 0, got {seed}, {index}")
    _check_design(design)
    rng = np.random.default_rng([int(seed), int(index)] + ([1] if design == "study" else []))
    f = _full_factors(rng) if design == "full" else _study_factors(rng)
    # four decimals are far finer than a pixel shows, and keep the metadata table small
    f = {k: round(v, 4) if isinstance(v, float) else v for k, v in f.items()}
    # metadata draws (after the factors)
    r_nick, r_price = float(rng.random()), float(rng.normal(0.0, 0.08))
    r_year, suffix = float(rng.random()), int(rng.integers(256))

    names = dict(zip(COLOUR_PARTS, colour_names(
        [hsl_to_rgb(f[f"{p}_hue"], f[f"{p}_sat"], f[f"{p}_light"]) for p in COLOUR_PARTS])))
    brand = brand_for(f["logo"], f["silhouette"])
    model = _MODELS[brand][f["silhouette"]]
    (upper_name, upper_family), (accent_name, accent_family) = names["upper"], names["accent"]
    nouns = _NICKNAMES[upper_family]
    noun = nouns[min(int(r_nick * len(nouns)), len(nouns) - 1)]
    colorway = noun if accent_family == upper_family else f"{_MODIFIERS[accent_family]} {noun}"
    height = _HEIGHT_WORD[f["silhouette"]]
    name = " ".join(w for w in (brand, model, height) if w) + f" '{colorway}'"
    price = (_BRAND_PRICE[brand] * _SILHOUETTE_PRICE[f["silhouette"]]
             * _MATERIAL_PRICE[f["material"]] * math.exp(r_price))
    price = max(5.0, round(price / 5.0) * 5.0) - 0.01
    founded = _BRAND_FOUNDED[brand]
    item: dict[str, Any] = {
        "sku": f"KS-{int(index):06d}-{suffix:02x}",
        "name": name,
        "brand": brand,
        "model": model,
        "colorway": colorway,
        "colours": f"{upper_name}/{accent_name}-{names['sole'][0]}",
        "silhouette": SILHOUETTES[f["silhouette"]],
        "material": MATERIALS[f["material"]],
        "toe_shape": TOE_SHAPES[f["toe_shape"]],
        "logo": LOGOS[f["logo"]],
        "upper_colour": upper_name,
        "accent_colour": accent_name,
        "sole_colour": names["sole"][0],
        "lace_colour": names["lace"][0] if f["silhouette"] != SILHOUETTES.index("slip-on")
        else "none",
        "heel_tab_colour": names["heel_tab"][0],
        "price": float(round(price, 2)),
        "release_year": int(founded + int(r_year * (2026 - founded))),
    }
    for factor in FACTORS:
        item[factor.column] = f[factor.name]
    return item


# ============================================================================ geometry
# Shoe space: u runs along the shoe from heel (0) to toe (1); v is height, in shoe lengths.
# Upper outlines are given as v above the local top of the sole, then lifted onto it.

@dataclass(frozen=True)
class _Build:
    heel_h: float             # collar height at the back
    lean: float               # forward lean of the back of the collar
    collar_low: tuple[float, float]   # lowest point of the ankle opening (u, v)
    tongue: tuple[float, float]       # top of the tongue (u, v)
    ankle: tuple[tuple[float, float], ...]  # extra instep points between tongue and foot
    laces: tuple[float, float]  # u range of the lacing
    n_laces: int              # 0: no laces (slip-on)
    spring: float             # toe spring: how far the sole's toe lifts
    drop: float               # forefoot sole thickness / heel sole thickness
    bevel: float              # heel bevel of the sole
    tab: str                  # heel tab style: court, flare, loop, label
    heel_counter: float       # height of the heel counter overlay, fraction of heel_h
    mudguard: bool
    lugs: bool


_BUILDS = (  # SILHOUETTES order
    _Build(0.26, 0.015, (0.25, 0.205), (0.385, 0.30), (), (0.42, 0.68), 6, 0.045, 0.85, 0.008,
           "court", 0.55, False, False),
    _Build(0.27, -0.005, (0.24, 0.19), (0.37, 0.325), (), (0.41, 0.68), 6, 0.085, 0.62, 0.03,
           "flare", 0.6, True, False),
    _Build(0.40, 0.04, (0.27, 0.345), (0.345, 0.43), ((0.43, 0.33),), (0.37, 0.68), 7, 0.05,
           0.85, 0.008, "loop", 0.42, False, False),
    _Build(0.545, 0.06, (0.29, 0.50), (0.345, 0.575), ((0.40, 0.47), (0.46, 0.35)),
           (0.355, 0.68), 9, 0.05, 0.85, 0.008, "loop", 0.36, False, False),
    _Build(0.56, 0.045, (0.30, 0.53), (0.355, 0.595), ((0.41, 0.48), (0.47, 0.36)),
           (0.37, 0.66), 8, 0.04, 0.8, 0.01, "loop", 0.3, True, True),
    _Build(0.215, 0.015, (0.27, 0.165), (0.48, 0.205), (), (0.0, 0.0), 0, 0.04, 0.9, 0.006,
           "label", 0.0, False, False),
)
# toe box per toe shape: (u, v) points from the vamp to the toe base
_TOES = (
    ((0.85, 0.14), (0.945, 0.118), (0.99, 0.062), (0.992, -0.03)),
    ((0.86, 0.118), (0.955, 0.088), (1.008, 0.034), (0.998, -0.03)),
    ((0.86, 0.158), (0.955, 0.148), (0.988, 0.098), (0.99, -0.03)),
)
_VAMP_H = (0.185, 0.168, 0.20)  # upper height at u=0.70, per toe shape
_PER_SEG = 8  # spline samples per key point
_TU = np.linspace(-0.05, 1.12, 118)  # where the sole profile is tabulated
_SOLE_U = np.linspace(-0.012, 1.006, 20)  # sole outline samples
_MUDGUARD_U = np.linspace(0.3, 1.0, 12)
_LUG_U = np.linspace(0.0, 1.0, 23)
_LUG_V = np.where(np.arange(23) % 2 == 0, -0.004, 0.014)


def _catmull_rom(points: np.ndarray, per_seg: int) -> np.ndarray:
    """Uniform Catmull-Rom spline through points [K, 2] -> [(K-1)*per_seg + 1, 2]."""
    p = np.concatenate([2 * points[:1] - points[1:2], points, 2 * points[-1:] - points[-2:-1]])
    k = len(points) - 1
    idx = np.arange(k)[:, None] + np.arange(4)[None, :]  # [k, 4]
    seg = np.einsum("tj,kjd->ktd", _cr_basis(per_seg), p[idx])  # [k, T, 2]
    return np.concatenate([seg.reshape(-1, 2), points[-1:]], axis=0)


@lru_cache(maxsize=4)
def _cr_basis(per_seg: int) -> np.ndarray:
    t = np.linspace(0.0, 1.0, per_seg, endpoint=False)
    return 0.5 * np.stack([-t ** 3 + 2 * t ** 2 - t, 3 * t ** 3 - 5 * t ** 2 + 2,
                           -3 * t ** 3 + 4 * t ** 2 + t, t ** 3 - t ** 2], axis=1)  # [T, 4]


@lru_cache(maxsize=8)
def _bezier_basis(n: int) -> np.ndarray:
    t = np.linspace(0.0, 1.0, n)
    return np.stack([(1 - t) ** 2, 2 * (1 - t) * t, t ** 2], axis=1)  # [n, 3]


def _quad_bezier(a, c, b, n: int = 10) -> np.ndarray:
    """Quadratic Bezier from a to b with control point c -> [n, 2]."""
    return _bezier_basis(n) @ np.array([a, c, b], dtype=np.float64)


def _smoothstep(a: float, b: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - a) / (b - a), 0.0, 1.0)
    return t * t * (3 - 2 * t)


def _offset(points: np.ndarray, dist: float) -> np.ndarray:
    """Shift a polyline [K, 2] along its right-hand normal by dist (for a contour running
    heel -> toe over the top, positive dist moves into the shoe)."""
    d = np.empty_like(points)
    d[1:-1] = points[2:] - points[:-2]
    d[0], d[-1] = points[1] - points[0], points[-1] - points[-2]
    n = np.stack([d[:, 1], -d[:, 0]], axis=1)
    n /= np.maximum(np.sqrt((n * n).sum(1, keepdims=True)), 1e-9)
    return points + dist * n


def _resample(points: np.ndarray, n: int) -> np.ndarray:
    """n points evenly spaced by arc length along a polyline [K, 2]."""
    s = np.concatenate([[0.0], np.cumsum(np.sqrt((np.diff(points, axis=0) ** 2).sum(1)))])
    pos = np.linspace(0.0, s[-1], n)
    return np.stack([np.interp(pos, s, points[:, 0]), np.interp(pos, s, points[:, 1])], 1)


class _Shoe:
    """Geometry of one shoe in shoe space, and the mapping to pixels of the supersampled
    canvas (x right, y down)."""

    def __init__(self, f: dict[str, Any], canvas: int) -> None:
        sil = int(f["factor_silhouette"])
        self.b = b = _BUILDS[sil]
        self.toe = toe = int(f["factor_toe_shape"])
        pad = float(f["factor_collar_padding"])
        self.t_heel = 0.045 + 0.135 * float(f["factor_sole_thickness"])
        self.t_toe = self.t_heel * b.drop
        # sole profile, tabulated once: lift() interpolates it
        self._tu = _TU
        self._bottom = (b.spring * _smoothstep(0.68, 1.02, self._tu) ** 1.6
                        + b.bevel * np.clip((0.1 - self._tu) / 0.12, 0.0, 1.0) ** 2)
        self._top = self._bottom + self.t_heel + (self.t_toe - self.t_heel) * _smoothstep(
            0.25, 0.85, self._tu)
        # contour of the upper, as (u, v above the sole top), heel base -> toe base
        lean, hh = b.lean, b.heel_h + 0.025 * pad
        keys = [(0.03, -0.03), (0.004, 0.05), (0.3 * lean, 0.42 * hh),
                (0.016 + 0.7 * lean, 0.8 * hh), (0.042 + lean, hh)]
        i_back_top = len(keys) - 1
        cl = (b.collar_low[0], b.collar_low[1] + 0.02 * pad)
        keys.append(((keys[-1][0] + cl[0]) / 2, (hh + cl[1]) / 2 - 0.004))
        keys.append(cl)
        keys.append(b.tongue)
        i_tongue = len(keys) - 1
        if b.n_laces:
            keys.append((b.tongue[0] + 0.035, b.tongue[1] - 0.022))
        keys.extend(b.ankle)
        keys.append((0.56, _VAMP_H[toe] + 0.06))
        keys.append((0.70, _VAMP_H[toe]))
        i_vamp = len(keys) - 1
        keys.extend(_TOES[toe])
        self.top = _catmull_rom(np.array(keys), _PER_SEG)  # [M, 2] in (u, v_rel)
        self.k_back_top = i_back_top * _PER_SEG
        self.k_tongue = i_tongue * _PER_SEG
        self.k_vamp = i_vamp * _PER_SEG
        # pixel mapping
        self.L = L = canvas * 0.84 * float(f["factor_scale"])
        max_v = float(self.top[:, 1].max()) + self.t_heel + (0.07 if b.tab == "loop" else 0.04)
        self.x0 = canvas * (0.5 + float(f["factor_shift_x"])) - 0.5 * L
        self.gy = canvas * 0.5 + 0.5 * max_v * L + 0.012 * canvas  # ground line, pixels
        self.top_y = self.gy - max_v * L
        # only this band of output rows holds the shoe and its shadow; the canvas covers it
        size = canvas // SUPERSAMPLE
        self.r0 = max(0, int((self.top_y - 0.05 * L) / SUPERSAMPLE) - 1)
        self.r1 = min(size, int((self.gy + 0.12 * L) / SUPERSAMPLE) + 2)
        self.band = (canvas, (self.r1 - self.r0) * SUPERSAMPLE)  # canvas (width, height)
        self._scale = np.array([L, -L])
        self._origin = np.array([self.x0, self.gy - self.r0 * SUPERSAMPLE])
        self._top_px = self._top * L

    def sole_bottom(self, u: np.ndarray) -> np.ndarray:
        return np.interp(u, self._tu, self._bottom)

    def sole_top(self, u: np.ndarray) -> np.ndarray:
        return np.interp(u, self._tu, self._top)

    def px(self, pts: np.ndarray, lift: bool = True) -> list[float]:
        """Points [K, 2] in shoe space -> flat pixel coordinate list for ImageDraw. With lift,
        v is measured from the top of the sole, else from the ground."""
        pts = np.asarray(pts, dtype=np.float64)
        out = pts * self._scale + self._origin
        if lift:
            out[:, 1] -= np.interp(pts[:, 0], self._tu, self._top_px)
        return out.ravel().tolist()


# ============================================================================ textures
@lru_cache(maxsize=16)
def _texture(material: int, size: int) -> np.ndarray:
    """How much a material darkens its surface: float32 [size, size] in [0, 1], drawn at
    SUPERSAMPLE x and box-filtered to the output size. The same tile for every item
    (seed-free), so it is cached per (material, size)."""
    ss = SUPERSAMPLE
    n = size * ss
    rng = np.random.default_rng(1234 + material)
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float32)
    name = MATERIALS[material]
    if name == "mesh":  # hexagonal grid of holes, 2.5 output px apart
        p = 2.5 * ss
        row = np.floor(yy / (p * 0.866))
        dx = ((xx + (row % 2) * p / 2) % p) - p / 2
        dy = (yy % (p * 0.866)) - p * 0.433
        d = np.sqrt(dx * dx + dy * dy) / p
        a = 0.30 * np.clip((0.34 - d) / 0.08, 0.0, 1.0) + 0.04
    elif name == "canvas":  # plain weave, 1.5 output px
        p = 1.5 * ss
        a = 0.10 + 0.09 * np.sin(2 * np.pi * xx / p) * np.sin(2 * np.pi * yy / p)
        a = a + rng.normal(0.0, 0.03, a.shape)
    elif name == "suede":  # napped, softly mottled
        k = max(4, n // (3 * ss))
        low = Image.fromarray(rng.normal(128, 40, (k, k)).clip(0, 255).astype(np.uint8))
        low = np.asarray(low.resize((n, n), Image.BICUBIC), dtype=np.float32) / 255.0 - 0.5
        a = 0.10 + 0.22 * low + rng.normal(0.0, 0.05, (n, n))
    else:  # leather: fine grain
        grain = Image.fromarray(rng.normal(128, 50, (n, n)).clip(0, 255).astype(np.uint8))
        grain = grain.filter(ImageFilter.GaussianBlur(0.4 * ss))
        a = 0.05 + 0.35 * (np.asarray(grain, dtype=np.float32) / 255.0 - 0.5)
    img = Image.fromarray((np.clip(a, 0.0, 1.0) * 255).astype(np.uint8), "L")
    tile = np.asarray(img.reduce(ss), dtype=np.float32) / 255.0
    tile.setflags(write=False)  # shared by every render of this size
    return tile


# ============================================================================ rendering
Colour = tuple[float, float, float]


def _rgb255(c: Colour) -> tuple[int, int, int]:
    return (int(c[0] * 255 + 0.5), int(c[1] * 255 + 0.5), int(c[2] * 255 + 0.5))


def _tone(c: Colour, k: float) -> Colour:
    """Darker (k < 1) or lighter (k > 1, towards white) version of a colour."""
    if k <= 1.0:
        return (c[0] * k, c[1] * k, c[2] * k)
    t = min(k - 1.0, 1.0)
    return (c[0] + (1 - c[0]) * t, c[1] + (1 - c[1]) * t, c[2] + (1 - c[2]) * t)


def _mix(a: Colour, b: Colour, t: float) -> Colour:
    return (a[0] * (1 - t) + b[0] * t, a[1] * (1 - t) + b[1] * t, a[2] * (1 - t) + b[2] * t)


def _luma(c: Colour) -> float:
    return 0.3 * c[0] + 0.59 * c[1] + 0.11 * c[2]


def _edge(c: Colour) -> tuple[int, int, int]:
    """Seam / outline colour for a panel of colour c: darker, lighter on near-black."""
    return _rgb255(_tone(c, 0.6) if _luma(c) > 0.16 else _tone(c, 1.3))


def _stitch(cv: "_Canvas", xy: list[float], fill, width: int) -> None:
    """A dashed line along the polyline xy (flat pixel list): every other segment."""
    for i in range(0, len(xy) - 3, 4):
        cv.draw.line(xy[i:i + 4], fill=fill, width=width)


def _star(cx: float, cy: float, r: float) -> np.ndarray:
    ang = np.pi / 2 + np.arange(10) * np.pi / 5
    rad = np.where(np.arange(10) % 2 == 0, r, r * 0.42)
    return np.stack([cx + rad * np.cos(ang), cy + rad * np.sin(ang)], axis=1)


def _colours(item: dict[str, Any]) -> dict[str, Colour]:
    return {p: hsl_to_rgb(float(item[f"{FACTOR_PREFIX}{p}_hue"]),
                          float(item[f"{FACTOR_PREFIX}{p}_sat"]),
                          float(item[f"{FACTOR_PREFIX}{p}_light"])) for p in COLOUR_PARTS}


class _Canvas:
    """The supersampled RGB canvas plus the coverage masks the shading needs."""

    MASKS = ("shoe", "upper", "sole", "roll", "plain")  # plain: on the upper, untextured

    def __init__(self, wh: tuple[int, int]) -> None:
        self.img = Image.new("RGB", wh, (255, 255, 255))
        self.draw = ImageDraw.Draw(self.img)
        self.masks = {k: Image.new("L", wh, 0) for k in self.MASKS}
        self.mdraw = {k: ImageDraw.Draw(m) for k, m in self.masks.items()}

    def polygon(self, xy: list[float], fill, masks: tuple[str, ...] = ("shoe",),
                outline=None, width: int = 0) -> None:
        self.draw.polygon(xy, fill=fill, outline=outline, width=width)
        for k in masks:
            self.mdraw[k].polygon(xy, fill=255, outline=255 if outline else None, width=width)

    def line(self, xy: list[float], fill, width: int, masks: tuple[str, ...] = ()) -> None:
        self.draw.line(xy, fill=fill, width=width)
        for k in masks:
            self.mdraw[k].line(xy, fill=255, width=width)


_TEXTURE_GREY = 0.24  # colour the texture darkens towards (lightens near-black)


def _vgrad(h: np.ndarray) -> np.ndarray:
    """Vertical derivative of a field [H, W], image y down: > 0 where the field rises going
    down, i.e. on the top (upward-facing) edges of a blurred mask."""
    g = np.zeros_like(h)
    g[1:-1] = (h[2:] - h[:-2]) * 0.5
    return g


def render(item: dict[str, Any], size: int = 64) -> np.ndarray:
    """Draw one item (a dict with the ``factor_`` entries of :func:`sample_item`) as a
    side-view product photo: uint8 [size, size, 3], toe pointing right, white background."""
    if size < 16:
        raise ValueError(f"size must be >= 16, got {size}")
    n = size * SUPERSAMPLE
    shoe = _Shoe(item, n)
    b, L, top = shoe.b, shoe.L, shoe.top
    px = shoe.px
    col = _colours(item)
    upper_c, accent_c, sole_c = col["upper"], col["accent"], col["sole"]
    material = int(item["factor_material"])
    logo = LOGOS[int(item["factor_logo"])]
    pad = float(item["factor_collar_padding"])
    lw = max(1, int(round(0.0055 * L)))  # seam width
    cv = _Canvas(shoe.band)
    kb, kt = shoe.k_back_top, shoe.k_tongue
    front = np.arange(len(top)) > kt

    # --- far side, seen through the ankle opening (the camera is slightly above)
    collar = top[kb:kt + 1]
    far = collar + np.array([0.012, 0.028])
    lining = _mix(_tone(upper_c, 0.5), (0.16, 0.16, 0.17), 0.5)
    cv.polygon(px(np.concatenate([far, collar[::-1] - np.array([0.0, 0.05])])), _rgb255(lining))
    cv.line(px(far), _rgb255(_tone(upper_c, 0.85)), max(1, int(0.012 * L)))

    # --- sole outline helper (u along the sole, lo/hi = bottom/top heights above ground)
    u = _SOLE_U
    bottom, stop = shoe.sole_bottom(u), shoe.sole_top(u)

    def sole_poly(lo: np.ndarray, hi: np.ndarray, du: float = 0.0, dv: float = 0.0):
        tip = _quad_bezier((u[-1], lo[-1]), (u[-1] + 0.012, (lo[-1] + hi[-1]) / 2),
                           (u[-1] - 0.004, hi[-1]), 6)
        heel = _quad_bezier((u[0] + 0.004, hi[0]), (u[0] - 0.01, (lo[0] + hi[0]) / 2),
                            (u[0] + 0.01, lo[0]), 6)
        pts = np.concatenate([np.stack([u, lo], 1), tip, np.stack([u, hi], 1)[::-1], heel])
        return px(pts + np.array([du, dv]), lift=False)

    # far sole ledge: the top of the midsole showing around the upper
    cv.polygon(sole_poly(bottom, stop, 0.004, 0.012), _rgb255(_tone(sole_c, 0.86)))

    # --- the upper
    bottom_u = np.linspace(top[-1, 0], top[0, 0], 8)
    upper = np.concatenate([top, np.stack([bottom_u, np.full(8, -0.03)], 1)])
    cv.polygon(px(upper), _rgb255(upper_c), ("shoe", "upper"))

    # --- overlays in the accent colour, each a region of the upper with a stitched seam
    acc, seam_c = _rgb255(accent_c), _edge(accent_c)
    overlay_masks = ("plain",)
    tc_u = 0.80 if shoe.toe != 1 else 0.815  # toe cap
    i0 = int(np.argmax(front & (top[:, 0] >= tc_u)))
    seam = _quad_bezier(top[i0], (tc_u - 0.06, top[i0, 1] * 0.75), (tc_u - 0.045, -0.03), 8)
    cv.polygon(px(np.concatenate([top[i0:], [(top[-1, 0], -0.03)], seam[::-1]])), acc,
               overlay_masks)
    seams = [(seam, -1.0)]  # (seam line, side of the overlay: sign of the offset)
    if b.heel_counter > 0:
        hc_v = b.heel_counter * b.heel_h
        i1 = int(np.argmax(top[:, 1] >= hc_v))
        seam = _quad_bezier(top[i1], (top[i1, 0] + 0.16, hc_v * 0.95), (0.34, -0.03), 8)
        cv.polygon(px(np.concatenate([top[:i1 + 1], seam])), acc, overlay_masks)
        seams.append((seam, 1.0))
    if b.mudguard:
        mu = _MUDGUARD_U
        mv = 0.05 + 0.03 * _smoothstep(0.3, 1.0, mu)
        k = int(np.argmax(front & (np.arange(len(top)) > shoe.k_vamp)
                          & (top[:, 1] <= np.interp(top[:, 0], mu, mv))))
        line = np.concatenate([[(0.28, -0.03)], np.stack([mu, mv], 1)[mu < top[k, 0]]])
        cv.polygon(px(np.concatenate([line, top[k:], [(top[-1, 0], -0.03)]])), acc,
                   overlay_masks)
        seams.append((line[1:], 1.0))
    if b.n_laces:  # eyestay along the lacing
        sel = front & (top[:, 0] >= b.laces[0] - 0.02) & (top[:, 0] <= b.laces[1] + 0.03)
        rim = top[sel]
        band = _offset(rim, 0.055)
        cv.polygon(px(np.concatenate([rim + np.array([0.0, 0.01]), band[::-1]])), acc,
                   overlay_masks)
        seams.append((band, -1.0))
    for s, side in seams:
        cv.line(px(s), seam_c, lw)
        if size >= 96:  # stitching, where it is big enough to see
            _stitch(cv, px(_offset(_resample(s, 24), side * 0.014)), seam_c, lw)

    # --- logo mark, in the accent colour with a darker rim (visible on a same-colour upper)
    qh = min(0.19, b.collar_low[1] - 0.035) / 0.19  # vertical room on the quarter panel
    logo_pts = None
    if logo == "stripes":
        for k in range(3):
            u0 = 0.30 + 0.075 * k
            q = np.array([(u0, 0.02), (u0 + 0.038, 0.02), (u0 + 0.038 + 0.11 * qh, 0.19 * qh),
                          (u0 + 0.11 * qh, 0.19 * qh)])
            cv.polygon(px(q), acc, ("plain",), outline=seam_c, width=lw)
    elif logo == "swoosh":
        tip = (0.13, 0.205 * qh)
        lower = _quad_bezier(tip, (0.36, 0.0), (0.60, 0.09 * qh), 12)
        upper_ = _quad_bezier((0.57, 0.135 * qh), (0.40, 0.06 * qh), tip, 12)
        nose = _quad_bezier((0.60, 0.09 * qh), (0.63, 0.12 * qh), (0.57, 0.135 * qh), 5)
        logo_pts = np.concatenate([lower, nose[1:-1], upper_])
    elif logo == "star":
        if b.heel_h > 0.35:  # ankle patch on mids, high-tops and boots
            c = (0.19, 0.6 * b.heel_h)
            r = px(np.array([(c[0] - 0.07, c[1] + 0.07), (c[0] + 0.07, c[1] - 0.07)]))
            cv.draw.ellipse(r, fill=(244, 243, 238), outline=seam_c, width=lw)
            cv.mdraw["plain"].ellipse(r, fill=255)
        else:
            c = (0.30, 0.11 * qh)
        logo_pts = _star(c[0], c[1], 0.055)
    elif logo == "patch":
        r = px(np.array([(0.09, 0.165 * qh), (0.23, 0.085 * qh)]))
        cv.draw.rounded_rectangle(r, radius=0.012 * L, fill=acc, outline=seam_c, width=lw)
        cv.mdraw["plain"].rectangle(r, fill=255)
        cv.line(px(np.array([(0.11, 0.125 * qh), (0.21, 0.125 * qh)])), seam_c, lw)
    if logo_pts is not None:
        cv.polygon(px(logo_pts), acc, ("plain",), outline=seam_c, width=lw)

    # --- collar roll: the padding, a pillow along the ankle opening
    roll_w = 0.012 + 0.07 * pad
    roll_top = collar[:max(2, len(collar) - 5)]
    roll_in = _offset(roll_top, roll_w)
    cv.polygon(px(np.concatenate([roll_top + np.array([0.0, 0.004]), roll_in[::-1]])),
               _rgb255(_tone(upper_c, 1.03)), ("roll", "plain"))
    cv.line(px(roll_in), _edge(upper_c), lw)

    # --- heel tab
    tab_c, bt = col["heel_tab"], top[kb]
    tab = None
    if b.tab == "court":
        tab = [(-0.014, 0.036), (0.062, 0.028), (0.056, -0.11), (-0.026, -0.11)]
    elif b.tab == "flare":
        tab = [(0.05, 0.0), (0.012, 0.052), (-0.03, 0.05), (-0.036, 0.02), (-0.022, -0.06),
               (-0.004, -0.11), (0.04, -0.10)]
    elif b.tab == "label":
        tab = [(-0.01, -0.035), (0.065, -0.035), (0.065, -0.115), (-0.014, -0.115)]
    if tab is not None:
        cv.polygon(px(np.array(tab) + bt), _rgb255(tab_c), ("shoe", "plain"),
                   outline=_edge(tab_c), width=lw)
    else:  # pull loop above the collar
        r = px(np.array([(bt[0] - 0.024, bt[1] + 0.075), (bt[0] + 0.04, bt[1] - 0.03)]))
        w = max(2, int(0.026 * L))
        cv.draw.rounded_rectangle(r, radius=0.01 * L, outline=_rgb255(tab_c), width=w)
        cv.mdraw["shoe"].rounded_rectangle(r, radius=0.01 * L, outline=255, width=w)

    # --- laces (slip-ons have none: an elastic gore instead)
    if b.n_laces:
        rim = top[front & (top[:, 0] >= b.laces[0]) & (top[:, 0] <= b.laces[1])]
        pts = _resample(rim, b.n_laces + 1)
        eyelets = _offset(pts, 0.036)
        crest = _offset(pts, -0.004)
        ends = np.empty((2 * b.n_laces, 2))
        ends[0::2] = eyelets[:-1]
        ends[1::2] = 0.45 * crest[:-1] + 0.55 * crest[1:]
        xy = px(ends)
        w = max(2, int(0.016 * L))
        lace_rgb, lace_edge = _rgb255(col["lace"]), _edge(col["lace"])
        for i in range(0, len(xy), 4):  # (inside the untextured eyestay, or off the upper)
            seg = xy[i:i + 4]
            cv.line(seg, lace_edge, w + 2 * lw)
            cv.line(seg, lace_rgb, w)
        if size >= 96:  # eyelets: below a pixel at smaller sizes
            er = 0.008 * L
            for i in range(0, len(xy), 4):
                x, y = xy[i], xy[i + 1]
                cv.draw.ellipse([x - er, y - er, x + er, y + er], fill=(44, 44, 48))
    else:
        cv.polygon(px(np.array([(0.455, 0.19), (0.505, 0.19), (0.48, 0.10)])),
                   _rgb255(_tone(upper_c, 0.7)), ("plain",))

    # --- the sole, near side: midsole, darker outsole, a groove
    cv.polygon(sole_poly(bottom, stop), _rgb255(sole_c), ("shoe", "sole"))
    o_h = 0.04 if b.lugs else 0.022
    cv.polygon(sole_poly(bottom, bottom + o_h), _rgb255(_tone(sole_c, 0.72)))
    if b.lugs:
        lu = _LUG_U
        lv = shoe.sole_bottom(lu) + _LUG_V
        cv.polygon(px(np.concatenate([np.stack([lu, lv], 1), [(1.0, -0.01), (0.0, -0.01)]]),
                      lift=False), (255, 255, 255), ())
        cv.mdraw["shoe"].polygon(px(np.concatenate(
            [np.stack([lu, lv], 1), [(1.0, -0.01), (0.0, -0.01)]]), lift=False), fill=0)
    if shoe.t_heel > 0.07:
        gu = u[2:-3]
        gb = shoe.sole_bottom(gu)
        groove = np.stack([gu, gb + o_h + 0.45 * (shoe.sole_top(gu) - gb - o_h)], 1)
        cv.line(px(groove, lift=False), _edge(sole_c), lw)

    return _finish(cv, shoe, size, material)


def _finish(cv: _Canvas, shoe: _Shoe, size: int, material: int) -> np.ndarray:
    """Box-filter the canvas to the output size, then apply texture, form shading,
    highlights and the floor shadow there (all smooth, so the low resolution is enough).
    Only the band of rows that holds the shoe and its shadow is processed."""
    ss, r, L = SUPERSAMPLE, size / 64.0, shoe.L
    r0, r1 = shoe.r0, shoe.r1  # the canvas holds output rows r0..r1-1
    flat = np.asarray(cv.img.reduce(ss), dtype=np.float32) * (1.0 / 255.0)
    red = {k: m.reduce(ss) for k, m in cv.masks.items()}
    a = {k: np.asarray(m, dtype=np.float32) * (1.0 / 255.0) for k, m in red.items()}
    a_up, a_sole, a_roll = a["upper"], a["sole"], a["roll"]
    blur = ImageFilter.BoxBlur(1.3 * r)
    h_up = np.asarray(red["upper"].filter(blur).filter(blur), dtype=np.float32) * (1.0 / 255.0)
    h_roll = np.asarray(red["roll"].filter(ImageFilter.BoxBlur(0.8 * r)),
                        dtype=np.float32) * (1.0 / 255.0)

    # texture: the material's pattern on the main panels of the upper
    tex = _texture(material, size)[r0:r1] * np.clip(a_up - a["plain"], 0.0, 1.0)

    # light from above: bright upper edges, rounded-off sides, darker towards the sole
    pix = np.arange(size, dtype=np.float32) + 0.5
    yy = pix[r0:r1, None]
    height = max((shoe.gy - shoe.top_y - shoe.t_heel * L) / ss, 1.0)  # of the upper, px
    fall = np.clip((yy - shoe.top_y / ss) / height, 0.0, 1.0)
    sole_y = (shoe.gy - shoe.sole_top((pix * ss - shoe.x0) / L) * L) / ss  # per column
    depth = yy - sole_y[None, :].astype(np.float32)  # > 0 inside the sole, < 0 above it
    occl = 1.0 - 0.3 * np.exp(np.minimum(depth, 0.0) / (1.6 * r)) * (1.0 - a_sole)
    body = (0.74 + 0.26 * h_up) * (1.08 - 0.22 * fall) * occl
    shade = 1.0 + a_up * (body - 1.0) - 0.2 * a_roll * (1.0 - h_roll)
    sole_rim = np.exp(-(depth / (0.7 * r)) ** 2)
    thick = max(shoe.t_heel * L / ss, 1.0)
    shade += a_sole * (0.12 * sole_rim - 0.14 * np.clip(depth / thick, 0.0, 1.0))
    gloss = (0.5, 0.04, 0.16, 0.08)[material]
    spec = (gloss * np.clip(_vgrad(h_up) * (5.0 * r), 0.0, 1.0) * a_up
            + 0.3 * np.clip(_vgrad(h_roll) * (5.0 * r), 0.0, 1.0) * a_roll
            + 0.18 * sole_rim * a_sole)
    if MATERIALS[material] == "suede":  # soft sheen where the surface turns away
        spec += 0.12 * a_up * (1.0 - h_up) * (1.0 - a["plain"])

    # soft shadow on the floor: a wide penumbra and a dark contact line
    c = pix * ss
    rows, sx = c[r0:r1], shoe.x0 + 0.5 * L
    wide = np.outer(np.exp(-((rows - shoe.gy) / (0.04 * L)) ** 2),
                    np.exp(-np.abs((c - sx) / (0.53 * L)) ** 4))
    contact = np.outer(np.exp(-((rows - shoe.gy + 0.004 * L) / (0.012 * L)) ** 2),
                       np.exp(-np.abs((c - sx) / (0.49 * L)) ** 6))
    lit = 1.0 - 0.24 * wide - 0.4 * contact

    # out = (flat with texture - background) * shade + spec + background * lit, in 2 RGB ops
    bg = 1.0 - a["shoe"]
    mul = (1.0 - tex) * shade
    add = _TEXTURE_GREY * tex * shade + spec + bg * (lit - shade)
    band = flat * mul[..., None]
    band += add[..., None]
    band *= 255.0
    band += 0.5
    out = np.full((size, size, 3), 255, dtype=np.uint8)
    out[r0:r1] = np.clip(band, 0.0, 255.0)
    return out


# ============================================================================ catalogue
def _render_chunk(job: tuple[int, int, int, int, str]) -> tuple[int, np.ndarray, list[dict]]:
    """Worker: items first..first+count-1 of seed -> (first, uint8 [count, S, S, 3], items)."""
    seed, first, count, size, design = job
    images = np.empty((count, size, size, 3), dtype=np.uint8)
    items = []
    for k in range(count):
        item = sample_item(seed, first + k, design)
        images[k] = render(item, size)
        items.append(item)
    return first, images, items


def _chunk_size(n: int, workers: int) -> int:
    return int(min(256, max(8, -(-n // (4 * max(workers, 1))))))


def generate(n: int, size: int = 64, seed: int = 0, start: int = 0,
             workers: int | None = None, progress: bool = True,
             design: str = "full") -> Catalogue:
    """Items start..start+n-1 of the procedural catalogue with ``seed``, as a Catalogue
    (images uint8 [n, size, size, 3], metadata one row per item, see :func:`sample_item`;
    ``design`` "study" makes the six-factor study catalogue).

    Rendered by ``workers`` processes (default: all CPUs; 1 renders in this process); the
    result does not depend on the number of workers. ``progress`` shows a tqdm bar on stderr.
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if start < 0:
        raise ValueError(f"start must be >= 0, got {start}")
    if size < 16:
        raise ValueError(f"size must be >= 16, got {size}")
    _check_design(design)
    from tqdm import tqdm

    workers = os.cpu_count() or 1 if workers is None else int(workers)
    chunk = _chunk_size(n, workers)
    jobs = [(int(seed), start + a, min(chunk, n - a), int(size), design)
            for a in range(0, n, chunk)]
    images = np.empty((n, size, size, 3), dtype=np.uint8)
    rows: list[dict | None] = [None] * n

    def collect(results) -> None:
        with tqdm(total=n, unit="img", desc=f"synth {size}px", disable=not progress,
                  file=sys.stderr) as bar:
            for first, imgs, items in results:
                a = first - start
                images[a:a + len(imgs)] = imgs
                rows[a:a + len(items)] = items
                bar.update(len(imgs))

    n_proc = min(workers, len(jobs))
    if n_proc <= 1:
        collect(map(_render_chunk, jobs))
    else:
        import multiprocessing as mp

        method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
        with mp.get_context(method).Pool(n_proc) as pool:
            collect(pool.imap_unordered(_render_chunk, jobs))
    metadata = pd.DataFrame(rows)
    source = {"kind": "synthetic", "seed": int(seed), "n": int(n), "size": int(size),
              "start": int(start)}
    if design != "full":
        source["design"] = design
    return Catalogue(images, metadata, name="synthetic" if design == "full" else
                     f"synthetic-{design}", source=source)


def contact_sheet(images: np.ndarray, scale: int = 1) -> Image.Image:
    """The first 64 images [N, H, W, 3] as an 8 x 8 contact sheet."""
    from explorer.render.sheets import image_grid

    return image_grid(images[:64], cols=8, pad=2, scale=scale)


# ============================================================================ command line
def _int_at_least(lo: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
        if value < lo:
            raise argparse.ArgumentTypeError(f"must be >= {lo}, got {value}")
        return value
    return parse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Generate the procedural sneaker catalogue: side-view product photos of sneakers with "
        "known ground-truth factors (silhouette, toe, sole, colours, logo, material, ...). "
        "Item i depends only on (seed, i).")
    parser.add_argument("--n", type=_int_at_least(1), default=30000,
                        help="number of items to generate (default: %(default)s)")
    parser.add_argument("--size", type=_int_at_least(16), default=64,
                        help="image side in pixels (default: %(default)s)")
    parser.add_argument("--seed", type=_int_at_least(0), default=0,
                        help="catalogue seed; item i depends only on (seed, i) "
                             "(default: %(default)s)")
    parser.add_argument("--design", choices=DESIGNS, default="full",
                        help="full: every factor varies (23 factors, the demo catalogue); "
                             "study: six salient factors vary independently over a grid of "
                             "levels (silhouette, sole thickness, upper hue, accent hue, sole "
                             "lightness, scale) and the rest are fixed, for measuring "
                             "disentanglement as on dSprites or 3D Shapes (default: %(default)s)")
    parser.add_argument("--start", type=_int_at_least(0), default=0,
                        help="index of the first item, to generate a slice of a larger "
                             "catalogue (default: %(default)s)")
    parser.add_argument("--out", metavar="DIR",
                        help="write the catalogue folder here (catalogue.json, images.npy, "
                             "metadata.csv); optional when only --sheet is wanted")
    parser.add_argument("--sheet", metavar="PATH",
                        help="also write an 8x8 contact sheet of the first 64 items as PNG")
    parser.add_argument("--sheet-scale", type=_int_at_least(1), default=1,
                        help="enlarge each sheet tile this many times (default: %(default)s)")
    parser.add_argument("--workers", type=_int_at_least(1), default=None, metavar="N",
                        help="worker processes for rendering (default: all CPUs)")
    parser.add_argument("--no-progress", action="store_true",
                        help="do not show the progress bar")


def run(args: argparse.Namespace) -> int:
    if not args.out and not args.sheet:
        print("synth: nothing to do; give --out DIR and/or --sheet PATH", file=sys.stderr)
        return 2
    n = args.n if args.out else min(args.n, 64)
    t0 = time.perf_counter()
    cat = generate(n, size=args.size, seed=args.seed, start=args.start, workers=args.workers,
                   progress=not args.no_progress, design=args.design)
    took = time.perf_counter() - t0
    if args.out:
        path = cat.save(args.out)
        print(f"wrote {path}: {len(cat)} items at {cat.size} px, fingerprint {cat.fingerprint} "
              f"({took:.1f} s, {len(cat) / took:.0f} items/s)")
    if args.sheet:
        sheet_path = os.path.abspath(args.sheet)
        os.makedirs(os.path.dirname(sheet_path), exist_ok=True)
        contact_sheet(cat.images, scale=args.sheet_scale).save(sheet_path, format="PNG")
        print(f"wrote {args.sheet}: contact sheet of {min(len(cat), 64)} items")
    return 0
