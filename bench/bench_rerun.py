"""Script time of one widget change on a page (AppTest: the server's work, no browser).

    python -m bench.bench_rerun [--repo CHECKOUT] [--repeats 6]

(run from the repository root.) Opens the page on the demo bundle in AppTest, makes one change
--repeats times (alternating values, so that every run has something new to do) and prints
the median and the largest script time per change. Rows: the Interpolation page's number of
steps, and the Factor sliders page's product picker (its next option).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _time(at, change) -> float:
    t = time.perf_counter()
    change(at)
    at.run()
    took = time.perf_counter() - t
    if at.exception:
        raise RuntimeError(at.exception[0].value)
    return took


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repo", default=str(REPO))
    ap.add_argument("--repeats", type=int, default=6)
    args = ap.parse_args(argv)
    repo = Path(args.repo).resolve()
    sys.path.insert(0, str(repo))
    os.chdir(repo)
    os.environ.setdefault("KICKSPACE_DATA_DIR", tempfile.mkdtemp(prefix="kickspace-rerun-"))
    from streamlit.testing.v1 import AppTest
    rows = []
    for page, what, change in [
            ("pages/interpolation.py", "steps 8 <-> 12",
             lambda at, k: at.slider(key="steps").set_value(12 if k % 2 == 0 else 8)),
            ("pages/sliders.py", "product picker: the next option",
             lambda at, k: at.selectbox(key="a__sel").select_index(1 + k % 5))]:
        at = AppTest.from_file(str(repo / "app.py"), default_timeout=600)
        at.run()
        at.switch_page(page)
        at.run()
        at.run()                                     # caches warm
        took = [_time(at, lambda a, k=k: change(a, k)) for k in range(args.repeats)]
        rows.append((page, what, statistics.median(took), max(took)))
        print(f"{page}, {what}: median {statistics.median(took) * 1000:.0f} ms, "
              f"max {max(took) * 1000:.0f} ms ({args.repeats} changes)", flush=True)
    with open("/proc/loadavg") as f:
        print("load", f.read().split()[:3])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
