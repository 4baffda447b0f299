"""Look at the catalogue map's 3-D view in headless Chromium: open the map, pick "View: 3-D" in
the sidebar, check that the choice reaches the URL (`dims=3-D`) and survives a reload, that the
sections below the map still come, and save a screenshot of the view (optionally
docs/screen_map_3d.png, made small).

    python3 bench/shot_map3d.py [--out docs/screen_map_3d.png] [--proj PCA|UMAP]
                                [--query "&colour=silhouette"] [--overlays] [--hover OUT.png]

--overlays: first open the Interpolation page (its path is kept for the map), go on to the map
in the same session and place a catalogue photo in the sidebar, so the 3-D view shows the path
and the photo's marker (the reload check is skipped: a reload starts a new session).
--hover OUT.png: also save the view with the hover tooltip (picture and name) of a product
where the cloud is thin.

KICKSPACE_CHECKPOINTS picks the bundles folder as for the app (e.g. a copy of the demo given a
3-D UMAP by `python -m explorer project COPY --method umap --dims 3`).

Prints how long the 3-D view took to be drawn (the component's frame says "drawn") and
the machine load beside it.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import parse_qs

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import mapdrive  # noqa: E402
from bench.appserver import CHROMIUM, CHROMIUM_FLAGS, start_app, stop_app, wait_idle  # noqa: E402


def _overlays(page, url: str, tmp: Path, proj: str, query: str) -> None:
    """The Interpolation page's path, then the map (same session, the URL's choices applied
    there) with a catalogue photo placed from the sidebar."""
    from PIL import Image
    from explorer.app.cache import DEFAULT_BUNDLE
    from explorer.bundle.core import load_bundle
    page.goto(f"{url}/interpolation")
    page.get_by_role("heading", name="Decoded path and the closest real product at each "
                     "step").first.wait_for(timeout=180_000)
    wait_idle(page, 120)
    page.get_by_role("link", name="Catalogue map", exact=True).click()
    wait_idle(page, 180)
    # the URL's choices set by hand, in this session (a fresh page load forgets the path)
    side = page.locator("[data-testid='stSidebar']")
    if proj != "UMAP":
        side.get_by_text(proj, exact=True).first.click()
        wait_idle(page, 120)
    colour = parse_qs(query.lstrip("&")).get("colour", [""])[0]
    if colour:
        side.locator("[data-testid='stSelectbox']").filter(has_text="Colour by").click()
        page.get_by_role("option", name=colour, exact=True).click()
        wait_idle(page, 120)
    photo = tmp / "catalogue-photo-1234.png"
    Image.fromarray(load_bundle(DEFAULT_BUNDLE, check_hashes=False).images[1234]).resize(
        (128, 128)).save(photo)
    page.locator("[data-testid='stSidebar'] input[type=file]").first.set_input_files(str(photo))
    page.get_by_text("Photo: catalogue-photo-1234.png").first.wait_for(timeout=180_000)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", help="save a small PNG of the 3-D view here")
    ap.add_argument("--proj", default="PCA", choices=("PCA", "UMAP", "t-SNE"),
                    help="the Projection radio (UMAP: the bundle's stored 3-D UMAP, if any)")
    ap.add_argument("--query", default="&colour=silhouette", help="more URL parameters")
    ap.add_argument("--overlays", action="store_true",
                    help="with the Interpolation page's path and an uploaded photo")
    ap.add_argument("--hover", help="save the view with a product's hover tooltip here")
    args = ap.parse_args()
    from PIL import Image
    from playwright.sync_api import sync_playwright

    tmp = Path(tempfile.mkdtemp(prefix="kickspace-3d-"))
    proc, url = start_app(env={"KICKSPACE_DATA_DIR": str(tmp)}, log=tmp / "server.log")
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            if args.overlays:
                _overlays(page, url, tmp, args.proj, args.query)
            else:
                page.goto(f"{url}/catalogue_map?proj={args.proj}{args.query}")
            wait_idle(page, 180)
            t = time.perf_counter()
            page.get_by_text("3-D", exact=True).first.click()
            page.locator(mapdrive.FRAME_3D).first.wait_for(timeout=120_000)
            element = time.perf_counter() - t
            mapdrive.map3d_frame(page, 120)
            took = time.perf_counter() - t
            wait_idle(page, 120)
            assert "dims=3-D" in page.url, page.url
            again = float("nan")
            if not args.overlays:                        # a reload keeps the view
                t = time.perf_counter()
                page.reload()
                mapdrive.map3d_frame(page, 120)
                again = time.perf_counter() - t
                wait_idle(page, 180)
            # what sits below the map is laid out in 3-D too
            page.get_by_role("heading", name="Selection").first.wait_for(timeout=120_000)
            time.sleep(2)
            shot = tmp / "map3d.png"
            view = page.locator(mapdrive.FRAME_3D).first
            view.screenshot(path=str(shot))
            if args.hover:
                frame = mapdrive.map3d_frame(page)
                for _, x, y in mapdrive.isolated3d(frame, take=12):
                    mapdrive.hover3d(frame, 2, 2, settle=0.2)
                    if mapdrive.hover3d(frame, x, y) >= 0:
                        break
                time.sleep(4)                            # the shard's picture and texts
                mapdrive.hover3d(frame, x + 1, y, settle=1.0)
                view.screenshot(path=args.hover)
                print(f"saved {args.hover}: tooltip {frame.locator('#tiptext').inner_text()!r}")
            caption = page.get_by_text("3-D ").and_(
                page.get_by_text("Drag to turn")).first.inner_text()
            t = time.perf_counter()                      # the same page in 2-D, for scale
            page.goto(page.url.replace("dims=3-D", "dims=2-D"))
            wait_idle(page, 180)
            page.locator("iframe").first.wait_for(timeout=120_000)
            flat = time.perf_counter() - t
            browser.close()
        load = " ".join(f"{v:.2f}" for v in os.getloadavg())
        print(f"3-D view drawn {took:.1f} s after the click (its element there at {element:.1f} "
              f"s), {again:.1f} s after a reload "
              f"(which kept dims=3-D in the URL), against {flat:.1f} s for the 2-D page; "
              f"load {load}; caption: {caption}")
        print(f"full screenshot: {shot}")
        if args.out:
            img = Image.open(shot).convert("RGB")
            img.thumbnail((900, 900))
            img.save(args.out, optimize=True)
            if Path(args.out).stat().st_size > 190_000:              # docs images stay small
                img.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(args.out,
                                                                              optimize=True)
            print(f"saved {args.out}: {img.size[0]}x{img.size[1]}, "
                  f"{Path(args.out).stat().st_size / 1024:.0f} KB")
    finally:
        stop_app(proc)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
