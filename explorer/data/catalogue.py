"""The Catalogue: N product images at the model's resolution plus a metadata table.

On disk a catalogue is a folder::

    catalogue.json   name, source, size, count, fingerprint, factor columns, format version
    images.npy       uint8 [N, H, W, 3], memory-mapped on load (never pickled)
    metadata.csv     one row per image, same order; column "sku" is always present
    ingest_report.*  (ingested catalogues) what was skipped or flagged, and why

The fingerprint is a SHA-256 over the pixels and the metadata, so a bundle knows which
catalogue it was trained on.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from explorer.data.atomic import atomic_write_bytes, atomic_write_text
from explorer.data.schema import FACTOR_PREFIX, factor_columns  # noqa: F401  (re-exported)

FORMAT_VERSION = 1


class CatalogueError(ValueError):
    """A catalogue folder is missing, malformed or inconsistent."""


def metadata_to_csv_bytes(metadata: pd.DataFrame) -> bytes:
    buf = io.StringIO()
    metadata.to_csv(buf, index=False, lineterminator="\n")
    return buf.getvalue().encode("utf-8")


def compute_fingerprint(images: np.ndarray, metadata: pd.DataFrame) -> str:
    """SHA-256 (first 16 hex digits) of pixels [N, H, W, 3] and metadata CSV bytes."""
    h = hashlib.sha256()
    h.update(repr(tuple(images.shape)).encode())
    chunk = 4096
    for start in range(0, len(images), chunk):
        h.update(np.ascontiguousarray(images[start:start + chunk]).tobytes())
    h.update(metadata_to_csv_bytes(metadata))
    return h.hexdigest()[:16]


@dataclass
class Catalogue:
    """images: uint8 [N, H, W, 3]; metadata: DataFrame with N rows (column "sku" unique)."""

    images: np.ndarray
    metadata: pd.DataFrame
    name: str = "catalogue"
    source: dict[str, Any] = field(default_factory=dict)
    fingerprint: str = ""
    path: Path | None = None

    def __post_init__(self) -> None:
        if self.images.ndim != 4 or self.images.shape[-1] != 3 or self.images.dtype != np.uint8:
            raise CatalogueError(
                f"images must be uint8 [N, H, W, 3], got {self.images.dtype} {self.images.shape}")
        if self.images.shape[1] != self.images.shape[2]:
            raise CatalogueError(f"images must be square, got {self.images.shape[1:3]}")
        if len(self.metadata) != len(self.images):
            raise CatalogueError(
                f"{len(self.images)} images but {len(self.metadata)} metadata rows")
        if "sku" not in self.metadata.columns:
            raise CatalogueError("metadata needs a 'sku' column")
        self.metadata = self.metadata.reset_index(drop=True)
        if not self.fingerprint:
            self.fingerprint = compute_fingerprint(self.images, self.metadata)

    def __len__(self) -> int:
        return len(self.images)

    @property
    def size(self) -> int:
        return int(self.images.shape[1])

    @property
    def factor_columns(self) -> list[str]:
        """Ground-truth factor columns (procedural catalogue), e.g. factor_silhouette."""
        return factor_columns(self.metadata)

    def subset(self, indices: np.ndarray, name: str | None = None) -> "Catalogue":
        idx = np.asarray(indices)
        return Catalogue(np.ascontiguousarray(self.images[idx]),
                         self.metadata.iloc[idx].reset_index(drop=True),
                         name=name or self.name, source=dict(self.source))

    # ------------------------------------------------------------------ disk
    def save(self, out_dir: str | os.PathLike) -> Path:
        """Write the catalogue folder atomically file by file; returns its path."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        buf = io.BytesIO()
        np.save(buf, np.ascontiguousarray(self.images), allow_pickle=False)
        atomic_write_bytes(out / "images.npy", buf.getvalue())
        atomic_write_bytes(out / "metadata.csv", metadata_to_csv_bytes(self.metadata))
        info = {
            "format_version": FORMAT_VERSION,
            "name": self.name,
            "source": self.source,
            "count": len(self),
            "size": self.size,
            "fingerprint": self.fingerprint,
            "columns": list(self.metadata.columns),
            "factor_columns": self.factor_columns,
        }
        atomic_write_text(out / "catalogue.json", json.dumps(info, indent=2))
        self.path = out
        return out

    @classmethod
    def load(cls, path: str | os.PathLike, verify: bool = False) -> "Catalogue":
        """Load a catalogue folder; images are memory-mapped read-only.

        verify=True recomputes the fingerprint and refuses a catalogue whose files changed.
        """
        p = Path(path)
        info_path = p / "catalogue.json"
        if not info_path.is_file():
            raise CatalogueError(f"{p}: not a catalogue folder (no catalogue.json)")
        try:
            info = json.loads(info_path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise CatalogueError(f"{info_path}: not valid JSON ({e})") from e
        if not isinstance(info, dict) or info.get("format_version") != FORMAT_VERSION:
            found = info.get("format_version") if isinstance(info, dict) else info
            raise CatalogueError(f"{info_path}: unsupported format_version {found!r}")
        try:
            images = np.load(p / "images.npy", mmap_mode="r", allow_pickle=False)
        except FileNotFoundError as e:
            raise CatalogueError(f"{p / 'images.npy'}: missing") from e
        except ValueError as e:
            raise CatalogueError(f"{p / 'images.npy'}: unreadable or truncated ({e})") from e
        try:
            metadata = read_metadata_csv(p / "metadata.csv")
        except FileNotFoundError as e:
            raise CatalogueError(f"{p / 'metadata.csv'}: missing") from e
        cat = cls(images, metadata, name=str(info.get("name", p.name)),
                  source=info.get("source", {}) or {},
                  fingerprint="" if verify else str(info.get("fingerprint", "")), path=p)
        if verify and cat.fingerprint != info.get("fingerprint"):
            raise CatalogueError(f"{p}: fingerprint mismatch (files changed since it was saved: "
                                 f"{cat.fingerprint} != {info.get('fingerprint')})")
        return cat


def read_metadata_csv(path: str | os.PathLike) -> pd.DataFrame:
    """Metadata CSV as saved by Catalogue.save: sku always a string, empty cells are NaN.

    Each column's type is inferred from the whole column (low_memory=False): pandas otherwise
    guesses per chunk of rows, so a sparse attribute ("suede" in row 1, empty for the next
    100,000 rows, "9.5" later) came back with mixed types and a DtypeWarning."""
    return pd.read_csv(path, dtype={"sku": str, "file": str}, keep_default_na=True,
                       low_memory=False)
