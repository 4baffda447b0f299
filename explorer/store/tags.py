"""Tag changes and tag queries of the annotations store (a mixin over `db.StoreBase`).

Every change is one transaction and one undoable action; each tag row it inserts (+) or deletes
(-, with the row's previous values) goes to ``tag_changes`` so that `undo` restores exactly.
"""
from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING, Callable, Iterable

from explorer.store.db import _NothingChanged, _now, _plural
from explorer.store.validation import UNTAGGED, _check_skus, _check_user, normalize_tag

if TYPE_CHECKING:
    import pandas as pd


class TagsMixin:
    """add_tag, remove_tag, rename_tag, delete_tag; tags, tags_for, skus_with, tag_column."""

    @staticmethod
    def _log_tags(conn: sqlite3.Connection, action_id: int, op: str,
                  rows: list[tuple[str, str, str, str, int]]) -> None:
        """rows: (sku, tag, changed_at, changed_by, row_action) as inserted (+) or as they
        were before being deleted (-)."""
        conn.executemany(
            "INSERT INTO tag_changes(action_id, op, sku, tag, changed_at, changed_by, "
            "row_action) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(action_id, op, *r) for r in rows])

    def _insert_tag(self, conn: sqlite3.Connection, sku: str, tag: str, changed_at: str,
                    changed_by: str, action_id: int) -> bool:
        """One tag row, unless the SKU has it already; True when it was inserted. Every write
        of a tag row (add, rename, CSV import, undo) goes through here."""
        cur = conn.execute(
            "INSERT OR IGNORE INTO tags(fingerprint, sku, tag, changed_at, changed_by, "
            "action_id) VALUES (?, ?, ?, ?, ?, ?)",
            (self.fingerprint, sku, tag, changed_at, changed_by, action_id))
        return cur.rowcount == 1

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
                if self._insert_tag(conn, sku, tag, now, user, aid):
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
                if self._insert_tag(conn, sku, new, now, user, aid):
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
