"""Bundles: everything the app needs about one trained model, and nothing that runs code.

A bundle is a folder::

    bundle.json             format version, model kind + config, training config, catalogue
                            (fingerprint, source, size, count, columns), metrics, file checksums
    model.safetensors       weights
    decoder.onnx            the decoder alone as ONNX, for decoding in the browser
                            (explorer.bundle.onnx; older bundles get one on first use)
    embeddings.safetensors  mu: float32, logvar: float16 [N, latent_dim]
    projections.safetensors pca, umap, tsne: float32 [N, 2] (whichever were computed)
    projections3d.safetensors  optional 3-D maps, pca / umap: float32 [N, 3]
                            (`python -m explorer project --dims 3`)
    gallery.webp            the fixed latents decoded after each epoch: one row per epoch (lossless)
    history.json            per-epoch training and validation losses
    metadata.csv.gz         the catalogue's metadata table, row i = item i (gzip, mtime 0)
    images/                 the catalogue's images as WebP atlases (explorer.data.imagestore)

Loading checks the format version, every file against its recorded size and SHA-256, the
config, and every tensor's shape against the config and the catalogue size. Weights go through
safetensors only; nothing is unpickled.

``load_bundle(path, lazy_model=True)`` (the app) reads and checks everything but the weights
without importing torch, and builds the model on first use of ``Bundle.model``: the catalogue
map draws from the embeddings, projections, metadata and images while torch (~2 s) still loads.
"""
from __future__ import annotations

import functools
import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np
import pandas as pd
from safetensors import SafetensorError
from safetensors.numpy import load_file as np_load_file

from explorer.bundle.checks import (MAX_JSON_BYTES, BundleError, _check_array, _check_history,
                                    _check_image_header, _safetensors_header, read_bundle_info,
                                    verify_files)
from explorer.bundle.meta import find_bundles  # noqa: F401  (lives there: no torch needed)
from explorer.data.atomic import restore_hidden_copy
from explorer.data.catalogue import Catalogue, read_metadata_csv
from explorer.data.imagestore import COLS as IMAGE_COLS
from explorer.data.imagestore import PER_SHARD, ImageStore, shard_name

if TYPE_CHECKING:
    from explorer.models import AutoEncoder

_GALLERY_LOCK = threading.Lock()
_MODEL_LOCK = threading.Lock()


class _Later:
    """What builds a bundle's model on its first use (load_bundle(lazy_model=True))."""

    def __init__(self, load: Callable[[], AutoEncoder]):
        self.load = load

__all__ = ["Bundle", "BundleError", "check_catalogue_matches", "find_bundles", "load_bundle",
           "load_model", "read_bundle_info"]


@dataclass
class Bundle:
    """A loaded bundle. The model is in eval mode on the CPU; treat everything as read-only."""

    path: Path
    info: dict[str, Any]
    _model: Any                        # the AutoEncoder, or a _Later that builds it
    mu: np.ndarray                     # [N, latent_dim]
    logvar: np.ndarray                 # [N, latent_dim]
    projections: dict[str, np.ndarray]  # method -> [N, 2]
    metadata: pd.DataFrame
    history: list[dict[str, Any]]
    _gallery: Any                      # uint8 [epochs, G, S, S, 3], or what decodes it
    images: ImageStore
    extras: dict[str, Any] = field(default_factory=dict)
    projections_3d: dict[str, np.ndarray] = field(default_factory=dict)  # method -> [N, 3]

    @property
    def gallery(self) -> np.ndarray:
        """The fixed latents decoded after each epoch, uint8 [epochs, G, S, S, 3]. Decoded
        from gallery.webp on first use, not by load_bundle: about 1 s for the demo, and only
        the home page and `info` show it (its header is checked at load; BundleError here if
        the pixels then fail to decode)."""
        if callable(self._gallery):
            with _GALLERY_LOCK:
                if callable(self._gallery):
                    self._gallery = self._gallery()
        return self._gallery

    @property
    def model(self) -> AutoEncoder:
        """The model, in eval mode on the CPU. A bundle loaded with lazy_model=True builds it
        here on first use (torch imported, weights checked and loaded: ~2-3 s; BundleError
        if the weights are bad, again at every later use); other threads wait for that."""
        if isinstance(self._model, _Later):
            with _MODEL_LOCK:
                if isinstance(self._model, _Later):
                    self._model = self._model.load()
        return self._model

    @property
    def model_loaded(self) -> bool:
        """True once the model is in memory (always, unless loaded with lazy_model=True)."""
        return not isinstance(self._model, _Later)

    @property
    def kind(self) -> str:
        return self.info["model_kind"]

    @property
    def latent_dim(self) -> int:
        """The latent size: the embeddings' width, checked against the model's config."""
        return int(self.mu.shape[1])

    @property
    def image_size(self) -> int:
        """The image size: the catalogue's, checked against the model's config."""
        return int(self.info["catalogue"]["size"])

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
        import torch

        from explorer.bundle.encode import tensor_to_images
        model = self.model
        with torch.inference_mode():
            x = model.decode(torch.as_tensor(np.atleast_2d(z), dtype=torch.float32))
        return tensor_to_images(x)

    def encode(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """uint8 [B, S, S, 3] -> (mu, logvar) [B, latent_dim]."""
        from explorer.bundle.encode import encode_images
        return encode_images(self.model, images)


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


def build_model(kind: str, values: dict[str, Any]) -> AutoEncoder:
    """explorer.models.build_model, imported (with torch) on first use."""
    from explorer.models import build_model as build
    return build(kind, values)


def load_model(path: str | os.PathLike, info: dict[str, Any] | None = None) -> AutoEncoder:
    """Rebuild the model from bundle.json's config and load model.safetensors into it."""
    import torch
    from safetensors.torch import load_file as torch_load_file

    from explorer.models import shape_model
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
    # the decoder's transposed convolutions run about 2x faster on CPU in channels-last
    # layout (the same numbers; savers write .contiguous() copies)
    decoder = getattr(model, "decoder", None)
    if decoder is not None:
        decoder.to(memory_format=torch.channels_last)
    return model


def _check_model_fits(p: Path, info: dict[str, Any], model: AutoEncoder,
                      latent_dim: int) -> AutoEncoder:
    """The model takes the catalogue's image size and codes as wide as the embeddings."""
    size = model.cfg.image_size
    if info["catalogue"]["size"] != size:
        raise BundleError(f"{p / 'bundle.json'}: catalogue size {info['catalogue']['size']} px "
                          f"but the model takes {size} px")
    if model.cfg.latent_dim != latent_dim:
        raise BundleError(f"{p / 'bundle.json'}: model_config's latent_dim is "
                          f"{model.cfg.latent_dim} but embeddings.safetensors holds "
                          f"{latent_dim} dimensions")
    return model


def _embedding_width(emb_path: Path, n: int) -> int:
    """The latent size as embeddings.safetensors records it (for a bundle whose model is not
    built yet); load_bundle then checks both tensors against (n, width)."""
    head = _safetensors_header(emb_path)
    if "mu" not in head:
        raise BundleError(f"{emb_path}: no tensor 'mu'")
    shape = head["mu"][1]
    if len(shape) != 2 or shape[0] != n or shape[1] < 1:
        raise BundleError(f"{emb_path}: mu has shape {shape}, expected ({n}, latent_dim)")
    return int(shape[1])


def load_bundle(path: str | os.PathLike, check_hashes: bool = True,
                lazy_model: bool = False) -> Bundle:
    """Load and validate a bundle folder; raises BundleError naming the offending file.
    lazy_model: check and load everything else now, without torch, and the weights on the
    first use of Bundle.model (which raises the BundleError a bad model gives)."""
    p = Path(path)
    restore_hidden_copy(p)
    info = read_bundle_info(p, check_kind=not lazy_model)
    verify_files(p, info, check_hashes=check_hashes)
    n = info["catalogue"]["count"]
    if lazy_model:
        d = _embedding_width(p / "embeddings.safetensors", n)
        model: Any = _Later(lambda: _check_model_fits(p, info, load_model(p, info), d))
    else:
        model = load_model(p, info)
        d = model.cfg.latent_dim
        _check_model_fits(p, info, model, d)
    listed = info["files"]
    for name in ("projections.safetensors", "projections3d.safetensors", "gallery.webp",
                 "history.json"):
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
    projs = {}
    for name, dims in (("projections.safetensors", 2), ("projections3d.safetensors", 3)):
        projs[dims] = {}
        if name in listed:
            pp = p / name
            for k, (dtype, shape) in _safetensors_header(pp).items():
                if dtype != "F32" or shape != (n, dims):
                    raise BundleError(f"{pp}: {k} is {dtype} {shape}, expected F32 "
                                      f"({n}, {dims})")
            projs[dims] = _load_tensors(pp, np_load_file)
            for k, v in projs[dims].items():
                _check_array(pp, k, v, ("float32",), (n, dims))
    size = info["catalogue"]["size"]
    gallery: Any = np.zeros((0, 0, size, size, 3), np.uint8)
    if "gallery.webp" in listed:
        _check_image_header(p / "gallery.webp", None, size)
        gallery = functools.partial(gallery_from_webp, p / "gallery.webp", size)
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
    return Bundle(p, info, model, emb["mu"], emb["logvar"].astype(np.float32), projs[2],
                  metadata, history, gallery, images, projections_3d=projs[3])


def check_catalogue_matches(info: dict[str, Any], catalogue: Catalogue) -> None:
    """Refuse a catalogue other than the one the bundle was trained on."""
    want = info["catalogue"]["fingerprint"]
    if catalogue.fingerprint != want:
        raise BundleError(f"catalogue {catalogue.path or catalogue.name} has fingerprint "
                          f"{catalogue.fingerprint}, but the bundle was made from {want}")
