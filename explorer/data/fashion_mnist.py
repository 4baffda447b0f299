"""Fashion-MNIST as a Catalogue: the IDX file reader (gzipped or not, header and length
checked) and `ingest_fashion_mnist` (footwear by default, dark products on white)."""
from __future__ import annotations

import gzip
import io
import os
import struct
import zlib
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd
from PIL import Image

from explorer.data.catalogue import Catalogue, metadata_to_csv_bytes, read_metadata_csv
from explorer.data.ingest_report import IngestError, _check_size

FMNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                  "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
FMNIST_FOOTWEAR = (5, 7, 9)
FMNIST_DEFAULT_PATH = "/usr/share/datasets/fashion-mnist"


# =========================================================================== Fashion-MNIST
def _idx_file(folder: Path, stem: str) -> Path:
    for cand in (folder / f"{stem}.gz", folder / stem):
        if cand.is_file():
            return cand
    raise IngestError(f"Fashion-MNIST file {folder / (stem + '.gz')} not found "
                      f"(install it with: apt-get install dataset-fashion-mnist)")


def _read_idx(path: Path, magic: int, item_shape: tuple[int, ...],
              count: int | None = None) -> tuple[np.ndarray, int]:
    """(uint8 array [n, *item_shape], item count in the header) from an IDX file (.gz or not).

    count: read only the first ``count`` items (the header and length are still checked
    against what is read).
    """
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            head = f.read(4)
            if len(head) < 4:
                raise IngestError(f"{path}: too short to be an IDX file")
            got = struct.unpack(">I", head)[0]
            if got != magic:
                raise IngestError(f"{path}: bad magic number 0x{got:08x}, expected "
                                  f"0x{magic:08x} (not a Fashion-MNIST "
                                  f"{'images' if len(item_shape) else 'labels'} file)")
            ndim = magic & 0xFF
            dims_raw = f.read(4 * ndim)
            if len(dims_raw) < 4 * ndim:
                raise IngestError(f"{path}: truncated IDX header")
            dims = struct.unpack(f">{ndim}I", dims_raw)
            if tuple(dims[1:]) != item_shape:
                raise IngestError(f"{path}: items of shape {tuple(dims[1:])}, expected "
                                  f"{item_shape}")
            n = dims[0] if count is None else min(dims[0], count)
            per = int(np.prod(item_shape, dtype=np.int64)) if item_shape else 1
            data = f.read(n * per)
            if len(data) < n * per:
                raise IngestError(f"{path}: truncated: header says {dims[0]} items but the "
                                  f"data ends after {len(data) // per}")
            if count is None and f.read(1):
                raise IngestError(f"{path}: more data than the header's {dims[0]} items")
    except IngestError:
        raise
    except (OSError, EOFError, zlib.error) as e:
        raise IngestError(f"{path}: unreadable or not a valid (gzipped) IDX file "
                          f"({type(e).__name__}: {e})") from None
    return np.frombuffer(data, dtype=np.uint8).reshape((n, *item_shape)), int(dims[0])


def _resolve_classes(classes: str | Sequence[int | str]) -> list[int]:
    if isinstance(classes, str):
        key = classes.strip().lower()
        if key == "footwear":
            return list(FMNIST_FOOTWEAR)
        if key == "all":
            return list(range(10))
        classes = [c.strip() for c in classes.split(",")]
    out = []
    lower = [c.lower() for c in FMNIST_CLASSES]
    for c in classes:
        if isinstance(c, (int, np.integer)) and 0 <= int(c) < 10:
            out.append(int(c))
        elif isinstance(c, str) and c.strip().isdigit() and 0 <= int(c) < 10:
            out.append(int(c))
        elif isinstance(c, str) and c.strip().lower() in lower:
            out.append(lower.index(c.strip().lower()))
        else:
            raise IngestError(f"unknown Fashion-MNIST class {c!r}: use 'footwear', 'all', "
                              f"0-9 or one of {', '.join(FMNIST_CLASSES)}")
    return sorted(set(out))


def _upscale_grey(items: np.ndarray, size: int) -> np.ndarray:
    """uint8 [n, 28, 28] light-on-black -> uint8 [n, size, size, 3] dark-on-white."""
    inv = 255 - items
    if size == inv.shape[1]:
        grey = inv
    else:
        resample = (Image.Resampling.BICUBIC if size > inv.shape[1]
                    else Image.Resampling.LANCZOS)
        grey = np.empty((len(inv), size, size), dtype=np.uint8)
        for i, a in enumerate(inv):
            grey[i] = np.asarray(Image.fromarray(a, mode="L").resize((size, size), resample))
    return np.repeat(grey[..., None], 3, axis=3)


def ingest_fashion_mnist(path: str | os.PathLike = FMNIST_DEFAULT_PATH,
                         classes: str | Sequence[int | str] = "footwear",
                         split: str = "train", size: int = 64,
                         limit: int | None = None) -> Catalogue:
    """Fashion-MNIST as a Catalogue [N, size, size, 3], products dark on white.

    classes: "footwear" (Sandal, Sneaker, Ankle boot), "all", or class indices/names.
    split: "train", "test" or "all" (train first). limit: at most this many items (in file
    order), reading only as much of the image files as needed.
    Metadata: sku ("FMNIST-train-000123"), name ("Sneaker #123"), class, split, index.
    """
    size = _check_size(size)
    if split not in ("train", "test", "all"):
        raise IngestError(f"split must be 'train', 'test' or 'all', got {split!r}")
    if limit is not None and (isinstance(limit, bool) or int(limit) < 1):
        raise IngestError(f"limit must be a positive integer, got {limit!r}")
    wanted = _resolve_classes(classes)
    folder = Path(path)
    if not folder.is_dir():
        raise IngestError(f"Fashion-MNIST folder {folder} not found "
                          f"(install it with: apt-get install dataset-fashion-mnist)")
    parts_img, parts_meta = [], []
    remaining = None if limit is None else int(limit)
    for sp in (("train", "test") if split == "all" else (split,)):
        if remaining == 0:
            break
        prefix = "train" if sp == "train" else "t10k"
        labels, n_labels = _read_idx(_idx_file(folder, f"{prefix}-labels-idx1-ubyte"),
                                     0x00000801, ())
        idx = np.flatnonzero(np.isin(labels, wanted))
        if remaining is not None:
            idx = idx[:remaining]
            remaining -= len(idx)
        img_path = _idx_file(folder, f"{prefix}-images-idx3-ubyte")
        need = int(idx[-1]) + 1 if len(idx) else 0
        imgs, n_images = _read_idx(img_path, 0x00000803, (28, 28),
                                   count=None if limit is None else need)
        if n_images != n_labels:
            raise IngestError(f"{img_path}: {n_images} images but the labels file has "
                              f"{n_labels} labels")
        parts_img.append(_upscale_grey(imgs[idx], size))
        parts_meta.append(pd.DataFrame({
            "sku": [f"FMNIST-{sp}-{i:06d}" for i in idx],
            "name": [f"{FMNIST_CLASSES[labels[i]]} #{i}" for i in idx],
            "class": [FMNIST_CLASSES[labels[i]] for i in idx],
            "split": sp,
            "index": idx.astype(np.int64),
        }))
    images = np.concatenate(parts_img) if parts_img else np.empty((0, size, size, 3), np.uint8)
    if len(images) == 0:
        raise IngestError("no Fashion-MNIST items match the classes/split asked for")
    metadata = read_metadata_csv(io.BytesIO(metadata_to_csv_bytes(
        pd.concat(parts_meta, ignore_index=True))))
    class_spec: Any = classes if isinstance(classes, str) else [FMNIST_CLASSES[c] for c in wanted]
    cname = classes if isinstance(classes, str) and "," not in classes else "custom"
    return Catalogue(images, metadata, name=f"fashion-mnist-{cname}-{split}",
                     source={"kind": "fashion-mnist", "classes": class_spec, "split": split,
                             "class_names": [FMNIST_CLASSES[c] for c in wanted],
                             "size": size, "limit": limit, "path": str(folder)})
