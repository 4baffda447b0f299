"""Reading the catalog CSV of a folder ingest: fatal problems (not UTF-8, no header, no
'file'/'sku' column, duplicate column names, an unclosed quote or an oversized cell) raise
IngestError with the line at fault; a malformed row is skipped and reported. Good rows are
parsed the way pandas.read_csv parses a saved catalogue, so values read back unchanged."""
from __future__ import annotations

import csv
import io
import os
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from explorer.data.ingest_report import IngestError, IngestReport

# Cells pandas reads as missing (its default na_values); we treat them the same way so that a
# catalogue reads back exactly as it was built.
_NA_STRINGS = frozenset({
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
    "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
})


def _is_missing(value: str | None) -> bool:
    return value is None or value.strip() in _NA_STRINGS


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
    frame = pd.read_csv(buf, dtype=text_cols, keep_default_na=True, skip_blank_lines=False,
                        low_memory=False)       # whole-column types, as read_metadata_csv
    if len(frame) != len(lines):  # would misalign rows and line numbers
        raise IngestError(f"catalog CSV {p}: could not be parsed consistently "
                          f"({len(lines)} rows read, {len(frame)} parsed)")
    return _Csv(columns=columns, frame=frame, lines=lines, label=label)
