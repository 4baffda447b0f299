"""What is inside a bundle (or a catalogue folder), as text (`python -m explorer info`)."""
from __future__ import annotations

import json
from pathlib import Path

from explorer.bundle.core import load_bundle
from explorer.data.catalogue import Catalogue


def describe_bundle(path: str | Path) -> str:
    b = load_bundle(path)
    info = b.info
    cat = info["catalogue"]
    n_params = sum(p.numel() for p in b.model.parameters())
    lines = [
        f"bundle      {b.path}",
        f"format      v{info['format_version']}, created {info.get('created', '?')}",
        f"model       {b.kind}: {n_params:,} parameters, {b.latent_dim} latents, "
        f"{b.image_size} px",
        "config      " + ", ".join(f"{k}={v}" for k, v in info["model_config"].items()),
        "training    " + ", ".join(f"{k}={info['train_config'].get(k)}"
                                   for k in ("epochs", "batch_size", "lr", "seed"))
        + (f", linear paths faded out from {info['train_config'].get('linear_fade_start', 0):.0%}"
           f" to {info['train_config']['linear_fade']:.0%} of the run"
           if info["train_config"].get("linear_fade") else ""),
        f"catalogue   {cat.get('name')}: {cat['count']:,} items at {cat['size']} px, "
        f"fingerprint {cat['fingerprint']}, source {json.dumps(cat.get('source', {}))}",
        f"columns     {', '.join(cat.get('columns', []))}",
        f"embeddings  mu, logvar {tuple(b.mu.shape)}",
        "projections " + (", ".join(f"{k} {tuple(v.shape)}" for k, v in
                                    [*b.projections.items(), *b.projections_3d.items()])
                          or "none"),
        f"gallery     {b.gallery.shape[0]} epochs x "
        f"{b.gallery.shape[1] if b.gallery.ndim > 1 else 0} images",
        f"history     {len(b.history)} epochs",
    ]
    val = info.get("metrics", {}).get("val")
    if val:
        lines.append("validation  " + ", ".join(
            f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in val.items()))
    total = sum(f["bytes"] for f in info["files"].values())
    lines.append(f"files       {len(info['files'])} files, {total / 1e6:.1f} MB")
    return "\n".join(lines)


def describe_catalogue(path: str | Path) -> str:
    c = Catalogue.load(path)
    lines = [f"catalogue   {c.path}", f"items       {len(c):,} at {c.size} px",
             f"fingerprint {c.fingerprint}", f"source      {json.dumps(c.source)}",
             f"columns     {', '.join(c.metadata.columns)}"]
    if c.factor_columns:
        lines.append(f"factors     {', '.join(c.factor_columns)}")
    return "\n".join(lines)
