"""`python -m explorer train CATALOGUE --out checkpoints/NAME [flags]`: train a model and write a
bundle (explorer.training.loop.train).

    python -m explorer train CATALOGUE --model beta-vae --latent-dim 16 --epochs 30 \\
        --out checkpoints/NAME

Flags map one-to-one to `TrainConfig` (explorer.training.config) and to the chosen model kind's
config (explorer.models); a model flag left unset takes the recipe's or the kind's default.
"""
from __future__ import annotations

import argparse
import dataclasses
import functools
import sys
from typing import Any

from explorer.data.catalogue import Catalogue, CatalogueError
from explorer.models import MODEL_KINDS
from explorer.training.config import RECIPE, TrainConfig, TrainingError
from explorer.training.loop import train
from explorer.training.precision import PRECISIONS


def _model_fields() -> dict[str, dataclasses.Field]:
    """Every model-config field across kinds (same name = same flag)."""
    found: dict[str, dataclasses.Field] = {}
    for cfg_cls, _ in MODEL_KINDS.values():
        for f in dataclasses.fields(cfg_cls):
            if f.name != "image_size":
                found.setdefault(f.name, f)
    return found


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def add_arguments(parser) -> None:
    parser.add_argument("catalogue", help="catalogue folder (from `synth` or `ingest`)")
    parser.add_argument("--out", required=True, help="bundle folder to write, e.g. "
                        "checkpoints/NAME (an existing bundle there is replaced)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace --out even when it holds something other than a bundle")
    parser.add_argument("--resume", action="store_true",
                        help="continue from the checkpoint in --out")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    g = parser.add_argument_group("training (TrainConfig)")
    for f in dataclasses.fields(TrainConfig):
        if f.name == "model":
            g.add_argument("--model", default=f.default, choices=list(MODEL_KINDS),
                           help=f"model kind (default {f.default})")
        elif f.type in ("bool", bool):
            g.add_argument(_flag(f.name), default=f.default,
                           action=argparse.BooleanOptionalAction,
                           help=f"(default {f.default})")
        elif f.name == "precision":
            g.add_argument("--precision", default=f.default, choices=PRECISIONS,
                           help="fp32, bf16 (bfloat16 autocast) or auto: bf16 only where the "
                                "hardware does bfloat16 (AMX / AVX512-BF16 CPU, GPU) and a few "
                                "timed steps show it faster; the choice is logged (default auto)")
            g.add_argument("--bf16", dest="precision", action="store_const", const="bf16",
                           default=argparse.SUPPRESS, help="same as --precision bf16")
        elif f.name == "init_from":
            g.add_argument("--init-from", default="", metavar="BUNDLE",
                           help="start from this bundle's weights (same model kind, image size "
                                "and latent dimensions; model settings not given default to "
                                "the bundle's, the colour curriculum to off): fine-tune a "
                                "grown catalogue instead of training from scratch")
        elif f.name == "stratify":
            g.add_argument("--stratify", default="", metavar="COLUMN",
                           help="keep each value's share of this metadata column in the "
                                "validation split (default: a plain random split)")
        elif f.name == "threads":
            g.add_argument("--threads", type=int, default=f.default,
                           help="intra-op CPU threads; 0: the CPUs this process may use "
                                "(os.sched_getaffinity), logged (default 0)")
        elif f.name == "projections":
            g.add_argument("--projections", default=",".join(f.default),
                           help="comma-separated projections to cache: pca, umap, tsne "
                                "(default all)")
        else:
            typ = {"int": int, "float": float, "str": str}.get(str(f.type), str)
            g.add_argument(_flag(f.name), type=typ, default=f.default,
                           help=f"(default {f.default})")
    m = parser.add_argument_group("model (the chosen kind's config; unset = its default)")
    for name, f in _model_fields().items():
        owners = [k for k, (c, _) in MODEL_KINDS.items()
                  if name in {x.name for x in dataclasses.fields(c)}]
        typ = {"int": int, "float": float, "str": str}.get(str(f.type))
        label = "all kinds" if len(owners) == len(MODEL_KINDS) else ", ".join(owners)
        if f.type in ("bool", bool):
            m.add_argument(_flag(name), default=None,
                           action=argparse.BooleanOptionalAction,
                           help=f"({label}; default {RECIPE.get(name, f.default)})")
        elif name in ("channels", "scales"):
            m.add_argument(_flag(name), default=None,
                           help=f"comma-separated ({label}; default "
                                f"{','.join(str(v) for v in f.default) or 'by image size'})")
        elif name == "linear_chroma":
            m.add_argument(_flag(name), type=float, default=None, metavar="C",
                           help="the colour channels' weight in the PCA that starts the "
                                "linear paths (1 = plain PCA); default: chosen for the "
                                "catalogue among 1, 1.5, 2, 3 by a k-NN vote on its own "
                                "label columns (training split), and logged")
        else:
            m.add_argument(_flag(name), type=typ or str, default=None,
                           help=f"({label}; default {RECIPE.get(name, f.default)})")


def config_from_args(args) -> tuple[TrainConfig, dict[str, Any]]:
    tvals = {}
    for f in dataclasses.fields(TrainConfig):
        v = getattr(args, f.name)
        if f.name == "projections":
            v = tuple(p.strip() for p in v.split(",") if p.strip())
        tvals[f.name] = v
    cfg = TrainConfig(**tvals)
    kind_fields = {f.name for f in dataclasses.fields(MODEL_KINDS[cfg.model][0])}
    mvals: dict[str, Any] = {}
    for name in _model_fields():
        v = getattr(args, name)
        if v is None:
            continue
        if name not in kind_fields:
            raise TrainingError(f"{_flag(name)} does not apply to {cfg.model}")
        if name in ("channels", "scales"):
            conv = int if name == "channels" else float
            v = tuple(conv(p) for p in str(v).split(","))
        mvals[name] = v
    return cfg, mvals


def run(args) -> int:
    try:
        cfg, mvals = config_from_args(args)
        catalogue = Catalogue.load(args.catalogue)
        train(catalogue, cfg, mvals, args.out, resume=args.resume,
              progress=not args.no_progress, overwrite=args.overwrite,
              log=functools.partial(print, flush=True))   # lines reach a log file at once
    except (TrainingError, CatalogueError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0
