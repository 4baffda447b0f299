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
always passes both, and `last_undoable` says what it would undo. It restores only rows that are
still as that action left them; rows another action changed since are left alone, and the
returned description says how many. Undos are themselves recorded in the history but are not
undoable (no redo).

Code
----
This module is the entry point: `AnnotationStore` composes the parts, and the names callers
use are importable from here. `db` (file, schema, connections, transactions, action log),
`validation` (tags, SKUs, users, values), `tags`, `attributes`, `undo` (scoped undo, history)
and `tag_csv` (export and import) hold the code.
"""
from __future__ import annotations

from explorer.store.attributes import AttributesMixin
from explorer.store.db import (ATTRIBUTE_KINDS, DEFAULT_BUSY_TIMEOUT_S, SCHEMA_VERSION,
                               TAG_KINDS, AnnotationStoreError, StoreBase, default_db_path)
from explorer.store.tag_csv import (CSV_COLUMNS, MAX_IMPORT_BYTES, ImportResult, SkippedRow,
                                    TagCsvMixin, neutralize_cell, unneutralize_cell)
from explorer.store.tags import TagsMixin
from explorer.store.undo import UndoMixin
from explorer.store.validation import (MAX_SKU_LEN, MAX_TAG_LEN, MAX_USER_LEN, UNTAGGED,
                                       normalize_tag)


class AnnotationStore(TagsMixin, AttributesMixin, UndoMixin, TagCsvMixin, StoreBase):
    """Tags and accepted imputed values for one catalogue (by fingerprint), in a SQLite file.

    Safe to share between threads and processes: every call opens its own connection, and
    every change is one transaction. `known_skus`, when given, is the catalogue's SKUs:
    `add_tag` refuses others and `import_csv` skips them with a reason. `busy_timeout` is how
    long a write waits for another writer, in seconds; `synchronous` is SQLite's setting
    (FULL: a committed change survives a power cut; NORMAL: faster, survives a crash of the
    app but may lose the last commits on a power cut; both keep the database consistent).
    """

    def __repr__(self) -> str:
        return f"AnnotationStore({str(self.path)!r}, fingerprint={self.fingerprint!r})"


__all__ = ["ATTRIBUTE_KINDS", "CSV_COLUMNS", "DEFAULT_BUSY_TIMEOUT_S", "MAX_IMPORT_BYTES",
           "MAX_SKU_LEN", "MAX_TAG_LEN", "MAX_USER_LEN", "SCHEMA_VERSION", "TAG_KINDS",
           "UNTAGGED", "AnnotationStore", "AnnotationStoreError", "ImportResult", "SkippedRow",
           "default_db_path", "neutralize_cell", "normalize_tag", "unneutralize_cell"]
