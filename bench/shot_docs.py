"""The README's pictures of Find similar and Catalogue hygiene, taken from the running app on
the default bundle with headless Chromium (the other screenshots come from the browser tests
and bench/shot_map3d.py):

    python3 bench/shot_docs.py --out docs

writes screen_home.png (the first page, above the fold, once its live decoder is drawn),
screen_sliders.png and screen_interpolation.png (whole pages once drawn),
screen_similar.png (Find similar on its first product, whole page),
screen_hygiene_audit.png (the silhouette label audit, top of the page) and screen_unlike.png
(a Fashion-MNIST sandal uploaded in Query by photo, which is unlike the demo's catalogue; needs
the dataset-fashion-mnist package). A fresh data folder is used, so the pictures show no earlier
decisions. Prints what each page said and how long it took.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.appserver import CHROMIUM, CHROMIUM_FLAGS, start_app, stop_app, wait_idle  # noqa: E402

BLOCK = "[data-testid='stMainBlockContainer']"


def _clip(page, width: int, height: int) -> dict:
    """The page's content column from its top, width x height (the sidebar left out)."""
    box = page.locator(BLOCK).first.bounding_box()
    x = max(0.0, box["x"] + (box["width"] - width) / 2)
    return {"x": x, "y": 20, "width": width, "height": height}


def _settled(page, timeout: float = 300) -> None:
    """No spinner left on the page, then idle."""
    deadline = time.monotonic() + timeout
    while page.locator("[data-testid='stSpinner']").count() and time.monotonic() < deadline:
        time.sleep(0.5)
    wait_idle(page, timeout)


def _home(page, url: str, out: Path) -> None:
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(url)
    page.locator("canvas[aria-label='decoded sneaker'], img[alt='decoded sneaker']").first \
        .wait_for(timeout=180_000)
    _settled(page)
    time.sleep(3)                                   # the strips' pictures
    page.screenshot(path=str(out / "screen_home.png"))
    print("home: drawn")


def _whole(page, url: str, path: str, ready: list[str], out: Path) -> None:
    """A whole page at 1400 px once every text in ready is shown and nothing spins."""
    page.set_viewport_size({"width": 1400, "height": 1800})
    page.goto(f"{url}/{path}")
    for text in ready:
        page.get_by_text(text).first.wait_for(timeout=180_000)
    _settled(page)
    time.sleep(3)                                   # the pictures
    page.screenshot(path=str(out / f"screen_{path}.png"), full_page=True)
    print(f"{path}: drawn")


def _similar(page, url: str, out: Path) -> None:
    page.set_viewport_size({"width": 1400, "height": 1800})
    page.goto(f"{url}/similar")
    page.get_by_text("most similar to").first.wait_for(timeout=180_000)
    wait_idle(page, 120)
    time.sleep(2)                                   # the cards' pictures
    page.screenshot(path=str(out / "screen_similar.png"), full_page=True)
    print("similar:", page.get_by_text("most similar to").first.inner_text())


def _audit(page, url: str, out: Path) -> None:
    page.set_viewport_size({"width": 1400, "height": 1300})
    page.goto(f"{url}/hygiene?section=audit")
    page.get_by_text("Neighbours that must agree").first.wait_for(timeout=300_000)
    wait_idle(page, 300)
    said = page.get_by_text("whose").first
    said.wait_for(timeout=300_000)
    time.sleep(2)
    _settled(page)
    page.screenshot(path=str(out / "screen_hygiene_audit.png"), clip=_clip(page, 1100, 1080))
    print("audit:", said.inner_text())


def _unlike(page, url: str, out: Path, tmp: Path) -> None:
    from PIL import Image

    from explorer.data.fashion_mnist import ingest_fashion_mnist
    photo = tmp / "sandal.png"
    Image.fromarray(ingest_fashion_mnist(classes=["Sandal"], size=128, limit=1).images[0]) \
        .save(photo)
    page.set_viewport_size({"width": 1400, "height": 1400})
    page.goto(f"{url}/similar")
    wait_idle(page, 120)
    page.get_by_role("tab", name="Query by photo").click()
    page.locator("input[type=file]").first.set_input_files(str(photo))
    page.get_by_text("This photo is").first.wait_for(timeout=300_000)
    page.get_by_text("Closest products").first.wait_for(timeout=300_000)
    _settled(page)
    time.sleep(3)                                   # the little map and the cards' pictures
    page.screenshot(path=str(out / "screen_unlike.png"), clip=_clip(page, 1100, 1200))
    print("unlike:", page.get_by_text("This photo is").first.inner_text()[:200])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="docs", help="folder for the three PNGs")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="kickspace-docs-"))
    proc, url = start_app(env={"KICKSPACE_DATA_DIR": str(tmp)}, log=tmp / "server.log")
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
            page = browser.new_page()
            for name, shot in (("home", lambda: _home(page, url, out)),
                               ("sliders", lambda: _whole(
                                   page, url, "sliders",
                                   ["Closest real products", "Traversal grid"], out)),
                               ("interpolation", lambda: _whole(
                                   page, url, "interpolation",
                                   ["The path on the catalogue map"], out)),
                               ("similar", lambda: _similar(page, url, out)),
                               ("audit", lambda: _audit(page, url, out)),
                               ("unlike", lambda: _unlike(page, url, out, tmp))):
                t = time.perf_counter()
                shot()
                print(f"  {name}: {time.perf_counter() - t:.1f} s")
            browser.close()
    finally:
        stop_app(proc)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
