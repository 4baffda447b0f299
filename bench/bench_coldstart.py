"""A fresh server's first page, as a visitor sees it in real Chromium.

    python -m bench.bench_coldstart [--runs 3] [--path /] [--checkpoints DIR]

(run from the repository root.) Each run starts a new `streamlit run app.py` (bench/appserver.py;
nothing cached in the process), waits for its health check, then opens the page in a fresh
headless Chromium and samples the DOM every 25 ms until the script has finished. It prints, per
run, in seconds from the moment the page was requested:

- menu: the sidebar navigation is on screen, and whether it ever showed a raw file name
  ("overview", "catalogue map", ...) instead of the page titles;
- first paint: the main area shows a heading (the page's first content);
- sneaker: the first product image in the main area has loaded;
- settled: the main area's last change (nothing new for 2 s afterwards);

and the server's own start (process spawn -> health check), then the medians over the runs.
The browser runs on the same machine as the server: print the load beside the figures.
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from bench.appserver import CHROMIUM, CHROMIUM_FLAGS, REPO, start_app, stop_app

RAW_NAMES = {p.stem.replace("_", " ") for p in (REPO / "pages").glob("*.py")} | {"app"}

PROBE = """() => {
    const main = document.querySelector("[data-testid='stMain']");
    const nav = [...document.querySelectorAll("[data-testid='stSidebarNav'] a, "
                                             + "[data-testid='stSidebarNavLink']")]
        .map(a => a.textContent.trim()).filter(Boolean);
    const heading = main ? [...main.querySelectorAll("h1, h2")]
        .some(h => h.textContent.trim().length > 0 && h.offsetParent !== null) : false;
    const image = main ? [...main.querySelectorAll("img")]
        .some(i => i.complete && i.naturalWidth > 0 && i.offsetParent !== null) : false;
    const size = main ? main.querySelectorAll("*").length : 0;
    return {nav, heading, image, size};
}"""


def one_run(browser, path: str, env: dict, timeout: float = 90.0) -> dict:
    t_spawn = time.perf_counter()
    proc, url = start_app(env=env, timeout=timeout)
    server_start = time.perf_counter() - t_spawn
    try:
        ctx = browser.new_context(viewport={"width": 1280, "height": 900})
        page = ctx.new_page()
        t0 = time.perf_counter()
        page.goto(url + path, wait_until="commit")
        got: dict[str, float] = {}
        raw_seen: set[str] = set()
        quiet_since, last_size = None, -1
        while time.perf_counter() - t0 < timeout:
            s = page.evaluate(PROBE)
            now = time.perf_counter() - t0
            if s["nav"]:
                got.setdefault("menu", now)
                raw_seen |= {n.splitlines()[-1].strip() for n in s["nav"]} & RAW_NAMES
            if s["heading"]:
                got.setdefault("first paint", now)
            if s["image"]:
                got.setdefault("sneaker", now)
            if s["size"] != last_size:
                quiet_since, last_size = now, s["size"]
            elif "sneaker" in got and now - quiet_since > 2.0:   # nothing new for 2 s
                got["settled"] = quiet_since
                break
            time.sleep(0.025)
        ctx.close()
    finally:
        stop_app(proc)
    return {"server start": server_start, **got, "raw names": sorted(raw_seen)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--path", default="/")
    ap.add_argument("--checkpoints", default=None)
    args = ap.parse_args()
    env = {"KICKSPACE_CHECKPOINTS": args.checkpoints} if args.checkpoints else {}
    from playwright.sync_api import sync_playwright

    keys = ["server start", "menu", "first paint", "sneaker", "settled"]
    rows = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            for r in range(args.runs):
                res = one_run(browser, args.path, env)
                rows.append(res)
                print(f"run {r + 1}: " + ", ".join(
                    f"{k} {res[k]:.2f} s" if k in res else f"{k} –" for k in keys)
                    + f"; raw file names in the menu: {', '.join(res['raw names']) or 'none'}",
                    flush=True)
        finally:
            browser.close()
    print("median: " + ", ".join(
        f"{k} {statistics.median(r[k] for r in rows if k in r):.2f} s"
        for k in keys if any(k in r for r in rows)))
    print(f"load: {Path('/proc/loadavg').read_text().strip()}")


if __name__ == "__main__":
    main()
