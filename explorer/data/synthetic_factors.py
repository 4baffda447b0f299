"""The procedural catalogue's ground-truth factors, colour names, brands and sampling.

`FACTORS` lists every factor (categorical: integer codes naming ``values``; continuous: floats in
[low, high]); `sample_item(seed, index, design)` draws one item's factor values and derives its
metadata (sku, name, brand, colorway, readable colour names, price, release year) from
``(seed, index, design)`` only. Rendering is in `explorer.data.synthetic_render`; the catalogue
and the command line in `explorer.data.synthetic`.
"""
from __future__ import annotations

import colorsys
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from explorer.data.schema import FACTOR_PREFIX


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
