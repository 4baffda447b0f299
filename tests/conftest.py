"""Shared test helpers.

System packages (Chromium, dataset-fashion-mnist) are optional on a developer's machine: the
tests that need them skip with the reason. Under CI=true, where .ci/run installs them, a missing
package fails the test instead of skipping it.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"
FASHION_MNIST_DIR = Path(os.environ.get("KICKSPACE_FASHION_MNIST",
                                        "/usr/share/datasets/fashion-mnist"))
CHROMIUM = os.environ.get("KICKSPACE_CHROMIUM", "/usr/bin/chromium")


def require_system(present: bool, what: str, install: str) -> None:
    """Skip (or, under CI=true, fail) when a system package is missing."""
    if present:
        return
    message = f"{what} is not installed (install it with: {install})"
    if IN_CI:
        pytest.fail(f"CI=true but {message}; .ci/run should have installed it")
    pytest.skip(message)


@pytest.fixture
def fashion_mnist_dir() -> Path:
    present = (FASHION_MNIST_DIR / "train-images-idx3-ubyte.gz").is_file()
    require_system(present, f"dataset-fashion-mnist ({FASHION_MNIST_DIR})",
                   "apt-get install dataset-fashion-mnist")
    return FASHION_MNIST_DIR


@pytest.fixture
def chromium_path() -> str:
    present = Path(CHROMIUM).is_file() or shutil.which("chromium") is not None
    require_system(present, f"Chromium ({CHROMIUM})", "apt-get install chromium chromium-driver")
    try:
        import playwright  # noqa: F401
    except ImportError:
        require_system(False, "the playwright Python package", "pip install playwright")
    return CHROMIUM if Path(CHROMIUM).is_file() else shutil.which("chromium")


@pytest.fixture(scope="session")
def app_server(tmp_path_factory):
    """The app on a free port, shared by the browser test modules that need no server of their
    own (test_browser's `server`, and through it test_browser_links and test_browser_map):
    started once a session, so its first-run work (page routes, the neighbour table, the map's
    panels) is done once. Its data folder (tags, derived caches) is a temporary one."""
    from bench.appserver import start_app, stop_app
    proc, url = start_app(log=tmp_path_factory.mktemp("server") / "server.log", timeout=90,
                          env={"KICKSPACE_DATA_DIR": str(tmp_path_factory.mktemp("data")),
                               "KICKSPACE_ANNOTATIONS_DB": None})
    yield url
    stop_app(proc)


@pytest.fixture
def sent_media(monkeypatch) -> dict[str, bytes]:
    """{url: bytes} of every media file the app sends in AppTest (pictures; the 3-D map's
    points, which the browser fetches by URL)."""
    from streamlit.runtime.media_file_manager import MediaFileManager
    sent: dict[str, bytes] = {}
    original = MediaFileManager.add

    def recording_add(self, data, mimetype, coordinates, *args, **kwargs):
        url = original(self, data, mimetype, coordinates, *args, **kwargs)
        sent[url] = data
        return url

    monkeypatch.setattr(MediaFileManager, "add", recording_add)
    return sent
