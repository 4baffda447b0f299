"""Server-side time from a slider change to the new decoded image, on the factor-sliders page.

    python -m bench.bench_sliders [--changes 60] [--bundle checkpoints/demo]

Drives the real page with Streamlit's AppTest (the same script run the server does, in this
process, no browser): sets the top factor slider to a new value, reruns, and checks the decoded
image changed. Prints the median and 95th percentile over all changes. The first run (bundle
load, caches) is reported separately and not counted.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--changes", type=int, default=60)
    ap.add_argument("--checkpoints", default=str(REPO / "checkpoints"))
    args = ap.parse_args()
    os.environ.setdefault("KICKSPACE_CHECKPOINTS", args.checkpoints)
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=300)
    t0 = time.perf_counter()
    at.run()
    at.switch_page("pages/sliders.py")
    at.run()
    print(f"first visit (bundle load, caches): {time.perf_counter() - t0:.2f} s")
    slider = next(s for s in at.slider if s.key and s.key.startswith("d"))
    key = slider.key

    def decoded() -> list[str]:
        return [u for img in at.image for u, c in zip(img.value, img.captions) if c == "decoded"]

    times, unchanged = [], 0
    for i in range(args.changes):
        before = decoded()
        value = round(-3.0 + 6.0 * ((i * 7) % 61) / 60, 1)
        if value == at.slider(key=key).value:
            value = round(value + 0.1 if value < 3 else value - 0.1, 1)
        at.slider(key=key).set_value(value)
        t = time.perf_counter()
        at.run()
        times.append(time.perf_counter() - t)
        assert not at.exception, at.exception[0].value
        unchanged += decoded() == before
    times.sort()
    p95 = times[min(len(times) - 1, int(round(0.95 * (len(times) - 1))))]
    print(f"slider change -> new image, {len(times)} changes: median "
          f"{statistics.median(times) * 1e3:.1f} ms, p95 {p95 * 1e3:.1f} ms "
          f"(whole page rerun; {unchanged} changes left the image unchanged)")


if __name__ == "__main__":
    main()
