"""Adding a 2-D map to a bundle that is already written (`python -m explorer project`): the map
goes into projections.safetensors and bundle.json's checksums and method list, each file
replaced atomically. A 3-D map (`--dims 3`) goes into its own file, projections3d.safetensors
(methods listed under "methods_3d"), so that 2-D readers, old ones included, never meet it.
Needs no torch."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file, save

from explorer.data.atomic import atomic_write_bytes, atomic_write_text

PROJECTIONS_3D = "projections3d.safetensors"      # 3-D maps: float32 [N, 3] per method


def read_means(path: str | Path) -> np.ndarray:
    """The bundle's latent means, mu [N, latent_dim], from embeddings.safetensors."""
    return load_file(str(Path(path) / "embeddings.safetensors"))["mu"]


def store_projection(path: str | Path, method: str, xy: np.ndarray, seconds: float,
                     sample: int, seed: int) -> Path:
    """Put xy [N, 2] (or [N, 3]) into the bundle at path as its `method` map (replacing one of
    that name and dimension), recording in bundle.json the file's size and checksum, the
    seconds it took and what it was fitted on. Returns the projections file."""
    path = Path(path)
    dims = int(np.shape(xy)[1]) if np.ndim(xy) == 2 else 0
    if dims not in (2, 3):
        raise ValueError(f"a map is [N, 2] or [N, 3], got shape {np.shape(xy)}")
    info_path = path / "bundle.json"
    info = json.loads(info_path.read_text(encoding="utf-8"))
    name = "projections.safetensors" if dims == 2 else PROJECTIONS_3D
    proj_file = path / name
    projs = dict(load_file(str(proj_file))) if proj_file.is_file() else {}
    projs[method] = xy
    data = save({k: np.ascontiguousarray(v, np.float32) for k, v in projs.items()})
    atomic_write_bytes(proj_file, data)
    info.setdefault("files", {})[name] = {
        "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    meta = info.setdefault("projections", {})
    listed, tag = ("methods", method) if dims == 2 else ("methods_3d", f"{method}_3d")
    meta[listed] = sorted(set(meta.get(listed, [])) | {method})
    meta.setdefault("seconds", {})[tag] = round(seconds, 1)
    meta.setdefault("fitted_on", {})[tag] = {"sample": int(sample), "seed": int(seed)}
    atomic_write_text(info_path, json.dumps(info, indent=2))
    return proj_file
