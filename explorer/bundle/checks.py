"""Checking a bundle before anything in it is used: bundle.json's keys and types
(`read_bundle_info`), every listed file's size and checksum (`verify_files`), and the
safetensors headers, arrays, history and images the loader reads (explorer.bundle.core)."""
from __future__ import annotations

import hashlib
import json
import math
import os
import re
from pathlib import Path
from typing import Any

import numpy as np


FORMAT_VERSION = 1


class BundleError(ValueError):
    """A bundle is missing, incomplete, corrupt, or does not match its config or catalogue."""


def sha256_file(path: Path) -> str:
    """The SHA-256 of a file, hex."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_bundle_info(path: str | os.PathLike, check_kind: bool = True) -> dict[str, Any]:
    """Parse and type-check bundle.json (no other file is read). check_kind=False leaves the
    model kind to the model's own load (the known kinds live with the models, in torch)."""
    p = Path(path)
    f = p / "bundle.json"
    if not p.is_dir():
        raise BundleError(f"{p}: not a folder")
    if not f.is_file():
        raise BundleError(f"{f}: missing (is {p} a bundle?)")
    try:
        info = json.loads(f.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise BundleError(f"{f}: not valid JSON ({e})") from e
    expect = {"format_version": int, "model_kind": str, "model_config": dict,
              "train_config": dict, "catalogue": dict, "files": dict, "metrics": dict}
    if not isinstance(info, dict):
        raise BundleError(f"{f}: expected a JSON object, got {type(info).__name__}")
    for key, typ in expect.items():
        if key not in info:
            raise BundleError(f"{f}: missing key {key!r}")
        if not isinstance(info[key], typ) or isinstance(info[key], bool):
            raise BundleError(f"{f}: {key!r} should be {typ.__name__}, "
                              f"got {type(info[key]).__name__}")
    if info["format_version"] != FORMAT_VERSION:
        raise BundleError(f"{f}: format_version {info['format_version']} is not supported "
                          f"(this KickSpace reads {FORMAT_VERSION})")
    if check_kind:
        from explorer.models import MODEL_KINDS
    if check_kind and info["model_kind"] not in MODEL_KINDS:
        raise BundleError(f"{f}: unknown model_kind {info['model_kind']!r} "
                          f"(known: {', '.join(MODEL_KINDS)})")
    cat = info["catalogue"]
    for key, typ in {"fingerprint": str, "count": int, "size": int}.items():
        if not isinstance(cat.get(key), typ) or isinstance(cat.get(key), bool):
            raise BundleError(f"{f}: catalogue.{key} should be {typ.__name__}, "
                              f"got {type(cat.get(key)).__name__}")
    _check_info_types(f, info)
    for name, meta in info["files"].items():
        if (not isinstance(meta, dict) or not isinstance(meta.get("bytes"), int)
                or not isinstance(meta.get("sha256"), str)):
            raise BundleError(f"{f}: files[{name!r}] should have integer bytes and a sha256")
        if Path(name).is_absolute() or ".." in Path(name).parts:
            raise BundleError(f"{f}: files[{name!r}] points outside the bundle")
    return info


_FINGERPRINT = re.compile(r"[0-9a-f]{8,64}")
_SCALAR = (str, int, float, bool, type(None))
MAX_JSON_BYTES = 50 * 1024 * 1024


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _plain_value(v: Any) -> bool:
    """A scalar, or a short list of scalars: what the catalogue sources write (an ingested
    folder's background colour [255, 255, 255], Fashion-MNIST's class names)."""
    return isinstance(v, _SCALAR) or (isinstance(v, list) and len(v) <= 256
                                      and all(isinstance(x, _SCALAR) for x in v))


def _check_info_types(f: Path, info: dict[str, Any]) -> None:
    """The values of bundle.json that the app reads or shows have the types it expects."""
    def bad(where: str, want: str, got: Any) -> BundleError:
        return BundleError(f"{f}: {where} should be {want}, got {str(got)[:80]!r} "
                           f"({type(got).__name__})")

    cat = info["catalogue"]
    if not _FINGERPRINT.fullmatch(cat["fingerprint"]):
        raise bad("catalogue.fingerprint", "8 to 64 lowercase hex digits", cat["fingerprint"])
    if cat["count"] < 1 or cat["size"] < 1:
        raise bad("catalogue.count and .size", "positive", (cat["count"], cat["size"]))
    for key in ("name", "path"):
        if not isinstance(cat.get(key), (str, type(None))):
            raise bad(f"catalogue.{key}", "a string", cat.get(key))
    src = cat.get("source")
    if src is not None and (not isinstance(src, dict)
                            or not all(isinstance(k, str) and _plain_value(v)
                                       for k, v in src.items())):
        raise bad("catalogue.source", "an object of plain values (or short lists of them)",
                  src)
    for key in ("columns", "factor_columns"):
        v = cat.get(key, [])
        if not isinstance(v, list) or not all(isinstance(c, str) for c in v):
            raise bad(f"catalogue.{key}", "a list of strings", v)
    m = info["metrics"]
    for key in ("train_seconds", "images_per_s"):
        if key in m and not _is_num(m[key]):
            raise bad(f"metrics.{key}", "a number", m[key])
    for key in ("epochs", "steps", "world_size"):
        if key in m and not _is_int(m[key]):
            raise bad(f"metrics.{key}", "an integer", m[key])
    for key in ("device", "encoded_from"):
        if key in m and not isinstance(m[key], str):
            raise bad(f"metrics.{key}", "a string", m[key])
    for key in ("trained_on", "rank_weight_checksums"):
        if key in m and (not isinstance(m[key], list)
                         or not all(isinstance(x, str) for x in m[key])):
            raise bad(f"metrics.{key}", "a list of strings", m[key])
    if "val" in m and (not isinstance(m["val"], dict)
                       or not all(isinstance(v, _SCALAR) for v in m["val"].values())
                       or not all(_is_num(v) for k, v in m["val"].items()
                                  if k in ("psnr", "loss", "mse", "kl"))):
        raise bad("metrics.val", "an object of numbers", m["val"])
    tc = info["train_config"]
    for key in ("epochs", "batch_size", "seed", "max_val"):
        if key in tc and not (_is_int(tc[key]) and tc[key] >= 0):
            raise bad(f"train_config.{key}", "an integer >= 0", tc[key])
    for key in ("lr", "val_fraction"):
        if key in tc and not _is_num(tc[key]):
            raise bad(f"train_config.{key}", "a number", tc[key])
    if "val_fraction" in tc and not 0 <= tc["val_fraction"] < 1:
        raise bad("train_config.val_fraction", "in [0, 1)", tc["val_fraction"])


def _check_history(fp: Path, history: Any) -> list[dict[str, Any]]:
    """history.json: a list of per-epoch rows, each with an integer epoch and numeric
    train (and optional val) losses, as the overview plots them."""
    def bad(why: str) -> BundleError:
        return BundleError(f"{fp}: {why}; expected a list of {{epoch, train, val}} rows")

    if not isinstance(history, list):
        raise bad(f"a {type(history).__name__}, not a list")
    for i, row in enumerate(history):
        if not isinstance(row, dict) or not _is_int(row.get("epoch")):
            raise bad(f"row {i} has no integer epoch")
        for part in ("train", "val"):
            if part == "val" and part not in row:
                continue
            d = row.get(part)
            if not isinstance(d, dict) or not all(
                    isinstance(d.get(k), (int, float)) and not isinstance(d.get(k), bool)
                    for k in ("loss", "psnr", "kl") if k in d or k == "loss"):
                raise bad(f"row {i}: {part} should be an object with a numeric loss (and "
                          f"numeric psnr, kl where given)")
    if history and any(("val" in r) != ("val" in history[0]) for r in history):
        raise bad("some rows have validation losses and some do not")
    return history


def _safetensors_header(fp: Path) -> dict[str, tuple[str, tuple[int, ...]]]:
    """name -> (dtype, shape) from a safetensors file's header, without reading any tensor."""
    import struct
    try:
        with open(fp, "rb") as fh:
            raw = fh.read(8)
            if len(raw) != 8:
                raise ValueError("shorter than a safetensors header")
            (n,) = struct.unpack("<Q", raw)
            if n > 100 * 1024 * 1024:
                raise ValueError(f"header of {n} bytes")
            header = json.loads(fh.read(n))
        out = {}
        for name, meta in header.items():
            if name == "__metadata__":
                continue
            out[name] = (str(meta["dtype"]), tuple(int(x) for x in meta["shape"]))
        return out
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise BundleError(f"{fp}: not a readable safetensors file ({e})") from e


def _check_array(fp: Path, name: str, arr: np.ndarray, dtypes: tuple[str, ...],
                 shape: tuple[int, ...]) -> None:
    if arr.dtype.name not in dtypes:
        raise BundleError(f"{fp}: {name} is {arr.dtype.name}, expected {' or '.join(dtypes)}")
    if arr.shape != shape:
        raise BundleError(f"{fp}: {name} has shape {arr.shape}, expected {shape}")
    if not np.isfinite(arr).all():
        raise BundleError(f"{fp}: {name} holds NaN or infinite values")


def _check_image_header(fp: Path, want: tuple[int, int] | None, tile: int) -> None:
    """Refuse a bundle image whose pixel size is not what the bundle says, before decoding it
    (a small file can claim billions of pixels)."""
    from PIL import Image
    try:
        with Image.open(fp) as im:
            w, h, fmt = im.width, im.height, im.format
    except (OSError, ValueError, Image.DecompressionBombError) as e:
        raise BundleError(f"{fp}: unreadable image ({e})") from e
    if fmt != "WEBP":
        raise BundleError(f"{fp}: a {fmt} image, expected WebP")
    if want is not None and (w, h) != want:
        raise BundleError(f"{fp}: {w}x{h} px, expected {want[0]}x{want[1]} px")
    if w % tile or h % tile or w * h > MAX_GALLERY_PIXELS:
        raise BundleError(f"{fp}: {w}x{h} px is not a grid of {tile} px tiles of at most "
                          f"{MAX_GALLERY_PIXELS:,} pixels")


MAX_GALLERY_PIXELS = 64_000_000


def verify_files(path: Path, info: dict[str, Any], check_hashes: bool = True) -> None:
    """Every file listed in bundle.json exists with its size (and SHA-256)."""
    for name, meta in info["files"].items():
        fp = path / name
        if not fp.is_file():
            raise BundleError(f"{fp}: missing from the bundle")
        size = fp.stat().st_size
        if size != meta["bytes"]:
            raise BundleError(f"{fp}: {size} bytes, expected {meta['bytes']} (truncated or "
                              f"replaced)")
        if check_hashes and sha256_file(fp) != meta["sha256"]:
            raise BundleError(f"{fp}: checksum mismatch (the file was changed or corrupted)")
    for required in ("model.safetensors", "embeddings.safetensors", "metadata.csv.gz"):
        if required not in info["files"]:
            raise BundleError(f"{path / 'bundle.json'}: does not list {required}")
