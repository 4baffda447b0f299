"""Tags as CSV, out and in, for spreadsheets (a mixin over `db.StoreBase`).

`export_csv` writes every tag with formula-like cells neutralised by a leading apostrophe;
`import_csv` reads such a file back (or a hand-written one with sku and tag columns) as one
undoable action, skipping bad rows with their line and reason and refusing a malformed file
as a whole.
"""
from __future__ import annotations

import csv
import io
import sqlite3
from dataclasses import dataclass, field
from typing import Iterable

from explorer.store.db import _NothingChanged, _now, _plural
from explorer.store.validation import _check_sku, _check_user, normalize_tag

MAX_IMPORT_BYTES = 50 * 1024 * 1024
CSV_COLUMNS = ("sku", "tag", "changed_at", "changed_by")


# A spreadsheet treats a cell starting with one of these as a formula (or strips it and then
# does); a leading apostrophe makes it plain text. Cells starting with an apostrophe get one
# more, so that stripping one apostrophe on import is always lossless.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


# ---------------------------------------------------------------------------- CSV cells
def neutralize_cell(text: str) -> str:
    """A cell that a spreadsheet will show as text: prefix ' to formula-like cells (starting
    with = + - @, tab or CR) and to cells already starting with ' (so import is lossless)."""
    if text and (text.startswith(_FORMULA_START) or text.startswith("'")):
        return "'" + text
    return text


def unneutralize_cell(text: str) -> str:
    """Inverse of `neutralize_cell`: drop the one apostrophe it added. A hand-written cell
    like "'90s" (apostrophe not followed by a formula character) is kept as it is."""
    if len(text) >= 2 and text[0] == "'" and (text[1] == "'" or text[1] in _FORMULA_START):
        return text[1:]
    return text


# ---------------------------------------------------------------------------- results
@dataclass(frozen=True)
class SkippedRow:
    line: int          # line number in the CSV file (the header is line 1)
    sku: str
    tag: str
    reason: str


@dataclass
class ImportResult:
    """What `import_csv` did. `error` is set (and nothing was imported) for a malformed file."""

    added: int = 0
    already_tagged: int = 0
    skipped: list[SkippedRow] = field(default_factory=list)
    error: str | None = None
    error_line: int | None = None
    action_id: int | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def skipped_by_reason(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for s in self.skipped:
            out[s.reason] = out.get(s.reason, 0) + 1
        return out

    def summary(self) -> str:
        if self.error:
            return f"nothing imported: {self.error}"
        parts = [f"{self.added} tag(s) added"]
        if self.already_tagged:
            parts.append(f"{self.already_tagged} already present")
        for reason, n in self.skipped_by_reason().items():
            parts.append(f"{n} skipped ({reason})")
        return ", ".join(parts)

class TagCsvMixin:
    """export_csv, import_csv."""

    def export_csv(self) -> bytes:
        """All tags as UTF-8 CSV (with a byte-order mark, for spreadsheets): sku, tag,
        changed_at, changed_by. Formula-like cells are neutralised with a leading '."""
        def run(conn: sqlite3.Connection) -> list[tuple]:
            return conn.execute("SELECT sku, tag, changed_at, changed_by FROM tags WHERE "
                                "fingerprint = ? ORDER BY tag, sku",
                                (self.fingerprint,)).fetchall()
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\r\n")
        w.writerow(CSV_COLUMNS)
        for row in self._read(run):
            w.writerow([neutralize_cell(str(c)) for c in row])
        return buf.getvalue().encode("utf-8-sig")

    def import_csv(self, data: bytes, user: str = "",
                   known_skus: Iterable[str] | None = None) -> ImportResult:
        """Add the (sku, tag) pairs of a CSV with at least the columns sku and tag (as
        written by `export_csv`; other columns are ignored), in one transaction and one
        undoable action. Rows with an empty or invalid tag, an empty SKU, or a SKU not in
        `known_skus` (this argument, else the store's) are skipped, each with its line and
        reason. A malformed file imports nothing: `error` says why, `error_line` where."""
        user = _check_user(user)
        if isinstance(data, str):
            data = data.encode("utf-8")
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise ValueError(f"data must be the CSV file's bytes, got {type(data).__name__}")
        data = bytes(data)
        known = (frozenset(str(s) for s in known_skus) if known_skus is not None
                 else self.known_skus)
        parsed = _parse_tag_csv(data)
        if isinstance(parsed, ImportResult):
            return parsed
        result = ImportResult()
        pairs: list[tuple[int, str, str]] = []
        for line, raw_sku, raw_tag in parsed:
            sku, tag_text = unneutralize_cell(raw_sku), unneutralize_cell(raw_tag)
            if not tag_text.strip():
                result.skipped.append(SkippedRow(line, sku, tag_text, "empty tag"))
                continue
            if not sku.strip():
                result.skipped.append(SkippedRow(line, sku, tag_text, "empty sku"))
                continue
            try:
                tag = normalize_tag(tag_text)
            except ValueError as e:
                result.skipped.append(SkippedRow(line, sku, tag_text, f"invalid tag: {e}"))
                continue
            try:
                _check_sku(sku)
            except ValueError as e:
                result.skipped.append(SkippedRow(line, sku, tag_text, f"invalid sku: {e}"))
                continue
            if known is not None and sku not in known:
                result.skipped.append(SkippedRow(line, sku, tag, "unknown sku"))
                continue
            pairs.append((line, sku, tag))
        if not pairs:
            return result

        def run(conn: sqlite3.Connection) -> tuple[int, int, int | None]:
            now = _now()
            aid = self._new_action(conn, "import", None, user, now)
            added = []
            for _, sku, tag in pairs:
                if self._insert_tag(conn, sku, tag, now, user, aid):
                    added.append((sku, tag, now, user, aid))
            if not added:
                raise _NothingChanged((0, len(pairs), None))
            self._log_tags(conn, aid, "+", added)
            n_tags = len({r[1] for r in added})
            self._finish_action(conn, aid, len(added),
                                f"imported {_plural(len(added), 'tag assignment')} "
                                f"({_plural(n_tags, 'tag')}) from CSV")
            return len(added), len(pairs) - len(added), aid
        result.added, result.already_tagged, result.action_id = self._write(run)
        return result


def _parse_tag_csv(data: bytes) -> list[tuple[int, str, str]] | ImportResult:
    """(line, sku cell, tag cell) per data row, or an ImportResult carrying the error."""
    def fail(msg: str, line: int | None) -> ImportResult:
        where = f"line {line}: " if line is not None else ""
        return ImportResult(error=where + msg, error_line=line)

    if len(data) > MAX_IMPORT_BYTES:
        return fail(f"file is {len(data) / 2**20:.1f} MiB; at most "
                    f"{MAX_IMPORT_BYTES // 2**20} MiB can be imported at once", None)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[:e.start].count(b"\n") + 1
        return fail(f"not UTF-8 text (byte {e.start}); save the file as CSV UTF-8", line)
    if not text.strip():
        return fail("the file is empty; expected a header row with sku and tag", 1)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows: list[tuple[int, str, str]] = []
    header: list[str] | None = None
    sku_i = tag_i = -1
    while True:
        start = reader.line_num + 1
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as e:
            return fail(f"malformed CSV ({e})", start)
        if not fields or all(not f.strip() for f in fields):
            continue                                   # blank line
        if header is None:
            header = [f.strip().lower() for f in fields]
            if header and header[0].startswith("\ufeff"):
                header[0] = header[0][1:]
            missing = [c for c in ("sku", "tag") if c not in header]
            if missing:
                return fail(f"the header row must name the columns sku and tag (missing: "
                            f"{', '.join(missing)}; found: {', '.join(header)[:200]})", start)
            sku_i, tag_i = header.index("sku"), header.index("tag")
            continue
        if len(fields) != len(header):
            return fail(f"expected {len(header)} fields like the header, found {len(fields)}",
                        start)
        rows.append((start, fields[sku_i], fields[tag_i]))
    if header is None:
        return fail("the file is empty; expected a header row with sku and tag", 1)
    return rows
