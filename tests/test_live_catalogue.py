"""The catalogue files the live component searches in the browser (explorer.app.live_catalogue):
the same latent means as the server's index, the bundle's own atlases, product_strip's captions."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd

from explorer.app.live_catalogue import caption_parts, caption_rows, catalogue_key, write_served
from explorer.data.imagestore import shard_name


def test_served_files_hold_the_index_vectors_atlases_and_captions(tmp_path):
    from explorer.app import cache
    from explorer.bundle.core import load_bundle
    b = load_bundle(cache.DEFAULT_BUNDLE, check_hashes=False)
    info = write_served(b, tmp_path)
    assert info == {"n": len(b), "dim": b.latent_dim, "size": b.images.size, "cols": 32,
                    "per_shard": 1024}
    assert json.loads((tmp_path / "ready.json").read_text()) == info
    mu = np.frombuffer((tmp_path / "latents.f32").read_bytes(), "<f4").reshape(len(b), -1)
    np.testing.assert_array_equal(mu, b.mu)
    last = b.images.n_shards - 1
    assert (tmp_path / shard_name(last)).read_bytes() == \
        (b.images.folder / shard_name(last)).read_bytes()
    texts = json.loads((tmp_path / f"texts-{last:05d}.json").read_text())
    assert len(texts) == len(b) - last * 1024
    assert texts[-1] == caption_parts(b.metadata, len(b) - 1)
    assert len(catalogue_key(b)) == 16


def test_caption_parts_are_product_strips_words_as_raw_text():
    md = pd.DataFrame({"name": ["<b>x</b>\nhttp://e.vil *y*", "plain"],
                       "brand": ["[a](b)", np.nan], "sku": ["S-1", 7]})
    assert caption_parts(md, 0) == ["<b>x</b> http://e.vil *y*", "[a](b)", "S-1"]
    assert caption_parts(md, 1) == ["plain", "7"]          # no brand where it is missing
    assert caption_parts(md.drop(columns="name").assign(file="f.png"), 1)[0] == "f.png"
    for m in (md, md.drop(columns="name").assign(file="f.png"), md.drop(columns="brand")):
        assert caption_rows(m, 0, 2) == [caption_parts(m, 0), caption_parts(m, 1)]
