"""The decoder as an ONNX file, for decoding in the browser (onnxruntime-web).

Every bundle carries ``decoder.onnx`` (written by ``train`` and ``encode`` through
`explorer.bundle.write.write_bundle`, listed and checksummed in bundle.json's ``files``). The graph
maps ``z`` float32 [B, latent_dim] to ``rgba`` uint8 [B, S, S, 4]: sigmoid, x255, rounded half
to even, alpha 255 -- the same pixels as `Bundle.decode` (which rounds the same way), laid out
as a canvas ImageData wants them, so the browser paints the output without touching it.

Older bundles (no ``decoder.onnx`` in their file list) get one on first load: exported from
their weights and written atomically into the bundle folder, or, when that folder is
read-only, into ``<$KICKSPACE_DATA_DIR or ./data>/decoders/<weights key>/decoder.onnx``. Such a
file is not in bundle.json, so it records the SHA-256 of the weights it was exported from
(ONNX metadata ``kickspace.weights_sha256``); a file that does not match the bundle's weights
is exported again.
"""
from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import numpy as np

DECODER_FILE = "decoder.onnx"
WEIGHTS_KEY = "kickspace.weights_sha256"
OPSET = 17


def export_decoder_bytes(model, weights_sha256: str = "") -> bytes:
    """The model's decoder as ONNX bytes: z float32 [B, D] -> rgba uint8 [B, S, S, 4]."""
    import onnx
    import torch

    class _RGBA(torch.nn.Module):
        def __init__(self, model: torch.nn.Module):
            super().__init__()
            self.model = model

        def forward(self, z: torch.Tensor) -> torch.Tensor:
            # model.decode, not the conv decoder alone: a linear-path model adds its linear
            # decoder and outputs pixels rather than logits
            x = self.model.decode(z).clamp(0, 1).mul(255).round()
            rgb = x.to(torch.uint8).permute(0, 2, 3, 1)
            return torch.cat([rgb, torch.full_like(rgb[..., :1], 255)], dim=-1)

    net = _RGBA(model).eval()
    z = torch.zeros(1, int(model.cfg.latent_dim))
    buf = io.BytesIO()
    with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
        # the TorchScript exporter: one self-contained file in under a second; the dynamo
        # exporter takes ~20 s here and needs onnxscript
        warnings.simplefilter("ignore")
        torch.onnx.export(net, (z,), buf, input_names=["z"], output_names=["rgba"],
                          dynamic_axes={"z": {0: "batch"}, "rgba": {0: "batch"}},
                          opset_version=OPSET, dynamo=False)
    proto = onnx.load_from_string(buf.getvalue())
    proto.doc_string = "KickSpace decoder: z [B, latent_dim] -> RGBA uint8 [B, S, S, 4]"
    del proto.metadata_props[:]
    for k, v in {WEIGHTS_KEY: weights_sha256, "kickspace.latent_dim": str(model.cfg.latent_dim),
                 "kickspace.image_size": str(model.cfg.image_size)}.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = k, v
    return proto.SerializeToString()


def onnx_weights_sha(path: Path) -> str | None:
    """The weights checksum recorded in an ONNX file's metadata (None: unreadable/absent)."""
    try:
        import onnx
        proto = onnx.load(str(path), load_external_data=False)
    except Exception:  # noqa: BLE001 - any unreadable file is simply re-exported
        return None
    return next((p.value for p in proto.metadata_props if p.key == WEIGHTS_KEY), None)


def cache_dir() -> Path:
    return Path(os.environ.get("KICKSPACE_DATA_DIR", "").strip() or "data").expanduser() \
        / "decoders"


def _writable(folder: Path) -> bool:
    return os.access(folder, os.W_OK | os.X_OK)


def ensure_decoder_onnx(bundle_path: str | os.PathLike, info: dict, model) -> Path:
    """The bundle's decoder.onnx, exported now if the bundle predates it.

    A listed file was checked by `load_bundle` (size and SHA-256) and is used as is. For an
    unlisted one, the bundle folder is tried first, then the cache folder; the file is written
    atomically, so concurrent first loads at worst export twice."""
    from explorer.data.atomic import atomic_write_bytes

    p = Path(bundle_path)
    if DECODER_FILE in info.get("files", {}):
        return p / DECODER_FILE
    sha = info["files"]["model.safetensors"]["sha256"]
    beside = p / DECODER_FILE
    cached = cache_dir() / sha[:16] / DECODER_FILE
    for candidate in (beside, cached):
        if candidate.is_file() and onnx_weights_sha(candidate) == sha:
            return candidate
    data = export_decoder_bytes(model, sha)
    for target in (beside, cached):
        try:
            if target is beside and not _writable(p):
                continue
            atomic_write_bytes(target, data)
            return target
        except OSError:
            continue
    raise OSError(f"cannot write {DECODER_FILE} beside {p} nor in {cached.parent}")


def run_onnx(path: str | os.PathLike, z: np.ndarray) -> np.ndarray:
    """Decode z [B, D] with onnxruntime (tests, checks) -> uint8 [B, S, S, 3]."""
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    out = sess.run(None, {"z": np.ascontiguousarray(np.atleast_2d(z), np.float32)})[0]
    return out[..., :3]
