"""`python -m bench.gc_probe run app.py ...`: streamlit's command line, with every
gc.collect() call timed and appended to $KICKSPACE_GC_LOG (one line: seconds, generation,
objects collected, objects still tracked afterwards, objects frozen). Streamlit's script
runner calls gc.collect(2) after each run (runner.postScriptGC); bench/bench_gc.py reads the
log."""
from __future__ import annotations

import gc
import os
import sys
import time

_collect = gc.collect
_LOG = os.environ.get("KICKSPACE_GC_LOG")


def _timed_collect(generation: int = 2) -> int:
    t = time.perf_counter()
    n = _collect(generation)
    dt = time.perf_counter() - t
    if _LOG:
        with open(_LOG, "a") as f:
            f.write(f"{dt:.6f} {generation} {n} {len(gc.get_objects())} "
                    f"{gc.get_freeze_count()}\n")
    return n


gc.collect = _timed_collect

if __name__ == "__main__":
    from streamlit.web.cli import main
    sys.argv = ["streamlit", *sys.argv[1:]]
    main()
