"""A visitor's first browser-decoded picture on Factor sliders, and what it costs the server.

    python -m bench.bench_first_frame [--repo CHECKOUT] [--visits 5]

(run from the repository root.) Starts the app of --repo (default this checkout), then opens
/sliders --visits times, each in a fresh browser context (no HTTP cache: onnxruntime's
WebAssembly and the decoder are fetched again), timing navigation until the live decoder has
drawn its first frame in the browser, and reading the server process's CPU time (user +
system, /proc) spent on the visit. The first visit warms the server's caches and is left out.
Prints the medians and the bytes of WebAssembly fetched per visit.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

from bench.appserver import CHROMIUM, CHROMIUM_FLAGS, REPO, start_app, stop_app, wait_idle
from bench.bench_load import LIVE


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repo", default=str(REPO), help="checkout whose app.py to run")
    ap.add_argument("--visits", type=int, default=5)
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright
    repo = Path(args.repo).resolve()
    proc, url = start_app(env={"PYTHONPATH": str(repo)}, script=repo / "app.py", cwd=repo,
                          timeout=300)
    times, cpus, wasm = [], [], []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
            for k in range(args.visits):
                ctx = browser.new_context()
                page = ctx.new_page()
                got = {"bytes": 0}

                def on_response(r, got=got) -> None:
                    if r.url.split("?")[0].endswith((".wasm", ".wasm.gz")):
                        got["bytes"] += int(r.headers.get("content-length") or 0)
                page.on("response", on_response)
                c0, t = cpu_seconds(proc.pid), time.perf_counter()
                page.goto(url + "/sliders")
                page.wait_for_function(LIVE, timeout=180_000, polling=50)
                took = time.perf_counter() - t
                wait_idle(page, 60)
                time.sleep(0.5)
                if k:                              # the first visit warms the server
                    times.append(took)
                    cpus.append(cpu_seconds(proc.pid) - c0)
                    wasm.append(got["bytes"])
                ctx.close()
            browser.close()
    finally:
        stop_app(proc)
    print(f"{repo}: first browser-decoded frame median {statistics.median(times):.2f} s "
          f"({', '.join(f'{x:.2f}' for x in times)}); server CPU per visit median "
          f"{statistics.median(cpus):.2f} s; WebAssembly fetched {statistics.median(wasm):,.0f} "
          f"bytes; load {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
