"""The catalogue as static files for the live component's closest products (computed in the
browser, so that a slider's release costs the server nothing).

Per bundle, once, in a content-addressed folder that the component's asset route serves
(<$KICKSPACE_DATA_DIR or ./data>/live/served/<key>/, nothing else in it):

    latents.f32          the latent means the server's LatentIndex searches, float32 [N, D],
                         little-endian, row i = item i
    images-NNNNN.webp    the bundle's own image atlases (explorer.data.imagestore: COLS tiles a
                         row, PER_SHARD items a shard), linked or copied
    texts-NNNNN.json     per shard, the caption parts product_strip shows for each item
                         ([[name, brand?, sku], ...], plain strings, drawn as text)
    ready.json           written last: {"n", "dim", "size", "cols", "per_shard"}

The browser searches by brute force in float64, as LatentIndex's exact search re-scores its
candidates (Euclidean distance, ties by index), so both give the same items. Bundles over
MAX_ITEMS items are left to the server (the latents alone would be too big a download).
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
import streamlit as st

from explorer.data.atomic import atomic_write_bytes
from explorer.data.imagestore import COLS, PER_SHARD, shard_name

COMPONENT = "kickspace.catalogue"
MAX_ITEMS = 200_000


def served_root() -> Path:
    from explorer.bundle.onnx import cache_dir
    d = (cache_dir().parent / "live" / "served").resolve()
    d.mkdir(parents=True, exist_ok=True)
    return d


def caption_parts(metadata, i: int) -> list[str]:
    """What product_strip's caption says of item i, before the distance: name (else file,
    else sku), brand where it is a string, sku. Raw strings (escape them for Markdown)."""
    row = metadata.iloc[int(i)]
    name = row["name"] if "name" in metadata.columns else row.get("file", row["sku"])
    parts = [name]
    if "brand" in metadata.columns and isinstance(row["brand"], str):
        parts.append(row["brand"])
    parts.append(row["sku"])
    return [_text(p) for p in parts]


def caption_rows(metadata, start: int, stop: int) -> list[list[str]]:
    """caption_parts of items start..stop-1, column by column (30,000 rows in ~0.1 s)."""
    part = metadata.iloc[start:stop]
    cols = part.columns
    names = part["name"] if "name" in cols else part["file"] if "file" in cols else part["sku"]
    brands = part["brand"].tolist() if "brand" in cols else [None] * len(part)
    return [[_text(n)] + ([b] if isinstance(b, str) else []) + [_text(s)]
            for n, b, s in zip(names.tolist(), brands, part["sku"].tolist())]


def _text(value) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    return str(value).replace("\r", " ").replace("\n", " ")


def catalogue_key(bundle) -> str:
    h = hashlib.sha256(np.ascontiguousarray(bundle.mu, "<f4").tobytes())
    h.update(bundle.fingerprint.encode())
    return h.hexdigest()[:16]


def _link_or_copy(src: Path, dst: Path) -> None:
    if dst.is_file() and dst.stat().st_size == src.stat().st_size:
        return
    tmp = dst.with_name(dst.name + ".tmp")
    tmp.unlink(missing_ok=True)
    try:
        os.link(src, tmp)
    except OSError:
        shutil.copyfile(src, tmp)
    os.replace(tmp, dst)


def write_served(bundle, folder: Path) -> dict:
    """Write the bundle's files into folder (see the module doc) -> the ready.json content."""
    folder.mkdir(parents=True, exist_ok=True)
    mu = np.ascontiguousarray(bundle.mu, "<f4")
    atomic_write_bytes(folder / "latents.f32", mu.tobytes())
    md = bundle.metadata
    for k in range(bundle.images.n_shards):
        _link_or_copy(bundle.images.folder / shard_name(k), folder / shard_name(k))
        rows = caption_rows(md, k * PER_SHARD, min(len(mu), (k + 1) * PER_SHARD))
        atomic_write_bytes(folder / f"texts-{k:05d}.json",
                           json.dumps(rows, ensure_ascii=False).encode("utf-8"))
    info = {"n": int(mu.shape[0]), "dim": int(mu.shape[1]), "size": int(bundle.images.size),
            "cols": COLS, "per_shard": PER_SHARD}
    atomic_write_bytes(folder / "ready.json", json.dumps(info).encode())
    return info


@st.cache_resource(show_spinner=False, max_entries=16)
def _served(path: str, bundle_key: str) -> dict | None:
    from explorer.app import cache
    b = cache.get_bundle(path)
    if len(b) > MAX_ITEMS:
        return None
    key = catalogue_key(b)
    folder = served_root() / key
    ready = folder / "ready.json"
    try:
        info = json.loads(ready.read_text()) if ready.is_file() else write_served(b, folder)
    except (OSError, ValueError):
        info = write_served(b, folder)
    return {**info, "dir": key}


def served_catalogue(bundle) -> dict | None:
    """{"dir", "n", "dim", "size", "cols", "per_shard"} of the bundle's served catalogue
    (written at first use), or None when the browser should not search it (too many items,
    or the files could not be written)."""
    try:
        return _served(str(Path(bundle.path).resolve()), bundle.key)
    except OSError:
        return None
