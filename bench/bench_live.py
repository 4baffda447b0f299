"""Decoding in the browser, measured in a real headless Chromium (explorer.app.live_decoder).

    python -m bench.bench_live [--drags 12] [--sessions 50] [--seconds 20] [--input-hz 60]
    python -m bench.bench_live --messages-only --repo OLD_CHECKOUT   # the st.slider page, before
    python -m bench.bench_live --page arithmetic --skip-many      # parts 1-3 on A + B's weights

(run from the repository root.) Starts `streamlit run app.py` on a free port and reports:

1. drag -> frame painted: one page drags the sliders with the mouse (--drags drags of 40 moves
   at ~60 Hz); per input event, the time until the frame showing it is drawn (the page records
   performance.now() at the requestAnimationFrame after the new pixels are put on the canvas),
   median and p95; also the decode alone.
2. release -> closest products shown: per release, the time until the component has drawn
   them (closest.js; pictures loaded), or, where the server shows them (the page before, a
   fallback), until the product strip's pictures change (releases after which the closest
   products stay the same are counted apart).
3. messages per change: WebSocket frames and bytes the server sends for one settled change
   (Chrome DevTools Protocol frame events, from the release until the page is idle).
   With --repo and --messages-only this part runs alone against another checkout (e.g. the
   page before the live decoder, moved with the keyboard on its first st.slider).
4. --sessions pages dragging at once for --seconds: each page drives its own first slider from
   inside the page (an input event every 1000/--input-hz ms, a release every second by the
   clock), so that the driver does not limit the rate; the server's CPU time (utime + stime of
   its process) over the window, divided by the wall time, is the cores the server used. The
   achieved input and release rates per page are printed: on a small machine the pages' own
   decoding may not keep up at 60 Hz (lower --input-hz; it changes nothing on the server).

Figures include the browsers' own work on this machine; say the load (`cat /proc/loadavg`).
"""
from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

from bench.appserver import CHROMIUM, CHROMIUM_FLAGS, REPO, start_app, stop_app, wait_idle

ROOT = ("(() => { for (const x of document.querySelectorAll('*')) { if (x.shadowRoot) {"
        " const r = x.shadowRoot.querySelector('.ks-live'); if (r) return r; } } return null })()")
# the closest products shown: drawn by the component itself (closest.js), else the server's
# product strip (st.image with "distance" in its captions: the page before, or a fallback)
PRODUCTS = f"""() => {{ const r = {ROOT}; if (r && r.dataset.closest) return r.dataset.closest;
    return [...document.querySelectorAll("[data-testid='stMain'] [data-testid='stImage']")]
    .filter(e => e.innerText.includes('distance'))
    .map(e => e.querySelector('img')?.src).join('|') }}"""
# with KICKSPACE_BENCH_DEBUG: the page's settles and the websocket messages either way
COUNTS = ("() => [window.__ksLive.settles, window.__ws.recv.length,"
          " window.__ws.sent.length]")


def _pct(values, q):
    s = sorted(values)
    return s[min(len(s) - 1, max(0, int(round(q * (len(s) - 1)))))] if s else float("nan")


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process and its waited-for children, seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return sum(int(fields[i]) for i in (11, 12)) / ticks


def quiet_rate(pid: int, longest: float = 20.0) -> float:
    """The server's CPU rate (cores) with the page open and nothing happening: the lowest of
    1 s windows, once one is under 0.05 cores or after `longest` s (a page open starts
    background work, e.g. decoding the image atlases ahead)."""
    best, t_end = float("inf"), time.perf_counter() + longest
    while time.perf_counter() < t_end:
        c, w = cpu_seconds(pid), time.perf_counter()
        time.sleep(1.0)
        best = min(best, (cpu_seconds(pid) - c) / (time.perf_counter() - w))
        if best < 0.05:
            break
    return best


def start(repo: Path, log: Path):
    """The app of `repo` (this checkout, or another one for a before/after figure)."""
    if repo.resolve() == REPO.resolve():
        return start_app(log=log, timeout=180)
    return start_app(env={"PYTHONPATH": str(repo)}, log=log, timeout=300,
                     script=repo / "app.py", cwd=repo)


# Counts the WebSocket messages of the page (Streamlit's one connection) from inside it:
# add_init_script(WS_COUNTER) before the page loads, then read window.__ws.
WS_COUNTER = """(() => {
  const Native = window.WebSocket;
  window.__ws = { recv: [], sent: [] };
  const size = (d) => d.byteLength ?? d.size ?? d.length ?? 0;
  window.WebSocket = function (...args) {
    const ws = new Native(...args);
    ws.addEventListener("message", (e) => window.__ws.recv.push([performance.now(), size(e.data)]));
    const send = ws.send.bind(ws);
    ws.send = (d) => { window.__ws.sent.push([performance.now(), size(d)]); return send(d); };
    return ws;
  };
  window.WebSocket.prototype = Native.prototype;
  Object.assign(window.WebSocket, Native);
})()"""


class Frames:
    """The page's WebSocket messages (WS_COUNTER must be installed before it loaded)."""

    def __init__(self, page):
        self.page = page

    def mark(self) -> int:
        return self.page.evaluate("() => window.__ws.recv.length")

    def since(self, mark: int) -> tuple[int, int]:
        got = self.page.evaluate("(m) => window.__ws.recv.slice(m).map(r => r[1])", mark)
        return len(got), sum(got)

    def sent(self) -> int:
        return self.page.evaluate("() => window.__ws.sent.length")


def _wait_live(page, timeout=120):
    page.wait_for_function(f"() => {{ const r = {ROOT}; return r && r.dataset.mode === 'wasm'"
                           f" && Number(r.dataset.frames) > 0 }}", timeout=timeout * 1000)


def single_session(url: str, browser, drags: int, pid: int, where: str = "sliders") -> None:
    """Parts 1-3 on one page: the factor sliders (where="sliders") or the arithmetic page's
    weights (where="arithmetic", its default A + B: the same component, its weight sliders)."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.add_init_script(WS_COUNTER)
    page.goto(f"{url}/{where}")
    wait_idle(page)
    t = time.perf_counter()
    _wait_live(page)
    print(f"page open -> first browser-decoded frame after the script finished: "
          f"{time.perf_counter() - t:.2f} s (includes compiling the 14 MB WebAssembly)")
    frames = Frames(page)
    page.evaluate("() => { window.__ksLive.latencies = []; window.__ksLive.decodes = [] }")
    ranges = page.locator("input.ks-range")
    shown, names, from_settle, same, msgs, nbytes, cpu = [], [], [], 0, [], [], []
    sent0 = frames.sent()
    wait_idle(page)
    idle = quiet_rate(pid)
    for k in range(drags):
        n_ranges = ranges.count()
        rng = ranges.nth(k % n_ranges)            # press at its centre
        # a slider dragged again (a page with fewer sliders than drags: arithmetic's two
        # weights) goes a shorter way each time, so that every release is a new value
        reach = 0.40 - 0.07 * ((k // n_ranges) % 5)
        rng.scroll_into_view_if_needed()
        box = rng.bounding_box()
        y = box["y"] + box["height"] / 2
        x = box["x"] + box["width"] * 0.5
        direction = 1 if k % 2 == 0 else -1
        before = page.evaluate(PRODUCTS)
        page.mouse.move(x, y)
        c0, w0 = cpu_seconds(pid), time.perf_counter()   # the drag may fetch files already
        page.mouse.down()
        for i in range(1, 41):
            page.mouse.move(x + direction * i * box["width"] * reach / 40, y)
            time.sleep(1 / 60)
        mark = frames.mark()
        t0, shown0, pics0 = page.evaluate("() => [performance.now(), window.__ksLive.closestShown"
                                          " || 0, window.__ksLive.picturesShown || 0]")
        page.mouse.up()
        # drawn by the component: when its strip is drawn (pictures in), then 0.5 s more for
        # any server message; else the server's answer (URL echo + closest products): its
        # last message, once no more has come for 300 ms, or the last product picture it
        # named, if that came later
        answered = page.evaluate("""async ([t0, mark, shown0, pics0]) => {
            while (performance.now() - t0 < 60000) {
                await new Promise(r => setTimeout(r, 20));
                const L = window.__ksLive;
                if ((L.closestShown || 0) > shown0) {
                    while ((L.picturesShown || 0) <= pics0 && performance.now() - t0 < 20000)
                        await new Promise(r => setTimeout(r, 10));
                    await new Promise(r => setTimeout(r, 500));
                    return [L.picturesAt - t0, L.closestAt - t0, L.lastSettle - t0];
                }
                const r = window.__ws.recv.slice(mark);
                if (r.length && performance.now() - r[r.length - 1][0] > 300) {
                    const imgs = [...document.querySelectorAll(
                        "[data-testid='stMain'] [data-testid='stImage'] img")];
                    await Promise.all(imgs.map(i => i.complete ? 0
                        : new Promise(ok => { i.onload = i.onerror = ok; })));
                    await new Promise(r => requestAnimationFrame(r));
                    const media = performance.getEntriesByType("resource")
                        .filter(e => e.name.includes("/media/") && e.startTime > t0)
                        .map(e => e.responseEnd);
                    return [Math.max(r[r.length - 1][0], ...media) - t0, null,
                            window.__ksLive.lastSettle - t0];
                }
            }
            return null; }""", [t0, mark, shown0, pics0])
        cpu.append(cpu_seconds(pid) - c0 - idle * (time.perf_counter() - w0))
        n, b = frames.since(mark)
        if os.environ.get("KICKSPACE_BENCH_DEBUG"):
            print("release", k, n, b, answered, page.evaluate(COUNTS), flush=True)
        msgs.append(n)
        nbytes.append(b)
        after = page.evaluate(PRODUCTS)
        if answered is None:
            same += 1
        else:
            shown.append(answered[0])
            from_settle.append(answered[0] - answered[2])
            if answered[1] is not None:
                names.append(answered[1])
            if after == before:
                same += 1
        wait_idle(page, settle=0.2)
    st = page.evaluate("() => window.__ksLive")
    lat, dec = st["latencies"], st["decodes"]
    print(f"drag -> frame painted: {len(lat)} input events in {drags} drags: median "
          f"{statistics.median(lat):.1f} ms, p95 {_pct(lat, 0.95):.1f} ms, max {max(lat):.1f} ms")
    print(f"decode alone (onnxruntime-web, 1 thread): median {statistics.median(dec):.2f} ms, "
          f"p95 {_pct(dec, 0.95):.2f} ms")
    if shown:
        print(f"release -> closest products shown (drawn in the browser, else the server's last "
              f"message or picture): {len(shown)} "
              f"releases: median {statistics.median(shown):.0f} ms, p95 "
              f"{_pct(shown, 0.95):.0f} ms ({same} left the closest products unchanged)")
        print(f"  the same from the slider's change event (in the page, without the driver's "
              f"mouse-up): median {statistics.median(from_settle):.0f} ms, p95 "
              f"{_pct(from_settle, 0.95):.0f} ms")
    if names:
        print(f"  of which names and distances drawn (before the pictures are in): median "
              f"{statistics.median(names):.0f} ms, p95 {_pct(names, 0.95):.0f} ms")
    print(f"server -> browser per release: median {statistics.median(msgs):.0f} WebSocket "
          f"messages, {statistics.median(nbytes) / 1000:.1f} kB; browser -> server: "
          f"{frames.sent() - sent0} messages in {drags} releases")
    print(f"server CPU per drag and release (from the drag's start to the answer, +0.5 s "
          f"where the browser answers; the server process, its idle {1000 * idle:.0f} ms/s "
          f"subtracted): median "
          f"{1000 * statistics.median(cpu):.0f} ms, p95 {1000 * _pct(cpu, 0.95):.0f} ms; "
          f"50 sessions releasing once a second would need "
          f"{50 * statistics.median(cpu):.2f} cores; while dragging they send nothing")
    page.close()


def messages_legacy(url: str, browser, changes: int) -> None:
    """The st.slider page: one keyboard step on the first factor slider per change."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.add_init_script(WS_COUNTER)
    page.goto(f"{url}/sliders")
    wait_idle(page)
    frames = Frames(page)
    thumb = page.locator("[data-testid='stMain']").get_by_role("slider").first
    thumb.wait_for(timeout=600_000)
    wait_idle(page, timeout=600)
    msgs, nbytes, took = [], [], []
    for k in range(changes):
        thumb.focus()
        mark = frames.mark()
        t = time.perf_counter()
        page.keyboard.press("ArrowRight" if k % 2 == 0 else "ArrowLeft")
        wait_idle(page, settle=0.3)
        took.append(time.perf_counter() - t)
        n, b = frames.since(mark)
        if os.environ.get("KICKSPACE_BENCH_DEBUG"):
            print("release", k, n, b, page.evaluate(COUNTS), flush=True)
        msgs.append(n)
        nbytes.append(b)
    print(f"server -> browser per change (st.slider page): median {statistics.median(msgs):.0f} "
          f"WebSocket messages, {statistics.median(nbytes) / 1000:.1f} kB over {changes} changes")
    page.close()


async def _many(url: str, n: int, seconds: float, pid: int, chromium: str,
                hz: float = 60.0) -> None:
    from playwright.async_api import async_playwright
    async with async_playwright() as p:
        # background pages would have their timers throttled to once a second
        browser = await p.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS + [
            "--disable-background-timer-throttling", "--disable-renderer-backgrounding",
            "--disable-backgrounding-occluded-windows"])
        pages = []
        t = time.perf_counter()
        # one browser context: separate pages are separate Streamlit sessions, and they share
        # the HTTP cache (the WebAssembly and the decoder are fetched once)
        ctx = await browser.new_context(viewport={"width": 1200, "height": 900})
        await ctx.add_init_script(WS_COUNTER)
        for i in range(n):
            page = await ctx.new_page()
            await page.goto(f"{url}/sliders", timeout=600_000)
            pages.append(page)
        for page in pages:
            await page.wait_for_function(f"() => {{ const r = {ROOT}; return r && "
                                         f"r.dataset.mode === 'wasm' && "
                                         f"Number(r.dataset.frames) > 0 }}",
                                         timeout=600_000)
        print(f"{n} pages open and decoding in {time.perf_counter() - t:.0f} s", flush=True)
        idle, t_end = float("inf"), time.perf_counter() + max(5.0, seconds / 2)
        while time.perf_counter() < t_end:       # the quietest second (page opens settle)
            i0, iw0 = cpu_seconds(pid), time.perf_counter()
            await asyncio.sleep(1.0)
            idle = min(idle, (cpu_seconds(pid) - i0) / (time.perf_counter() - iw0))
        print(f"server idle with {n} sessions open: {idle:.3f} cores", flush=True)
        # an input event every 1000/hz ms, a release every second by the clock (not every
        # so many inputs: a page that cannot keep up still releases once a second)
        drive = f"""([seconds, hz]) => new Promise(done => {{
            const inp = {ROOT}.querySelector('input.ks-range');
            let i = 0, rel = 0; const t0 = performance.now(); let last = t0;
            const frames0 = Number({ROOT}.dataset.frames), sent0 = window.__ws.sent.length;
            const id = setInterval(() => {{
                i += 1;
                const now = performance.now();
                inp.value = String(2.5 * Math.sin((now - t0) / 320));
                inp.dispatchEvent(new Event('input', {{bubbles: true}}));
                if (now - last >= 1000) {{
                    last = now; rel += 1;
                    inp.dispatchEvent(new Event('change', {{bubbles: true}}));
                }}
                if (now - t0 > seconds * 1000) {{
                    clearInterval(id);
                    done([i, Number({ROOT}.dataset.frames) - frames0, rel,
                          window.__ws.sent.length - sent0]);
                }}
            }}, 1000 / hz);
        }})"""
        c0, w0 = cpu_seconds(pid), time.perf_counter()
        got = await asyncio.gather(*[pg.evaluate(drive, [seconds, hz]) for pg in pages])
        c1, w1 = cpu_seconds(pid), time.perf_counter()
        events = sum(g[0] for g in got)
        painted = sum(g[1] for g in got)
        releases = sum(g[2] for g in got)
        sent = sum(g[3] for g in got)
        print(f"{n} sessions dragging for {w1 - w0:.1f} s ({hz:g} input events/s asked): "
              f"{events} input events ({events / n / (w1 - w0):.1f}/s a page), {painted} "
              f"frames painted, {releases} releases ({releases / n / (w1 - w0):.2f}/s a page), "
              f"{sent} messages to the server; server CPU {c1 - c0:.2f} s = "
              f"{(c1 - c0) / (w1 - w0):.2f} cores")
        per_release = max(0.0, (c1 - c0) - idle * (w1 - w0)) / max(1, releases)
        print(f"{1000 * per_release:.1f} ms of server CPU per release (idle subtracted); "
              f"50 sessions each releasing once a second while dragging = "
              f"{50 * per_release:.2f} cores (at this run's cost per release)")
        await asyncio.sleep(5)   # let the last releases finish
        await browser.close()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--drags", type=int, default=12)
    ap.add_argument("--sessions", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--repo", default=str(REPO), help="checkout whose app.py to run")
    ap.add_argument("--messages-only", action="store_true",
                    help="only count messages per change on the st.slider page (--repo)")
    ap.add_argument("--skip-many", action="store_true", help="skip part 4")
    ap.add_argument("--page", default="sliders", choices=["sliders", "arithmetic"],
                    help="the page of parts 1-3")
    ap.add_argument("--input-hz", type=float, default=60.0,
                    help="part 4: input events a second per page (lower it where the machine "
                         "cannot decode for every page at 60 Hz; releases stay once a second)")
    ap.add_argument("--chromium", default=CHROMIUM)
    args = ap.parse_args(argv)
    repo = Path(args.repo)
    print(f"load average at start: {Path('/proc/loadavg').read_text().split()[:3]}")
    log = Path(f"/tmp/kickspace-bench-live-{os.getpid()}.log")
    proc, url = start(repo, log)
    try:
        from playwright.sync_api import sync_playwright
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=args.chromium, args=CHROMIUM_FLAGS)
            warm = browser.new_page()
            warm.goto(url + "/")
            wait_idle(warm, timeout=300)
            warm.close()
            if args.messages_only:
                messages_legacy(url, browser, args.drags)
            else:
                single_session(url, browser, args.drags, proc.pid, args.page)
            browser.close()
        if not args.messages_only and not args.skip_many:
            asyncio.run(_many(url, args.sessions, args.seconds, proc.pid, args.chromium,
                              args.input_hz))
    finally:
        stop_app(proc)
    print(f"load average at the end: {Path('/proc/loadavg').read_text().split()[:3]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
