"""Human names for latent dimensions, kept per model weights in the annotations database
(explorer.store.latent), never inside the weights.

Older versions wrote <bundle>/names.json or <KICKSPACE_DATA_DIR or ./data>/names-<weights
sha>.json; the first open copies them into the database (`_fallback` names the second).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from explorer.data.atomic import atomic_write_text


def _fallback(bundle_key: str) -> Path:
    return Path(os.environ.get("KICKSPACE_DATA_DIR", "data")) / f"names-{bundle_key}.json"


def load_names(bundle_path: str | Path, bundle_key: str) -> dict[int, str]:
    """{dimension: name} saved for this bundle's weights; {} when none."""
    from explorer.store.latent import for_bundle
    return for_bundle(bundle_path, bundle_key).names()


def save_names(bundle_path: str | Path, bundle_key: str, names: dict[int, str],
               user: str = "") -> Path:
    """Save {dimension: name} in one transaction (an empty name clears one; dimensions not
    given keep theirs); returns the database written."""
    from explorer.store.latent import for_bundle
    store = for_bundle(bundle_path, bundle_key)
    store.save_names(names, user=user)
    return store.store.path


def dim_label(dim: int, names: dict[int, str]) -> str:
    return f"dim {dim} · {names[dim]}" if dim in names else f"dim {dim}"


# ---------------------------------------------------------------------------- checked names
# Suggested names are checked against decoded pictures in explorer.latent.naming_check; the
# result is a FactorName per dimension, stored once per model (below).
SUGGESTED = "suggested"


@dataclass(frozen=True)
class FactorName:
    """What a latent dimension is called and why."""

    dim: int
    label: str           # for sliders: "dim 5 · upper_hue ↑ (suggested)", "dim 8"
    source: str          # "saved" (a person's name), "suggested" (checked), "none"
    suggestion: str      # the metadata suggestion, checked or not ("" when none)
    confirmed: bool      # the pictures showed the suggested attribute changing
    evidence: str        # one line: what the check saw
    description: str     # what visibly changes: "colour of the upper", "height of the shoe"


# ---------------------------------------------------------------------------- stored checks
CHECK_VERSION = 1


def _checked_candidates(bundle_path: Path, bundle_key: str) -> list[Path]:
    from explorer.store.latent import weights_of
    bundle_key = weights_of(bundle_key)   # a Bundle.key also names its catalogue
    return [Path(bundle_path) / "factor_names.json",
            Path(os.environ.get("KICKSPACE_DATA_DIR", "data")) / f"factor-names-{bundle_key}.json"]


def save_checked(bundle_path, bundle_key: str, names: dict[int, FactorName]) -> Path:
    """Store checked_names' result next to the bundle (else in the data dir), keyed by the
    weights: the check decodes a few hundred pictures and is done once per model."""
    rows = {str(d): {"suggestion": f.suggestion, "confirmed": f.confirmed,
                     "evidence": f.evidence, "description": f.description}
            for d, f in names.items()}
    from explorer.store.latent import weights_of
    text = json.dumps({"model": weights_of(bundle_key), "version": CHECK_VERSION, "dims": rows},
                      indent=1, ensure_ascii=False)
    for p in _checked_candidates(Path(bundle_path), bundle_key):
        try:
            atomic_write_text(p, text)
            return p
        except OSError:
            continue
    raise OSError(f"cannot store the checked factor names next to {bundle_path}")


def load_checked(bundle_path, bundle_key: str) -> dict[int, FactorName] | None:
    """The stored check for these weights ({dim: FactorName}, labels without saved names),
    or None when there is none (or it is unreadable or for other weights)."""
    from explorer.store.latent import weights_of
    for p in _checked_candidates(Path(bundle_path), bundle_key):
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError, OSError):
            continue
        if not isinstance(data, dict) or data.get("model") != weights_of(bundle_key) \
                or data.get("version") != CHECK_VERSION:
            continue
        out = {}
        try:
            for k, v in data["dims"].items():
                d = int(k)
                sug, ok = str(v.get("suggestion", ""))[:80], bool(v.get("confirmed"))
                out[d] = FactorName(d, f"dim {d} · {sug} ({SUGGESTED})" if ok and sug
                                    else f"dim {d}", SUGGESTED if ok and sug else "none",
                                    sug, ok and bool(sug), str(v.get("evidence", ""))[:300],
                                    str(v.get("description", ""))[:120])
        except (AttributeError, KeyError, TypeError, ValueError):
            continue
        return out
    return None


def applied_names(saved: dict[int, str], checked: dict[int, FactorName] | None) -> dict[int, str]:
    """{dim: name} for labels (dim_label): a person's saved name, else a confirmed
    suggestion marked "(suggested)"; dimensions with neither stay "dim N"."""
    out = {d: f"{f.suggestion} ({SUGGESTED})" for d, f in (checked or {}).items()
           if f.confirmed and f.suggestion}
    out.update(saved)
    return out


def confirmed_suggestions(draft: dict[int, str], checked: dict[int, FactorName] | None
                          ) -> tuple[dict[int, str], dict[int, str]]:
    """The lab's "Use suggestions": (new draft, {dim: why skipped}). Only suggestions that
    decoding the factor's traversal confirmed are filled in, the rule the sliders follow
    (applied_names); every other dimension keeps its draft name. Without a check (still
    running), nothing is filled in."""
    out, skipped = dict(draft), {}
    for d, f in sorted((checked or {}).items()):
        if f.confirmed and f.suggestion:
            out[d] = f.suggestion
        elif f.suggestion:
            skipped[d] = f"the pictures did not confirm {f.suggestion!r}; " \
                         f"what changes: {f.description}"
    return out, skipped
