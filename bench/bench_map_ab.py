"""Before / after for the catalogue map page: two servers (two checkouts) side by side, visits
alternating between them in fresh headless-Chromium contexts, so that both see the same load.

    python -m bench.bench_map_ab OLD_CHECKOUT [NEW_CHECKOUT (default: this one)] [--repeats 5]
    python -m bench.bench_map_ab OLD_CHECKOUT --cold [--repeats 5]

(run from the repository root; make OLD_CHECKOUT with `git worktree add --detach DIR COMMIT`.)
Each server first serves the map once (its caches warm); then each visit is timed from
navigation until the map component has drawn (by the browser's clock, where the checkout's
frame records it), and until the Tags heading below it is on the page. Prints each visit with
the load average, then the medians.

--cold: a fresh server for every visit, as bench_map's cold row: the server starts, a first
visitor opens the home page (which starts loading the bundle) until its menu shows the map's
link, then the map is visited in a fresh context and timed; the servers take turns.
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from bench import mapdrive
from bench.appserver import CHROMIUM, CHROMIUM_FLAGS, REPO, start_app, stop_app
from bench.bench_map import page_clock


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("old")
    ap.add_argument("new", nargs="?", default=str(REPO))
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--data", default="/tmp/kickspace-map-ab")
    ap.add_argument("--cold", action="store_true", help="a fresh server for every visit")
    args = ap.parse_args(argv)
    repos = [str(Path(args.old).resolve()), str(Path(args.new).resolve())]
    if args.cold:
        return cold(repos, args.repeats, args.data)
    servers = [_start(r, f"{args.data}/{i}") for i, r in enumerate(repos)]
    res: dict[str, list[tuple[float, float]]] = {r: [] for r in repos}
    from playwright.sync_api import sync_playwright
    try:
        with sync_playwright() as p:
            br = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
            for _, base in servers:
                ctx = br.new_context()
                pg = ctx.new_page()
                pg.goto(base + "/catalogue_map?proj=PCA")
                mapdrive.map_frame(pg, 600)
                pg.get_by_role("heading", name="Tags").wait_for(timeout=600_000)
                ctx.close()
            for _ in range(args.repeats):
                for r, (_, base) in zip(repos, servers):
                    res[r].append(_visit(br, base, r))
    finally:
        for proc, _ in servers:
            stop_app(proc)
    return _report(res)


def cold(repos: list[str], repeats: int, data: str) -> int:
    res: dict[str, list[tuple[float, float]]] = {r: [] for r in repos}
    os.makedirs(data, exist_ok=True)
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        br = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        for k in range(repeats):
            for i, r in enumerate(repos):
                # a data folder of its own: nothing derived (suggested k, ...) kept from before
                proc, base = _start(r, tempfile.mkdtemp(prefix=f"cold-{k}-{i}-", dir=data))
                try:
                    ctx = br.new_context()
                    pg = ctx.new_page()
                    pg.goto(base + "/")
                    pg.get_by_role("link", name="Catalogue map", exact=True).wait_for(
                        timeout=600_000)
                    ctx.close()
                    res[r].append(_visit(br, base, r))
                finally:
                    stop_app(proc)
    return _report(res)


def _start(repo: str, data: str):
    return start_app(env={"KICKSPACE_DATA_DIR": data, "KICKSPACE_ANNOTATIONS_DB": None,
                          "PYTHONPATH": repo}, script=Path(repo) / "app.py", cwd=Path(repo),
                     timeout=300)


def _visit(br, base: str, r: str) -> tuple[float, float]:
    """(s to the map drawn, s to the Tags heading) of one visit in a fresh context."""
    ctx = br.new_context(viewport={"width": 1400, "height": 1100})
    pg = ctx.new_page()
    t0 = time.perf_counter()
    pg.goto(base + "/catalogue_map?proj=PCA")
    frame = mapdrive.map_frame(pg, 600)
    # by the browser's clock where the frame says when it drew (a checkout before that: when
    # the harness saw it, which lags on a busy page)
    has = frame.evaluate("() => 'drawnAt' in document.body.dataset")
    drawn = page_clock(pg, frame) if has else time.perf_counter() - t0
    pg.get_by_role("heading", name="Tags").wait_for(timeout=600_000)
    full = time.perf_counter() - t0
    ctx.close()
    with open("/proc/loadavg") as f:
        load = f.read().split()[0]
    print(f"{r}: drawn {drawn:.2f} s, Tags heading {full:.2f} s, load {load}", flush=True)
    return drawn, full


def _report(res: dict[str, list[tuple[float, float]]]) -> int:
    for r, v in res.items():
        print(f"{r}: median drawn {statistics.median(x[0] for x in v):.2f} s, median Tags "
              f"heading {statistics.median(x[1] for x in v):.2f} s ({len(v)} visits)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
