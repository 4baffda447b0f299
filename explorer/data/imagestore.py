"""Product images packed inside a bundle: WebP image atlases of up to 1,024 items each.

Lossless by default, so that the pixels survive exactly; lossy on request, so that a large
demo bundle stays small (the catalogue itself keeps the exact pixels). Shards are decoded
lazily, one at a time, when an item of theirs is first shown, and kept in a cache of up to
KICKSPACE_IMAGE_CACHE_MB (default 512 MiB: the whole 30,000-item 64 px demo catalogue, ~12 MiB a
shard). prefetch() decodes them ahead in a background thread, so that a page showing scattered
products (the closest ones to a slider's settled point) does not decode a shard per release.
"""
from __future__ import annotations

import os
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np
from PIL import Image

from explorer.data.atomic import atomic_write_bytes
from explorer.render.pictures import image_bytes
from explorer.render.sheets import tile_grid

PER_SHARD = 1024
COLS = 32
CACHE_BYTES = int(float(os.environ.get("KICKSPACE_IMAGE_CACHE_MB", "512")) * 2**20)


def shard_name(i: int) -> str:
    return f"images-{i:05d}.webp"


def write_images(images: np.ndarray, out_dir: str | Path, quality: int | None = None,
                 progress: bool = False) -> list[str]:
    """Pack uint8 [N, S, S, 3] into WebP atlases under out_dir; returns the file names.

    quality=None packs losslessly; an int (1..100) packs lossy at that quality, which is several
    times smaller for photographic images. Tiles of 16·k px align with WebP's macroblocks, so no
    tile bleeds into its neighbour.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    n, s = len(images), images.shape[1]
    names = []
    shards = range(0, n, PER_SHARD)
    if progress:
        from tqdm import tqdm
        shards = tqdm(shards, desc="packing images", unit="shard")
    for start in shards:
        block = np.asarray(images[start:start + PER_SHARD])
        rows = -(-len(block) // COLS)
        atlas, _ = tile_grid((Image.fromarray(np.ascontiguousarray(im)) for im in block), COLS,
                             rows, (s, s), pad=0)
        options = (dict(lossless=True, quality=60, method=2) if quality is None
                   else dict(quality=int(quality), method=4))
        name = shard_name(start // PER_SHARD)
        atomic_write_bytes(out / name, image_bytes(atlas, "WEBP", **options))
        names.append(name)
    return names


class ImageStore:
    """Read access to packed images: store[i] -> uint8 [S, S, 3]; store.get(idx) -> [K, S, S, 3]."""

    def __init__(self, folder: str | Path, count: int, size: int,
                 cache_shards: int | None = None):
        self.folder = Path(folder)
        self.count = int(count)
        self.size = int(size)
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        shard_bytes = PER_SHARD * self.size * self.size * 3
        self._cache_shards = (cache_shards if cache_shards is not None
                              else max(8, CACHE_BYTES // max(1, shard_bytes)))
        self._lock = threading.Lock()
        self._prefetcher: threading.Thread | None = None

    @property
    def n_shards(self) -> int:
        return -(-self.count // PER_SHARD)

    def prefetch(self) -> threading.Thread:
        """Decode the shards the cache can hold, in a daemon thread (started once; later
        calls return the same thread). Items are served as before while it runs."""
        with self._lock:
            if self._prefetcher is None:
                self._prefetcher = threading.Thread(target=self._decode_ahead, daemon=True,
                                                    name=f"prefetch {self.folder}")
                self._prefetcher.start()
            return self._prefetcher

    def _decode_ahead(self) -> None:
        try:   # behind the pages' own work (Pillow decodes without holding the GIL)
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
        except (AttributeError, OSError):
            pass
        for k in range(min(self.n_shards, self._cache_shards)):
            try:
                if k not in self._cache:
                    self._shard(k)
            except OSError:   # a missing or broken shard: reported when its item is asked for
                continue

    def __len__(self) -> int:
        return self.count

    def _shard(self, k: int) -> np.ndarray:
        with self._lock:
            if k in self._cache:
                self._cache.move_to_end(k)
                return self._cache[k]
        path = self.folder / shard_name(k)
        try:
            with Image.open(path) as im:
                atlas = np.asarray(im.convert("RGB"))
        except FileNotFoundError as e:
            raise FileNotFoundError(f"{path}: image shard missing from the bundle") from e
        n_here = min(PER_SHARD, self.count - k * PER_SHARD)
        s = self.size
        rows = -(-n_here // COLS)
        tiles = atlas[:rows * s].reshape(rows, s, COLS, s, 3).swapaxes(1, 2).reshape(-1, s, s, 3)
        tiles = np.ascontiguousarray(tiles[:n_here])
        tiles.setflags(write=False)
        with self._lock:
            self._cache[k] = tiles
            while len(self._cache) > self._cache_shards:
                self._cache.popitem(last=False)
        return tiles

    def __getitem__(self, i: int) -> np.ndarray:
        i = int(i)
        if not 0 <= i < self.count:
            raise IndexError(f"item {i} out of range 0..{self.count - 1}")
        return self._shard(i // PER_SHARD)[i % PER_SHARD]

    def get(self, indices) -> np.ndarray:
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        out = np.empty((len(idx), self.size, self.size, 3), np.uint8)
        for j, i in enumerate(idx):
            out[j] = self[i]
        return out

    def all(self) -> np.ndarray:
        """Every image, uint8 [N, S, S, 3] (decodes every shard)."""
        return np.concatenate([self._shard(k) for k in range(self.n_shards)]) if self.count else \
            np.zeros((0, self.size, self.size, 3), np.uint8)
