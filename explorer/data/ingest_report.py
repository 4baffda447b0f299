"""The ingest report and the ingest error: what an ingest skipped or flagged, and why.

Every file or CSV row left out of a catalogue, and every oddity kept in it, becomes a
`ReportEntry` (item, kind, action "skipped" or "flagged", reason) of the `IngestReport`, which
also carries the counts and the `POLICIES` it followed; `save` writes ingest_report.json and
ingest_report.txt. `IngestError` is fatal bad input (nothing usable), with the report so far.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from explorer.data.atomic import atomic_write_text

SKIPPED, FLAGGED = "skipped", "flagged"

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


def _check_size(size: int) -> int:
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or not 8 <= size <= 1024:
        raise IngestError(f"size must be an integer from 8 to 1024, got {size!r}")
    return int(size)
