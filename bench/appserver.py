"""The running app for browser checks: start `streamlit run app.py` on a free local port, stop
it, launch flags for Debian's headless Chromium, and "wait until the script has finished".

Shared by the browser tests (tests/test_browser*.py) and the browser benchmarks
(bench/bench_map.py, bench/bench_load.py)::

    proc, url = start_app(env={"KICKSPACE_CHECKPOINTS": "..."}, log=Path("server.log"))
    try:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        ...
        wait_idle(page)
    finally:
        stop_app(proc)
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("KICKSPACE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu",
                  "--disable-background-networking", "--disable-component-update"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(env: dict[str, str | None] | None = None, log: Path | None = None,
              timeout: float = 120.0, launcher: list[str] | None = None,
              script: Path | None = None, cwd: Path | None = None
              ) -> tuple[subprocess.Popen, str]:
    """Start the app on 127.0.0.1 and wait for its health check: (process, base URL).

    env: variables to set on top of this process's environment (None removes one). log: where
    the server's output goes (default: a temporary file). launcher: what follows the Python
    executable instead of ``-m streamlit`` (e.g. ``["-m", "bench.gc_probe"]``). script / cwd:
    another Streamlit script (default this repo's app.py) / working folder (default the
    repo). Raises RuntimeError with the end of
    the log when the server exits or is not up within timeout seconds."""
    port = free_port()
    full = {**os.environ, "PYTHONUNBUFFERED": "1"}
    for key, value in (env or {}).items():
        if value is None:
            full.pop(key, None)
        else:
            full[key] = value
    log = Path(log) if log else Path(tempfile.mkstemp(prefix="kickspace-server-",
                                                      suffix=".log")[1])
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, *(launcher or ["-m", "streamlit"]), "run",
             str(script or REPO / "app.py"),
             "--server.headless=true", f"--server.port={port}", "--server.address=127.0.0.1",
             "--browser.gatherUsageStats=false"],
            cwd=cwd or REPO, env=full, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited: {log.read_text()[-2000:]}")
        try:
            urllib.request.urlopen(url + "/_stcore/health", timeout=2)
            return proc, url
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError(f"streamlit did not come up within {timeout:.0f} s "
                       f"({log.read_text()[-2000:]})")


def stop_app(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def wait_idle(page, timeout: float = 60.0, settle: float = 0.5, poll: float = 0.2) -> None:
    """Wait (Playwright sync page) until Streamlit has finished running the script: the app
    view is there and the "running" status widget is gone. TimeoutError after timeout s."""
    page.wait_for_selector("[data-testid='stAppViewContainer']", timeout=timeout * 1000)
    time.sleep(settle)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if page.query_selector("[data-testid='stStatusWidget']") is None:
            return
        time.sleep(poll)
    raise TimeoutError("the app kept running for too long")
