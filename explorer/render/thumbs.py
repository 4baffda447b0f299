"""Encoded product thumbnails, kept per (bundle key, item, width).

A bundle's pictures never change, so the JPEG that a product strip sends for an item is
computed once: the first time costs decoding the item's WebP atlas (~100 ms for a 2,048 px
shard, explorer.data.imagestore) and encoding the picture; later strips showing the item, on
any page or session, reuse the bytes. The bytes are exactly those st.image makes of the array
(JPEG at quality 100, Pillow), so what the browser shows is the same picture at the same URL.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Callable

import numpy as np

from explorer.render.pictures import image_bytes, sharp


def jpeg_bytes(img: np.ndarray) -> bytes:
    """uint8 [H, W, 3] -> JPEG bytes, as st.image encodes an RGB array (quality 100)."""
    return image_bytes(np.asarray(img, np.uint8), "JPEG", quality=100)


class ThumbnailCache:
    """LRU of (JPEG bytes, pixel width) keyed on (bundle key, item index, asked width)."""

    def __init__(self, max_items: int = 8192):
        self.max_items = int(max_items)
        self._items: OrderedDict[tuple, tuple[bytes, int]] = OrderedDict()
        self._lock = threading.Lock()
        self.computed = 0   # how many thumbnails were made (not found): for tests and benches

    def get(self, bundle_key: str, i: int, width: int,
            image: Callable[[int], np.ndarray]) -> tuple[bytes, int]:
        """The thumbnail of item i at `width` (sharp: whole-pixel steps); image(i) gives the
        item's picture, and is called only when the thumbnail is not cached."""
        key = (str(bundle_key), int(i), int(width))
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
                return hit
        pic = sharp(image(int(i)), int(width))
        out = (jpeg_bytes(pic), int(pic.shape[1]))
        with self._lock:
            self.computed += 1
            self._items[key] = out
            while len(self._items) > self.max_items:
                self._items.popitem(last=False)
        return out

    def __len__(self) -> int:
        return len(self._items)


THUMBNAILS = ThumbnailCache()
