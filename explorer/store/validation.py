"""Validation of what goes into the annotations database: tags, SKUs, user labels, attribute
columns, values and confidences. Each check returns the stored form or raises ValueError
saying what was wrong."""
from __future__ import annotations

import math
import numbers
import unicodedata
from typing import Any

UNTAGGED = "untagged"        # tag_column's label for an item without tags
MAX_TAG_LEN = 100
MAX_SKU_LEN = 200
MAX_USER_LEN = 200

_BIDI_CONTROLS = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


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

