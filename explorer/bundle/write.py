"""Writing a bundle (explorer.bundle.core describes the folder): encode the catalogue, compute
its 2-D maps and write every file into a temporary sibling folder that replaces the old bundle
in one step, so a crash or a full disk leaves the previous bundle intact; and
`check_out_target`, which refuses an output path whose replacement would destroy something."""
from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any, Iterable

import numpy as np
from safetensors.numpy import save as np_save
from safetensors.torch import save as torch_save

from explorer.bundle.checks import FORMAT_VERSION, BundleError, sha256_file
from explorer.bundle.encode import encode_images, encode_precision
from explorer.data.atomic import (atomic_replace_dir, atomic_write_bytes, atomic_write_text,
                                  restore_hidden_copy)
from explorer.data.catalogue import Catalogue, metadata_to_csv_bytes
from explorer.data.imagestore import write_images
from explorer.models import AutoEncoder


def write_bundle(out_dir: str | os.PathLike, model: AutoEncoder, catalogue: Catalogue, *,
                 train_config: dict[str, Any], history: list[dict[str, Any]],
                 gallery: np.ndarray, metrics: dict[str, Any] | None = None,
                 projections: Iterable[str] = ("pca", "umap", "tsne"), seed: int = 0,
                 image_quality: int | None = None, mu: np.ndarray | None = None,
                 logvar: np.ndarray | None = None, keep: Iterable[str] = (),
                 progress: bool = False, precision: str = "fp32", device: str = "cpu",
                 log=print, deadline: float | None = None,
                 skipped: dict[str, str] | None = None) -> Path:
    """Encode the catalogue, compute the projections and write the bundle atomically.

    The bundle is written to a temporary sibling folder and moved into place at the end, so a
    crash or a full disk leaves the previous bundle at out_dir intact. Sub-folders named in
    `keep` (the training checkpoint) are carried over from the old folder, outside the
    bundle's checksummed file list. precision: "fp32", "bf16" or "auto" for encoding (the
    choice is recorded in bundle.json's "encoding"); device: where to encode ("cpu", "cuda").
    deadline: a time.monotonic() by which the bundle should be written: UMAP / t-SNE whose
    estimated time (explorer.training.budget) would pass it are skipped with a message; `skipped`
    (map -> why) lists the ones already left out, recorded in bundle.json's "projections".
    """
    out = Path(out_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    restore_hidden_copy(out)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    try:
        encoding: dict[str, Any] = {}
        if mu is None or logvar is None:
            model = model.to(device).eval()
            choice = encode_precision(model, catalogue.images, precision)
            encoding = {"device": str(device), "precision": choice.to_dict()}
            if progress:
                log(f"encoding {len(catalogue)} items on {device} in {choice.precision} "
                    f"({choice.reason})")
            mu, logvar = encode_images(model, catalogue.images, progress=progress,
                                       precision=choice.precision)
        model = model.cpu().eval()
        projs, timings, skipped = _project_all(mu, projections, seed, progress, log, deadline,
                                               skipped)
        state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
        weights = torch_save(state)
        atomic_write_bytes(tmp / "model.safetensors", weights)
        from explorer.bundle.onnx import DECODER_FILE, export_decoder_bytes
        atomic_write_bytes(tmp / DECODER_FILE,
                           export_decoder_bytes(model, hashlib.sha256(weights).hexdigest()))
        atomic_write_bytes(tmp / "embeddings.safetensors",
                           np_save({"mu": np.ascontiguousarray(mu, np.float32),
                                    "logvar": np.ascontiguousarray(logvar, np.float16)}))
        if projs:
            atomic_write_bytes(tmp / "projections.safetensors",
                               np_save({k: np.ascontiguousarray(v, np.float32)
                                        for k, v in projs.items()}))
        if len(gallery):
            atomic_write_bytes(tmp / "gallery.webp", gallery_to_webp(gallery))
        atomic_write_text(tmp / "history.json", json.dumps(history, indent=1))
        atomic_write_bytes(tmp / "metadata.csv.gz",
                           gzip.compress(metadata_to_csv_bytes(catalogue.metadata), mtime=0))
        write_images(catalogue.images, tmp / "images", quality=image_quality, progress=progress)
        files = {}
        for p in sorted(tmp.rglob("*")):
            if p.is_file():
                rel = p.relative_to(tmp).as_posix()
                files[rel] = {"bytes": p.stat().st_size, "sha256": sha256_file(p)}
        info = {
            "format_version": FORMAT_VERSION,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "model_kind": model.cfg.kind,
            "model_config": model.cfg.to_dict(),
            "train_config": train_config,
            "catalogue": {
                "name": catalogue.name, "fingerprint": catalogue.fingerprint,
                "source": catalogue.source, "count": len(catalogue), "size": catalogue.size,
                "columns": list(catalogue.metadata.columns),
                "factor_columns": catalogue.factor_columns,
                "path": str(catalogue.path) if catalogue.path else None,
            },
            "images": {"format": "webp", "lossless": image_quality is None,
                       "quality": image_quality},
            "projections": {"methods": list(projs), "seed": seed, "seconds": timings,
                            **({"skipped": skipped} if skipped else {})},
            "metrics": metrics or {},
            "encoding": encoding,
            "files": files,
        }
        atomic_write_text(tmp / "bundle.json", json.dumps(info, indent=2))
        for name in keep:
            if (out / name).is_dir():
                shutil.copytree(out / name, tmp / name)
            elif (out / name).is_file():
                shutil.copy2(out / name, tmp / name)
        atomic_replace_dir(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


# files a bundle folder may hold beside those bundle.json lists: the training checkpoint and the
# names/directions files older versions saved there (carried over to the new bundle)
BUNDLE_EXTRAS = ("bundle.json", "checkpoint", "names.json", "directions.json",
                 "factor_names.json")


def check_out_target(out: str | os.PathLike, *, reads: Iterable[str | os.PathLike] = (),
                     overwrite: bool = False, flag: str = "--out") -> None:
    """Refuse an output path whose replacement would destroy something a command did not make.

    Allowed without `overwrite`: a path that does not exist, an empty folder, a bundle folder
    (bundle.json plus the files it lists and `BUNDLE_EXTRAS`), a folder holding only a training
    checkpoint. Never allowed: an existing file, or a path that is or holds one of `reads`
    (the catalogue or bundle the command reads). Raises BundleError naming what is in the way.
    """
    out = Path(out)
    restore_hidden_copy(out)
    if os.path.lexists(out) and (out.is_symlink() or not out.is_dir()):
        raise BundleError(f"{flag} {out} is an existing file, not a bundle folder; nothing was "
                          f"written (choose a new folder, e.g. checkpoints/NAME)")
    target = out.resolve()
    for r in reads:
        rp = Path(r).resolve()
        if rp == target or target in rp.parents:
            raise BundleError(f"{flag} {out} would replace {r}, which this command reads; "
                              f"nothing was written (choose a new folder, e.g. checkpoints/NAME)")
    if not out.exists() or overwrite:
        return
    entries = {e.name for e in out.iterdir()
               if not (e.name.startswith(".") and e.name.endswith(".tmp"))}
    if not entries or entries == {"checkpoint"}:
        return
    known: set[str] = set(BUNDLE_EXTRAS)
    is_bundle = False
    try:
        listed = json.loads((out / "bundle.json").read_text(encoding="utf-8"))["files"]
        known |= {Path(name).parts[0] for name in listed}
        is_bundle = True
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        pass
    extra = sorted(entries - known)
    if is_bundle and not extra:
        return
    what = (f"a bundle folder that also holds {', '.join(extra[:5])}" if is_bundle
            else f"a folder that is not a bundle (it holds {', '.join(sorted(entries)[:5])}"
                 f"{', ...' if len(entries) > 5 else ''})")
    raise BundleError(f"{flag} {out} is {what}; writing the bundle there would delete them. "
                      f"Nothing was written: name a new folder (e.g. {out / 'NAME'}) or add "
                      f"--overwrite to replace it")


def _project_all(mu: np.ndarray, methods: Iterable[str], seed: int, progress: bool, log,
                 deadline: float | None, skipped: dict[str, str] | None
                 ) -> tuple[dict[str, np.ndarray], dict[str, float], dict[str, str]]:
    """The 2-D maps of mu [N, D]: ({method: [N, 2]}, {method: seconds}, {method: why
    skipped}). With progress, a bar per map runs against its time estimate."""
    from explorer.training.budget import projection_seconds
    from explorer.latent.projection import project

    projs, timings, skipped = {}, {}, dict(skipped or {})
    for method in methods:
        est = projection_seconds(method, len(mu))
        if method != "pca" and deadline is not None and time.monotonic() + est > deadline:
            left = max(deadline - time.monotonic(), 0)
            skipped[method] = (f"about {est:.0f} s for {len(mu):,} items, {left:.0f} s left "
                               f"of the time limit; add it later with `python -m explorer project "
                               f"BUNDLE --method {method}` or with the button on the app's "
                               f"Catalogue map page")
            log(f"{method} skipped: {skipped[method]}")
            continue
        t0 = time.perf_counter()
        with _estimate_bar(f"{method} map of {len(mu):,} items", est, progress and est > 2):
            projs[method] = project(method, mu, seed=seed)
        timings[method] = round(time.perf_counter() - t0, 2)
    return projs, timings, skipped


class _estimate_bar:
    """A tqdm bar that fills along an estimated duration while a call that reports no progress
    of its own runs (it stops just short of the end until the call returns)."""

    def __init__(self, desc: str, seconds: float, enabled: bool):
        self.desc, self.seconds, self.enabled = desc, max(seconds, 1.0), enabled

    def __enter__(self):
        if not self.enabled:
            return self
        import threading

        from tqdm import tqdm
        self.bar = tqdm(total=round(self.seconds), desc=self.desc, unit="s",
                        bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed} elapsed, "
                                   "about {total} s estimated")
        self.stop = threading.Event()
        t0 = time.monotonic()

        def tick():
            while not self.stop.wait(0.5):
                self.bar.n = min(round(time.monotonic() - t0), round(self.seconds) - 1)
                self.bar.refresh()

        self.thread = threading.Thread(target=tick, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        if self.enabled:
            self.stop.set()
            self.thread.join()
            if exc[0] is None:
                self.bar.n = self.bar.total
            self.bar.close()
        return False


def gallery_to_webp(gallery: np.ndarray) -> bytes:
    """uint8 [epochs, G, S, S, 3] -> one lossless WebP, one row per epoch (no padding)."""
    from explorer.render.pictures import image_bytes
    from explorer.render.sheets import image_grid
    e, g = gallery.shape[:2]
    atlas = image_grid(np.asarray(gallery).reshape(e * g, *gallery.shape[2:]), cols=g, pad=0)
    return image_bytes(atlas, "WEBP", lossless=True, method=4)
