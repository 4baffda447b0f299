"""A rerun under load against its floor: N Chromium sessions at once move one slider each on
(a) bench/minimal_app.py, one slider and one decoded picture, the least a Streamlit page that
decodes on the server can do, and (b) the app's Interpolation page, whose Steps slider reruns
the path part of the page (a fragment: decode, closest products, strip, map picture).

    python -m bench.bench_floor [--sessions 10] [--moves 6] [--target minimal,interpolation]
                                [--repo CHECKOUT]

(run from the repository root.) The same harness for both: every session opens its page, waits
until the picture is there (on Interpolation also the live decoder's first frame, its
WebAssembly compiled) and every other session's page is too (pages that are still opening are
not the rerun being measured), then moves the slider --moves times (ArrowRight, ArrowLeft,
...), each time timing the key press until the picture (the minimal app's image; the
Interpolation strip) has a new source, with a random pause of 0.3-0.8 s between moves. All
sessions run at once in one Chromium (a browser context each) on this machine, so the figures
include the browsers' own work. Prints median and 95th percentile per target and the load.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import time
from pathlib import Path

from bench.appserver import CHROMIUM, CHROMIUM_FLAGS, REPO, start_app, stop_app
from bench.bench_load import LIVE, STRIP_SRC

MINIMAL_SRC = """() => { const i = document.querySelector("[data-testid='stMain'] img");
    return i && i.complete && i.naturalWidth > 0 ? i.src : null; }"""
TARGETS = {"minimal": ("", MINIMAL_SRC, "factor 0"),
           "interpolation": ("/interpolation", STRIP_SRC, "Steps")}
# what a page has to have done before it counts as open: the Interpolation page's live
# decoder has its WebAssembly compiled and a first frame drawn
SETTLED = {"minimal": MINIMAL_SRC, "interpolation": LIVE}


async def session(browser, url: str, target: str, moves: int, timeout: float,
                  out: list[float], errors: list[str], ready=None) -> None:
    path, src, label = TARGETS[target]
    ctx = await browser.new_context(viewport={"width": 1300, "height": 1100})
    page = await ctx.new_page()
    try:
        await page.goto(url + path, timeout=timeout * 1000)
        await page.wait_for_function(src, timeout=timeout * 1000, polling=50)
        await page.wait_for_function(SETTLED[target], timeout=timeout * 1000, polling=50)
        if ready is not None:          # every page open and settled before any move
            await ready.wait()
        await asyncio.sleep(2.0)
        thumb = page.locator("[data-testid='stMain'] [data-testid='stSlider']",
                             has_text=label).get_by_role("slider")
        for k in range(moves):
            before = await page.evaluate(src)
            await thumb.focus(timeout=timeout * 1000)
            t = time.perf_counter()
            await page.keyboard.press("ArrowRight" if k % 2 == 0 else "ArrowLeft")
            await page.wait_for_function(
                f"(before) => {{ const s = ({src})(); return s && s !== before; }}",
                arg=before, timeout=timeout * 1000, polling=20)
            out.append(time.perf_counter() - t)
            await asyncio.sleep(random.uniform(0.3, 0.8))
    except Exception as e:  # noqa: BLE001 - reported with the figures
        errors.append(f"{type(e).__name__}: {str(e).splitlines()[0][:160]}")
        if ready is not None:            # a session that cannot start must not hold the rest
            ready.abort()
    finally:
        await ctx.close()


async def run_target(target: str, sessions: int, moves: int, timeout: float,
                     repo: Path = REPO) -> None:
    from playwright.async_api import async_playwright
    script = REPO / "bench" / "minimal_app.py" if target == "minimal" else repo / "app.py"
    proc, url = start_app(env={"PYTHONPATH": str(repo)}, script=script, cwd=repo, timeout=300)
    try:
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
            # one visit first, so that the model is loaded before the sessions are timed
            warm: list[float] = []
            await session(browser, url, target, 1, timeout, warm, [])
            load0 = os.getloadavg()[0]
            times: list[float] = []
            errors: list[str] = []
            ready = asyncio.Barrier(sessions)
            await asyncio.gather(*(session(browser, url, target, moves, timeout, times, errors,
                                           ready) for _ in range(sessions)))
            await browser.close()
    finally:
        stop_app(proc)
    times.sort()
    p95 = times[min(len(times) - 1, int(round(0.95 * (len(times) - 1))))] if times else float("nan")
    where = "" if repo == REPO else f" ({repo})"
    print(f"{target:>13}{where}: {sessions} sessions x {moves} moves: {len(times)} timed, "
          f"slider -> "
          f"new picture median {statistics.median(times) if times else float('nan'):.2f} s, "
          f"p95 {p95:.2f} s, max {max(times, default=float('nan')):.2f} s; {len(errors)} "
          f"error(s){': ' + errors[0] if errors else ''}; load {load0:.1f} -> "
          f"{os.getloadavg()[0]:.1f}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sessions", type=int, default=10)
    ap.add_argument("--moves", type=int, default=6)
    ap.add_argument("--target", default="minimal,interpolation")
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds per wait")
    ap.add_argument("--repo", default=str(REPO),
                    help="checkout whose app.py the interpolation target runs (a before figure)")
    args = ap.parse_args()
    for target in args.target.split(","):
        asyncio.run(run_target(target.strip(), args.sessions, args.moves, args.timeout,
                               Path(args.repo).resolve()))


if __name__ == "__main__":
    main()
