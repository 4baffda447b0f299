"""What the app can learn about bundles without loading one (no torch, no pandas): which
folders hold a bundle, and what their bundle.json says. The full, checked load is
explorer.bundle.core.load_bundle; the app's menu and bundle picker use this so that a fresh server
paints its first page before the model is in memory."""
from __future__ import annotations

import json
import os
from pathlib import Path

from explorer.data.atomic import restore_hidden_copy


def find_bundles(root: str | os.PathLike = "checkpoints") -> list[Path]:
    """Every folder under root holding a bundle.json, sorted, demo first."""
    r = Path(root)
    if not r.is_dir():
        return []
    for old in r.glob(".*.old-*"):  # a replace killed between its two renames: put it back
        restore_hidden_copy(r / old.name[1:].rsplit(".old-", 1)[0])
    # hidden folders are the leftovers of a killed write (.NAME.tmp-PID, .NAME.old-PID)
    found = sorted(p.parent for p in r.glob("*/bundle.json") if not p.parent.name.startswith("."))
    return sorted(found, key=lambda p: (p.name != "demo", p.name))


def read_summary(path: str | os.PathLike) -> dict | None:
    """{kind, latent_dim, image_size, count, catalogue, fingerprint} from bundle.json, unchecked
    (the load checks everything); None when bundle.json is missing or unreadable."""
    try:
        info = json.loads((Path(path) / "bundle.json").read_text(encoding="utf-8"))
        cfg, cat = info["model_config"], info["catalogue"]
        return {"kind": str(info.get("model_kind", "?")), "latent_dim": int(cfg["latent_dim"]),
                "image_size": int(cfg["image_size"]), "count": int(cat["count"]),
                "catalogue": cat.get("name"), "fingerprint": str(cat.get("fingerprint", "?"))}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def preview_strip(path: str | os.PathLike, n: int = 6) -> "np.ndarray | None":
    """The last epoch's row of the bundle's gallery (sneakers its decoder draws), up to n
    tiles side by side, uint8 [S, n*S, 3]; read straight from gallery.webp, so the first page
    shows sneakers while the bundle itself loads. None when there is no readable gallery."""
    import numpy as np
    from PIL import Image

    info = read_summary(path)
    if info is None:
        return None
    size = info["image_size"]
    try:
        with Image.open(Path(path) / "gallery.webp") as im:
            if im.width < size or im.height < size or im.width % size or im.height % size:
                return None
            # a crafted bundle's gallery may be a bomb (or a PNG that decodes whole to crop):
            # the same limits as the full load, checked before any pixel is decoded
            if im.format != "WEBP" or im.width * im.height > 64_000_000:
                return None
            row = im.crop((0, im.height - size, min(im.width, n * size), im.height))
            return np.asarray(row.convert("RGB"))
    except (OSError, ValueError, Image.DecompressionBombError):
        return None
