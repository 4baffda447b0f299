"""Scoped undo and the action history of the annotations store (a mixin over `db.StoreBase`).

`undo_last(user, kinds)` reverts the most recent action not undone yet, among one user's (a
session's) actions of the given kinds (TAG_KINDS, ATTRIBUTE_KINDS), in one transaction, and
`last_undoable` says what it would undo. Only rows still as that action left them are restored;
rows another action changed since are left alone, and the description says how many. Undos are
recorded in the history but are not undoable (no redo).
"""
from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING, Iterable

from explorer.store.db import _NothingChanged, _now, _plural
from explorer.store.validation import _check_user

if TYPE_CHECKING:
    import pandas as pd


class UndoMixin:
    """last_undoable, undo_last, history."""

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
                put_back = self._insert_tag(conn, sku, tag, changed_at, changed_by, row_action)
                done += put_back
                kept += not put_back
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
