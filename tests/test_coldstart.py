"""A fresh server paints its first page before the model is in memory: the modules app.py and
the home page import before their first paint stay free of torch and pandas, and the bundle
loads on a background thread that a page's get_bundle then waits for."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_the_first_paint_imports_neither_torch_nor_pandas():
    code = ("import sys, streamlit\n"
            "import explorer.cache, explorer.widgets, explorer.landing, explorer.pictures, "
            "explorer.naming, explorer.sheets, explorer.bundle_meta\n"
            "heavy = [m for m in ('torch', 'pandas', 'sklearn', 'umap') if m in sys.modules]\n"
            "print(','.join(heavy))\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "", f"imported before the first paint: {out.stdout}"


def test_the_menu_and_the_placeholder_need_only_bundle_json():
    from explorer import bundle_meta
    demo = REPO / "checkpoints" / "demo"
    info = bundle_meta.read_summary(demo)
    assert info["latent_dim"] > 0 and info["count"] > 0 and info["image_size"] in (32, 64, 128)
    strip = bundle_meta.preview_strip(demo)
    assert strip.shape == (info["image_size"], 6 * info["image_size"], 3)
    assert bundle_meta.read_summary(REPO / "no-such-bundle") is None
    assert bundle_meta.preview_strip(REPO / "no-such-bundle") is None


def test_a_preloaded_bundle_is_read_once_and_shared(monkeypatch):
    from explorer import bundle, cache
    calls = []
    real = bundle.load_bundle

    def counting(path, *a, **k):
        calls.append(path)
        return real(path, *a, **k)
    monkeypatch.setattr(bundle, "load_bundle", counting)
    monkeypatch.setenv("KICKSPACE_GC_FREEZE", "0")
    demo = REPO / "checkpoints" / "demo"
    cache._load_bundle.clear()
    cache._PRELOADED.clear()
    cache._LOADED.clear()
    assert not cache.is_loaded(demo)
    cache.preload(demo)
    cache.preload(demo)                     # a second visitor: no second load
    b = cache.get_bundle(demo)              # waits for the background load
    assert cache.get_bundle(demo) is b
    assert cache.is_loaded(demo)
    assert len(calls) == 1
