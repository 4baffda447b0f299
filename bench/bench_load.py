"""Many people at once: N headless Chromium sessions drive one running app.

    python -m bench.bench_load [--sessions 10] [--moves 5] [--steps-moves 2]
                               [--checkpoints DIR] [--bundle NAME] [--no-tag]

(run from the repository root.) Starts `streamlit run app.py` on a free 127.0.0.1 port (the
bundles of --checkpoints, default $KICKSPACE_CHECKPOINTS or checkpoints/; tags go to a
temporary KICKSPACE_DATA_DIR that is removed afterwards), opens one Chromium (Debian's, driven
by Playwright's async API) with N browser contexts, and runs every session at the same time.
Each session keeps one Streamlit session (it moves between pages with the sidebar links):

1. opens /sliders?a=SKU, its own anchor product, and waits for the decoded image (the live
   decoder's first browser-decoded frame; on the st.slider page, the "decoded sneaker" image);
2. moves the first factor slider --moves times (ArrowRight), each time timing the key press
   until the new picture is drawn ("slider -> picture": decoded in the browser) and, the key
   press being also a release, until the closest products are shown with their pictures
   (drawn by the component in the browser; where the server answers releases, its last
   WebSocket message, counted inside the page);
3. goes to Interpolation and moves the Steps slider --steps-moves times, timing each until the
   decoded strip image has changed;
4. goes to the Catalogue map and tags the first cluster with its own tag ("Tag cluster"),
   timing the click until the page confirms it (skipped with --no-tag);
5. goes back to Factor sliders and checks that its anchor is still its own SKU (in the URL and
   in the sidebar): sessions must never see each other's choices.

It prints, per action kind, the median and 95th percentile of the time from action to result,
the server's resident memory (VmRSS of the server process) at start and at its peak, and every
error seen: Streamlit exceptions shown on a page, timeouts, anchors that changed hands.
Bounded: every wait has --timeout seconds, the whole run --deadline seconds.

The browser runs on the same machine as the server, so on a small machine the figures include
the browsers' own work (10 Chromium pages drawing a WebGL map share the CPU with the server).
"""
from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import defaultdict
from pathlib import Path

from bench.appserver import CHROMIUM, REPO, start_app, stop_app
from bench.appserver import CHROMIUM_FLAGS as FLAGS
from bench.bench_live import ROOT, WS_COUNTER
LIVE = (f"() => {{ const r = {ROOT}; return r && r.dataset.mode === 'wasm'"
        f" && Number(r.dataset.frames) > 0 }}")
FRAMES = f"() => Number({ROOT}.dataset.frames)"
# after a release at page time t0: the time of the server's last message, once none has
# come for 300 ms
ANSWERED = """(t0) => { const r = window.__ws.recv.filter(m => m[0] > t0);
    return r.length && performance.now() - r[r.length - 1][0] > 300
        ? r[r.length - 1][0] - t0 : null; }"""
# after a release at page time t0: the closest products drawn by the component itself
# (names, distances and every picture: explorer/app/static/live_decoder/closest.js), where the
# browser answers releases; else the server's answer as above
SHOWN = """([t0, shown0]) => { const L = window.__ksLive || {};
    if ((L.picturesShown || 0) > shown0) return L.picturesAt - t0;
    return (L.closestShown || 0) > shown0 ? null : (""" + ANSWERED + """)(t0); }"""
STEPS = "[data-testid='stMain'] [data-testid='stSlider']"
MAP = ".st-key-map .js-plotly-plot .nsewdrag"          # the catalogue map (plotly key "map")
# the interpolation strip: the first wide picture after the page's "Decoded path" heading
# (so that a picture left over from the previous page is never taken for it)
STRIP_SRC = """() => {
    const h = [...document.querySelectorAll("[data-testid='stMain'] h3")]
        .find(e => e.textContent.includes("Decoded path"));
    if (!h) return null;
    for (const i of document.querySelectorAll("[data-testid='stMain'] img"))
        if ((h.compareDocumentPosition(i) & Node.DOCUMENT_POSITION_FOLLOWING)
            && i.complete && i.naturalWidth > 300) return i.src;
    return null;
}"""


# ---------------------------------------------------------------------------- the server
def start_server(checkpoints: Path, data_dir: Path, log: Path, timeout: float = 180
                 ) -> tuple[subprocess.Popen, str]:
    return start_app(env={"KICKSPACE_CHECKPOINTS": str(checkpoints),
                          "KICKSPACE_DATA_DIR": str(data_dir), "KICKSPACE_ANNOTATIONS_DB": None},
                     log=log, timeout=timeout)


def rss_bytes(pid: int) -> int | None:
    """Resident memory of a process (psutil when installed, else /proc/<pid>/status)."""
    try:
        import psutil
        return int(psutil.Process(pid).memory_info().rss)
    except ImportError:
        pass
    except Exception:  # noqa: BLE001 - the process is gone
        return None
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


class MemoryWatch(threading.Thread):
    """Samples a process's RSS every `every` seconds; keeps the first value and the peak."""

    def __init__(self, pid: int, every: float = 0.2):
        super().__init__(daemon=True)
        self.pid, self.every = pid, every
        self.start_rss = rss_bytes(pid)
        self.peak = self.start_rss or 0
        self.last = self.start_rss
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.wait(self.every):
            v = rss_bytes(self.pid)
            if v is None:
                return
            self.last, self.peak = v, max(self.peak, v)

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=5)


# ---------------------------------------------------------------------------- one session
class Session:
    def __init__(self, i: int, sku: str, url: str, bundle: str, args, results, errors):
        self.i, self.sku, self.url, self.bundle = i, sku, url, bundle
        self.args, self.results, self.errors = args, results, errors
        self.timeout_ms = args.timeout * 1000

    def record(self, kind: str, seconds: float) -> None:
        self.results[kind].append(seconds)

    def error(self, where: str, what: str) -> None:
        self.errors.append((self.i, where, what))

    async def idle(self, page) -> None:
        """Until Streamlit has finished running the script (the status widget is gone)."""
        await page.wait_for_selector("[data-testid='stAppViewContainer']",
                                     timeout=self.timeout_ms)
        await asyncio.sleep(0.2)
        deadline = time.monotonic() + self.args.timeout
        while await page.query_selector("[data-testid='stStatusWidget']") is not None:
            if time.monotonic() > deadline:
                raise TimeoutError("the app kept running")
            await asyncio.sleep(0.05)

    async def exceptions(self, page, where: str) -> None:
        for e in await page.query_selector_all("[data-testid='stException']"):
            self.error(where, "exception on the page: "
                       + (await e.inner_text()).strip().replace("\n", " ")[:300])

    async def step(self, where: str, coro) -> bool:
        """Run one action; a failure is recorded and the session goes on with the next."""
        try:
            await coro
            return True
        except Exception as e:  # noqa: BLE001 - timeouts and anything else are reported
            self.error(where, f"{type(e).__name__}: {str(e).splitlines()[0][:200]}")
            return False

    async def nav(self, page, title: str) -> None:
        await page.locator("[data-testid='stSidebarNav'] a", has_text=title).first.click()

    async def check_anchor(self, page, where: str) -> None:
        q = urllib.parse.parse_qs(urllib.parse.urlparse(page.url).query)
        if q.get("a") != [self.sku]:
            self.error(where, f"anchor in the URL is {q.get('a')}, expected {self.sku}")
        sidebar = page.locator("[data-testid='stSidebar']")
        try:     # the anchor's picture and caption may still be on their way
            await sidebar.get_by_text(self.sku).first.wait_for(timeout=15_000)
        except Exception:  # noqa: BLE001 - reported below with what the sidebar shows
            pass
        side = await sidebar.inner_text()
        if self.sku not in side:
            self.error(where, f"the sidebar does not show this session's anchor {self.sku}: "
                              f"{' | '.join(side.split(chr(10)))[-300:]}")

    # -- the actions
    async def open_sliders(self, page) -> None:
        query = urllib.parse.urlencode({"bundle": self.bundle, "a": self.sku})
        t = time.perf_counter()
        await page.goto(f"{self.url}/sliders?{query}", timeout=self.timeout_ms)
        await page.wait_for_function(LIVE, timeout=self.timeout_ms, polling=50)
        self.record("open sliders", time.perf_counter() - t)
        await self.idle(page)
        await self.exceptions(page, "sliders")
        await self.check_anchor(page, "sliders, first visit")

    async def move_slider(self, page) -> None:
        frames = await page.evaluate(FRAMES)
        thumb = page.locator("input.ks-range").first
        await thumb.focus(timeout=self.timeout_ms)
        t = time.perf_counter()
        t0, shown0 = await page.evaluate(
            "() => [performance.now(), (window.__ksLive || {}).picturesShown || 0]")
        await page.keyboard.press("ArrowRight")
        await page.wait_for_function(f"(n) => ({FRAMES})() > n", arg=frames,
                                     timeout=self.timeout_ms, polling="raf")
        self.record("slider -> picture (browser)", time.perf_counter() - t)
        handle = await page.wait_for_function(SHOWN, arg=[t0, shown0], timeout=self.timeout_ms,
                                              polling=20)
        self.record("release -> closest products shown", (await handle.json_value()) / 1000)
        await self.idle(page)
        await self.exceptions(page, "sliders, slider moved")

    async def open_interpolation(self, page) -> None:
        t = time.perf_counter()
        await self.nav(page, "Interpolation")
        await page.wait_for_function(STRIP_SRC, timeout=self.timeout_ms, polling=50)
        self.record("open interpolation", time.perf_counter() - t)
        await self.idle(page)
        await self.exceptions(page, "interpolation")

    async def move_steps(self, page) -> None:
        before = await page.evaluate(STRIP_SRC)
        thumb = page.locator(STEPS, has_text="Steps").get_by_role("slider")
        await thumb.focus(timeout=self.timeout_ms)
        t = time.perf_counter()
        await page.keyboard.press("ArrowRight")
        await page.wait_for_function(f"(before) => {{ const s = ({STRIP_SRC})();"
                                     f" return s && s !== before; }}", arg=before,
                                     timeout=self.timeout_ms, polling=20)
        self.record("steps -> interpolation strip", time.perf_counter() - t)
        await self.idle(page)
        await self.exceptions(page, "interpolation, steps moved")

    async def open_map(self, page) -> None:
        t = time.perf_counter()
        await self.nav(page, "Catalogue map")
        await page.wait_for_selector(MAP, timeout=self.timeout_ms)
        self.record("open catalogue map", time.perf_counter() - t)
        await self.idle(page)
        await self.exceptions(page, "catalogue map")

    async def tag_cluster(self, page) -> None:
        tag = f"bench-{self.i}"
        box = page.get_by_role("textbox", name="Tag", exact=True)
        await box.fill(tag)
        await box.press("Enter")
        await self.idle(page)
        t = time.perf_counter()
        await page.get_by_role("button", name="Tag cluster").click()
        await page.get_by_text(f"with '{tag}'").first.wait_for(timeout=self.timeout_ms)
        self.record("tag cluster -> confirmed", time.perf_counter() - t)
        await self.idle(page)
        await self.exceptions(page, "catalogue map, tagged")

    async def back_to_sliders(self, page) -> None:
        t = time.perf_counter()
        await self.nav(page, "Factor sliders")
        # the page left behind (Interpolation) has a live decoder too: LIVE alone could be
        # its frame, and the URL still its own
        await page.wait_for_url("**/sliders**", timeout=self.timeout_ms)
        await page.wait_for_function(LIVE, timeout=self.timeout_ms, polling=50)
        self.record("back to sliders", time.perf_counter() - t)
        await self.idle(page)
        await self.exceptions(page, "sliders, back")
        await self.check_anchor(page, "sliders, after the other pages")

    async def run(self, browser) -> None:
        context = await browser.new_context(viewport={"width": 1400, "height": 1600})
        await context.add_init_script(WS_COUNTER)
        page = await context.new_page()
        try:
            if not await self.step("open sliders", self.open_sliders(page)):
                return
            for k in range(self.args.moves):
                await self.step(f"slider move {k + 1}", self.move_slider(page))
            if await self.step("open interpolation", self.open_interpolation(page)):
                for k in range(self.args.steps_moves):
                    await self.step(f"steps move {k + 1}", self.move_steps(page))
            if self.args.tag and await self.step("open catalogue map", self.open_map(page)):
                await self.step("tag cluster", self.tag_cluster(page))
            await self.step("back to sliders", self.back_to_sliders(page))
        finally:
            await context.close()


# ---------------------------------------------------------------------------- main
def _skus(checkpoints: Path, bundle: str, n: int) -> list[str]:
    from explorer.data.catalogue import read_metadata_csv
    skus = read_metadata_csv(checkpoints / bundle / "metadata.csv.gz")["sku"].astype(str)
    step = max(1, len(skus) // n)
    return [skus.iloc[(k * step + 1) % len(skus)] for k in range(n)]


async def _drive(url: str, bundle: str, skus: list[str], args, results, errors) -> float:
    from playwright.async_api import async_playwright
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=args.chromium, args=FLAGS)
        try:
            # One visit to the root page first. It loads the bundle into the shared cache
            # (timed on its own), and it makes the server leave Streamlit's old
            # "pages/ folder" mode: until some session has run app.py's st.navigation, a
            # deep link such as /sliders runs pages/sliders.py without app.py.
            context = await browser.new_context()
            page = await context.new_page()
            t = time.perf_counter()
            await page.goto(f"{url}/?{urllib.parse.urlencode({'bundle': bundle})}",
                            timeout=args.timeout * 1000)
            await page.get_by_role("heading", name="KickSpace").first.wait_for(
                timeout=args.timeout * 1000)
            results["warm-up: first visit, loads bundle"].append(time.perf_counter() - t)
            await context.close()
            sessions = [Session(i, sku, url, bundle, args, results, errors)
                        for i, sku in enumerate(skus)]
            t = time.perf_counter()
            done, pending = await asyncio.wait(
                [asyncio.create_task(s.run(browser)) for s in sessions],
                timeout=args.deadline)
            for task in pending:
                task.cancel()
                errors.append((-1, "deadline", f"a session was still running after "
                                               f"{args.deadline:.0f} s"))
            for task in done:
                if task.exception() is not None:
                    errors.append((-1, "session", repr(task.exception())[:300]))
            return time.perf_counter() - t
        finally:
            await browser.close()


def _pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, int(round(q * (len(s) - 1)))))]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sessions", type=int, default=10, help="browser sessions at once")
    ap.add_argument("--moves", type=int, default=5, help="factor-slider moves per session")
    ap.add_argument("--steps-moves", type=int, default=2,
                    help="interpolation steps-slider moves per session")
    ap.add_argument("--checkpoints", default=os.environ.get("KICKSPACE_CHECKPOINTS",
                                                            str(REPO / "checkpoints")))
    ap.add_argument("--bundle", default=None, help="bundle name under --checkpoints "
                    "(default: demo if present, else the first)")
    ap.add_argument("--no-tag", dest="tag", action="store_false",
                    help="skip tagging on the catalogue map")
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds per wait")
    ap.add_argument("--deadline", type=float, default=900.0, help="seconds for the whole run")
    ap.add_argument("--chromium", default=CHROMIUM)
    args = ap.parse_args(argv)
    if not 1 <= args.sessions <= 50:
        ap.error("--sessions must be within 1..50")

    from explorer.bundle.core import find_bundles
    checkpoints = Path(args.checkpoints).resolve()
    found = {p.name: p for p in find_bundles(checkpoints)}
    bundle = args.bundle or ("demo" if "demo" in found else next(iter(found), None))
    if bundle not in found:
        print(f"no bundle {bundle!r} under {checkpoints} (found: {', '.join(found) or 'none'})",
              file=sys.stderr)
        return 2
    skus = _skus(checkpoints, bundle, args.sessions)
    work = Path(tempfile.mkdtemp(prefix="kickspace-load-"))
    print(f"bundle {checkpoints / bundle}; {args.sessions} sessions; {args.moves} slider "
          f"moves, {args.steps_moves} steps moves{', 1 tag' if args.tag else ''} each",
          flush=True)
    results: dict[str, list[float]] = defaultdict(list)
    errors: list[tuple[int, str, str]] = []
    proc, url = start_server(checkpoints, work / "data", work / "server.log")
    watch = MemoryWatch(proc.pid)
    watch.start()
    try:
        wall = asyncio.run(_drive(url, bundle, skus, args, results, errors))
    finally:
        watch.stop()
        stop_app(proc)
        log_tail = (work / "server.log").read_text()[-3000:]
        shutil.rmtree(work, ignore_errors=True)

    print(f"\n{args.sessions} sessions in {wall:.1f} s (server on {url})\n")
    print(f"{'action':34s} {'n':>4s} {'median s':>9s} {'p95 s':>8s} {'max s':>8s}")
    for kind, values in results.items():
        print(f"{kind:34s} {len(values):4d} {statistics.median(values):9.2f} "
              f"{_pct(values, 0.95):8.2f} {max(values):8.2f}")
    mib = 1024 * 1024
    start = watch.start_rss / mib if watch.start_rss else float("nan")
    print(f"\nserver RSS: {start:.0f} MiB at start (idle, before any session), "
          f"{watch.peak / mib:.0f} MiB peak, {(watch.last or 0) / mib:.0f} MiB at the end")
    print(f"\nerrors: {len(errors)}")
    for i, where, what in errors:
        print(f"  session {i}: {where}: {what}")
    if "Traceback" in log_tail:
        print("\nthe server log has a traceback:\n" + log_tail)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
