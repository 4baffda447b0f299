"""The first box drag on the catalogue map page, made right after the map's first draw (while
the page may still be laying out its panels), in fresh headless-Chromium contexts.

    python -m bench.probe_first_drag [--visits 6]

(run from the repository root.) Each visit drags the same box (30 moves, 50 ms apart) from
30% to 70% of the map's width and height in Box mode, then prints how many products Python
selected and the box it got in map coordinates (`sel` in the URL). Every visit should print
the same box; one that stops short or sits elsewhere is a drag the page spoiled.
"""
from __future__ import annotations

import argparse
import json
import re
import time
from urllib.parse import parse_qs, urlparse

from bench import mapdrive
from bench.appserver import CHROMIUM, CHROMIUM_FLAGS, start_app, stop_app


def selected(page, timeout: float = 60.0) -> int:
    counter = page.get_by_text(re.compile(r"[\d,]+ products? selected"))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if counter.count():
            return int(counter.first.inner_text().split(" product")[0].replace(",", ""))
        time.sleep(0.1)
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--visits", type=int, default=6)
    args = ap.parse_args(argv)
    from playwright.sync_api import sync_playwright
    proc, url = start_app(timeout=300)
    boxes = []
    try:
        with sync_playwright() as p:
            br = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
            warm = br.new_context()                 # the server's caches warm first
            pg = warm.new_page()
            pg.goto(url + "/catalogue_map?proj=PCA")
            mapdrive.map_frame(pg, 300)
            warm.close()
            for k in range(args.visits):
                ctx = br.new_context(viewport={"width": 1400, "height": 1100})
                page = ctx.new_page()
                page.goto(url + "/catalogue_map?proj=PCA")
                frame = mapdrive.map_frame(page, 300)
                w, h = mapdrive.size(frame)
                mapdrive.mode(frame, "rectangle")
                mapdrive.drag(frame, w * 0.3, h * 0.3, w * 0.7, h * 0.7, steps=30, pause=0.05)
                n = selected(page)
                sel = json.loads(parse_qs(urlparse(page.url).query).get("sel", ["{}"])[0])
                box = [round(min(sel.get("x", [0])), 3), round(max(sel.get("x", [0])), 3),
                       round(min(sel.get("y", [0])), 3), round(max(sel.get("y", [0])), 3)]
                boxes.append(tuple(box))
                print(f"visit {k + 1}: {n:,} selected, box x {box[0]} … {box[1]}, "
                      f"y {box[2]} … {box[3]}", flush=True)
                ctx.close()
    finally:
        stop_app(proc)
    common = max(set(boxes), key=boxes.count)
    print(f"{boxes.count(common)} of {len(boxes)} visits got the same box")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
