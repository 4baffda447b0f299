"""Catalogue map in a real headless Chromium: time to first draw, and time to show a box
selection of ~5,000 products, at 30,000 and 100,000 products.

    python -m bench.bench_map [--work /tmp/kickspace-bench] [--sizes 30000,100000]
                              [--select 5000] [--repeats 2]

(run from the repository root.) Several minutes the first time: it builds real bundles in
--work and keeps them for the next run:

1. the procedural catalogue of max(sizes) items (`python -m explorer synth`),
2. a real model trained on it for one epoch with the PCA projection cached
   (`python -m explorer train --epochs 1 --projections pca`, a small network),
3. for every smaller size, the first items of the same catalogue (item i depends only on the
   seed and i) encoded with that model (`python -m explorer encode --projections pca`).

Then it starts `streamlit run app.py` on these bundles and, in Chromium (Debian's, driven by
Playwright, software WebGL), opens /catalogue_map?bundle=...&proj=PCA and measures

- first draw: from navigation until plotly has drawn the map (the drag layer exists and the
  WebGL canvas has been painted), "cold" on the first visit (the server computes clusters and
  caches) and "warm" on later visits (best of --repeats);
- box selection: a mouse drag over a box that holds about --select products (found from the
  bundle's PCA map), until the page says "N products selected" and the first page of the
  selection grid has loaded.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from bench.appserver import CHROMIUM, REPO, start_app, stop_app
from bench.appserver import CHROMIUM_FLAGS as FLAGS
from bench.appserver import wait_idle as appserver_wait_idle


def _run(args: list[str]) -> None:
    print("$", " ".join(args), flush=True)
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "explorer", *args], cwd=REPO, check=True)
    print(f"  ({time.perf_counter() - t:.0f} s)", flush=True)


def build_bundles(work: Path, sizes: list[int]) -> dict[int, str]:
    """Bundles under work/checkpoints, one per size, named b<size>; returns size -> name."""
    big = max(sizes)
    ckpt = work / "checkpoints"
    names = {n: f"b{n}" for n in sizes}
    cat = {n: work / f"catalogue-{n}" for n in sizes}
    if not (ckpt / names[big] / "bundle.json").is_file():
        if not (cat[big] / "catalogue.json").is_file():
            _run(["synth", "--n", str(big), "--seed", "0", "--out", str(cat[big]),
                  "--no-progress"])
        resume = ["--resume"] if (ckpt / names[big] / "checkpoint" / "state.json").is_file() \
            else []                                     # an interrupted run continues
        _run(["train", str(cat[big]), "--out", str(ckpt / names[big]), "--epochs", "1",
              "--projections", "pca", "--model", "beta-vae", "--channels", "16,32,32,64",
              "--hidden-dim", "128", "--batch-size", "128", "--seed", "0", "--no-progress",
              *resume])
    for n in sizes:
        if n == big or (ckpt / names[n] / "bundle.json").is_file():
            continue
        if not (cat[n] / "catalogue.json").is_file():
            _run(["synth", "--n", str(n), "--seed", "0", "--out", str(cat[n]), "--no-progress"])
        _run(["encode", str(ckpt / names[big]), str(cat[n]), "--out", str(ckpt / names[n]),
              "--projections", "pca"])
    return names


def start_server(work: Path) -> tuple[subprocess.Popen, str]:
    data = work / "data"
    shutil.rmtree(data, ignore_errors=True)
    return start_app(env={"KICKSPACE_CHECKPOINTS": str(work / "checkpoints"),
                          "KICKSPACE_DATA_DIR": str(data), "KICKSPACE_ANNOTATIONS_DB": None},
                     log=work / "server.log")


def wait_idle(page, timeout: float = 600.0) -> None:
    appserver_wait_idle(page, timeout, settle=0.3, poll=0.1)


def first_draw(page, url: str) -> float:
    t = time.perf_counter()
    page.goto(url)
    page.wait_for_selector(".js-plotly-plot .nsewdrag", timeout=600_000)
    # plotly has laid out the axes; wait for the WebGL scatter to be painted as well
    page.wait_for_function("""() => {
        const gd = document.querySelector('.js-plotly-plot');
        return gd && gd._fullLayout && gd.querySelector('canvas.gl-canvas-context')
               && gd._fullData && gd._fullData.length > 0;
    }""", timeout=600_000)
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    return time.perf_counter() - t


def box_for(xy: np.ndarray, want: int) -> tuple[float, float, float, float, int]:
    """A square around the map's densest region's median holding about `want` items."""
    cx, cy = np.median(xy, 0)
    span = float(np.ptp(xy, 0).max())
    lo, hi = 0.0, span
    for _ in range(40):
        h = (lo + hi) / 2
        n = int(((np.abs(xy[:, 0] - cx) <= h) & (np.abs(xy[:, 1] - cy) <= h)).sum())
        if n < want:
            lo = h
        else:
            hi = h
    h = hi
    n = int(((np.abs(xy[:, 0] - cx) <= h) & (np.abs(xy[:, 1] - cy) <= h)).sum())
    return float(cx - h), float(cx + h), float(cy - h), float(cy + h), n


def box_select(page, box: tuple[float, float, float, float]) -> tuple[float, int]:
    x0, x1, y0, y1 = box
    pix = page.evaluate("""([x0, x1, y0, y1]) => {
        const gd = document.querySelector('.js-plotly-plot');
        const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
        const r = gd.getBoundingClientRect();
        return [r.left + xa._offset + xa.l2p(x0), r.left + xa._offset + xa.l2p(x1),
                r.top + ya._offset + ya.l2p(y1), r.top + ya._offset + ya.l2p(y0)];
    }""", [x0, x1, y0, y1])
    px0, px1, py0, py1 = pix
    page.mouse.move(px0, py0)
    page.mouse.down()
    page.mouse.move((px0 + px1) / 2, (py0 + py1) / 2, steps=4)
    page.mouse.move(px1, py1, steps=4)
    t = time.perf_counter()
    page.mouse.up()
    counter = page.get_by_text(re.compile(r"[\d,]+ products selected"))
    counter.first.wait_for(timeout=600_000)
    wait_idle(page)
    page.wait_for_function("""() => [...document.querySelectorAll("[data-testid='stMain'] img")]
                                    .every(i => i.complete)""", timeout=600_000)
    took = time.perf_counter() - t
    n = int(counter.first.inner_text().split(" products")[0].replace(",", ""))
    return took, n


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", default="/tmp/kickspace-bench", help="bundles are built here")
    ap.add_argument("--sizes", default="30000,100000")
    ap.add_argument("--select", type=int, default=5000, help="products in the box selection")
    ap.add_argument("--repeats", type=int, default=2, help="warm first-draw repeats")
    args = ap.parse_args(argv)
    sizes = sorted(int(s) for s in args.sizes.split(",") if s)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    names = build_bundles(work, sizes)

    from playwright.sync_api import sync_playwright
    from safetensors.numpy import load_file

    from explorer.mapview import plan_points

    proc, url = start_server(work)
    rows = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1400})
            # the server learns app.py's page routes (st.navigation) on its first run
            page.goto(f"{url}/?bundle={names[sizes[0]]}")
            page.get_by_role("link", name="Catalogue map", exact=True).wait_for(timeout=600_000)
            wait_idle(page)
            for n in sizes:
                name = names[n]
                xy = load_file(str(work / "checkpoints" / name / "projections.safetensors"))["pca"]
                target = f"{url}/catalogue_map?bundle={name}&proj=PCA"
                cold = first_draw(page, target)
                wait_idle(page)
                warm = min(first_draw(page, target) for _ in range(max(1, args.repeats)))
                wait_idle(page)
                box = box_for(xy, args.select)
                took, selected = box_select(page, box[:4])
                page.screenshot(path=str(work / f"map-{n}.png"))
                plan = plan_points(np.arange(len(xy)))
                rows.append((n, len(plan.drawn), plan.mode, cold, warm, selected, took))
                print(f"{n:,}: first draw {cold:.1f} s cold, {warm:.1f} s warm; "
                      f"{selected:,} selected in {took:.1f} s", flush=True)
            browser.close()
    finally:
        stop_app(proc)

    print()
    print("| products | points drawn | view | first draw, cold (s) | first draw, warm (s) "
          "| box selection | selection shown (s) |")
    print("|---:|---:|---|---:|---:|---:|---:|")
    for n, drawn, mode, cold, warm, selected, took in rows:
        print(f"| {n:,} | {drawn:,} | {mode} | {cold:.1f} | {warm:.1f} | {selected:,} "
              f"| {took:.1f} |")
    print(f"\nheadless Chromium (software WebGL), {os.cpu_count()} CPUs; screenshots in {work}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
