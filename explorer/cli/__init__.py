"""`python -m explorer SUBCOMMAND ...`: the command line.

Each sub-command lives in the module that does the work, as two functions:
``add_arguments(parser)`` and ``run(args) -> int``. Modules are imported only when their
sub-command runs, so ``--help`` stays fast.
"""
from __future__ import annotations

import argparse
import importlib
import sys

# name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "synth": ("explorer.data.synthetic", "generate the procedural sneaker catalogue"),
    "ingest": ("explorer.data.ingest", "ingest a folder of product photos (or Fashion-MNIST)"),
    "train": ("explorer.training.train", "train a model on a catalogue and write a bundle"),
    "encode": ("explorer.bundle.core", "re-encode a catalogue with an existing bundle's model"),
    "info": ("explorer.bundle.info", "print what is inside a bundle or catalogue"),
    "project": ("explorer.latent.projection", "compute a 2-D map (PCA or UMAP) for a big bundle, "
                                       "fitted on a sample, with progress"),
    "evaluate": ("explorer.evaluation.evaluate", "disentanglement metrics, reconstruction and k-NN table"),
}

_CLI_HOOKS = {"encode": ("add_encode_arguments", "run_encode")}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m explorer",
        description="KickSpace: explore the visual latent space of a product catalogue.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        add_name, run_name = _CLI_HOOKS.get(name, ("add_arguments", "run"))
        try:
            module = importlib.import_module(module_name)
            getattr(module, add_name)(p)
            p.set_defaults(_run=getattr(module, run_name))
        except (ImportError, AttributeError) as e:  # a broken sub-command stays visible
            p.set_defaults(_broken=f"{name}: unavailable ({e})")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    if getattr(args, "_broken", None):
        print(args._broken, file=sys.stderr)
        return 2
    try:
        return int(args._run(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
