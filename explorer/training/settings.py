"""The model a run trains: its settings (the default recipe's, or on a warm start the
bundle's, under those given) and, on a warm start, the weights it starts from."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from explorer.bundle.checks import sha256_file
from explorer.bundle.core import BundleError, load_model, read_bundle_info
from explorer.data.catalogue import Catalogue
from explorer.models import MODEL_KINDS, AutoEncoder, make_config, shape_model
from explorer.training.config import RECIPE, TrainConfig, TrainingError


def model_settings(cfg: TrainConfig, model_values: dict[str, Any], catalogue: Catalogue,
                   resume: bool, world: int):
    """(the model kind's config, the warm-start bundle's info or None) for this run; raises
    TrainingError naming the setting that cannot be used."""
    if cfg.model not in MODEL_KINDS:
        raise TrainingError(f"unknown model kind {cfg.model!r}; known: {', '.join(MODEL_KINDS)}")
    values = dict(model_values)
    warm = None
    if cfg.init_from and not resume:  # on --resume the checkpoint holds the weights
        warm, values = warm_start_settings(cfg, values, catalogue)  # the bundle's, not RECIPE
    else:
        values = {**RECIPE, **values}
        if values.get("recon_loss") == "bernoulli" and "linear_path" not in model_values:
            values["linear_path"] = False  # the linear path decodes to pixels, not logits
    if "image_size" in values and values["image_size"] != catalogue.size:
        raise TrainingError(f"the catalogue is {catalogue.size} px but the model was asked for "
                            f"{values['image_size']} px; ingest or synthesise at that size")
    values["image_size"] = catalogue.size
    if cfg.stratify and cfg.stratify not in catalogue.metadata.columns:
        columns = ", ".join(map(str, catalogue.metadata.columns))
        raise TrainingError(f"--stratify {cfg.stratify!r}: no such column in the catalogue's "
                            f"metadata (columns: {columns})")
    if cfg.adversarial > 0 and world > 1:
        raise TrainingError("--adversarial runs in one process only (not under torchrun)")
    try:
        mcfg = make_config(cfg.model, values)
        shape_model(cfg.model, mcfg)
    except (TypeError, ValueError) as e:
        raise TrainingError(f"bad model settings for {cfg.model}: {e}") from e
    return mcfg, warm


def warm_start_settings(cfg: TrainConfig, values: dict[str, Any], catalogue: Catalogue
                ) -> tuple[dict[str, Any], dict[str, Any]]:
    """--init-from: the bundle's info, checked against this run before anything trains, and
    the model settings: the bundle's, overridden by those given, the colour curriculum off
    unless given (the model is past the grey start it exists for)."""
    src = cfg.init_from
    try:
        info = read_bundle_info(src)
    except BundleError as e:
        raise TrainingError(f"--init-from {src}: {e}") from e
    bcfg = dict(info["model_config"])
    if info["model_kind"] != cfg.model:
        raise TrainingError(f"--init-from {src}: it is a {info['model_kind']} model, this run "
                            f"trains {cfg.model} (add --model {info['model_kind']})")
    if bcfg.get("image_size") != catalogue.size:
        raise TrainingError(f"--init-from {src}: its model takes {bcfg.get('image_size')} px "
                            f"images, the catalogue {catalogue.path or catalogue.name} is "
                            f"{catalogue.size} px")
    for key in ("latent_dim", "image_size"):
        if key in values and values[key] != bcfg.get(key):
            raise TrainingError(f"--init-from {src}: its model has {key} {bcfg.get(key)}, "
                                f"this run asks for {values[key]}")
    merged = {k: v for k, v in bcfg.items() if k not in ("kind",)}
    if "colour_boost" in merged:
        merged["colour_boost"] = 1.0
    merged.update(values)
    return info, merged


def load_warm_weights(model: AutoEncoder, mcfg, src: str, info: dict[str, Any]) -> None:
    """Copy the bundle's weights (checksum checked) into model; a clear error if they do not
    fit this run's settings."""
    fp = Path(src) / "model.safetensors"
    want = info["files"].get("model.safetensors", {}).get("sha256")
    if not fp.is_file():
        raise TrainingError(f"--init-from {src}: no model.safetensors")
    if want and sha256_file(fp) != want:
        raise TrainingError(f"--init-from {src}: model.safetensors does not match its "
                            f"checksum in bundle.json (changed or corrupted)")
    try:
        source = load_model(src, info)
    except BundleError as e:
        raise TrainingError(f"--init-from {src}: {e}") from e
    try:
        model.load_state_dict(source.state_dict())
    except RuntimeError as e:
        ours = mcfg.to_dict()
        differ = {k: (v, ours.get(k)) for k, v in info["model_config"].items()
                  if ours.get(k) != v and k != "colour_boost"}
        raise TrainingError(f"--init-from {src}: its weights do not fit this run's model; "
                            f"settings that differ (bundle, this run): {differ} "
                            f"({str(e).splitlines()[0]})") from e
