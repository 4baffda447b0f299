"""A fresh server paints its first page before the model is in memory: the modules app.py and
the home page import before their first paint stay free of torch and pandas, and the bundle
loads on a background thread that a page's get_bundle then waits for."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _python(code: str, timeout: float) -> subprocess.CompletedProcess:
    """Run code in a fresh Python from the repository (nothing imported yet); it must succeed."""
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                         text=True, timeout=timeout)
    assert out.returncode == 0, out.stderr[-2000:]
    return out


def test_the_first_paint_imports_neither_torch_nor_pandas():
    code = ("import sys, streamlit\n"
            "import explorer.app.cache, explorer.app.widgets, explorer.render.landing, "
            "explorer.render.pictures, explorer.latent.naming, explorer.render.sheets, "
            "explorer.bundle.meta\n"
            "heavy = [m for m in ('torch', 'pandas', 'sklearn', 'umap') if m in sys.modules]\n"
            "print(','.join(heavy))\n")
    out = _python(code, timeout=120)
    assert out.stdout.strip() == "", f"imported before the first paint: {out.stdout}"


def test_the_menu_and_the_placeholder_need_only_bundle_json():
    from explorer.bundle import meta as bundle_meta
    demo = REPO / "checkpoints" / "demo"
    info = bundle_meta.read_summary(demo)
    assert info["latent_dim"] > 0 and info["count"] > 0 and info["image_size"] in (32, 64, 128)
    strip = bundle_meta.preview_strip(demo)
    assert strip.shape == (info["image_size"], 6 * info["image_size"], 3)
    assert bundle_meta.read_summary(REPO / "no-such-bundle") is None
    assert bundle_meta.preview_strip(REPO / "no-such-bundle") is None


def test_a_preloaded_bundle_is_read_once_and_shared(monkeypatch):
    from explorer.bundle import core as bundle
    from explorer.app import cache
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


def test_a_bundle_loads_without_torch_and_builds_its_model_on_first_use():
    """The catalogue map draws from the embeddings, projections, metadata and images: the app
    loads those first (~1 s for the demo) and torch with the model after (~2.5 s)."""
    code = ("import sys\n"
            "from explorer.bundle.core import load_bundle\n"
            "b = load_bundle('checkpoints/demo', lazy_model=True)\n"
            "print('torch' in sys.modules, b.model_loaded, len(b), b.latent_dim, b.image_size)\n"
            "b.model\n"
            "print('torch' in sys.modules, b.model_loaded)\n")
    out = _python(code, timeout=180)
    first, second = out.stdout.split("\n")[:2]
    from explorer.bundle.meta import read_summary
    info = read_summary(REPO / "checkpoints" / "demo")
    assert first == f"False False {info['count']} {info['latent_dim']} {info['image_size']}"
    assert second == "True True"


def test_the_map_gets_the_bundle_before_its_model_and_pages_get_it_whole(monkeypatch):
    import numpy as np

    from explorer.app import cache
    from explorer.bundle.core import load_bundle
    monkeypatch.setenv("KICKSPACE_GC_FREEZE", "0")
    demo = REPO / "checkpoints" / "demo"
    cache._load_bundle.clear()
    cache._PRELOADED.clear()
    cache._LOADED.clear()
    gate = __import__("threading").Event()
    real = cache._load_model
    monkeypatch.setattr(cache, "_load_model",
                        lambda b, p, **k: gate.wait(60) and real(b, p, **k))
    light = cache.get_bundle(demo, model=False)     # the model's background load is held
    assert not light.model_loaded and not cache.is_loaded(demo)
    gate.set()
    whole = cache.get_bundle(demo)                   # a page that decodes: waits for the model
    assert whole is light and whole.model_loaded and cache.is_loaded(demo)
    z = whole.mu[:3]
    assert np.array_equal(whole.decode(z), load_bundle(demo).decode(z))


def test_the_heap_is_frozen_once_per_load_not_on_every_rerun(monkeypatch):
    """Streamlit collects the whole heap after every rerun; the bundle, torch and the pages'
    modules are frozen once (after the load, and after a page imported new modules), so that
    collection skips them. Reruns that import nothing new freeze nothing."""
    import gc

    from streamlit.testing.v1 import AppTest

    from explorer.app import cache
    freezes = []
    monkeypatch.setattr(gc, "freeze", lambda: freezes.append(1))
    monkeypatch.setenv("KICKSPACE_GC_FREEZE", "1")
    cache._load_bundle.clear()
    cache._PRELOADED.clear()
    cache._LOADED.clear()
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=180)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    after_first = len(freezes)
    assert after_first >= 1                      # the bundle load froze the heap
    for value in (1.0, 2.0, -1.0):
        at.slider(key="hero_offset").set_value(value)
        at.run()
        assert not at.exception
    assert len(freezes) == after_first            # nothing new imported: no new freeze
    monkeypatch.setenv("KICKSPACE_GC_FREEZE", "0")
    cache.freeze_heap()
    assert len(freezes) == after_first            # the switch for measuring turns it off


def test_importing_the_app_caches_leaves_torchs_threads_alone():
    """Importing explorer.app.cache (and the derived cache modules) changes nothing in torch:
    the thread count is set by configure_torch_threads at the first bundle load."""
    code = ("import torch\n"
            "torch.set_num_threads(3)\n"
            "import explorer.app.cache, explorer.app.cache_map, explorer.app.cache_hygiene, "
            "explorer.app.cache_names, explorer.app.cache_latent, explorer.app.cache_pictures\n"
            "print(torch.get_num_threads())\n")
    out = _python(code, timeout=120)
    assert out.stdout.strip() == "3"


def test_the_thread_count_is_chosen_once_and_logged(monkeypatch, caplog):
    import logging

    import pytest
    import torch

    from explorer.app import cache
    before = torch.get_num_threads()
    monkeypatch.setattr(cache, "_THREADS", None)
    try:
        monkeypatch.setenv("KICKSPACE_TORCH_THREADS", "zero")
        with pytest.raises(ValueError, match="KICKSPACE_TORCH_THREADS.*'zero'"):
            cache.configure_torch_threads()
        assert torch.get_num_threads() == before            # a bad value changes nothing
        monkeypatch.setenv("KICKSPACE_TORCH_THREADS", "2")
        with caplog.at_level(logging.INFO, logger="kickspace"):
            assert cache.configure_torch_threads() == 2
        assert torch.get_num_threads() == 2
        assert any("2 intra-op thread" in r.getMessage() for r in caplog.records)
        monkeypatch.setenv("KICKSPACE_TORCH_THREADS", "5")
        assert cache.configure_torch_threads() == 2         # once per process
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
