"""Tags and accepted imputations for a catalogue's products, kept in a SQLite database.

Merchandisers tag products in bulk on the catalogue map ("retro", "needs new photo", ...) and
accept imputed attribute values (issue 7). Both live here, beside the catalogue, never in it:
the catalogue and its fingerprint stay untouched.

Where the database lives
------------------------
One SQLite file per catalogue by default (see `default_db_path`)::

    $KICKSPACE_ANNOTATIONS_DB                          if set: this one file, for every catalogue
    $KICKSPACE_DATA_DIR/annotations-<fingerprint>.sqlite   otherwise
    ./data/annotations-<fingerprint>.sqlite            when KICKSPACE_DATA_DIR is not set either

An explicit `path` given to `AnnotationStore` or `AnnotationStore.for_bundle` wins over both.
The file is keyed by the catalogue fingerprint, not by the bundle: two models trained on the
same catalogue share their tags. Every row also carries the fingerprint, so one file can safely
hold several catalogues.

Tables
------
    actions            one row per bulk change: id, kind, tag, description, rows, time, user,
                       and which undo (if any) reverted it
    tags               (fingerprint, sku, tag) -> changed_at, changed_by, action_id
    tag_changes        per action, each tag row it inserted (+) or deleted (-, with the row's
                       previous values), so an undo restores exactly
    attributes         (fingerprint, sku, column) -> value, source, confidence, changed_at, ...
    attribute_changes  per action, each attribute row it set, with the value it replaced

Concurrency and crashes
-----------------------
The database runs in WAL mode with a busy timeout (30 s by default) and foreign keys on. Each
public method opens its own short-lived connection, so one store may be shared by any number of
threads (Streamlit runs each session in its own thread) and processes. Each bulk operation is a
single ``BEGIN IMMEDIATE`` transaction: a crash or a kill mid-write leaves either all of its
rows or none. Readers see a consistent snapshot and never block writers. A write that still
finds the database locked after the timeout raises `AnnotationStoreError`; nothing is dropped
silently.

Undo
----
`undo_last(user, kinds)` reverts the most recent action not undone yet, among one user's (a
session's) actions of the given kinds (TAG_KINDS, ATTRIBUTE_KINDS), in one transaction; the app
always passes both, and `last_undoable` says what it would undo. It restores only rows that are still as that action
left them; rows another action changed since are left alone, and the returned description says
how many. Undos are themselves recorded in the history but are not undoable (no redo).
"""
from __future__ import annotations

import csv
import io
import math
import numbers
import os
import random
import sqlite3
import threading
import time
import unicodedata
import urllib.parse
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping

if TYPE_CHECKING:  # pandas is imported where a table is returned: writers start faster
    import pandas as pd

SCHEMA_VERSION = 1
TAG_KINDS = ("add", "remove", "rename", "delete", "import")   # what "undo" on tags may undo
ATTRIBUTE_KINDS = ("attribute",)                              # accepted attribute values
UNTAGGED = "untagged"        # tag_column's label for an item without tags
MAX_TAG_LEN = 100
MAX_SKU_LEN = 200
MAX_USER_LEN = 200
MAX_IMPORT_BYTES = 50 * 1024 * 1024
DEFAULT_BUSY_TIMEOUT_S = 30.0
CSV_COLUMNS = ("sku", "tag", "changed_at", "changed_by")

# A spreadsheet treats a cell starting with one of these as a formula (or strips it and then
# does); a leading apostrophe makes it plain text. Cells starting with an apostrophe get one
# more, so that stripping one apostrophe on import is always lossless.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_BIDI_CONTROLS = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


_INHERITED: list[sqlite3.Connection] = []   # connections inherited through fork(): never closed


class AnnotationStoreError(RuntimeError):
    """The annotations database cannot be used: not a SQLite file, a newer schema, missing,
    or locked by another writer for longer than the busy timeout."""


# ---------------------------------------------------------------------------- paths
def default_db_path(bundle_path: str | os.PathLike | None, fingerprint: str) -> Path:
    """Where the annotations of the catalogue with this fingerprint live by default.

    $KICKSPACE_ANNOTATIONS_DB if set (one file for all catalogues; rows are keyed by
    fingerprint), else ``<$KICKSPACE_DATA_DIR or ./data>/annotations-<fingerprint>.sqlite``.
    `bundle_path` does not enter the path: tags belong to the catalogue, so every bundle
    trained on it shares them; it is accepted so that callers need not know that.
    """
    fingerprint = _check_fingerprint(fingerprint)
    override = os.environ.get("KICKSPACE_ANNOTATIONS_DB", "").strip()
    if override:
        return Path(override).expanduser()
    data_dir = os.environ.get("KICKSPACE_DATA_DIR", "").strip() or "data"
    return Path(data_dir).expanduser() / f"annotations-{fingerprint}.sqlite"


def _check_fingerprint(fingerprint: Any) -> str:
    if not isinstance(fingerprint, str) or not fingerprint:
        raise ValueError(f"fingerprint must be a non-empty string, got {fingerprint!r}")
    if len(fingerprint) > 128 or not all(c.isascii() and (c.isalnum() or c in "-_")
                                         for c in fingerprint):
        raise ValueError(f"fingerprint {fingerprint!r} may hold only ASCII letters, digits, "
                         f"'-' and '_' (at most 128)")
    return fingerprint


# ---------------------------------------------------------------------------- validation
def _bad_char(text: str) -> str | None:
    for c in text:
        cat = unicodedata.category(c)
        if cat in ("Cc", "Cs", "Zl", "Zp") or c in _BIDI_CONTROLS:
            return c
    return None


def normalize_tag(tag: Any) -> str:
    """The stored form of a tag: NFC-normalised and trimmed; 1..100 characters, no control
    characters, not the reserved label "untagged". ValueError (saying why) otherwise."""
    if not isinstance(tag, str):
        raise ValueError(f"a tag must be a string, got {type(tag).__name__} {tag!r}")
    t = unicodedata.normalize("NFC", tag).strip()
    if not t:
        raise ValueError("a tag cannot be empty (or only spaces)")
    if len(t) > MAX_TAG_LEN:
        raise ValueError(f"tag {t[:40]!r}... is {len(t)} characters long; at most "
                         f"{MAX_TAG_LEN} are allowed")
    bad = _bad_char(t)
    if bad is not None:
        raise ValueError(f"tag {t!r} contains the control character U+{ord(bad):04X}; "
                         f"tags must be printable text")
    if t.casefold() == UNTAGGED:
        raise ValueError(f"{UNTAGGED!r} is reserved for items without tags on the map; "
                         f"choose another tag name")
    return t


def _check_sku(sku: Any, where: str = "") -> str:
    if not isinstance(sku, str):
        raise ValueError(f"SKU{where} must be a string, got {type(sku).__name__} {sku!r}")
    if not sku.strip():
        raise ValueError(f"SKU{where} is empty")
    if len(sku) > MAX_SKU_LEN:
        raise ValueError(f"SKU{where} {sku[:40]!r}... is longer than {MAX_SKU_LEN} characters")
    bad = _bad_char(sku)
    if bad is not None:
        raise ValueError(f"SKU{where} {sku!r} contains the control character U+{ord(bad):04X}")
    return sku


def _check_skus(skus: Any) -> list[str]:
    """A list of distinct SKUs, in the order given."""
    if isinstance(skus, (str, bytes)):
        raise ValueError(f"skus must be a list of SKUs, not one string ({skus!r}); "
                         f"pass [{skus!r}] for a single SKU")
    try:
        items = list(skus)
    except TypeError:
        raise ValueError(f"skus must be a list of SKUs, got {type(skus).__name__}") from None
    out = [_check_sku(s, f" #{i}") for i, s in enumerate(items)]
    return list(dict.fromkeys(out))


def _check_user(user: Any) -> str:
    if user is None:
        return ""
    if not isinstance(user, str):
        raise ValueError(f"user must be a string label, got {type(user).__name__} {user!r}")
    u = user.strip()
    if len(u) > MAX_USER_LEN:
        raise ValueError(f"user label is longer than {MAX_USER_LEN} characters")
    bad = _bad_char(u)
    if bad is not None:
        raise ValueError(f"user label {u!r} contains the control character U+{ord(bad):04X}")
    return u


def _check_column(column: Any) -> str:
    if not isinstance(column, str) or not column.strip():
        raise ValueError(f"column must be a non-empty string, got {column!r}")
    c = column.strip()
    if len(c) > MAX_TAG_LEN or _bad_char(c) is not None:
        raise ValueError(f"column name {c[:40]!r} is too long or holds control characters")
    if c == "sku":
        raise ValueError("the 'sku' column identifies products; it cannot be imputed")
    return c


def _check_value(value: Any, sku: str) -> Any:
    if hasattr(value, "item") and callable(value.item) and not isinstance(value, str):
        try:
            value = value.item()          # numpy scalar -> Python scalar
        except (ValueError, TypeError):
            pass
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        if not math.isfinite(float(value)):
            raise ValueError(f"value for {sku!r} is {value!r}; only finite numbers can be "
                             f"accepted")
        return float(value)
    if isinstance(value, str):
        if _bad_char(value.replace("\t", " ")) is not None:
            raise ValueError(f"value for {sku!r} contains control characters")
        return value
    if value is None:
        raise ValueError(f"value for {sku!r} is missing (None); nothing to accept")
    raise ValueError(f"value for {sku!r} must be a string or a number, got "
                     f"{type(value).__name__}")


def _check_confidence(confidence: Any, sku: str) -> float | None:
    if confidence is None:
        return None
    try:
        c = float(confidence)
    except (TypeError, ValueError):
        raise ValueError(f"confidence for {sku!r} must be a number in [0, 1], got "
                         f"{confidence!r}") from None
    if not 0.0 <= c <= 1.0:
        raise ValueError(f"confidence for {sku!r} must be in [0, 1], got {c}")
    return c


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


class _NothingChanged(Exception):
    """Raised inside a write to roll it back and return `result` (no action is recorded)."""

    def __init__(self, result: Any):
        super().__init__()
        self.result = result


# ---------------------------------------------------------------------------- schema
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS actions (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    fingerprint TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN
                    ('add', 'remove', 'rename', 'delete', 'import', 'attribute', 'undo')),
    tag         TEXT,
    description TEXT NOT NULL,
    n_rows      INTEGER NOT NULL,
    changed_at  TEXT NOT NULL,
    changed_by  TEXT NOT NULL,
    undoes      INTEGER REFERENCES actions(id),
    undone_by   INTEGER REFERENCES actions(id)
);
CREATE INDEX IF NOT EXISTS actions_by_fingerprint ON actions(fingerprint, id);
CREATE TABLE IF NOT EXISTS tags (
    fingerprint TEXT NOT NULL,
    sku         TEXT NOT NULL,
    tag         TEXT NOT NULL,
    changed_at  TEXT NOT NULL,
    changed_by  TEXT NOT NULL,
    action_id   INTEGER NOT NULL REFERENCES actions(id),
    PRIMARY KEY (fingerprint, sku, tag)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS tags_by_tag ON tags(fingerprint, tag, sku);
CREATE TABLE IF NOT EXISTS tag_changes (
    action_id   INTEGER NOT NULL REFERENCES actions(id),
    op          TEXT NOT NULL CHECK (op IN ('+', '-')),
    sku         TEXT NOT NULL,
    tag         TEXT NOT NULL,
    changed_at  TEXT NOT NULL,
    changed_by  TEXT NOT NULL,
    row_action  INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS tag_changes_by_action ON tag_changes(action_id);
CREATE TABLE IF NOT EXISTS attributes (
    fingerprint TEXT NOT NULL,
    sku         TEXT NOT NULL,
    attribute   TEXT NOT NULL,
    value,
    source      TEXT NOT NULL,
    confidence  REAL,
    changed_at  TEXT NOT NULL,
    changed_by  TEXT NOT NULL,
    action_id   INTEGER NOT NULL REFERENCES actions(id),
    PRIMARY KEY (fingerprint, sku, attribute)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS attribute_changes (
    action_id      INTEGER NOT NULL REFERENCES actions(id),
    sku            TEXT NOT NULL,
    attribute      TEXT NOT NULL,
    had_old        INTEGER NOT NULL,
    old_value,
    old_source     TEXT,
    old_confidence REAL,
    old_changed_at TEXT,
    old_changed_by TEXT,
    old_action     INTEGER
);
CREATE INDEX IF NOT EXISTS attribute_changes_by_action ON attribute_changes(action_id);
"""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def _is_busy(e: sqlite3.OperationalError) -> bool:
    msg = str(e).lower()
    return "locked" in msg or "busy" in msg


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


# ---------------------------------------------------------------------------- the store
class AnnotationStore:
    """Tags and accepted imputed values for one catalogue (by fingerprint), in a SQLite file.

    Safe to share between threads and processes: every call opens its own connection, and
    every change is one transaction. `known_skus`, when given, is the catalogue's SKUs:
    `add_tag` refuses others and `import_csv` skips them with a reason. `busy_timeout` is how
    long a write waits for another writer, in seconds; `synchronous` is SQLite's setting
    (FULL: a committed change survives a power cut; NORMAL: faster, survives a crash of the
    app but may lose the last commits on a power cut; both keep the database consistent).
    """

    def __init__(self, path: str | os.PathLike, fingerprint: str, *,
                 known_skus: Iterable[str] | None = None,
                 busy_timeout: float = DEFAULT_BUSY_TIMEOUT_S, synchronous: str = "FULL"):
        if str(path) in ("", ":memory:") or str(path).startswith("file:"):
            raise ValueError(f"AnnotationStore needs a database file path, got {str(path)!r}")
        self.path = Path(path).expanduser().absolute()
        self.fingerprint = _check_fingerprint(fingerprint)
        self.known_skus: frozenset[str] | None = (
            None if known_skus is None else frozenset(str(s) for s in known_skus))
        if not busy_timeout > 0:
            raise ValueError(f"busy_timeout must be positive seconds, got {busy_timeout!r}")
        self.busy_timeout = float(busy_timeout)
        if synchronous.upper() not in ("NORMAL", "FULL", "EXTRA"):
            raise ValueError(f"synchronous must be NORMAL, FULL or EXTRA, got {synchronous!r}")
        self._synchronous = synchronous.upper()
        self._uri = "file:" + urllib.parse.quote(str(self.path)) + "?mode=rw"
        self.read_only = False
        try:
            self.journal_mode = self._initialise()
        except AnnotationStoreError:
            if not self._open_read_only():
                raise
        self._anchor: sqlite3.Connection | None = None
        self._anchor_pid = 0
        self._anchor_lock = threading.Lock()
        self._hold_open()

    @classmethod
    def for_bundle(cls, bundle: Any, path: str | os.PathLike | None = None,
                   **kwargs: Any) -> "AnnotationStore":
        """The store for a loaded Bundle's catalogue; its SKUs become `known_skus`."""
        db = Path(path) if path is not None else default_db_path(bundle.path, bundle.fingerprint)
        skus = bundle.metadata["sku"].astype(str).tolist()
        return cls(db, bundle.fingerprint, known_skus=skus, **kwargs)

    def __repr__(self) -> str:
        return f"AnnotationStore({str(self.path)!r}, fingerprint={self.fingerprint!r})"

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.update(_anchor=None, _anchor_pid=0, _anchor_lock=None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._anchor_lock = threading.Lock()

    def __enter__(self) -> "AnnotationStore":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        """Release the idle connection this store keeps (see `_hold_open`). The store stays
        usable; the next call opens it again."""
        with self._anchor_lock:
            if self._anchor is not None and self._anchor_pid == os.getpid():
                self._anchor.close()
            self._anchor, self._anchor_pid = None, 0

    def _hold_open(self) -> None:
        """Keep one idle connection open for the store's lifetime.

        Without it every short-lived connection would be the database's last one when it
        closes, and SQLite would then checkpoint and delete the WAL file each time (tens of
        milliseconds). A connection inherited through fork() is never touched again (SQLite
        forbids it, closing included); the child opens its own.
        """
        if self._anchor is not None and self._anchor_pid == os.getpid():
            return
        with self._anchor_lock:
            if self._anchor is not None and self._anchor_pid != os.getpid():
                _INHERITED.append(self._anchor)
                self._anchor = None
            if self._anchor is None:
                try:
                    self._anchor = self._connect()
                    self._anchor_pid = os.getpid()
                except sqlite3.Error:
                    self._anchor = None      # an optimisation only: carry on without it

    # -------------------------------------------------------------- connections
    def _connect(self, create: bool = False) -> sqlite3.Connection:
        target = str(self.path) if create else self._uri
        try:
            conn = sqlite3.connect(target, timeout=self.busy_timeout, isolation_level=None,
                                   check_same_thread=False, uri=not create)
        except sqlite3.OperationalError as e:
            if not create and not self.path.exists():
                raise AnnotationStoreError(f"{self.path}: the annotations database was "
                                           f"removed while in use") from e
            raise
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute(f"PRAGMA synchronous = {self._synchronous}")
            conn.execute("PRAGMA journal_size_limit = 8388608")
        except BaseException:
            conn.close()
            raise
        return conn

    def _retrying(self, attempt: Callable[[], Any]) -> Any:
        """Run attempt(), retrying while the database is busy, up to the busy timeout.

        SQLite's busy handler already waits; this covers the few cases where it returns
        SQLITE_BUSY at once (WAL recovery, journal-mode changes, opening during a checkpoint).
        """
        deadline = time.monotonic() + self.busy_timeout
        delay = 0.002
        while True:
            try:
                return attempt()
            except sqlite3.OperationalError as e:
                if not _is_busy(e):
                    raise AnnotationStoreError(f"{self.path}: {e}") from e
                if time.monotonic() >= deadline:
                    raise AnnotationStoreError(
                        f"{self.path}: the annotations database stayed locked by another "
                        f"writer for more than {self.busy_timeout:g} s; nothing was "
                        f"changed, try again ({e})") from e
                time.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, 0.1)
            except sqlite3.DatabaseError as e:
                if type(e) is sqlite3.DatabaseError:     # "file is not a database", corruption
                    raise AnnotationStoreError(f"{self.path}: not a usable SQLite database "
                                               f"({e})") from e
                raise AnnotationStoreError(f"{self.path}: {e}") from e

    def _transaction(self, fn: Callable[[sqlite3.Connection], Any], write: bool,
                     create: bool = False) -> Any:
        if not create:
            self._hold_open()

        def attempt() -> Any:
            conn = self._connect(create=create)
            try:
                conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
                try:
                    result = fn(conn)
                except _NothingChanged as nc:
                    conn.execute("ROLLBACK")
                    return nc.result
                conn.execute("COMMIT")
                return result
            except BaseException:
                if conn.in_transaction:
                    try:
                        conn.execute("ROLLBACK")
                    except sqlite3.Error:
                        pass
                raise
            finally:
                conn.close()
        return self._retrying(attempt)

    def _open_read_only(self) -> bool:
        """After a failed read-write open: use an existing database read-only (a file or
        folder this process may not write). True when its tags can be read that way."""
        if not self.path.is_file() or not os.access(self.path, os.R_OK):
            return False
        base = "file:" + urllib.parse.quote(str(self.path))
        for uri in (base + "?mode=ro", base + "?mode=ro&immutable=1"):
            try:
                conn = sqlite3.connect(uri, uri=True, timeout=self.busy_timeout,
                                       isolation_level=None, check_same_thread=False)
                try:
                    v = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'"
                                     ).fetchone()
                    conn.execute("SELECT count(*) FROM tags").fetchone()
                    mode = str(conn.execute("PRAGMA journal_mode").fetchone()[0]).lower()
                finally:
                    conn.close()
            except sqlite3.Error:
                continue
            if not v or int(v[0]) > SCHEMA_VERSION:
                return False
            self._uri, self.read_only, self.journal_mode = uri, True, mode
            return True
        return False

    def _write(self, fn: Callable[[sqlite3.Connection], Any]) -> Any:
        if self.read_only:
            raise AnnotationStoreError(
                f"{self.path}: the annotations database is read-only for this app (file or "
                f"folder permissions); tags are shown but nothing can be changed")
        return self._transaction(fn, write=True)

    def _read(self, fn: Callable[[sqlite3.Connection], Any]) -> Any:
        return self._transaction(fn, write=False)

    def _initialise(self) -> str:
        if self.path.exists() and not self.path.is_file():
            raise AnnotationStoreError(f"{self.path}: exists and is not a file")
        self.path.parent.mkdir(parents=True, exist_ok=True)

        def set_wal() -> str:
            conn = self._connect(create=True)
            try:
                return str(conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]).lower()
            finally:
                conn.close()
        mode = self._retrying(set_wal)

        def create(conn: sqlite3.Connection) -> None:
            row = conn.execute("SELECT name FROM sqlite_master WHERE name = 'meta'").fetchone()
            if row is not None:
                v = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
                version = int(v[0]) if v else 0
                if version > SCHEMA_VERSION:
                    raise AnnotationStoreError(
                        f"{self.path}: written by a newer KickSpace (annotations schema "
                        f"{version}, this one reads {SCHEMA_VERSION})")
            for statement in _SCHEMA.split(";"):  # not executescript: it would COMMIT
                if statement.strip():
                    conn.execute(statement)
            conn.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', ?)",
                         (str(SCHEMA_VERSION),))
        self._transaction(create, write=True, create=True)
        return mode

    # -------------------------------------------------------------- action log helpers
    def _new_action(self, conn: sqlite3.Connection, kind: str, tag: str | None, user: str,
                    now: str, undoes: int | None = None) -> int:
        cur = conn.execute(
            "INSERT INTO actions(fingerprint, kind, tag, description, n_rows, changed_at, "
            "changed_by, undoes) VALUES (?, ?, ?, '', 0, ?, ?, ?)",
            (self.fingerprint, kind, tag, now, user, undoes))
        return int(cur.lastrowid)

    @staticmethod
    def _finish_action(conn: sqlite3.Connection, action_id: int, n_rows: int,
                       description: str) -> None:
        conn.execute("UPDATE actions SET n_rows = ?, description = ? WHERE id = ?",
                     (n_rows, description, action_id))

    @staticmethod
    def _log_tags(conn: sqlite3.Connection, action_id: int, op: str,
                  rows: list[tuple[str, str, str, str, int]]) -> None:
        """rows: (sku, tag, changed_at, changed_by, row_action) as inserted (+) or as they
        were before being deleted (-)."""
        conn.executemany(
            "INSERT INTO tag_changes(action_id, op, sku, tag, changed_at, changed_by, "
            "row_action) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(action_id, op, *r) for r in rows])

    def _rows_of_tag(self, conn: sqlite3.Connection, tag: str) -> list[tuple]:
        return conn.execute(
            "SELECT sku, tag, changed_at, changed_by, action_id FROM tags "
            "WHERE fingerprint = ? AND tag = ? ORDER BY sku", (self.fingerprint, tag)).fetchall()

    # -------------------------------------------------------------- tag changes
    def add_tag(self, tag: str, skus: Iterable[str], user: str = "", *,
                _after_row: Callable[[int], None] | None = None) -> int:
        """Tag every SKU in `skus` with `tag`, in one transaction; returns how many SKUs were
        newly tagged (already-tagged ones are left as they are). With `known_skus`, an
        unknown SKU makes the whole call fail with ValueError and change nothing.

        `_after_row` is a test hook, called with the count of rows written so far, inside
        the transaction.
        """
        tag = normalize_tag(tag)
        skus = _check_skus(skus)
        user = _check_user(user)
        if self.known_skus is not None:
            unknown = [s for s in skus if s not in self.known_skus]
            if unknown:
                raise ValueError(f"{_plural(len(unknown), 'SKU')} not in this catalogue, "
                                 f"nothing was tagged: {', '.join(map(repr, unknown[:5]))}"
                                 + (" ..." if len(unknown) > 5 else ""))
        if not skus:
            return 0

        def run(conn: sqlite3.Connection) -> int:
            now = _now()
            aid = self._new_action(conn, "add", tag, user, now)
            added = []
            for i, sku in enumerate(skus, 1):
                cur = conn.execute(
                    "INSERT OR IGNORE INTO tags(fingerprint, sku, tag, changed_at, changed_by, "
                    "action_id) VALUES (?, ?, ?, ?, ?, ?)",
                    (self.fingerprint, sku, tag, now, user, aid))
                if cur.rowcount == 1:
                    added.append((sku, tag, now, user, aid))
                if _after_row is not None:
                    _after_row(i)
            if not added:
                raise _NothingChanged(0)
            self._log_tags(conn, aid, "+", added)
            self._finish_action(conn, aid, len(added),
                                f"added tag {tag!r} to {_plural(len(added), 'SKU')}")
            return len(added)
        return self._write(run)

    def remove_tag(self, tag: str, skus: Iterable[str], user: str = "") -> int:
        """Remove `tag` from every SKU in `skus` (one transaction); returns how many had it."""
        tag = normalize_tag(tag)
        skus = _check_skus(skus)
        user = _check_user(user)
        if not skus:
            return 0

        def run(conn: sqlite3.Connection) -> int:
            now = _now()
            aid = self._new_action(conn, "remove", tag, user, now)
            removed = []
            for sku in skus:
                row = conn.execute(
                    "SELECT sku, tag, changed_at, changed_by, action_id FROM tags "
                    "WHERE fingerprint = ? AND sku = ? AND tag = ?",
                    (self.fingerprint, sku, tag)).fetchone()
                if row is not None:
                    conn.execute("DELETE FROM tags WHERE fingerprint = ? AND sku = ? AND tag = ?",
                                 (self.fingerprint, sku, tag))
                    removed.append(tuple(row))
            if not removed:
                raise _NothingChanged(0)
            self._log_tags(conn, aid, "-", removed)
            self._finish_action(conn, aid, len(removed),
                                f"removed tag {tag!r} from {_plural(len(removed), 'SKU')}")
            return len(removed)
        return self._write(run)

    def rename_tag(self, old: str, new: str, user: str = "") -> int:
        """Rename tag `old` to `new` on every SKU (merging into `new` if it exists already);
        returns how many SKUs carried `old`. ValueError if no SKU has `old`."""
        old, new = normalize_tag(old), normalize_tag(new)
        user = _check_user(user)
        if old == new:
            return 0

        def run(conn: sqlite3.Connection) -> int:
            rows = self._rows_of_tag(conn, old)
            if not rows:
                raise ValueError(f"no SKU has the tag {old!r}; nothing to rename")
            merging = conn.execute("SELECT 1 FROM tags WHERE fingerprint = ? AND tag = ? "
                                   "LIMIT 1", (self.fingerprint, new)).fetchone() is not None
            now = _now()
            aid = self._new_action(conn, "rename", old, user, now)
            inserted = []
            for sku, *_ in rows:
                cur = conn.execute(
                    "INSERT OR IGNORE INTO tags(fingerprint, sku, tag, changed_at, changed_by, "
                    "action_id) VALUES (?, ?, ?, ?, ?, ?)",
                    (self.fingerprint, sku, new, now, user, aid))
                if cur.rowcount == 1:
                    inserted.append((sku, new, now, user, aid))
            conn.execute("DELETE FROM tags WHERE fingerprint = ? AND tag = ?",
                         (self.fingerprint, old))
            self._log_tags(conn, aid, "-", [tuple(r) for r in rows])
            self._log_tags(conn, aid, "+", inserted)
            verb = "merged tag {!r} into {!r}" if merging else "renamed tag {!r} to {!r}"
            self._finish_action(conn, aid, len(rows), verb.format(old, new)
                                + f" ({_plural(len(rows), 'SKU')})")
            return len(rows)
        return self._write(run)

    def delete_tag(self, tag: str, user: str = "") -> int:
        """Remove `tag` from every SKU; returns how many had it (0 if none: nothing to do)."""
        tag = normalize_tag(tag)
        user = _check_user(user)

        def run(conn: sqlite3.Connection) -> int:
            rows = self._rows_of_tag(conn, tag)
            if not rows:
                raise _NothingChanged(0)
            now = _now()
            aid = self._new_action(conn, "delete", tag, user, now)
            conn.execute("DELETE FROM tags WHERE fingerprint = ? AND tag = ?",
                         (self.fingerprint, tag))
            self._log_tags(conn, aid, "-", [tuple(r) for r in rows])
            self._finish_action(conn, aid, len(rows),
                                f"deleted tag {tag!r} ({_plural(len(rows), 'SKU')})")
            return len(rows)
        return self._write(run)

    # -------------------------------------------------------------- attributes (imputation)
    def set_attribute(self, sku: str, column: str, value: Any, source: str = "imputed",
                      confidence: float | None = None, user: str = "") -> int:
        """Accept a value for one product's attribute (e.g. an imputed colorway). Stored
        here, beside the tags; the catalogue is never rewritten. Undoable. Returns 1 if the
        stored value changed, 0 if it was already exactly this."""
        return self.set_attributes(column, {sku: value}, source=source,
                                   confidence=confidence, user=user)

    def set_attributes(self, column: str, values: Mapping[str, Any], source: str = "imputed",
                       confidence: float | Mapping[str, float | None] | None = None,
                       user: str = "") -> int:
        """Accept values for many products at once (one transaction, one undoable action).
        `confidence` is one number for all, or per SKU. Returns how many values changed."""
        column = _check_column(column)
        user = _check_user(user)
        if not isinstance(source, str) or not source.strip() or len(source) > 50:
            raise ValueError(f"source must be a short non-empty label, got {source!r}")
        source = source.strip()
        if not isinstance(values, Mapping):
            raise ValueError("values must be a mapping {sku: value}")
        rows = []
        for sku, value in values.items():
            sku = _check_sku(sku)
            conf = confidence.get(sku) if isinstance(confidence, Mapping) else confidence
            rows.append((sku, _check_value(value, sku), _check_confidence(conf, sku)))
        if self.known_skus is not None:
            unknown = [r[0] for r in rows if r[0] not in self.known_skus]
            if unknown:
                raise ValueError(f"{_plural(len(unknown), 'SKU')} not in this catalogue, "
                                 f"nothing was set: {', '.join(map(repr, unknown[:5]))}")
        if not rows:
            return 0

        def run(conn: sqlite3.Connection) -> int:
            now = _now()
            aid = self._new_action(conn, "attribute", None, user, now)
            changes = []
            for sku, value, conf in rows:
                old = conn.execute(
                    "SELECT value, source, confidence, changed_at, changed_by, action_id "
                    "FROM attributes WHERE fingerprint = ? AND sku = ? AND attribute = ?",
                    (self.fingerprint, sku, column)).fetchone()
                if old is not None and old[0] == value and type(old[0]) is type(value) \
                        and old[1] == source and old[2] == conf:
                    continue
                conn.execute(
                    "INSERT OR REPLACE INTO attributes(fingerprint, sku, attribute, value, "
                    "source, confidence, changed_at, changed_by, action_id) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (self.fingerprint, sku, column, value, source, conf, now, user, aid))
                changes.append((aid, sku, column, int(old is not None),
                                *(old if old is not None else (None,) * 6)))
            if not changes:
                raise _NothingChanged(0)
            conn.executemany(
                "INSERT INTO attribute_changes(action_id, sku, attribute, had_old, old_value, "
                "old_source, old_confidence, old_changed_at, old_changed_by, old_action) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", changes)
            if len(changes) == 1:
                desc = f"set {column} = {rows[0][1]!r} for {changes[0][1]} ({source})"
            else:
                desc = f"set {column} for {_plural(len(changes), 'SKU')} ({source})"
            self._finish_action(conn, aid, len(changes), desc)
            return len(changes)
        return self._write(run)

    def attributes(self, column: str | None = None) -> pd.DataFrame:
        """Accepted values: columns sku, column, value, source, confidence, changed_at,
        changed_by; sorted by column then sku."""
        import pandas as pd

        col = None if column is None else _check_column(column)

        def run(conn: sqlite3.Connection) -> list[tuple]:
            sql = ("SELECT sku, attribute, value, source, confidence, changed_at, changed_by "
                   "FROM attributes WHERE fingerprint = ?")
            args: tuple = (self.fingerprint,)
            if col is not None:
                sql += " AND attribute = ?"
                args += (col,)
            return conn.execute(sql + " ORDER BY attribute, sku", args).fetchall()
        df = pd.DataFrame(self._read(run), columns=["sku", "column", "value", "source",
                                                    "confidence", "changed_at", "changed_by"])
        df["confidence"] = df["confidence"].astype(float)
        df["changed_at"] = pd.to_datetime(df["changed_at"], utc=True, format="ISO8601")
        return df

    # -------------------------------------------------------------- undo and history
    @staticmethod
    def _undoable(fingerprint: str, who: str | None, kinds: Iterable[str] | None
                  ) -> tuple[str, tuple]:
        sql = ("SELECT id, kind, description FROM actions WHERE fingerprint = ? "
               "AND kind != 'undo' AND undone_by IS NULL")
        args: tuple = (fingerprint,)
        if who is not None:
            sql += " AND changed_by = ?"
            args += (who,)
        if kinds is not None:
            kinds = tuple(kinds)
            sql += f" AND kind IN ({', '.join('?' * len(kinds))})" if kinds else " AND 0"
            args += kinds
        return sql + " ORDER BY id DESC LIMIT 1", args

    def last_undoable(self, user: str | None = None, kinds: Iterable[str] | None = None
                      ) -> str | None:
        """The description of the action `undo_last(user, kinds)` would undo, or None."""
        who = None if user is None else _check_user(user)
        row = self._read(lambda conn: conn.execute(
            *self._undoable(self.fingerprint, who, kinds)).fetchone())
        return None if row is None else str(row[2])

    def undo_last(self, user: str | None = None, kinds: Iterable[str] | None = None
                  ) -> str | None:
        """Undo the most recent action not yet undone, in one transaction: only `user`'s
        (a session's label, as passed to the action) and only of `kinds` (e.g. TAG_KINDS,
        ATTRIBUTE_KINDS) when given; pages pass both, so one session's undo never reverts
        another's work or another kind of action. Returns what was undone ("undid #12:
        added 'retro' to 30 products"), or None when there is nothing to undo."""
        who = None if user is None else _check_user(user)

        def run(conn: sqlite3.Connection) -> str | None:
            target = conn.execute(*self._undoable(self.fingerprint, who, kinds)).fetchone()
            if target is None:
                raise _NothingChanged(None)
            tid, kind, description = target
            now = _now()
            uid = self._new_action(conn, "undo", None, who or "", now, undoes=tid)
            restored, kept = (self._undo_attributes(conn, tid) if kind == "attribute"
                              else self._undo_tags(conn, tid))
            conn.execute("UPDATE actions SET undone_by = ? WHERE id = ?", (uid, tid))
            text = f"undid #{tid}: {description}"
            if kept:
                text += (f" ({_plural(kept, 'row')} changed by later actions "
                         f"{'was' if kept == 1 else 'were'} left as they are)")
            self._finish_action(conn, uid, restored, text)
            return text
        return self._write(run)

    def _undo_tags(self, conn: sqlite3.Connection, tid: int) -> tuple[int, int]:
        changes = conn.execute(
            "SELECT op, sku, tag, changed_at, changed_by, row_action FROM tag_changes "
            "WHERE action_id = ? ORDER BY rowid", (tid,)).fetchall()
        done = kept = 0
        for op, sku, tag, _, _, _ in changes:       # first take back what it inserted ...
            if op == "+":
                cur = conn.execute("DELETE FROM tags WHERE fingerprint = ? AND sku = ? AND "
                                   "tag = ? AND action_id = ?", (self.fingerprint, sku, tag, tid))
                done += cur.rowcount
                kept += 1 - cur.rowcount
        for op, sku, tag, changed_at, changed_by, row_action in changes:  # ... then put back
            if op == "-":
                cur = conn.execute(
                    "INSERT OR IGNORE INTO tags(fingerprint, sku, tag, changed_at, changed_by, "
                    "action_id) VALUES (?, ?, ?, ?, ?, ?)",
                    (self.fingerprint, sku, tag, changed_at, changed_by, row_action))
                done += cur.rowcount
                kept += 1 - cur.rowcount
        return done, kept

    def _undo_attributes(self, conn: sqlite3.Connection, tid: int) -> tuple[int, int]:
        changes = conn.execute(
            "SELECT sku, attribute, had_old, old_value, old_source, old_confidence, "
            "old_changed_at, old_changed_by, old_action FROM attribute_changes "
            "WHERE action_id = ? ORDER BY rowid", (tid,)).fetchall()
        done = kept = 0
        for sku, column, had_old, *old in changes:
            key = (self.fingerprint, sku, column)
            current = conn.execute("SELECT action_id FROM attributes WHERE fingerprint = ? AND "
                                   "sku = ? AND attribute = ?", key).fetchone()
            if current is None or current[0] != tid:
                kept += 1
                continue
            if had_old:
                conn.execute("UPDATE attributes SET value = ?, source = ?, confidence = ?, "
                             "changed_at = ?, changed_by = ?, action_id = ? WHERE "
                             "fingerprint = ? AND sku = ? AND attribute = ?", (*old, *key))
            else:
                conn.execute("DELETE FROM attributes WHERE fingerprint = ? AND sku = ? AND "
                             "attribute = ?", key)
            done += 1
        return done, kept

    def history(self, limit: int = 100) -> pd.DataFrame:
        """The latest actions, newest first: id, kind, tag, description, rows, changed_at,
        changed_by, undone (bool), undone_by (id of the undo), undoes (for undo actions)."""
        import pandas as pd

        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            raise ValueError(f"limit must be a positive integer, got {limit!r}")

        def run(conn: sqlite3.Connection) -> list[tuple]:
            return conn.execute(
                "SELECT id, kind, tag, description, n_rows, changed_at, changed_by, undone_by, "
                "undoes FROM actions WHERE fingerprint = ? ORDER BY id DESC LIMIT ?",
                (self.fingerprint, limit)).fetchall()
        df = pd.DataFrame(self._read(run), columns=["id", "kind", "tag", "description", "rows",
                                                    "changed_at", "changed_by", "undone_by",
                                                    "undoes"])
        df["changed_at"] = pd.to_datetime(df["changed_at"], utc=True, format="ISO8601")
        df.insert(7, "undone", df["undone_by"].notna())
        df["undone_by"] = df["undone_by"].astype("Int64")
        df["undoes"] = df["undoes"].astype("Int64")
        return df

    # -------------------------------------------------------------- queries
    def tags(self) -> pd.DataFrame:
        """Every tag in use: columns tag, count, last_changed; most used first."""
        import pandas as pd

        def run(conn: sqlite3.Connection) -> list[tuple]:
            return conn.execute(
                "SELECT tag, COUNT(*), MAX(changed_at) FROM tags WHERE fingerprint = ? "
                "GROUP BY tag ORDER BY COUNT(*) DESC, tag", (self.fingerprint,)).fetchall()
        df = pd.DataFrame(self._read(run), columns=["tag", "count", "last_changed"])
        df["count"] = df["count"].astype("int64")
        df["last_changed"] = pd.to_datetime(df["last_changed"], utc=True, format="ISO8601")
        return df

    def _all_tag_rows(self, conn: sqlite3.Connection) -> list[tuple[str, str]]:
        return conn.execute("SELECT sku, tag FROM tags WHERE fingerprint = ? ORDER BY sku, tag",
                            (self.fingerprint,)).fetchall()

    def tags_for(self, skus: Iterable[str]) -> dict[str, list[str]]:
        """{sku: sorted tags} for every SKU asked for ([] when it has none)."""
        wanted = _check_skus(skus)
        want = set(wanted)

        def run(conn: sqlite3.Connection) -> list[tuple[str, str]]:
            if len(wanted) > 500:
                return [r for r in self._all_tag_rows(conn) if r[0] in want]
            marks = ",".join("?" * len(wanted))
            return conn.execute(f"SELECT sku, tag FROM tags WHERE fingerprint = ? AND sku IN "
                                f"({marks}) ORDER BY sku, tag",
                                (self.fingerprint, *wanted)).fetchall()
        out: dict[str, list[str]] = {s: [] for s in wanted}
        if wanted:
            for sku, tag in self._read(run):
                out[sku].append(tag)
        return out

    def skus_with(self, tag: str) -> list[str]:
        """SKUs carrying `tag`, sorted."""
        tag = normalize_tag(tag)
        return self._read(lambda conn: [r[0] for r in conn.execute(
            "SELECT sku FROM tags WHERE fingerprint = ? AND tag = ? ORDER BY sku",
            (self.fingerprint, tag))])

    def tag_column(self, skus: Iterable[str]) -> list[str]:
        """One label per SKU in `skus` (same order, duplicates allowed), for colouring a map:
        its tag, its tags sorted and joined with ", ", or "untagged"."""
        if isinstance(skus, (str, bytes)):
            raise ValueError("skus must be a list of SKUs, not one string")
        items = [str(s) for s in skus]
        by_sku: dict[str, list[str]] = {}
        for sku, tag in self._read(self._all_tag_rows):
            by_sku.setdefault(sku, []).append(tag)
        return [", ".join(by_sku[s]) if s in by_sku else UNTAGGED for s in items]

    # -------------------------------------------------------------- CSV
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
                cur = conn.execute(
                    "INSERT OR IGNORE INTO tags(fingerprint, sku, tag, changed_at, changed_by, "
                    "action_id) VALUES (?, ?, ?, ?, ?, ?)",
                    (self.fingerprint, sku, tag, now, user, aid))
                if cur.rowcount == 1:
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
