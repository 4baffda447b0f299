"""Planning a folder ingest: walk the images folder (hidden files ignored, symbolic links
leaving it refused, undecodable names reported) and join its files to the catalog CSV rows, on
'file' (a path inside the folder) or on 'sku' (file names without extension). The result is the
list of items to decode, each with its metadata row and the flags to report if it is kept."""
from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from explorer.data.images import IMAGE_EXTENSIONS
from explorer.data.ingest_csv import _Csv
from explorer.data.ingest_report import IngestReport


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
