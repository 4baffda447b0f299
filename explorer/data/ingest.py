"""Ingest product photos into a Catalogue: a folder (+ optional catalog CSV), or Fashion-MNIST.

``python -m explorer ingest IMAGES_DIR [--catalog catalog.csv] --size 64 --out DIR``
``python -m explorer ingest --fashion-mnist [--classes footwear|all] [--split train] --out DIR``

Folder ingest never modifies the source folder and never stops on one bad file: every file or
CSV row that is left out, and every oddity that is kept, becomes an entry of the IngestReport
(what, kind, action "skipped" or "flagged", reason). The policies, also written into each
report:

- CSV structure: a CSV that is not UTF-8, has no header, no ``file``/``sku`` column, duplicate
  column names, or a quote that is never closed (it would swallow the rest of the file) is
  refused as a whole, with the line (and column) at fault. A single malformed row (wrong number
  of fields, stray quote) is skipped and reported with its line number.
- Join: on ``file`` (a path relative to the images folder) if the CSV has that column, else on
  ``sku`` (matched to file names without extension). Paths that are absolute, leave the folder
  (``..``) or resolve outside it through a symbolic link are refused.
- Duplicate SKUs: the first CSV row is kept, later rows with the same SKU are skipped.
- Images with the same pixels after preprocessing: all kept; each later one is flagged as a
  duplicate of the first (they may be distinct products sharing a placeholder photo).
- Images in the folder without a CSV row: kept with file-name metadata, flagged.
- Files whose extension is not an image extension (and not referenced by the CSV): skipped and
  listed. Hidden files and folders (name starting with ".") are ignored and only counted.

Code: the report in `ingest_report`, the catalog CSV reader in `ingest_csv`, the folder walk
and the join in `ingest_plan`, Fashion-MNIST in `fashion_mnist`; this module decodes the
images in worker processes, builds the catalogue and re-exports the public names. The command
line: explorer/cli/ingest.py.
"""
from __future__ import annotations

import io
import math
import multiprocessing
import os
import sys
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from functools import partial
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

from explorer.data.catalogue import Catalogue, metadata_to_csv_bytes, read_metadata_csv
from explorer.data.fashion_mnist import (FMNIST_CLASSES, FMNIST_DEFAULT_PATH, FMNIST_FOOTWEAR,
                                         ingest_fashion_mnist)
from explorer.data.images import WHITE, ingest_worker, parse_background
from explorer.data.ingest_csv import _NA_STRINGS, _read_catalog_csv
from explorer.data.ingest_plan import _Item, _plan_with_csv, _plan_without_csv, _walk_folder
from explorer.data.ingest_report import (FLAGGED, POLICIES, SKIPPED, IngestError, IngestReport,
                                         ReportEntry, _check_size)

__all__ = ["FLAGGED", "FMNIST_CLASSES", "FMNIST_DEFAULT_PATH", "FMNIST_FOOTWEAR", "POLICIES",
           "SKIPPED", "IngestError", "IngestReport", "ReportEntry", "ingest_fashion_mnist",
           "ingest_folder"]

_SERIAL_BELOW = 64  # fewer images than this: no worker processes (their start-up costs more)


def _default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


# =========================================================================== processing
def _mp_context() -> multiprocessing.context.BaseContext:
    # fork is cheapest, but forking a process that runs other threads (Streamlit, a tqdm
    # monitor) can deadlock; use forkserver there, spawn where neither exists.
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


def _run_all(tasks: list[tuple[str, str]], size: int, background: tuple[int, int, int],
             workers: int, progress: bool) -> Iterable[tuple]:
    fn = partial(ingest_worker, size=size, background=background)
    n = len(tasks)
    if workers <= 1 or n < _SERIAL_BELOW:
        results: Iterable[tuple] = map(fn, tasks)
        executor = None
    else:
        workers = min(workers, max(1, n // 16))
        chunksize = max(1, min(256, math.ceil(n / (workers * 8))))
        executor = ProcessPoolExecutor(max_workers=workers, mp_context=_mp_context())
        results = executor.map(fn, tasks, chunksize=chunksize)
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=n, unit="img", desc="ingest", file=sys.stderr, leave=False)
    try:
        for res in results:
            if bar is not None:
                bar.update(1)
            yield res
    except BrokenProcessPool:
        raise IngestError("a worker process died while decoding images (an image may crash "
                          "the decoder); rerun with --workers 1 to find the file") from None
    finally:
        if bar is not None:
            bar.close()
        if executor is not None:
            executor.shutdown(cancel_futures=True)


def ingest_folder(images_dir: str | os.PathLike, catalog_csv: str | os.PathLike | None = None,
                  size: int = 64, background: tuple[int, int, int] | str = WHITE,
                  workers: int | None = None, progress: bool = True,
                  name: str | None = None) -> tuple[Catalogue, IngestReport]:
    """Ingest every image under images_dir (recursively) into a Catalogue [N, size, size, 3].

    Metadata: sku, file (path relative to images_dir), name, plus the CSV's other columns when
    catalog_csv is given (joined on its 'file' column, else on 'sku' = file name without
    extension). Bad files and rows are skipped or flagged in the returned IngestReport, never
    raised; IngestError is raised only for fatal input (missing folder, unusable CSV, no
    valid image at all). The source folder is only read.
    """
    size = _check_size(size)
    try:
        bg = parse_background(background)
    except ValueError as e:
        raise IngestError(str(e)) from None
    root = Path(images_dir)
    if not root.exists():
        raise IngestError(f"images folder {root} does not exist")
    if not root.is_dir():
        raise IngestError(f"{root} is not a folder")
    root_real = os.path.realpath(root)
    report = IngestReport(images_dir=str(root),
                          catalog_csv=str(catalog_csv) if catalog_csv is not None else None)

    exclude = {os.path.realpath(catalog_csv)} if catalog_csv is not None else set()
    cat_csv = _read_catalog_csv(catalog_csv, report) if catalog_csv is not None else None
    walk = _walk_folder(root, root_real, exclude, report)
    if cat_csv is None:
        items = _plan_without_csv(walk, report)
    else:
        items = _plan_with_csv(walk, cat_csv, root, root_real, report)

    tasks = [(str(root / it.rel), it.rel) for it in items]
    n_workers = _default_workers() if workers is None else max(1, int(workers))
    images = np.empty((len(items), size, size, 3), dtype=np.uint8)
    kept: list[_Item] = []
    first_by_digest: dict[bytes, _Item] = {}
    for it, res in zip(items, _run_all(tasks, size, bg, n_workers, progress)):
        if res[0] != "ok":
            report.skip(it.origin, res[1], res[2])
            continue
        _, arr, digest = res
        images[len(kept)] = arr
        for kind, reason in it.flags:
            report.flag(it.origin, kind, reason)
        if digest in first_by_digest:
            first = first_by_digest[digest]
            it.meta["_dup_of"] = first  # reported below, once every sku is known
        else:
            first_by_digest[digest] = it
        kept.append(it)

    if not kept:
        kinds = ", ".join(f"{n} {k}" for k, n in sorted(report.kinds(SKIPPED).items()))
        raise IngestError(f"no valid images in {root}: {report.files_seen} files looked at"
                          + (f", {report.csv_rows} CSV rows" if cat_csv is not None else "")
                          + (f"; skipped: {kinds}" if kinds else ""), report)

    _assign_generated_skus(kept, report)
    for it in kept:
        first = it.meta.pop("_dup_of", None)
        if first is not None:
            report.flag(it.origin, "duplicate-image",
                        f"same pixels after preprocessing as {first.rel} (sku "
                        f"{first.meta['sku']!r}); kept")

    metadata = pd.DataFrame([it.meta for it in kept])
    # Round-trip through the on-disk CSV form so the in-memory table (and the fingerprint) is
    # exactly what Catalogue.load gives back.
    metadata = read_metadata_csv(io.BytesIO(metadata_to_csv_bytes(metadata)))
    report.ingested = len(kept)
    source = {"kind": "folder", "images_dir": str(root_real),
              "catalog_csv": os.path.realpath(catalog_csv) if catalog_csv is not None else None,
              "join": report.join, "size": size, "background": list(bg)}
    catalogue = Catalogue(np.ascontiguousarray(images[:len(kept)]), metadata,
                          name=name or root.resolve().name or "catalogue", source=source)
    return catalogue, report


def _assign_generated_skus(kept: list[_Item], report: IngestReport) -> None:
    """Items without a CSV sku get their file stem, made unique with -2, -3, ..."""
    used = {it.meta["sku"] for it in kept if it.meta["sku"] is not None}
    owner: dict[str, str] = {it.meta["sku"]: it.rel for it in kept if it.meta["sku"]}
    for it in kept:
        if it.meta["sku"] is not None:
            continue
        base = Path(it.rel).stem.strip() or "item"
        sku, k = base, 2
        while sku in used or sku in _NA_STRINGS:
            sku, k = f"{base}-{k}", k + 1
        if sku != base:
            taken = (f"already taken by {owner[base]}" if base in owner
                     else "reads as a missing value")
            report.flag(it.origin, "renamed-sku", f"sku {base!r} {taken}; sku set to {sku!r}")
        used.add(sku)
        owner[sku] = it.rel
        it.meta["sku"] = sku
