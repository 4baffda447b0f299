"""The catalogue map engine in a real headless Chromium (software WebGL: SwiftShader, since
the flags say --disable-gpu): time to draw, bytes sent, and a box selection's round trip.

    python -m bench.bench_map [--sizes 30000,100000,1000000] [--select 100000] [--repeats 2]

(run from the repository root.) Two kinds of rows:

- page: the real catalogue map page (pages/catalogue_map.py) on the demo bundle (30,000
  products), through app.py;
- engine: bench/map_engine_app.py, the same component on N synthetic products in six blobs
  (no bundle to build: a 1,000,000-product bundle takes hours to train on a laptop).

For each: "cold" is the first visit after the server starts, in a fresh browser context (no
HTTP cache), "warm" the best of --repeats later visits, each in a fresh browser context too
(the server's caches are warm, the browser's are not), "revisit" the best of --repeats visits
in the browser context used last (its HTTP cache warm, as for someone who comes back to the
map; each visit is a new Streamlit session). Draw time runs from navigation until the
component has drawn every point, by the browser's own clock (the frame writes the time of its
draw; the harness sees body[data-state=drawn] later, by up to seconds while the page is busy,
and prints that too). Bytes are the
HTTP bodies plus WebSocket frames the browser received. The box selection drags a box in Box
mode (DOM events inside the frame, see bench/mapdrive.py) holding about --select products and
waits until Python's answer ("N products selected") is on the page, timed from the mouse
release (the drag's own duration is printed apart: each synthetic move waits for the page's
handlers, which at a million points is most of the time).
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from bench import mapdrive
from bench.appserver import CHROMIUM, CHROMIUM_FLAGS, REPO, start_app, stop_app
from bench.appserver import wait_idle


def start_engine(n: int) -> tuple[subprocess.Popen, str]:
    """The bare engine page (bench/map_engine_app.py) with n synthetic points."""
    return start_app(env={"KICKSPACE_BENCH_N": str(n), "PYTHONPATH": str(REPO)}, timeout=300,
                     script=REPO / "bench" / "map_engine_app.py")


def visit(browser, url: str, viewport=(1400, 1100)) -> tuple[float, int, object, object]:
    """(seconds to drawn, bytes received, context, page): a fresh context each time."""
    ctx = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
    page = ctx.new_page()
    got = {"n": 0}

    def on_response(r):
        try:
            got["n"] += len(r.body())
        except Exception:                       # noqa: BLE001 - redirects have no body
            pass
    page.on("response", on_response)
    page.on("websocket", lambda ws: ws.on("framereceived", lambda f: got.__setitem__(
        "n", got["n"] + (len(f) if isinstance(f, (bytes, str)) else 0))))
    t = time.perf_counter()
    page.goto(url)
    frame = mapdrive.map_frame(page, timeout=600)
    seen = time.perf_counter() - t
    took = page_clock(page, frame)
    print(f"  {url}: drawn after {took:.2f} s by the page's clock (seen by the harness after "
          f"{seen:.2f} s), of which the component's fetch + draw "
          f"{frame.evaluate('() => document.body.dataset.drawMs')} ms", flush=True)
    return took, got["n"], ctx, page


def page_clock(page, frame) -> float:
    """Seconds from the page's navigation start to the map's draw, both by the browser's
    clock: the frame writes when it drew (data-drawn-at). Waiting for data-state=drawn from
    here lags that by up to seconds while the page's main thread renders the rest."""
    origin = page.evaluate("() => performance.timeOrigin")
    drawn_at = float(frame.evaluate("() => document.body.dataset.drawnAt"))
    return (drawn_at - origin) / 1000.0


def box_select(page, want: int) -> tuple[float, int]:
    """Drag a box around the densest blob's centre holding about `want` products; returns
    (seconds from the release until Python's count is on the page, products selected)."""
    frame = mapdrive.map_frame(page, 600)
    if "catalogue_map" in page.url:
        mapdrive.page_complete(page, 600)
    wait_idle(page, 600)
    # centre the box on the median point and size it so that it holds about `want` of the
    # drawn points: the want-th smallest Chebyshev distance from the centre in screen pixels
    # (computed in the page before the clock starts)
    cx, cy, half = frame.evaluate("""(want) => { const m = kickspaceMap;
        const n = m.plot.get('points').length, c = m.screenOf(Math.floor(n / 2));
        const d = new Float32Array(n);
        for (let i = 0; i < n; i++) { const s = m.screenOf(i);
            d[i] = Math.max(Math.abs(s[0] - c[0]), Math.abs(s[1] - c[1])); }
        d.sort(); return [c[0], c[1], d[Math.min(n - 1, want)]]; }""", want)
    w, h = mapdrive.size(frame)
    print(f"  box around ({cx:.0f}, {cy:.0f}) px, half-side {half:.1f} px for {want:,} of the "
          f"drawn points (frame {w:.0f} x {h:.0f} px)", flush=True)
    half = max(3.0, min(half, cx, cy, w - cx, h - cy))
    mapdrive.mode(frame, "rectangle")
    t = time.perf_counter()
    mapdrive.drag(frame, cx - half, cy - half, cx + half, cy + half, steps=6, pause=0.02)
    released = time.perf_counter()
    print(f"  the box drag itself (7 moves, 20 ms apart, each dispatched and handled in the "
          f"page) took {released - t:.2f} s", flush=True)
    t = released
    counter = page.get_by_text(re.compile(r"[\d,]+ products? selected"))
    deadline = time.time() + 600
    while time.time() < deadline:
        txt = counter.first.inner_text() if counter.count() else "0 products"
        n = int(txt.split(" product")[0].replace(",", ""))
        if n > 0:
            return time.perf_counter() - t, n
        time.sleep(0.05)
    raise TimeoutError("no selection")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="30000,100000,1000000", help="engine rows")
    ap.add_argument("--select", type=int, default=100_000)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--no-page", action="store_true", help="skip the demo page rows")
    ap.add_argument("--shots", default="/tmp/kickspace-bench")
    args = ap.parse_args(argv)
    shots = Path(args.shots)
    shots.mkdir(parents=True, exist_ok=True)
    from playwright.sync_api import sync_playwright
    rows = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        runs = ([] if args.no_page else [("page", 30_000)]) + \
            [("engine", int(s)) for s in args.sizes.split(",") if s]
        for kind, n in runs:
            if kind == "page":
                proc, base = start_app(env={"KICKSPACE_DATA_DIR": str(shots / "data"),
                                            "KICKSPACE_ANNOTATIONS_DB": None})
                url = base + "/catalogue_map?proj=PCA"
                # the server learns app.py's page routes on its first run
                ctx = browser.new_context()
                pg = ctx.new_page()
                pg.goto(base + "/")
                pg.get_by_role("link", name="Catalogue map", exact=True).wait_for(timeout=600_000)
                ctx.close()
            else:
                proc, url = start_engine(n)
            try:
                cold, cold_bytes, ctx, page = visit(browser, url)
                wait_idle(page, 600)
                ctx.close()
                warm, warm_bytes = None, None
                for _ in range(max(1, args.repeats)):
                    t, nb, ctx, page = visit(browser, url)
                    if warm is None or t < warm:
                        warm, warm_bytes = t, nb
                    last = (ctx, page)
                    if _ < args.repeats - 1:
                        ctx.close()
                ctx, page = last
                # the same browser again (its HTTP cache holds Streamlit's and the map's
                # scripts), as when someone comes back to the map: a new session each time
                revisit = None
                for _ in range(max(1, args.repeats)):
                    wait_idle(page, 600)
                    page.goto("about:blank")
                    page.goto(url)
                    took = page_clock(page, mapdrive.map_frame(page, timeout=600))
                    revisit = took if revisit is None else min(revisit, took)
                print(f"  revisit in the same browser: drawn after {revisit:.1f} s", flush=True)
                took, selected = box_select(page, min(args.select, n // 3))
                page.screenshot(path=str(shots / f"map-{kind}-{n}.png"))
                ctx.close()
            finally:
                stop_app(proc)
            rows.append((kind, n, cold, warm, revisit, cold_bytes, warm_bytes, selected, took))
            print(f"{kind} {n:,}: draw {cold:.1f} s cold, {warm:.1f} s warm; "
                  f"{cold_bytes / 1e6:.2f} MB cold, {warm_bytes / 1e6:.2f} MB warm; "
                  f"box of {selected:,} in {took:.2f} s", flush=True)
        browser.close()
    print()
    print("| what | products | draw, cold (s) | draw, warm (s) | draw, revisit (s) "
          "| MB sent, cold | MB sent, warm | box selection | selection in Python (s) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for kind, n, cold, warm, again, cb, wb, sel, took in rows:
        print(f"| {kind} | {n:,} | {cold:.1f} | {warm:.1f} | {again:.1f} | {cb / 1e6:.2f} "
              f"| {wb / 1e6:.2f} | {sel:,} | {took:.2f} |")
    with open("/proc/loadavg") as f:
        load = f.read().split()[:3]
    print(f"\nheadless Chromium {CHROMIUM} (--disable-gpu: WebGL on SwiftShader, software), "
          f"{os.cpu_count()} CPUs, load {' '.join(load)}; screenshots in {shots}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
