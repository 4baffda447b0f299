"""Human names for latent dimensions, saved next to a bundle (never inside its weights).

    <bundle>/names.json  {"fingerprint": ..., "model": <weights sha>, "names": {"3": "height"}}

A bundle folder may be read-only (the committed demo); then names go to
<KICKSPACE_DATA_DIR or ./data>/names-<weights sha>.json instead.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from explorer.atomic import atomic_write_text


def _fallback(bundle_key: str) -> Path:
    return Path(os.environ.get("KICKSPACE_DATA_DIR", "data")) / f"names-{bundle_key}.json"


def _candidates(bundle_path: Path, bundle_key: str) -> list[Path]:
    return [Path(bundle_path) / "names.json", _fallback(bundle_key)]


def load_names(bundle_path: str | Path, bundle_key: str) -> dict[int, str]:
    """{dimension: name} saved for this bundle's weights; {} when none or unreadable."""
    names: dict[int, str] = {}
    for p in _candidates(Path(bundle_path), bundle_key):
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError, OSError):
            continue
        if not isinstance(data, dict) or data.get("model") != bundle_key:
            continue
        for k, v in (data.get("names") or {}).items():
            if str(k).isdigit() and isinstance(v, str) and v.strip():
                names[int(k)] = v.strip()[:80]
    return names


def save_names(bundle_path: str | Path, bundle_key: str, names: dict[int, str]) -> Path:
    """Save {dimension: name}; returns the file written (bundle folder, else the data dir)."""
    clean = {str(int(k)): str(v).strip()[:80] for k, v in names.items() if str(v).strip()}
    text = json.dumps({"model": bundle_key, "names": clean}, indent=1, ensure_ascii=False)
    for p in _candidates(Path(bundle_path), bundle_key):
        try:
            atomic_write_text(p, text)
            return p
        except OSError:
            continue
    raise OSError(f"cannot save factor names next to {bundle_path} or in {_fallback(bundle_key)}")


def dim_label(dim: int, names: dict[int, str]) -> str:
    return f"dim {dim} · {names[dim]}" if dim in names else f"dim {dim}"
