"""One active-dimension rule (KL_THRESHOLD) for the lab, the factor sliders and the edit
sliders; one function (splits.split_for) recovering a bundle's validation split for training,
evaluation and the model card."""
import pathlib
import re

import numpy as np

from explorer.data.imagestore import ImageStore, write_images
from explorer.data.splits import image_groups, split_for, split_indices
from explorer.metrics.information import KL_THRESHOLD, active_dims, active_units

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_active_dims_is_the_active_units_rule():
    kl = np.array([0.5, KL_THRESHOLD, 0.02, 3.0, KL_THRESHOLD + 1e-9])
    assert active_dims(kl) == [0, 3, 4]
    assert active_dims(kl, order=[3, 0, 4, 1, 2]) == [3, 0, 4]
    assert active_dims(kl, order=[2, 1], deterministic=True) == [2, 1]
    mu = np.zeros((4, 5))
    logvar = np.zeros((4, 5))
    assert active_units(mu, logvar) == len(active_dims(np.zeros(5))) == 0


def test_pages_do_not_hard_code_the_kl_threshold():
    pattern = re.compile(r"kl\[d\]\s*[<>]=?\s*0\.\d|ACTIVE\s*=\s*0\.\d")
    found = [p.name for p in (ROOT / "pages").glob("*.py") if pattern.search(p.read_text())]
    assert found == []


def test_split_for_reads_groups_from_a_store_or_takes_them(tmp_path):
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, (60, 4, 4, 3), dtype=np.uint8)
    imgs[1::6] = imgs[0::6]                   # ten pixel-identical pairs
    write_images(imgs, tmp_path)
    store = ImageStore(tmp_path, 60, 4)
    tc = {"group_duplicates": True, "val_fraction": 0.25, "seed": 3}
    want = split_indices(60, 0.25, 3, groups=image_groups(imgs))
    for got in (split_for(tc, 60, imgs), split_for(tc, 60, store),
                split_for(tc, 60, groups=image_groups(imgs))):
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])
    # an older bundle (no grouping): the plain split, whatever groups are passed
    old = split_for({"val_fraction": 0.25, "seed": 3}, 60, groups=image_groups(imgs))
    np.testing.assert_array_equal(old[1], split_indices(60, 0.25, 3)[1])


def test_the_split_is_recovered_in_one_place():
    callers = [str(p.relative_to(ROOT)) for d in ("explorer", "pages")
               for p in (ROOT / d).rglob("*.py")
               if "split_indices(" in p.read_text() and p.name != "splits.py"]
    # evaluate calls split_indices only for its own --stratify k-NN split
    assert callers == ["explorer/evaluation/evaluate.py"], callers
    text = (ROOT / "explorer/evaluation/evaluate.py").read_text()
    assert text.count("split_indices(") == 1 and "split_for(tc" in text
