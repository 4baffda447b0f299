"""The catalogue map computes a map the bundle lacks (a time-limited `train` skips UMAP and
t-SNE and says the Map page computes them): the page opens on a map the bundle has, offers a
button for a missing one, and the map computed is saved in the bundle, checksummed."""
from __future__ import annotations

import numpy as np

from explorer.bundle.core import load_bundle
from explorer.training.config import TrainConfig
from explorer.training.loop import train
from tests.helpers import TINY_MODEL, blocks_catalogue, open_page


def test_a_missing_map_is_offered_computed_and_saved_in_the_bundle(tmp_path, monkeypatch):
    monkeypatch.setenv("KICKSPACE_DATA_DIR", str(tmp_path / "data"))
    bundle = tmp_path / "b"
    train(blocks_catalogue(64), TrainConfig(epochs=1, batch_size=16, projections=("pca",),
                                            threads=1, val_fraction=0.2),
          TINY_MODEL, bundle, progress=False)
    assert set(load_bundle(bundle).projections) == {"pca"}

    at = open_page(bundle, "pages/catalogue_map.py")
    proj = next(r for r in at.radio if r.key == "proj")
    assert proj.value == "PCA"                 # opens on the map the bundle has, not UMAP
    assert not [i for i in at.info if "map (training skipped it" in i.value]

    proj.set_value("t-SNE").run()
    assert not at.exception, [e.value for e in at.exception]
    (note,) = [i.value for i in at.info if "no t-SNE map" in i.value]
    assert "PCA is shown" in note and "64 products" in note
    # a bundle folder that cannot be written (root ignores permissions: the write fails here
    # the way it does on a read-only mount): the error says so, the bundle is unchanged
    import explorer.bundle.projections as projections

    def read_only(*_a, **_k):
        raise PermissionError(30, "Read-only file system")
    monkeypatch.setattr(projections, "store_projection", read_only)
    next(b for b in at.button if b.key == "compute_tsne").click().run()
    assert not at.exception, [e.value for e in at.exception]
    (err,) = [e.value for e in at.error]
    assert "could not be saved" in err and "Read-only file system" in err and str(bundle) in err
    assert set(load_bundle(bundle).projections) == {"pca"}
    monkeypatch.undo()
    monkeypatch.setenv("KICKSPACE_DATA_DIR", str(tmp_path / "data"))

    next(b for b in at.button if b.key == "compute_tsne").click().run()
    assert not at.exception, [e.value for e in at.exception]

    b = load_bundle(bundle, check_hashes=True)         # the new file's checksum is recorded
    assert set(b.projections) == {"pca", "tsne"}
    xy = b.projections["tsne"]
    assert xy.shape == (64, 2) and np.isfinite(xy).all() and xy.std(0).min() > 0
    assert b.info["projections"]["fitted_on"]["tsne"] == {"sample": 64, "seed": 0}
    assert not [i for i in at.info if "no t-SNE map" in i.value]   # shown, not offered
    assert not [b for b in at.button if b.key == "compute_tsne"]
    assert not at.error
