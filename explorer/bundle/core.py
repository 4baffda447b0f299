"""Bundles: everything the app needs about one trained model, and nothing that runs code.

A bundle is a folder::

    bundle.json             format version, model kind + config, training config, catalogue
                            (fingerprint, source, size, count, columns), metrics, file checksums
    model.safetensors       weights
    decoder.onnx            the decoder alone as ONNX, for decoding in the browser
                            (explorer.bundle.onnx; older bundles get one on first use)
    embeddings.safetensors  mu: float32, logvar: float16 [N, latent_dim]
    projections.safetensors pca, umap, tsne: float32 [N, 2] (whichever were computed)
    gallery.webp            the fixed latents decoded after each epoch: one row per epoch (lossless)
    history.json            per-epoch training and validation losses
    metadata.csv.gz         the catalogue's metadata table, row i = item i (gzip, mtime 0)
    images/                 the catalogue's images as WebP atlases (explorer.data.imagestore)

Loading checks the format version, every file against its recorded size and SHA-256, the
config, and every tensor's shape against the config and the catalogue size. Weights go through
safetensors only; nothing is unpickled.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import math
import os
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pandas as pd
import torch
from safetensors import SafetensorError
from safetensors.numpy import load_file as np_load_file
from safetensors.numpy import save as np_save
from safetensors.torch import load_file as torch_load_file
from safetensors.torch import save as torch_save

from explorer.data.atomic import (atomic_replace_dir, atomic_write_bytes, atomic_write_text,
                             restore_hidden_copy)
from explorer.bundle.meta import find_bundles  # noqa: F401  (lives there: no torch needed)
from explorer.data.catalogue import Catalogue, metadata_to_csv_bytes, read_metadata_csv
from explorer.data.imagestore import COLS as IMAGE_COLS
from explorer.data.imagestore import PER_SHARD, ImageStore, shard_name, write_images
from explorer.models import MODEL_KINDS, AutoEncoder, build_model, shape_model
from explorer.training.precision import PRECISIONS

FORMAT_VERSION = 1


class BundleError(ValueError):
    """A bundle is missing, incomplete, corrupt, or does not match its config or catalogue."""


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def images_to_tensor(images: np.ndarray, channels_last: bool = False) -> torch.Tensor:
    """uint8 [B, S, S, 3] -> float32 [B, 3, S, S] in [0, 1]."""
    t = torch.from_numpy(np.array(images, dtype=np.uint8, copy=True)).permute(0, 3, 1, 2).float().div_(255.0)
    return t.contiguous(memory_format=torch.channels_last) if channels_last else t.contiguous()


def tensor_to_images(x: torch.Tensor) -> np.ndarray:
    """float [B, 3, S, S] in [0, 1] -> uint8 [B, S, S, 3]."""
    return (x.detach().clamp(0, 1).mul(255).round().byte().permute(0, 2, 3, 1).cpu().numpy())


def encode_precision(model: AutoEncoder, images: np.ndarray, asked: str = "auto",
                     batch_size: int = 512):
    """explorer.training.precision's choice for encoding images with model on its device: where the
    hardware does bfloat16, a few encoder batches are timed in each precision."""
    from explorer.training.precision import resolve_precision

    device = next(model.parameters()).device
    x = images_to_tensor(images[:min(len(images), batch_size)],
                         channels_last=device.type == "cpu").to(device)

    @torch.inference_mode()
    def step(bf16: bool) -> int:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            model.encode(x)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return len(x)

    was_training = model.training
    model.eval()
    try:
        return resolve_precision(asked, device.type, step if len(x) else None)
    finally:
        model.train(was_training)


@torch.inference_mode()
def encode_images(model: AutoEncoder, images: np.ndarray, batch_size: int = 512,
                  progress: bool = False, precision: str = "fp32"
                  ) -> tuple[np.ndarray, np.ndarray]:
    """uint8 [N, S, S, 3] -> (mu, logvar), float32 [N, latent_dim] each.

    precision "bf16" runs the encoder under bfloat16 autocast (on CPUs with AMX or AVX512-BF16
    about 4x faster than float32, on CPUs without them slower; on the demo the means move by at
    most ~4% of their spread and 99% of each item's 10 nearest neighbours stay the same, see
    bench/bench_train.py); "auto" takes encode_precision's choice. The results are float32
    either way."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if precision == "auto":
        precision = encode_precision(model, images, batch_size=batch_size).precision
    was_training = model.training
    model.eval()
    n, d = len(images), model.cfg.latent_dim
    mu = np.empty((n, d), np.float32)
    logvar = np.empty((n, d), np.float32)
    steps: Iterable[int] = range(0, n, batch_size)
    if progress:
        from tqdm import tqdm
        steps = tqdm(steps, desc="encoding", unit="batch")
    device = next(model.parameters()).device
    cl = device.type == "cpu"
    for s in steps:
        x = images_to_tensor(images[s:s + batch_size], channels_last=cl).to(device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16"):
            m, lv = model.encode(x)
        mu[s:s + len(x)] = m.float().cpu().numpy()
        logvar[s:s + len(x)] = lv.float().cpu().numpy()
    model.train(was_training)
    return mu, logvar


@dataclass
class Bundle:
    """A loaded bundle. The model is in eval mode on the CPU; treat everything as read-only."""

    path: Path
    info: dict[str, Any]
    model: AutoEncoder
    mu: np.ndarray                     # [N, latent_dim]
    logvar: np.ndarray                 # [N, latent_dim]
    projections: dict[str, np.ndarray]  # method -> [N, 2]
    metadata: pd.DataFrame
    history: list[dict[str, Any]]
    gallery: np.ndarray                # uint8 [epochs, G, S, S, 3]
    images: ImageStore
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return self.info["model_kind"]

    @property
    def latent_dim(self) -> int:
        return int(self.model.cfg.latent_dim)

    @property
    def image_size(self) -> int:
        return int(self.model.cfg.image_size)

    @property
    def fingerprint(self) -> str:
        return self.info["catalogue"]["fingerprint"]

    @property
    def weights_key(self) -> str:
        """Its weights' checksum: what factor names and attribute directions belong to."""
        return self.info["files"]["model.safetensors"]["sha256"][:16]

    @property
    def key(self) -> str:
        """Identifies this bundle's content (for caches and per-session state): weights and
        catalogue. Two bundles with the same weights (made by `encode`) but other catalogues
        have different keys, so no item index chosen in one is ever used in the other."""
        return f"{self.weights_key}-{self.fingerprint[:16]}"

    def __len__(self) -> int:
        return len(self.mu)

    def decode(self, z: np.ndarray) -> np.ndarray:
        """z [B, latent_dim] -> uint8 images [B, S, S, 3]."""
        with torch.inference_mode():
            x = self.model.decode(torch.as_tensor(np.atleast_2d(z), dtype=torch.float32))
        return tensor_to_images(x)

    def encode(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """uint8 [B, S, S, 3] -> (mu, logvar) [B, latent_dim]."""
        return encode_images(self.model, images)


# ---------------------------------------------------------------------------- writing
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
                files[rel] = {"bytes": p.stat().st_size, "sha256": _sha256(p)}
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
                               f"of the time limit; compute it in the app's Map page")
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


# ---------------------------------------------------------------------------- reading
def read_bundle_info(path: str | os.PathLike) -> dict[str, Any]:
    """Parse and type-check bundle.json (no other file is read)."""
    p = Path(path)
    f = p / "bundle.json"
    if not p.is_dir():
        raise BundleError(f"{p}: not a folder")
    if not f.is_file():
        raise BundleError(f"{f}: missing (is {p} a bundle?)")
    try:
        info = json.loads(f.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise BundleError(f"{f}: not valid JSON ({e})") from e
    expect = {"format_version": int, "model_kind": str, "model_config": dict,
              "train_config": dict, "catalogue": dict, "files": dict, "metrics": dict}
    if not isinstance(info, dict):
        raise BundleError(f"{f}: expected a JSON object, got {type(info).__name__}")
    for key, typ in expect.items():
        if key not in info:
            raise BundleError(f"{f}: missing key {key!r}")
        if not isinstance(info[key], typ) or isinstance(info[key], bool):
            raise BundleError(f"{f}: {key!r} should be {typ.__name__}, "
                              f"got {type(info[key]).__name__}")
    if info["format_version"] != FORMAT_VERSION:
        raise BundleError(f"{f}: format_version {info['format_version']} is not supported "
                          f"(this KickSpace reads {FORMAT_VERSION})")
    if info["model_kind"] not in MODEL_KINDS:
        raise BundleError(f"{f}: unknown model_kind {info['model_kind']!r} "
                          f"(known: {', '.join(MODEL_KINDS)})")
    cat = info["catalogue"]
    for key, typ in {"fingerprint": str, "count": int, "size": int}.items():
        if not isinstance(cat.get(key), typ) or isinstance(cat.get(key), bool):
            raise BundleError(f"{f}: catalogue.{key} should be {typ.__name__}, "
                              f"got {type(cat.get(key)).__name__}")
    _check_info_types(f, info)
    for name, meta in info["files"].items():
        if (not isinstance(meta, dict) or not isinstance(meta.get("bytes"), int)
                or not isinstance(meta.get("sha256"), str)):
            raise BundleError(f"{f}: files[{name!r}] should have integer bytes and a sha256")
        if Path(name).is_absolute() or ".." in Path(name).parts:
            raise BundleError(f"{f}: files[{name!r}] points outside the bundle")
    return info


_FINGERPRINT = re.compile(r"[0-9a-f]{8,64}")
_SCALAR = (str, int, float, bool, type(None))
MAX_JSON_BYTES = 50 * 1024 * 1024


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _check_info_types(f: Path, info: dict[str, Any]) -> None:
    """The values of bundle.json that the app reads or shows have the types it expects."""
    def bad(where: str, want: str, got: Any) -> BundleError:
        return BundleError(f"{f}: {where} should be {want}, got {str(got)[:80]!r} "
                           f"({type(got).__name__})")

    cat = info["catalogue"]
    if not _FINGERPRINT.fullmatch(cat["fingerprint"]):
        raise bad("catalogue.fingerprint", "8 to 64 lowercase hex digits", cat["fingerprint"])
    if cat["count"] < 1 or cat["size"] < 1:
        raise bad("catalogue.count and .size", "positive", (cat["count"], cat["size"]))
    for key in ("name", "path"):
        if not isinstance(cat.get(key), (str, type(None))):
            raise bad(f"catalogue.{key}", "a string", cat.get(key))
    src = cat.get("source")
    if src is not None and (not isinstance(src, dict)
                            or not all(isinstance(k, str) and isinstance(v, _SCALAR)
                                       for k, v in src.items())):
        raise bad("catalogue.source", "an object of plain values", src)
    for key in ("columns", "factor_columns"):
        v = cat.get(key, [])
        if not isinstance(v, list) or not all(isinstance(c, str) for c in v):
            raise bad(f"catalogue.{key}", "a list of strings", v)
    m = info["metrics"]
    for key in ("train_seconds", "images_per_s"):
        if key in m and not _is_num(m[key]):
            raise bad(f"metrics.{key}", "a number", m[key])
    for key in ("epochs", "steps", "world_size"):
        if key in m and not _is_int(m[key]):
            raise bad(f"metrics.{key}", "an integer", m[key])
    for key in ("device", "encoded_from"):
        if key in m and not isinstance(m[key], str):
            raise bad(f"metrics.{key}", "a string", m[key])
    for key in ("trained_on", "rank_weight_checksums"):
        if key in m and (not isinstance(m[key], list)
                         or not all(isinstance(x, str) for x in m[key])):
            raise bad(f"metrics.{key}", "a list of strings", m[key])
    if "val" in m and (not isinstance(m["val"], dict)
                       or not all(isinstance(v, _SCALAR) for v in m["val"].values())
                       or not all(_is_num(v) for k, v in m["val"].items()
                                  if k in ("psnr", "loss", "mse", "kl"))):
        raise bad("metrics.val", "an object of numbers", m["val"])
    tc = info["train_config"]
    for key in ("epochs", "batch_size", "seed", "max_val"):
        if key in tc and not (_is_int(tc[key]) and tc[key] >= 0):
            raise bad(f"train_config.{key}", "an integer >= 0", tc[key])
    for key in ("lr", "val_fraction"):
        if key in tc and not _is_num(tc[key]):
            raise bad(f"train_config.{key}", "a number", tc[key])
    if "val_fraction" in tc and not 0 <= tc["val_fraction"] < 1:
        raise bad("train_config.val_fraction", "in [0, 1)", tc["val_fraction"])


def _check_history(fp: Path, history: Any) -> list[dict[str, Any]]:
    """history.json: a list of per-epoch rows, each with an integer epoch and numeric
    train (and optional val) losses, as the overview plots them."""
    def bad(why: str) -> BundleError:
        return BundleError(f"{fp}: {why}; expected a list of {{epoch, train, val}} rows")

    if not isinstance(history, list):
        raise bad(f"a {type(history).__name__}, not a list")
    for i, row in enumerate(history):
        if not isinstance(row, dict) or not _is_int(row.get("epoch")):
            raise bad(f"row {i} has no integer epoch")
        for part in ("train", "val"):
            if part == "val" and part not in row:
                continue
            d = row.get(part)
            if not isinstance(d, dict) or not all(
                    isinstance(d.get(k), (int, float)) and not isinstance(d.get(k), bool)
                    for k in ("loss", "psnr", "kl") if k in d or k == "loss"):
                raise bad(f"row {i}: {part} should be an object with a numeric loss (and "
                          f"numeric psnr, kl where given)")
    if history and any(("val" in r) != ("val" in history[0]) for r in history):
        raise bad("some rows have validation losses and some do not")
    return history


def _safetensors_header(fp: Path) -> dict[str, tuple[str, tuple[int, ...]]]:
    """name -> (dtype, shape) from a safetensors file's header, without reading any tensor."""
    import struct
    try:
        with open(fp, "rb") as fh:
            raw = fh.read(8)
            if len(raw) != 8:
                raise ValueError("shorter than a safetensors header")
            (n,) = struct.unpack("<Q", raw)
            if n > 100 * 1024 * 1024:
                raise ValueError(f"header of {n} bytes")
            header = json.loads(fh.read(n))
        out = {}
        for name, meta in header.items():
            if name == "__metadata__":
                continue
            out[name] = (str(meta["dtype"]), tuple(int(x) for x in meta["shape"]))
        return out
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        raise BundleError(f"{fp}: not a readable safetensors file ({e})") from e


def _check_array(fp: Path, name: str, arr: np.ndarray, dtypes: tuple[str, ...],
                 shape: tuple[int, ...]) -> None:
    if arr.dtype.name not in dtypes:
        raise BundleError(f"{fp}: {name} is {arr.dtype.name}, expected {' or '.join(dtypes)}")
    if arr.shape != shape:
        raise BundleError(f"{fp}: {name} has shape {arr.shape}, expected {shape}")
    if not np.isfinite(arr).all():
        raise BundleError(f"{fp}: {name} holds NaN or infinite values")


def _check_image_header(fp: Path, want: tuple[int, int] | None, tile: int) -> None:
    """Refuse a bundle image whose pixel size is not what the bundle says, before decoding it
    (a small file can claim billions of pixels)."""
    from PIL import Image
    try:
        with Image.open(fp) as im:
            w, h, fmt = im.width, im.height, im.format
    except (OSError, ValueError, Image.DecompressionBombError) as e:
        raise BundleError(f"{fp}: unreadable image ({e})") from e
    if fmt != "WEBP":
        raise BundleError(f"{fp}: a {fmt} image, expected WebP")
    if want is not None and (w, h) != want:
        raise BundleError(f"{fp}: {w}x{h} px, expected {want[0]}x{want[1]} px")
    if w % tile or h % tile or w * h > MAX_GALLERY_PIXELS:
        raise BundleError(f"{fp}: {w}x{h} px is not a grid of {tile} px tiles of at most "
                          f"{MAX_GALLERY_PIXELS:,} pixels")


MAX_GALLERY_PIXELS = 64_000_000


def verify_files(path: Path, info: dict[str, Any], check_hashes: bool = True) -> None:
    """Every file listed in bundle.json exists with its size (and SHA-256)."""
    for name, meta in info["files"].items():
        fp = path / name
        if not fp.is_file():
            raise BundleError(f"{fp}: missing from the bundle")
        size = fp.stat().st_size
        if size != meta["bytes"]:
            raise BundleError(f"{fp}: {size} bytes, expected {meta['bytes']} (truncated or "
                              f"replaced)")
        if check_hashes and _sha256(fp) != meta["sha256"]:
            raise BundleError(f"{fp}: checksum mismatch (the file was changed or corrupted)")
    for required in ("model.safetensors", "embeddings.safetensors", "metadata.csv.gz"):
        if required not in info["files"]:
            raise BundleError(f"{path / 'bundle.json'}: does not list {required}")


def gallery_to_webp(gallery: np.ndarray) -> bytes:
    """uint8 [epochs, G, S, S, 3] -> one lossless WebP, one row per epoch."""
    import io

    from PIL import Image
    e, g, s = gallery.shape[:3]
    atlas = np.ascontiguousarray(gallery.transpose(0, 2, 1, 3, 4).reshape(e * s, g * s, 3))
    buf = io.BytesIO()
    Image.fromarray(atlas).save(buf, format="WEBP", lossless=True, method=4)
    return buf.getvalue()


def gallery_from_webp(path: Path, size: int) -> np.ndarray:
    from PIL import Image
    try:
        with Image.open(path) as im:
            atlas = np.asarray(im.convert("RGB"))
    except (OSError, ValueError) as e:
        raise BundleError(f"{path}: unreadable gallery image ({e})") from e
    if atlas.shape[0] % size or atlas.shape[1] % size:
        raise BundleError(f"{path}: {atlas.shape[1]}x{atlas.shape[0]} px is not a grid of "
                          f"{size} px tiles")
    e, g = atlas.shape[0] // size, atlas.shape[1] // size
    return atlas.reshape(e, size, g, size, 3).transpose(0, 2, 1, 3, 4).copy()


def _load_tensors(fp: Path, loader) -> dict[str, Any]:
    try:
        return loader(str(fp))
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise BundleError(f"{fp}: not a readable safetensors file ({e})") from e


def load_model(path: str | os.PathLike, info: dict[str, Any] | None = None) -> AutoEncoder:
    """Rebuild the model from bundle.json's config and load model.safetensors into it."""
    p = Path(path)
    info = info or read_bundle_info(p)
    fp = p / "model.safetensors"
    # config and weights agree (names, shapes, float32) before anything is allocated: a
    # crafted config must not make the loader build a model of many gigabytes
    try:
        expected = shape_model(info["model_kind"], info["model_config"])
    except (TypeError, ValueError) as e:
        raise BundleError(f"{p / 'bundle.json'}: bad model_config for "
                          f"{info['model_kind']}: {e}") from e
    header = _safetensors_header(fp)
    missing = sorted(set(expected) - set(header))
    unexpected = sorted(set(header) - set(expected))
    if missing or unexpected:
        raise BundleError(f"{fp}: weights are for another model (missing {missing[:3]}, "
                          f"unexpected {unexpected[:3]})")
    for k, shape in expected.items():
        dtype, got = header[k]
        if got != shape:
            raise BundleError(f"{fp}: tensor {k!r} has shape {got}, the config needs {shape}")
        if dtype != "F32":
            raise BundleError(f"{fp}: tensor {k!r} is {dtype}, expected F32 (float32)")
    try:
        model = build_model(info["model_kind"], info["model_config"])
    except (TypeError, ValueError) as e:
        raise BundleError(f"{p / 'bundle.json'}: bad model_config for "
                          f"{info['model_kind']}: {e}") from e
    state = _load_tensors(fp, torch_load_file)
    for k, v in state.items():
        if not torch.isfinite(v).all():
            raise BundleError(f"{fp}: tensor {k!r} holds NaN or infinite values")
    model.load_state_dict(state)
    model.eval()
    for prm in model.parameters():
        prm.requires_grad_(False)
    return model


def load_bundle(path: str | os.PathLike, check_hashes: bool = True) -> Bundle:
    """Load and validate a bundle folder; raises BundleError naming the offending file."""
    p = Path(path)
    restore_hidden_copy(p)
    info = read_bundle_info(p)
    verify_files(p, info, check_hashes=check_hashes)
    model = load_model(p, info)
    n, d = info["catalogue"]["count"], model.cfg.latent_dim
    listed = info["files"]
    for name in ("projections.safetensors", "gallery.webp", "history.json"):
        if (p / name).exists() and name not in listed:
            raise BundleError(f"{p / name}: not listed in bundle.json's files, so it cannot "
                              f"be verified")
    emb_path = p / "embeddings.safetensors"
    head = _safetensors_header(emb_path)
    for key, dtypes in (("mu", ("F32",)), ("logvar", ("F32", "F16"))):
        if key not in head:
            raise BundleError(f"{emb_path}: no tensor {key!r}")
        if head[key][0] not in dtypes:
            raise BundleError(f"{emb_path}: {key} is {head[key][0]}, expected "
                              f"{' or '.join(dtypes)}")
        if head[key][1] != (n, d):
            raise BundleError(f"{emb_path}: {key} has shape {head[key][1]}, expected "
                              f"({n}, {d})")
    emb = _load_tensors(emb_path, np_load_file)
    for key in ("mu", "logvar"):
        _check_array(emb_path, key, emb[key], ("float32", "float16"), (n, d))
    projections = {}
    if "projections.safetensors" in listed:
        pp = p / "projections.safetensors"
        for k, (dtype, shape) in _safetensors_header(pp).items():
            if dtype != "F32" or shape != (n, 2):
                raise BundleError(f"{pp}: {k} is {dtype} {shape}, expected F32 ({n}, 2)")
        projections = _load_tensors(pp, np_load_file)
        for k, v in projections.items():
            _check_array(pp, k, v, ("float32",), (n, 2))
    size = model.cfg.image_size
    if info["catalogue"]["size"] != size:
        raise BundleError(f"{p / 'bundle.json'}: catalogue size {info['catalogue']['size']} px "
                          f"but the model takes {size} px")
    gallery = np.zeros((0, 0, size, size, 3), np.uint8)
    if "gallery.webp" in listed:
        _check_image_header(p / "gallery.webp", None, size)
        gallery = gallery_from_webp(p / "gallery.webp", size)
    n_shards = -(-n // PER_SHARD)
    for k in range(n_shards):
        name = f"images/{shard_name(k)}"
        if name not in listed:
            raise BundleError(f"{p / name}: missing from bundle.json's files")
        rows = -(-min(PER_SHARD, n - k * PER_SHARD) // IMAGE_COLS)
        _check_image_header(p / name, (IMAGE_COLS * size, rows * size), size)
    md_path = p / "metadata.csv.gz"
    try:
        metadata = read_metadata_csv(md_path)
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, OSError, EOFError) as e:
        raise BundleError(f"{md_path}: unreadable ({e})") from e
    if len(metadata) != n:
        raise BundleError(f"{md_path}: {len(metadata)} rows, expected {n}")
    history = []
    if "history.json" in listed:
        hp = p / "history.json"
        try:
            if hp.stat().st_size > MAX_JSON_BYTES:
                raise BundleError(f"{hp}: over {MAX_JSON_BYTES // 2**20} MiB")
            history = _check_history(hp, json.loads(hp.read_text(encoding="utf-8")))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise BundleError(f"{hp}: not valid JSON ({e})") from e
    images = ImageStore(p / "images", n, size)
    return Bundle(p, info, model, emb["mu"], emb["logvar"].astype(np.float32), projections,
                  metadata, history,
                  gallery, images)


def check_catalogue_matches(info: dict[str, Any], catalogue: Catalogue) -> None:
    """Refuse a catalogue other than the one the bundle was trained on."""
    want = info["catalogue"]["fingerprint"]
    if catalogue.fingerprint != want:
        raise BundleError(f"catalogue {catalogue.path or catalogue.name} has fingerprint "
                          f"{catalogue.fingerprint}, but the bundle was made from {want}")
