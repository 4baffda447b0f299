"""Streamlit's garbage collection after every rerun, with and without the frozen heap.

    python -m bench.bench_gc [--moves 15] [--path sliders]

(run from the repository root.) Starts the app twice through bench/gc_probe.py (streamlit with
gc.collect timed), once with KICKSPACE_GC_FREEZE=0 and once as shipped (the heap frozen after
the bundle load, explorer.app.cache.freeze_heap). In each, one headless Chromium opens the home
page and then --path, moves the first slider of the main area --moves times (one ArrowRight
each, 1 s apart: one rerun each), and the full collections Streamlit ran after those reruns
(runner.postScriptGC -> gc.collect(2)) are read from the probe's log. Prints their median and
95th percentile, and how many objects the collector still had to walk (tracked, not frozen).
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from bench.appserver import CHROMIUM, CHROMIUM_FLAGS, start_app, stop_app


def _settle(page, quiet: float = 2.0, timeout: float = 120.0) -> None:
    """Until the main area has not changed for `quiet` seconds."""
    last, since, t0 = -1, time.monotonic(), time.monotonic()
    while time.monotonic() - t0 < timeout:
        n = page.evaluate("() => document.querySelectorAll('[data-testid=stMain] *').length")
        if n != last:
            last, since = n, time.monotonic()
        elif time.monotonic() - since > quiet:
            return
        time.sleep(0.2)


def one(freeze: bool, moves: int, path: str, browser) -> dict:
    log = Path(tempfile.mkstemp(prefix="kickspace-gc-", suffix=".log")[1])
    proc, url = start_app(env={"KICKSPACE_GC_FREEZE": "1" if freeze else "0",
                               "KICKSPACE_GC_LOG": str(log)},
                          launcher=["-m", "bench.gc_probe"])
    try:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(url)
        page.wait_for_selector("canvas[aria-label='decoded sneaker'], img[alt='decoded sneaker']",
                               timeout=180_000)
        _settle(page)
        page.goto(f"{url}/{path}")
        page.wait_for_selector("[data-testid='stMain'] [data-testid='stSlider']",
                               timeout=120_000)
        _settle(page)
        mark = len(log.read_text().splitlines())
        thumb = page.get_by_role("slider").first
        thumb.focus()
        for _ in range(moves):
            page.keyboard.press("ArrowRight")
            time.sleep(1.0)
        _settle(page)
        page.close()
    finally:
        stop_app(proc)
    rows = [line.split() for line in log.read_text().splitlines()[mark:]]
    log.unlink()
    full = [r for r in rows if r[1] == "2"]
    ms = [1000 * float(r[0]) for r in full]
    return {"n": len(ms), "median": statistics.median(ms) if ms else float("nan"),
            "p95": sorted(ms)[int(0.95 * (len(ms) - 1))] if ms else float("nan"),
            "tracked": int(full[-1][3]) if full else 0, "frozen": int(full[-1][4]) if full else 0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--moves", type=int, default=15)
    ap.add_argument("--path", default="sliders")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            for freeze in (False, True):
                r = one(freeze, args.moves, args.path, browser)
                print(f"gc.freeze {'on ' if freeze else 'off'}: {r['n']} full collections "
                      f"after reruns, median {r['median']:.1f} ms, p95 {r['p95']:.1f} ms; "
                      f"{r['tracked']:,} objects walked, {r['frozen']:,} frozen", flush=True)
        finally:
            browser.close()
    print(f"load: {Path('/proc/loadavg').read_text().strip()}")


if __name__ == "__main__":
    main()
