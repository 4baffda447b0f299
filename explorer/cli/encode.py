"""`python -m explorer encode BUNDLE CATALOGUE --out NEW`: a new bundle holding BUNDLE's model
and CATALOGUE's items encoded by it (explorer.bundle.write.write_bundle), e.g. after the catalogue
grew, without training again."""
from __future__ import annotations

import sys

import torch

from explorer.bundle.core import BundleError, load_bundle
from explorer.bundle.write import check_out_target, write_bundle
from explorer.data.catalogue import Catalogue
from explorer.training.precision import PRECISIONS


def add_arguments(parser) -> None:
    parser.add_argument("bundle", help="bundle whose model encodes the catalogue")
    parser.add_argument("catalogue", help="catalogue folder (from synth or ingest)")
    parser.add_argument("--out", required=True, help="folder for the new bundle, e.g. "
                        "checkpoints/NAME (an existing bundle there is replaced)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace --out even when it holds something other than a bundle")
    parser.add_argument("--projections", default="pca,umap,tsne",
                        help="comma-separated: pca, umap, tsne (default: all three)")
    parser.add_argument("--seed", type=int, default=0, help="seed for the projections")
    parser.add_argument("--image-quality", type=int, default=None,
                        help="pack images lossy at this WebP quality (default: lossless)")
    parser.add_argument("--precision", choices=PRECISIONS, default="auto",
                        help="fp32, bf16 (bfloat16 autocast: ~4x faster on CPUs with AMX / "
                             "AVX512-BF16, slower without; means within ~4%% of their spread "
                             "of fp32's, 99%% of 10-NN unchanged on the demo) or auto: bf16 "
                             "only where the hardware does it and timing shows it faster; "
                             "the choice is printed (default auto)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                        help="where to encode; auto: CUDA when available (default auto)")


def run(args) -> int:
    try:
        check_out_target(args.out, reads=(args.bundle, args.catalogue),
                         overwrite=args.overwrite)
        src = load_bundle(args.bundle)
        cat = Catalogue.load(args.catalogue)
    except (BundleError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if cat.size != src.image_size:
        print(f"error: catalogue {args.catalogue} is {cat.size} px but the model takes "
              f"{src.image_size} px", file=sys.stderr)
        return 2
    methods = [m for m in args.projections.split(",") if m]
    if args.device == "cuda" and not torch.cuda.is_available():
        print("error: --device cuda asked for, but no CUDA device is available", file=sys.stderr)
        return 2
    device = "cuda" if args.device != "cpu" and torch.cuda.is_available() else "cpu"
    out = write_bundle(args.out, src.model, cat, train_config=src.info["train_config"],
                       history=src.history, gallery=src.gallery,
                       metrics={**src.info.get("metrics", {}), "encoded_from": str(src.path)},
                       projections=methods, seed=args.seed, image_quality=args.image_quality,
                       progress=True, precision=args.precision, device=device)
    print(f"wrote {out} ({len(cat)} items encoded with {src.path})")
    return 0
