"""Accepted attribute values (imputations) of the annotations store (a mixin over
`db.StoreBase`): stored beside the tags, never written into the catalogue; each change is one
undoable action whose ``attribute_changes`` rows keep the values it replaced."""
from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING, Any, Mapping

from explorer.store.db import _NothingChanged, _now, _plural
from explorer.store.validation import (_check_column, _check_confidence, _check_sku,
                                       _check_user, _check_value)

if TYPE_CHECKING:
    import pandas as pd


class AttributesMixin:
    """set_attribute, set_attributes, attributes."""

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
