"""Factor names and attribute directions, kept in the annotations database beside the tags.

Names ("dim 3 is heel height") and directions ("sole colour: white") belong to a model's
weights, not to its catalogue: rows are keyed by the weights' checksum (`Bundle.weights_key`).
They live in the same SQLite file as the catalogue's tags (`explorer.store.annotations`), with the
same guarantees: every save is one ``BEGIN IMMEDIATE`` transaction that changes only what it
names, so two sessions saving at once both keep their changes (the JSON files used before were
read, modified and rewritten whole, and one of two concurrent saves was lost).

Tables (created on first use)::

    factor_names  (weights, dim) -> name, changed_at, changed_by
    directions    (weights, slug) -> position, data (Direction.to_dict() as JSON),
                                     changed_at, changed_by

Older versions saved ``<bundle>/names.json`` and ``<bundle>/directions.json`` (or the same in
$KICKSPACE_DATA_DIR); the first open for a bundle's weights copies them in, once (files over
`MAX_JSON_BYTES` are ignored). The files are left where they are.

The functions in `explorer.latent.naming` and `explorer.latent.directions` (load_names, save_names,
load_directions, save_direction, delete_direction) call into this module.
"""
from __future__ import annotations

import json
import os
import sqlite3
import threading
from pathlib import Path
from typing import Any, Iterable

from explorer.store.annotations import AnnotationStore
from explorer.store.db import AnnotationStoreError, _now, default_db_path
from explorer.store.validation import _check_user

MAX_JSON_BYTES = 4 << 20   # an old names.json or directions.json bigger than this is ignored
MAX_NAME_LEN = 80
MAX_DIRECTIONS = 64        # saved per model (as explorer.latent.directions.MAX_DIRECTIONS)

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS factor_names (
        weights    TEXT NOT NULL,
        dim        INTEGER NOT NULL,
        name       TEXT NOT NULL,
        changed_at TEXT NOT NULL,
        changed_by TEXT NOT NULL,
        PRIMARY KEY (weights, dim)) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS directions (
        weights    TEXT NOT NULL,
        slug       TEXT NOT NULL,
        position   INTEGER NOT NULL,
        data       TEXT NOT NULL,
        changed_at TEXT NOT NULL,
        changed_by TEXT NOT NULL,
        PRIMARY KEY (weights, slug)) WITHOUT ROWID""",
)


def weights_of(bundle_key: str) -> str:
    """The weights part of a bundle key ("<weights>-<catalogue>" or a plain weights key)."""
    return str(bundle_key).split("-", 1)[0]


def _read_json(p: Path) -> Any:
    try:
        if p.stat().st_size > MAX_JSON_BYTES:
            return None
        return json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError, RecursionError):
        return None


class LatentStore:
    """Names and directions for one model's weights, in an AnnotationStore's database."""

    def __init__(self, store: AnnotationStore, bundle_key: str,
                 legacy_dirs: Iterable[str | os.PathLike] = ()):
        self.store = store
        self.weights = weights_of(bundle_key)
        self._legacy = [Path(d) for d in legacy_dirs]
        self._ready = False

    # -------------------------------------------------------------- set-up and migration
    def _legacy_files(self, kind: str) -> list[Path]:
        from explorer.latent import directions as dmod
        from explorer.latent import naming
        fallback = (naming._fallback(self.weights) if kind == "names"
                    else dmod._fallback(self.weights))
        return [d / f"{kind}.json" for d in self._legacy] + [fallback]

    def _ensure(self) -> None:
        """Create the tables and copy in the JSON files of older versions (once)."""
        if self._ready or self.store.read_only:
            return
        from explorer.latent.directions import Direction

        def run(conn: sqlite3.Connection) -> None:
            for statement in _SCHEMA:
                conn.execute(statement)
            flag = f"migrated_json:{self.weights}"
            if conn.execute("SELECT 1 FROM meta WHERE key = ?", (flag,)).fetchone():
                return
            now = _now()
            for p in self._legacy_files("names"):
                data = _read_json(p)
                if not isinstance(data, dict) or weights_of(data.get("model", "")) != self.weights:
                    continue
                names = data.get("names")
                for k, v in (names.items() if isinstance(names, dict) else []):
                    if str(k).isdigit() and isinstance(v, str) and v.strip():
                        conn.execute("INSERT OR REPLACE INTO factor_names VALUES (?, ?, ?, ?, ?)",
                                     (self.weights, int(k), v.strip()[:MAX_NAME_LEN], now,
                                      "imported"))
            for p in self._legacy_files("directions"):
                data = _read_json(p)
                if not isinstance(data, dict) or weights_of(data.get("model", "")) != self.weights:
                    continue
                hidden = data.get("hidden") if isinstance(data.get("hidden"), list) else []
                for slug in hidden[:1000]:
                    if isinstance(slug, str):
                        conn.execute("DELETE FROM directions WHERE weights = ? AND slug = ?",
                                     (self.weights, slug))
                items = data.get("directions")
                for item in (items[:MAX_DIRECTIONS] if isinstance(items, list) else []):
                    try:
                        d = Direction.from_dict(item)
                    except (ValueError, TypeError, OverflowError):
                        continue
                    if d.slug:
                        self._put_direction(conn, d, now, "imported")
            conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (flag, now))
        self.store._write(run)
        self._ready = True

    def _reading(self, fn, empty):
        """Run a read; a read-only database made before these tables existed reads as
        empty."""
        self._ensure()
        try:
            return self.store._read(fn)
        except AnnotationStoreError as e:
            if "no such table" in str(e):
                return empty
            raise

    # -------------------------------------------------------------- names
    def names(self) -> dict[int, str]:
        """{dimension: name}."""
        rows = self._reading(lambda conn: conn.execute(
            "SELECT dim, name FROM factor_names WHERE weights = ? ORDER BY dim",
            (self.weights,)).fetchall(), [])
        return {int(d): str(n) for d, n in rows}

    def save_names(self, names: dict[int, str], user: str = "") -> int:
        """Set the given dimensions' names in one transaction; an empty name removes that
        dimension's name. Dimensions not given are left as they are (another session may
        have named them meanwhile). Returns how many rows changed."""
        who = _check_user(user)
        clean: dict[int, str] = {}
        for k, v in names.items():
            dim = int(k)
            if dim < 0 or dim > 4096:
                raise ValueError(f"dimension {k!r} is out of range")
            clean[dim] = str(v if v is not None else "").strip()[:MAX_NAME_LEN]
        self._ensure()
        now = _now()

        def run(conn: sqlite3.Connection) -> int:
            n = 0
            for dim, name in clean.items():
                old = conn.execute("SELECT name FROM factor_names WHERE weights = ? AND dim = ?",
                                   (self.weights, dim)).fetchone()
                if name and (old is None or old[0] != name):
                    conn.execute("INSERT OR REPLACE INTO factor_names VALUES (?, ?, ?, ?, ?)",
                                 (self.weights, dim, name, now, who))
                    n += 1
                elif not name and old is not None:
                    conn.execute("DELETE FROM factor_names WHERE weights = ? AND dim = ?",
                                 (self.weights, dim))
                    n += 1
            return n
        return self.store._write(run)

    # -------------------------------------------------------------- directions
    def directions(self, latent_dim: int | None = None) -> list:
        """The saved directions in the order first saved; entries that do not validate
        (with latent_dim: a vector of another length) are left out."""
        from explorer.latent.directions import Direction
        rows = self._reading(lambda conn: conn.execute(
            "SELECT data FROM directions WHERE weights = ? ORDER BY position",
            (self.weights,)).fetchall(), [])
        out = []
        for (data,) in rows[:MAX_DIRECTIONS]:
            try:
                out.append(Direction.from_dict(json.loads(data), latent_dim))
            except (ValueError, TypeError, OverflowError, RecursionError):
                continue
        return out

    def _put_direction(self, conn: sqlite3.Connection, d, now: str, who: str) -> bool:
        old = conn.execute("SELECT position FROM directions WHERE weights = ? AND slug = ?",
                           (self.weights, d.slug)).fetchone()
        count, top = conn.execute("SELECT count(*), max(position) FROM directions "
                                  "WHERE weights = ?", (self.weights,)).fetchone()
        if old is None and count >= MAX_DIRECTIONS:
            raise ValueError(f"at most {MAX_DIRECTIONS} directions per bundle; delete one first")
        position = (top if top is not None else -1) + 1   # a replaced one moves to the end
        conn.execute("INSERT OR REPLACE INTO directions VALUES (?, ?, ?, ?, ?, ?)",
                     (self.weights, d.slug, position,
                      json.dumps(d.to_dict(), ensure_ascii=False), now, who))
        return old is not None

    def save_direction(self, direction, user: str = "") -> bool:
        """Add a direction, or replace the one with the same name; True if it replaced one."""
        if not direction.slug:
            raise ValueError("a direction needs a name with at least one letter or digit")
        who = _check_user(user)
        self._ensure()
        now = _now()
        return self.store._write(lambda conn: self._put_direction(conn, direction, now, who))

    def delete_direction(self, slug: str, user: str = "") -> bool:
        """Remove the direction with this slug; False when there was none."""
        _check_user(user)
        self._ensure()
        return self.store._write(lambda conn: conn.execute(
            "DELETE FROM directions WHERE weights = ? AND slug = ?",
            (self.weights, str(slug))).rowcount > 0)


# ---------------------------------------------------------------------------- by bundle path
_STORES: dict[tuple[str, str], AnnotationStore] = {}
_LOCK = threading.Lock()


def _fingerprint(bundle_path: Path, bundle_key: str) -> str:
    """The catalogue fingerprint of the bundle at bundle_path (from bundle.json), or a fixed
    stand-in for a folder that is not a bundle."""
    info = _read_json(bundle_path / "bundle.json")
    fp = info.get("catalogue", {}).get("fingerprint") if isinstance(info, dict) else None
    return fp if isinstance(fp, str) and fp.isalnum() else "no-catalogue"


def for_bundle(bundle_path: str | os.PathLike, bundle_key: str) -> LatentStore:
    """The LatentStore of the bundle at bundle_path: its catalogue's annotations database
    (see `db.default_db_path`), rows for the weights in bundle_key."""
    path = Path(bundle_path)
    fp = _fingerprint(path, bundle_key)
    db = default_db_path(path, fp).expanduser().absolute()
    with _LOCK:
        store = _STORES.get((str(db), fp))
        if store is None or not db.exists():
            store = _STORES[(str(db), fp)] = AnnotationStore(db, fp)
    return LatentStore(store, bundle_key, legacy_dirs=[path])


__all__ = ["LatentStore", "MAX_DIRECTIONS", "MAX_JSON_BYTES", "for_bundle", "weights_of"]
