"""What one slider change costs the browser, in one headless Chromium page: the Interpolation
page's Steps, or the minimal one-slider app's slider (bench/minimal_app.py) for the floor.

    python -m bench.bench_page_cpu [--repo CHECKOUT] [--changes 10] [--target minimal]

(run from the repository root.) Starts the app of --repo (default this checkout) on the demo
bundle, opens /interpolation (or the minimal app), and moves the slider --changes times
(right, left, ...), each time timing the key press until the picture (the decoded strip) has
changed. Around each change it
reads the renderer's main-thread task time (Chrome DevTools Protocol
`Performance.getMetrics`, TaskDuration, taken after the page is idle again) and counts the
WebSocket messages the page received. With ten sessions on one small machine the browsers'
own work is most of the wait (bench/bench_load.py), so this is the figure to compare between
checkouts. Prints medians (and the largest task time).
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from bench.appserver import CHROMIUM, CHROMIUM_FLAGS, REPO, start_app, stop_app, wait_idle
from bench.bench_floor import TARGETS


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repo", default=str(REPO), help="checkout whose app.py to run")
    ap.add_argument("--changes", type=int, default=10)
    ap.add_argument("--target", default="interpolation", choices=sorted(TARGETS))
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright
    repo = Path(args.repo).resolve()
    path, src, label = TARGETS[args.target]
    script = REPO / "bench" / "minimal_app.py" if args.target == "minimal" else repo / "app.py"
    proc, url = start_app(env={"PYTHONPATH": str(repo)}, script=script, cwd=repo, timeout=300)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
            page = browser.new_page(viewport={"width": 1300, "height": 1100})
            cdp = page.context.new_cdp_session(page)
            cdp.send("Performance.enable")
            got = {"n": 0, "bytes": 0}

            def on_frame(f) -> None:
                got["n"] += 1
                got["bytes"] += len(f)
            page.on("websocket", lambda ws: ws.on("framereceived", on_frame))
            page.goto(url + path)
            page.wait_for_function(src, timeout=180_000)
            wait_idle(page, 60)
            time.sleep(2)
            thumb = page.locator("[data-testid='stMain'] [data-testid='stSlider']",
                                 has_text=label).get_by_role("slider")

            def task_seconds() -> float:
                return next(m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]
                            if m["name"] == "TaskDuration")
            wall, cpu, msgs, kb = [], [], [], []
            for k in range(args.changes):
                before = page.evaluate(src)
                t0, n0, b0 = task_seconds(), got["n"], got["bytes"]
                thumb.focus()
                t = time.perf_counter()
                page.keyboard.press("ArrowRight" if k % 2 == 0 else "ArrowLeft")
                page.wait_for_function(f"(before) => {{ const s = ({src})();"
                                       f" return s && s !== before; }}", arg=before,
                                       timeout=60_000, polling=20)
                wall.append(time.perf_counter() - t)
                wait_idle(page, 60)
                time.sleep(1.0)
                cpu.append(task_seconds() - t0)
                msgs.append(got["n"] - n0)
                kb.append((got["bytes"] - b0) / 1024)
            browser.close()
    finally:
        stop_app(proc)
    med = statistics.median
    print(f"{repo} ({args.target}): {args.changes} slider changes: picture redrawn after "
          f"median {med(wall) * 1000:.0f} ms; browser main-thread task time median "
          f"{med(cpu) * 1000:.0f} ms (max {max(cpu) * 1000:.0f}); WebSocket messages median "
          f"{med(msgs):.0f} ({med(kb):.1f} kB)")


if __name__ == "__main__":
    main()
