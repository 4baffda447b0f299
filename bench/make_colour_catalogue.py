"""A stand-in for a real colour catalogue: Fashion-MNIST footwear photos, coloured, as JPEGs.

    python -m bench.make_colour_catalogue --out /tmp/colour_fm [--n 9200] [--seed 0]

Writes OUT/images/*.jpg (60 x 80, portrait, white background, the product centred, side
view) and OUT/labels.csv (file, article_type, base_colour, sole_colour, brand), the shape of
the real catalogues this project is checked on, so that `ingest OUT/images --catalog
OUT/labels.csv --size 64` and the default recipe can be timed and evaluated on real product
silhouettes with colour, not only on the procedural demo.

How each photo is made: the Fashion-MNIST item (28 px, light on black) gives the product's mask
and shading; the upper is tinted with a named colour and the lowest sixth of the product's rows
(the sole) with a sole colour, keeping the photo's shading; the product is scaled to 56 px
wide and centred on a 60 x 80 white canvas. Brands (60 of them, over evaluate's 50-class cap
like a real catalogue) each favour two or three colours and one article type, so brand is
partly visible and partly not, as in real data.
"""
from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np
from PIL import Image

from explorer.data.fashion_mnist import FMNIST_DEFAULT_PATH, ingest_fashion_mnist

UPPER = {"Black": (30, 30, 32), "White": (236, 236, 232), "Grey": (128, 130, 134),
         "Navy Blue": (30, 40, 90), "Blue": (40, 100, 200), "Red": (190, 30, 40),
         "Green": (40, 130, 60), "Brown": (110, 70, 40), "Tan": (200, 160, 110),
         "Pink": (230, 130, 170), "Yellow": (230, 200, 40), "Olive": (110, 110, 50)}
SOLE = {"White": (245, 245, 240), "Black": (25, 25, 25), "Gum": (170, 110, 60)}
ARTICLE = {"Sandal": "Sandals", "Sneaker": "Casual Shoes", "Ankle boot": "Boots"}


def colour_items(grey: np.ndarray, upper: np.ndarray, sole: np.ndarray) -> np.ndarray:
    """grey uint8 [n, 28, 28] light-on-black -> uint8 [n, 28, 28, 3] coloured on white."""
    a = grey.astype(np.float32) / 255.0                       # coverage and shading
    n = len(grey)
    rows = np.arange(28)[None, :, None]
    on = a > 0.08
    has = on.any(axis=2)                                      # [n, 28] rows the product covers
    top = np.where(has.any(1), has.argmax(1), 0)
    bottom = np.where(has.any(1), 27 - has[:, ::-1].argmax(1), 27)
    sole_from = bottom - np.maximum(1, (bottom - top + 1) // 6) + 1
    is_sole = rows >= sole_from[:, None, None]
    tint = np.where(is_sole[..., None], sole[:, None, None, :], upper[:, None, None, :])
    shade = 0.45 + 0.55 * a[..., None]                        # folds and stitching stay
    product = tint * shade
    white = np.full((n, 28, 28, 3), 255.0, dtype=np.float32)
    alpha = np.clip(a * 2.2, 0, 1)[..., None]                 # soft edge, as after matting
    return np.clip(alpha * product + (1 - alpha) * white, 0, 255).astype(np.uint8)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--n", type=int, default=9200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--fashion-mnist", default=FMNIST_DEFAULT_PATH)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    cat = ingest_fashion_mnist(args.fashion_mnist, split="all", size=28, limit=args.n)
    grey = 255 - np.asarray(cat.images)[..., 0]               # back to light on black
    kinds = cat.metadata["class"].astype(str).to_numpy()
    n = len(grey)
    names = list(UPPER)
    brands = []
    for b in range(60):                                       # house style per brand
        brands.append((f"Brand {b:02d}", rng.choice(len(names), 3, replace=False),
                       rng.choice(list(ARTICLE))))
    brand_of = np.empty(n, dtype=object)
    upper_i = np.empty(n, dtype=int)
    for i in range(n):
        fits = [b for b in brands if b[2] == kinds[i]]
        name, palette, _ = fits[rng.integers(len(fits))] if rng.random() < 0.7 else \
            brands[rng.integers(len(brands))]
        brand_of[i] = name
        upper_i[i] = palette[rng.integers(3)] if rng.random() < 0.75 else rng.integers(len(names))
    sole_names = list(SOLE)
    sole_i = rng.choice(len(sole_names), n, p=[0.6, 0.3, 0.1])
    upper = np.array([UPPER[names[k]] for k in upper_i], dtype=np.float32)
    sole = np.array([SOLE[sole_names[k]] for k in sole_i], dtype=np.float32)
    rgb = colour_items(grey, upper, sole)
    out = Path(args.out)
    (out / "images").mkdir(parents=True, exist_ok=True)
    with open(out / "labels.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["file", "article_type", "base_colour", "sole_colour", "brand"])
        for i in range(n):
            item = Image.fromarray(rgb[i]).resize((56, 56), Image.Resampling.BICUBIC)
            canvas = Image.new("RGB", (60, 80), (255, 255, 255))
            canvas.paste(item, (2, 12))
            fname = f"{i:05d}.jpg"
            canvas.save(out / "images" / fname, quality=90)
            w.writerow([fname, ARTICLE[kinds[i]], names[upper_i[i]], sole_names[sole_i[i]],
                        brand_of[i]])
    print(f"{n} photos in {out / 'images'}, labels in {out / 'labels.csv'}")


if __name__ == "__main__":
    main()
