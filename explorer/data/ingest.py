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
"""
from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
import math
import multiprocessing
import os
import posixpath
import re
import struct
import sys
import threading
import zlib
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Iterable, NamedTuple, Sequence

import numpy as np
import pandas as pd
from PIL import Image

from explorer.data.atomic import atomic_write_text
from explorer.data.catalogue import Catalogue, metadata_to_csv_bytes, read_metadata_csv
from explorer.data.images import IMAGE_EXTENSIONS, WHITE, ingest_worker, parse_background

SKIPPED, FLAGGED = "skipped", "flagged"
_SERIAL_BELOW = 64  # fewer images than this: no worker processes (their start-up costs more)

POLICIES = (
    "Malformed CSV rows (wrong number of fields, stray quotes) are skipped and listed with "
    "their line number; a CSV that is not UTF-8, lacks a header or a 'file'/'sku' column, has "
    "duplicate column names or an unclosed quote is refused as a whole.",
    "Duplicate SKUs: the first CSV row is kept, later rows with the same SKU are skipped.",
    "Images with the same pixels after preprocessing are all kept; later ones are flagged as "
    "duplicates of the first.",
    "Images without a CSV row are kept with file-name metadata (sku and name from the file "
    "name) and flagged.",
    "Files without an image extension are skipped unless a CSV row names them; hidden files "
    "and folders are ignored (counted only).",
)

# Cells pandas reads as missing (its default na_values); we treat them the same way so that a
# catalogue reads back exactly as it was built.
_NA_STRINGS = frozenset({
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
    "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
})

FMNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                  "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
FMNIST_FOOTWEAR = (5, 7, 9)
FMNIST_DEFAULT_PATH = "/usr/share/datasets/fashion-mnist"


class IngestError(ValueError):
    """Fatal bad input: nothing usable could be ingested. ``report`` is set when one exists."""

    def __init__(self, message: str, report: "IngestReport | None" = None):
        super().__init__(message)
        self.report = report


# =========================================================================== the report
class ReportEntry(NamedTuple):
    item: str     # a path relative to the images folder, or "catalog.csv:LINE"
    kind: str     # short stable tag, e.g. corrupt, missing-file, duplicate-sku
    action: str   # "skipped" (not in the catalogue) or "flagged" (kept, worth a look)
    reason: str   # human-readable, says what was wrong


@dataclass
class IngestReport:
    """What an ingest skipped or flagged, and why. ``entries`` keeps the order found."""

    images_dir: str = ""
    catalog_csv: str | None = None
    entries: list[ReportEntry] = field(default_factory=list)
    files_seen: int = 0       # files found in the folder (not hidden)
    hidden_ignored: int = 0   # hidden files/folders ignored
    csv_rows: int = 0         # data rows in the CSV, malformed ones included
    ingested: int = 0         # images in the resulting catalogue
    join: str | None = None   # "file", "sku" or None (no CSV)
    policies: tuple[str, ...] = POLICIES

    def skip(self, item: str, kind: str, reason: str) -> None:
        self.entries.append(ReportEntry(item, kind, SKIPPED, reason))

    def flag(self, item: str, kind: str, reason: str) -> None:
        self.entries.append(ReportEntry(item, kind, FLAGGED, reason))

    @property
    def skipped(self) -> list[ReportEntry]:
        return [e for e in self.entries if e.action == SKIPPED]

    @property
    def flagged(self) -> list[ReportEntry]:
        return [e for e in self.entries if e.action == FLAGGED]

    @property
    def counts(self) -> dict[str, Any]:
        by_kind: dict[str, dict[str, int]] = {}
        for e in self.entries:
            by_kind.setdefault(e.kind, {SKIPPED: 0, FLAGGED: 0})[e.action] += 1
        return {"files_seen": self.files_seen, "hidden_ignored": self.hidden_ignored,
                "csv_rows": self.csv_rows, "ingested": self.ingested,
                "skipped": len(self.skipped), "flagged": len(self.flagged),
                "by_kind": dict(sorted(by_kind.items()))}

    def kinds(self, action: str | None = None) -> dict[str, int]:
        """{kind: number of entries}, optionally for one action."""
        out: dict[str, int] = {}
        for e in self.entries:
            if action is None or e.action == action:
                out[e.kind] = out.get(e.kind, 0) + 1
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"images_dir": self.images_dir, "catalog_csv": self.catalog_csv,
                "join": self.join, "counts": self.counts, "policies": list(self.policies),
                "entries": [e._asdict() for e in self.entries]}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def summary(self) -> str:
        c = self.counts
        return (f"{c['ingested']} images ingested from {c['files_seen']} files"
                + (f" and {c['csv_rows']} CSV rows" if self.catalog_csv else "")
                + f"; {c['skipped']} skipped, {c['flagged']} flagged")

    def to_text(self) -> str:
        lines = [f"Ingest report for {self.images_dir}"]
        if self.catalog_csv:
            lines.append(f"Catalog CSV: {self.catalog_csv} (joined on '{self.join}')")
        lines.append(self.summary())
        if self.hidden_ignored:
            lines.append(f"{self.hidden_ignored} hidden files/folders ignored")
        for action in (SKIPPED, FLAGGED):
            group = [e for e in self.entries if e.action == action]
            if not group:
                continue
            kinds = ", ".join(f"{k} {n}" for k, n in sorted(self.kinds(action).items()))
            lines += ["", f"{action.upper()} ({len(group)}: {kinds})"]
            lines += [f"  {e.item}  [{e.kind}]  {e.reason}" for e in group]
        lines += ["", "Policies:"] + [f"  - {p}" for p in self.policies]
        return "\n".join(lines) + "\n"

    def save(self, out_dir: str | os.PathLike) -> None:
        """Write ingest_report.json and ingest_report.txt into out_dir (atomically)."""
        out = Path(out_dir)
        atomic_write_text(out / "ingest_report.json", self.to_json())
        atomic_write_text(out / "ingest_report.txt", self.to_text())


# =========================================================================== small helpers
def _printable(text: str) -> str:
    """File names may hold undecodable bytes (surrogates) or newlines; make them safe to print."""
    text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return text.replace("\n", "\\n").replace("\r", "\\r")


def _has_surrogates(text: str) -> bool:
    try:
        text.encode("utf-8")
        return False
    except UnicodeEncodeError:
        return True


def _is_within(path_real: str, root_real: str) -> bool:
    return path_real == root_real or path_real.startswith(root_real.rstrip(os.sep) + os.sep)


def _check_size(size: int) -> int:
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or not 8 <= size <= 1024:
        raise IngestError(f"size must be an integer from 8 to 1024, got {size!r}")
    return int(size)


def _default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _is_missing(value: str | None) -> bool:
    return value is None or value.strip() in _NA_STRINGS


# =========================================================================== folder walk
@dataclass
class _Walk:
    images: list[str] = field(default_factory=list)  # relative posix paths, image extensions
    others: list[str] = field(default_factory=list)  # relative posix paths, other extensions


def _walk_folder(root: Path, root_real: str, exclude_real: set[str],
                 report: IngestReport) -> _Walk:
    """Regular files under root, sorted, hidden ones ignored, unsafe ones reported."""
    found = _Walk()
    errors: list[OSError] = []
    for dirpath, dirnames, filenames in os.walk(root, onerror=errors.append, followlinks=False):
        rel_dir = os.path.relpath(dirpath, root)
        rel_dir = "" if rel_dir == "." else rel_dir.replace(os.sep, "/")
        keep = []
        for d in sorted(dirnames):
            rel = posixpath.join(rel_dir, d)
            if d.startswith("."):
                report.hidden_ignored += 1
            elif os.path.islink(os.path.join(dirpath, d)):
                report.skip(_printable(rel), "symlinked-folder",
                            "symbolic link to a folder: not followed")
            else:
                keep.append(d)
        dirnames[:] = keep
        for fn in sorted(filenames):
            if fn.startswith("."):
                report.hidden_ignored += 1
                continue
            full = os.path.join(dirpath, fn)
            rel = posixpath.join(rel_dir, fn)
            real = os.path.realpath(full)
            if real in exclude_real:  # the catalog CSV itself
                continue
            report.files_seen += 1
            if _has_surrogates(rel):
                report.skip(_printable(rel), "bad-file-name",
                            "file name is not valid UTF-8 and cannot be stored in the catalogue")
                continue
            if os.path.islink(full):
                if not os.path.exists(full):
                    report.skip(rel, "missing-file", "broken symbolic link")
                    continue
                if not _is_within(real, root_real):
                    report.skip(rel, "outside-folder",
                                f"symbolic link points outside the images folder ({real})")
                    continue
            if not os.path.isfile(full):
                report.skip(rel, "unreadable", "not a regular file")
                continue
            ext = os.path.splitext(fn)[1].lower()
            (found.images if ext in IMAGE_EXTENSIONS else found.others).append(rel)
    for err in errors:
        where = os.path.relpath(err.filename, root) if err.filename else str(root)
        report.skip(_printable(where.replace(os.sep, "/")), "unreadable",
                    f"cannot list folder ({err.strerror or err})")

    def key(rel: str) -> list[tuple[int, str]]:  # a folder's files first, then its subfolders
        *dirs, name = rel.split("/")
        return [(1, d) for d in dirs] + [(0, name)]

    found.images.sort(key=key)
    found.others.sort(key=key)
    return found


# =========================================================================== CSV reading
@dataclass
class _Csv:
    columns: list[str]                 # canonical names ("file", "sku", "name" lower-cased)
    frame: pd.DataFrame                # good rows, values parsed like pandas.read_csv does
    lines: list[int]                   # CSV line number of each frame row
    label: str                         # file name used in report items


def _canonical_columns(header: list[str], label: str, line: int) -> list[str]:
    out: list[str] = []
    for i, raw in enumerate(header, start=1):
        name = raw.strip()
        if name.lower() in ("file", "sku", "name"):
            name = name.lower()
        if not name:
            name = f"column_{i}"
        if name in out:
            raise IngestError(f"{label} line {line} (header): column {i} '{name}' appears twice; "
                              f"column names must be unique")
        out.append(name)
    return out


_FIELD_END = re.compile(r"[,\r\n]")


def _oversized_field(text: str, start_line: int, limit: int) -> str:
    """Which field of the record starting at `start_line` (1-based) outgrew the csv module's
    limit: "unquoted", "quoted" (closed further on) or "unclosed" (its quote never ends)."""
    pos = 0
    for _ in range(start_line - 1):
        pos = text.find("\n", pos) + 1
        if pos == 0:
            return "unclosed"
    n = len(text)
    while pos < n:
        if text[pos] == '"':  # a quoted field: runs to a quote not followed by another
            i = pos + 1
            while True:
                q = text.find('"', i)
                if q < 0:
                    return "unclosed"
                if q + 1 < n and text[q + 1] == '"':
                    i = q + 2
                    continue
                break
            if q - pos - 1 > limit:
                return "quoted"
            m = _FIELD_END.search(text, q + 1)
        else:
            m = _FIELD_END.search(text, pos)
            if (m.start() if m else n) - pos > limit:
                return "unquoted"
        if not m or m.group() != ",":
            return "unclosed"
        pos = m.end()
    return "unclosed"


def _read_catalog_csv(path: str | os.PathLike, report: IngestReport) -> _Csv:
    """Parse the catalog CSV: fatal problems raise IngestError, bad rows go to the report."""
    p = Path(path)
    label = p.name
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise IngestError(f"catalog CSV {p}: file not found") from None
    except OSError as e:
        raise IngestError(f"catalog CSV {p}: cannot read ({e.strerror or e})") from None
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise IngestError(f"catalog CSV {p}: looks like UTF-16 text; expected UTF-8 "
                          f"(re-save it as 'CSV UTF-8')")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        bom = 3 if raw.startswith(b"\xef\xbb\xbf") else 0
        start = e.start + bom
        line = raw.count(b"\n", 0, start) + 1
        col = start - (raw.rfind(b"\n", 0, start) + 1) + 1
        raise IngestError(f"catalog CSV {p}: not UTF-8 text: line {line}, byte {col} is "
                          f"0x{raw[start]:02x} (expected UTF-8; re-save the file as "
                          f"'CSV UTF-8')") from None

    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header: list[str] | None = None
    columns: list[str] = []
    rows: list[list[str]] = []
    lines: list[int] = []
    last_line = 0
    while True:
        start_line = last_line + 1
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as e:
            end_line = reader.line_num
            last_line = end_line
            msg = str(e)
            if "field larger than field limit" in msg:
                what = _oversized_field(text, start_line, csv.field_size_limit())
                if what != "unclosed":
                    raise IngestError(
                        f"catalog CSV {p}: line {start_line}: a {what} cell is longer than "
                        f"{csv.field_size_limit() // 1024} KiB, which no product attribute "
                        f"needs; shorten it (is a whole file or an image pasted in a cell?)"
                    ) from None
            if "unexpected end of data" in msg or "field larger than field limit" in msg:
                raise IngestError(f"catalog CSV {p}: line {start_line}: a quoted field is "
                                  f"never closed (it would swallow lines {start_line}-"
                                  f"{end_line}); check the quotes on that line") from None
            if header is None:
                raise IngestError(f"catalog CSV {p}: line {start_line} (header): malformed "
                                  f"({msg})") from None
            report.csv_rows += 1
            report.skip(f"{label}:{start_line}", "malformed-row",
                        f"line {start_line}: malformed CSV row ({msg}); row skipped")
            continue
        last_line = reader.line_num
        if not record or all(not c.strip() for c in record):
            continue  # blank line
        if header is None:
            header = record
            columns = _canonical_columns(header, f"catalog CSV {p}:", start_line)
            if "file" not in columns and "sku" not in columns:
                found = ", ".join(repr(c) for c in columns)
                raise IngestError(
                    f"catalog CSV {p}: line {start_line} (header): no 'file' or 'sku' column "
                    f"(found {found}); expected a 'file' column with paths relative to the "
                    f"images folder, or a 'sku' column matching image file names without "
                    f"extension")
            continue
        report.csv_rows += 1
        if len(record) != len(columns):
            report.skip(f"{label}:{start_line}", "malformed-row",
                        f"line {start_line}: expected {len(columns)} fields "
                        f"({', '.join(columns)}) but found {len(record)}; row skipped")
            continue
        rows.append(record)
        lines.append(start_line)
    if header is None:
        raise IngestError(f"catalog CSV {p}: empty (no header line)")

    # Parse the good rows the way pandas.read_csv would, so that types (numbers, NaN) are the
    # same as when the saved catalogue is loaded again.
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(rows)
    buf.seek(0)
    text_cols = {c: str for c in ("file", "sku", "name") if c in columns}
    frame = pd.read_csv(buf, dtype=text_cols, keep_default_na=True, skip_blank_lines=False)
    if len(frame) != len(lines):  # would misalign rows and line numbers
        raise IngestError(f"catalog CSV {p}: could not be parsed consistently "
                          f"({len(lines)} rows read, {len(frame)} parsed)")
    return _Csv(columns=columns, frame=frame, lines=lines, label=label)


# =========================================================================== planning
@dataclass
class _Item:
    rel: str                          # path relative to the images folder (posix)
    meta: dict[str, Any]              # metadata row; "sku" None = generate from file name
    flags: list[tuple[str, str]]      # (kind, reason) to report if the image is kept
    origin: str                       # how to name it in the report


def _resolve_csv_path(value: str, root: Path, root_real: str) -> tuple[str | None, str, str]:
    """(normalised relative path or None, kind, reason) for a CSV 'file' cell."""
    v = value.strip()
    if v.startswith(("/", "\\")) or os.path.isabs(v) or (len(v) > 1 and v[1] == ":"):
        return None, "outside-folder", f"absolute path {v!r} refused (paths must be " \
                                       f"relative to the images folder)"
    norm = posixpath.normpath(v)
    if norm == ".." or norm.startswith("../"):
        return None, "outside-folder", f"path {v!r} leaves the images folder; refused"
    full = root / norm
    real = os.path.realpath(full)
    if not _is_within(real, root_real):
        return None, "outside-folder", (f"path {v!r} resolves outside the images folder "
                                        f"(symbolic link); refused")
    if not os.path.lexists(full):
        return None, "missing-file", f"file {v!r} not found in the images folder"
    if not os.path.isfile(full):
        return None, "missing-file", f"{v!r} is not a file"
    return norm, "", ""


def _plan_without_csv(walk: _Walk, report: IngestReport) -> list[_Item]:
    for rel in walk.others:
        report.skip(rel, "not-an-image-extension",
                    f"extension {os.path.splitext(rel)[1] or '(none)'!r} is not an image "
                    f"extension; file ignored")
    return [_Item(rel, {"sku": None, "file": rel, "name": Path(rel).stem}, [], rel)
            for rel in walk.images]


def _plan_with_csv(walk: _Walk, cat: _Csv, root: Path, root_real: str,
                   report: IngestReport) -> list[_Item]:
    frame, columns = cat.frame, cat.columns
    extra = [c for c in columns if c not in ("sku", "file", "name")]
    join = "file" if "file" in columns else "sku"
    report.join = join
    items: list[_Item] = []
    used_files: dict[str, int] = {}     # rel -> line
    used_skus: dict[str, int] = {}      # sku -> line
    dropped_rows: dict[str, int] = {}   # rel -> line of a row naming it that was skipped
    stems: dict[str, list[str]] = {}
    for rel in walk.images:
        stems.setdefault(Path(rel).stem, []).append(rel)

    records = frame.to_dict("records")
    for line, rec in zip(cat.lines, records):
        where = f"{cat.label}:{line}"
        sku_val = rec.get("sku")
        sku = None if sku_val is None or pd.isna(sku_val) else str(sku_val).strip() or None
        flags: list[tuple[str, str]] = []
        if join == "file":
            file_val = rec.get("file")
            if file_val is None or pd.isna(file_val) or not str(file_val).strip():
                report.skip(where, "empty-key",
                            f"line {line}: empty or missing-value 'file'; row skipped")
                continue
            rel, kind, reason = _resolve_csv_path(str(file_val), root, root_real)
            if rel is None:
                report.skip(where, kind, f"line {line}: {reason}")
                continue
            if rel in used_files:
                report.skip(where, "duplicate-file-row",
                            f"line {line}: file {rel!r} already used by line {used_files[rel]}; "
                            f"row skipped")
                continue
            if sku is None and "sku" in columns:
                flags.append(("empty-sku", f"line {line}: empty sku; generated from the file "
                                           f"name"))
        else:
            if sku is None:
                report.skip(where, "empty-key", f"line {line}: empty or missing-value 'sku' "
                                                f"(e.g. NA, null); row skipped")
                continue
            matches = stems.get(sku, [])
            if not matches:
                report.skip(where, "missing-file",
                            f"line {line}: no image file named {sku!r} (any extension) in the "
                            f"images folder; row skipped")
                continue
            rel = matches[0]
            if len(matches) > 1:
                flags.append(("ambiguous-sku",
                              f"line {line}: sku {sku!r} matches {len(matches)} files "
                              f"({', '.join(matches)}); used {rel}"))
        if sku is not None:
            if sku in used_skus:
                dropped_rows.setdefault(rel, line)
                report.skip(where, "duplicate-sku",
                            f"line {line}: sku {sku!r} already used by line {used_skus[sku]} "
                            f"(first row kept); row skipped")
                continue
            used_skus[sku] = line
        used_files[rel] = line
        meta: dict[str, Any] = {"sku": sku, "file": rel}
        name_val = rec.get("name") if "name" in columns else Path(rel).stem
        meta["name"] = name_val
        for c in extra:
            meta[c] = rec.get(c)
        items.append(_Item(rel, meta, flags, f"{rel} ({where})"))

    for rel in walk.images:
        if rel in used_files:
            continue
        meta = {"sku": None, "file": rel, "name": Path(rel).stem, **{c: np.nan for c in extra}}
        why = (f"its row in {cat.label} (line {dropped_rows[rel]}) was skipped"
               if rel in dropped_rows else f"no row in {cat.label}")
        items.append(_Item(rel, meta, [("no-csv-row", f"{why}; kept with file-name "
                                                       f"metadata")], rel))
    for rel in walk.others:
        if rel not in used_files:
            report.skip(rel, "not-an-image-extension",
                        f"extension {os.path.splitext(rel)[1] or '(none)'!r} is not an image "
                        f"extension and no CSV row names it; file ignored")
    return items


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


# =========================================================================== Fashion-MNIST
def _idx_file(folder: Path, stem: str) -> Path:
    for cand in (folder / f"{stem}.gz", folder / stem):
        if cand.is_file():
            return cand
    raise IngestError(f"Fashion-MNIST file {folder / (stem + '.gz')} not found "
                      f"(install it with: apt-get install dataset-fashion-mnist)")


def _read_idx(path: Path, magic: int, item_shape: tuple[int, ...],
              count: int | None = None) -> tuple[np.ndarray, int]:
    """(uint8 array [n, *item_shape], item count in the header) from an IDX file (.gz or not).

    count: read only the first ``count`` items (the header and length are still checked
    against what is read).
    """
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            head = f.read(4)
            if len(head) < 4:
                raise IngestError(f"{path}: too short to be an IDX file")
            got = struct.unpack(">I", head)[0]
            if got != magic:
                raise IngestError(f"{path}: bad magic number 0x{got:08x}, expected "
                                  f"0x{magic:08x} (not a Fashion-MNIST "
                                  f"{'images' if len(item_shape) else 'labels'} file)")
            ndim = magic & 0xFF
            dims_raw = f.read(4 * ndim)
            if len(dims_raw) < 4 * ndim:
                raise IngestError(f"{path}: truncated IDX header")
            dims = struct.unpack(f">{ndim}I", dims_raw)
            if tuple(dims[1:]) != item_shape:
                raise IngestError(f"{path}: items of shape {tuple(dims[1:])}, expected "
                                  f"{item_shape}")
            n = dims[0] if count is None else min(dims[0], count)
            per = int(np.prod(item_shape, dtype=np.int64)) if item_shape else 1
            data = f.read(n * per)
            if len(data) < n * per:
                raise IngestError(f"{path}: truncated: header says {dims[0]} items but the "
                                  f"data ends after {len(data) // per}")
            if count is None and f.read(1):
                raise IngestError(f"{path}: more data than the header's {dims[0]} items")
    except IngestError:
        raise
    except (OSError, EOFError, zlib.error) as e:
        raise IngestError(f"{path}: unreadable or not a valid (gzipped) IDX file "
                          f"({type(e).__name__}: {e})") from None
    return np.frombuffer(data, dtype=np.uint8).reshape((n, *item_shape)), int(dims[0])


def _resolve_classes(classes: str | Sequence[int | str]) -> list[int]:
    if isinstance(classes, str):
        key = classes.strip().lower()
        if key == "footwear":
            return list(FMNIST_FOOTWEAR)
        if key == "all":
            return list(range(10))
        classes = [c.strip() for c in classes.split(",")]
    out = []
    lower = [c.lower() for c in FMNIST_CLASSES]
    for c in classes:
        if isinstance(c, (int, np.integer)) and 0 <= int(c) < 10:
            out.append(int(c))
        elif isinstance(c, str) and c.strip().isdigit() and 0 <= int(c) < 10:
            out.append(int(c))
        elif isinstance(c, str) and c.strip().lower() in lower:
            out.append(lower.index(c.strip().lower()))
        else:
            raise IngestError(f"unknown Fashion-MNIST class {c!r}: use 'footwear', 'all', "
                              f"0-9 or one of {', '.join(FMNIST_CLASSES)}")
    return sorted(set(out))


def _upscale_grey(items: np.ndarray, size: int) -> np.ndarray:
    """uint8 [n, 28, 28] light-on-black -> uint8 [n, size, size, 3] dark-on-white."""
    inv = 255 - items
    if size == inv.shape[1]:
        grey = inv
    else:
        resample = (Image.Resampling.BICUBIC if size > inv.shape[1]
                    else Image.Resampling.LANCZOS)
        grey = np.empty((len(inv), size, size), dtype=np.uint8)
        for i, a in enumerate(inv):
            grey[i] = np.asarray(Image.fromarray(a, mode="L").resize((size, size), resample))
    return np.repeat(grey[..., None], 3, axis=3)


def ingest_fashion_mnist(path: str | os.PathLike = FMNIST_DEFAULT_PATH,
                         classes: str | Sequence[int | str] = "footwear",
                         split: str = "train", size: int = 64,
                         limit: int | None = None) -> Catalogue:
    """Fashion-MNIST as a Catalogue [N, size, size, 3], products dark on white.

    classes: "footwear" (Sandal, Sneaker, Ankle boot), "all", or class indices/names.
    split: "train", "test" or "all" (train first). limit: at most this many items (in file
    order), reading only as much of the image files as needed.
    Metadata: sku ("FMNIST-train-000123"), name ("Sneaker #123"), class, split, index.
    """
    size = _check_size(size)
    if split not in ("train", "test", "all"):
        raise IngestError(f"split must be 'train', 'test' or 'all', got {split!r}")
    if limit is not None and (isinstance(limit, bool) or int(limit) < 1):
        raise IngestError(f"limit must be a positive integer, got {limit!r}")
    wanted = _resolve_classes(classes)
    folder = Path(path)
    if not folder.is_dir():
        raise IngestError(f"Fashion-MNIST folder {folder} not found "
                          f"(install it with: apt-get install dataset-fashion-mnist)")
    parts_img, parts_meta = [], []
    remaining = None if limit is None else int(limit)
    for sp in (("train", "test") if split == "all" else (split,)):
        if remaining == 0:
            break
        prefix = "train" if sp == "train" else "t10k"
        labels, n_labels = _read_idx(_idx_file(folder, f"{prefix}-labels-idx1-ubyte"),
                                     0x00000801, ())
        idx = np.flatnonzero(np.isin(labels, wanted))
        if remaining is not None:
            idx = idx[:remaining]
            remaining -= len(idx)
        img_path = _idx_file(folder, f"{prefix}-images-idx3-ubyte")
        need = int(idx[-1]) + 1 if len(idx) else 0
        imgs, n_images = _read_idx(img_path, 0x00000803, (28, 28),
                                   count=None if limit is None else need)
        if n_images != n_labels:
            raise IngestError(f"{img_path}: {n_images} images but the labels file has "
                              f"{n_labels} labels")
        parts_img.append(_upscale_grey(imgs[idx], size))
        parts_meta.append(pd.DataFrame({
            "sku": [f"FMNIST-{sp}-{i:06d}" for i in idx],
            "name": [f"{FMNIST_CLASSES[labels[i]]} #{i}" for i in idx],
            "class": [FMNIST_CLASSES[labels[i]] for i in idx],
            "split": sp,
            "index": idx.astype(np.int64),
        }))
    images = np.concatenate(parts_img) if parts_img else np.empty((0, size, size, 3), np.uint8)
    if len(images) == 0:
        raise IngestError("no Fashion-MNIST items match the classes/split asked for")
    metadata = read_metadata_csv(io.BytesIO(metadata_to_csv_bytes(
        pd.concat(parts_meta, ignore_index=True))))
    class_spec: Any = classes if isinstance(classes, str) else [FMNIST_CLASSES[c] for c in wanted]
    cname = classes if isinstance(classes, str) and "," not in classes else "custom"
    return Catalogue(images, metadata, name=f"fashion-mnist-{cname}-{split}",
                     source={"kind": "fashion-mnist", "classes": class_spec, "split": split,
                             "class_names": [FMNIST_CLASSES[c] for c in wanted],
                             "size": size, "limit": limit, "path": str(folder)})


# =========================================================================== CLI
def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("images_dir", nargs="?", metavar="IMAGES_DIR",
                        help="folder of product photos (searched recursively)")
    parser.add_argument("--catalog", metavar="CSV",
                        help="catalog CSV with a 'file' (relative path) or 'sku' column")
    parser.add_argument("--fashion-mnist", action="store_true",
                        help="ingest Fashion-MNIST instead of a folder")
    parser.add_argument("--fmnist-path", default=FMNIST_DEFAULT_PATH, metavar="P",
                        help=f"Fashion-MNIST folder (default {FMNIST_DEFAULT_PATH})")
    parser.add_argument("--classes", default="footwear",
                        help="Fashion-MNIST classes: footwear (default), all, or a comma list")
    parser.add_argument("--split", default="train", choices=("train", "test", "all"))
    parser.add_argument("--limit", type=int, metavar="N", help="at most N Fashion-MNIST items")
    parser.add_argument("--size", type=int, default=64, help="square image size (default 64)")
    parser.add_argument("--out", required=True, metavar="DIR", help="catalogue folder to write")
    parser.add_argument("--background", default="white",
                        help="padding/transparency colour: white (default), a name or #RRGGBB")
    parser.add_argument("--workers", type=int, metavar="N",
                        help="worker processes (default: all CPUs)")
    parser.add_argument("--name", help="catalogue name (default: the folder's name)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _fail(message: str) -> int:
    print(f"error: {' '.join(str(message).split())}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    out = Path(args.out)
    try:
        if args.fashion_mnist:
            if args.images_dir or args.catalog:
                return _fail("--fashion-mnist takes no IMAGES_DIR or --catalog")
            cat = ingest_fashion_mnist(args.fmnist_path, classes=args.classes, split=args.split,
                                       size=args.size, limit=args.limit)
            if args.name:
                cat.name = args.name
            cat.save(out)
            for stale in ("ingest_report.json", "ingest_report.txt"):  # from an older ingest
                (out / stale).unlink(missing_ok=True)
            print(f"{len(cat)} Fashion-MNIST images ({', '.join(cat.source['class_names'])}; "
                  f"{args.split}) at {cat.size}px -> {out} (fingerprint {cat.fingerprint})")
            return 0
        if not args.images_dir:
            return _fail("IMAGES_DIR is required (or use --fashion-mnist)")
        images_real = os.path.realpath(args.images_dir)
        if _is_within(os.path.realpath(out), images_real):
            return _fail(f"--out {out} is inside the images folder {args.images_dir}; the "
                         f"source folder is never written to, choose another folder")
        if args.workers is not None and args.workers < 1:
            return _fail("--workers must be at least 1")
        cat, report = ingest_folder(args.images_dir, args.catalog, size=args.size,
                                    background=args.background, workers=args.workers,
                                    progress=not args.no_progress, name=args.name)
        cat.save(out)
        report.save(out)
        print(report.to_text(), end="")
        print(f"wrote {len(cat)} images at {cat.size}px to {out} (fingerprint "
              f"{cat.fingerprint}); report: {out / 'ingest_report.txt'}")
        return 0
    except IngestError as e:
        if e.report is not None:
            print(e.report.to_text(), end="")
        return _fail(str(e))
    except (ValueError, OSError) as e:
        return _fail(f"{type(e).__name__}: {e}" if isinstance(e, OSError) else str(e))
