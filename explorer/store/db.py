"""The annotations database itself: file location, schema, connections and transactions.

`StoreBase` holds what every part of `explorer.store.annotations.AnnotationStore` shares: the
path and fingerprint, one short-lived connection per call (WAL mode, busy timeout, foreign keys
on), ``BEGIN IMMEDIATE`` write transactions retried while the file is busy, the schema and its
version check, a read-only fallback for a file this process may not write, and the action log
(`_new_action`, `_finish_action`) that every change writes first. The tag, attribute, undo and
CSV methods live in `tags`, `attributes`, `undo` and `tag_csv` as mixins over this base.
"""
from __future__ import annotations

import os
import random
import sqlite3
import threading
import time
import urllib.parse
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable

if TYPE_CHECKING:
    from explorer.store.annotations import AnnotationStore

SCHEMA_VERSION = 1
TAG_KINDS = ("add", "remove", "rename", "delete", "import")   # what "undo" on tags may undo
ATTRIBUTE_KINDS = ("attribute",)                              # accepted attribute values
DEFAULT_BUSY_TIMEOUT_S = 30.0

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


# ---------------------------------------------------------------------------- the base
class StoreBase:
    """One catalogue's rows (by fingerprint) in a SQLite file: connections, transactions,
    schema and the action log. See `explorer.store.annotations.AnnotationStore`."""

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
