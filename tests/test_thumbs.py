"""Product thumbnails are encoded once per (bundle, item, width), and image atlases are decoded
ahead (issue #16: the closest products after a slider's release)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from streamlit.elements.lib.image_utils import _np_array_to_bytes
from streamlit.testing.v1 import AppTest

from explorer.data.imagestore import PER_SHARD, ImageStore, write_images
from explorer.render.pictures import sharp
from explorer.render.thumbs import THUMBNAILS, ThumbnailCache

REPO = Path(__file__).resolve().parents[1]


def test_a_products_thumbnail_is_encoded_once_per_bundle():
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, (5, 64, 64, 3), dtype=np.uint8)
    asked: list[int] = []

    def image(i):
        asked.append(i)
        return imgs[i]

    cache = ThumbnailCache()
    first = cache.get("bundle-a", 3, 110, image)
    assert cache.get("bundle-a", 3, 110, image) == first
    assert asked == [3] and cache.computed == 1
    # exactly the bytes st.image makes of the array: the same picture, at the same URL
    assert first == (_np_array_to_bytes(sharp(imgs[3], 110)), 128)
    assert cache.get("bundle-a", 3, 256, image)[1] == 256        # another width: its own
    cache.get("bundle-b", 3, 110, image)                         # another bundle: its own
    assert asked == [3, 3, 3] and cache.computed == 3


def test_the_cache_forgets_the_oldest_thumbnails_beyond_its_size():
    cache = ThumbnailCache(max_items=2)
    img = np.zeros((8, 8, 3), np.uint8)
    for i in range(3):
        cache.get("b", i, 8, lambda _: img)
    assert len(cache) == 2
    cache.get("b", 0, 8, lambda _: img)
    assert cache.computed == 4


def test_prefetch_decodes_the_shards_the_cache_holds(tmp_path):
    rng = np.random.default_rng(1)
    n = 2 * PER_SHARD + 10                                     # three shards
    imgs = rng.integers(0, 256, (n, 4, 4, 3), dtype=np.uint8)
    write_images(imgs, tmp_path)
    store = ImageStore(tmp_path, n, 4, cache_shards=2)
    store.prefetch().join(timeout=60)
    assert list(store._cache) == [0, 1]
    assert store.prefetch() is store.prefetch()                  # started once
    np.testing.assert_array_equal(store.get([0, PER_SHARD + 5, n - 1]),
                                  imgs[[0, PER_SHARD + 5, n - 1]])
    # by default a 64 px catalogue of 30 shards (the demo's) fits in the cache whole
    assert ImageStore(tmp_path, 30 * PER_SHARD, 64)._cache_shards >= 30


def test_the_sliders_product_strip_reuses_its_thumbnails():
    def open_sliders():
        at = AppTest.from_file(str(REPO / "app.py"), default_timeout=180)
        at.run()
        at.switch_page("pages/sliders.py")
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        return at

    open_sliders()
    keys = [k for k in THUMBNAILS._items if k[2] == 110]
    assert len(keys) >= 3, "the product strip did not go through the thumbnail cache"
    before = THUMBNAILS.computed
    open_sliders()                     # another session, the same closest products
    assert THUMBNAILS.computed == before
