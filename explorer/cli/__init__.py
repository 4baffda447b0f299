"""`python -m explorer SUBCOMMAND ...`: the command line.

One thin module per sub-command in this package (``explorer/cli/NAME.py``), each with
``add_arguments(parser)`` and ``run(args) -> int``: argument parsing and printing only, the
work done by the domain packages. The top-level help is built from the static table below;
only the chosen sub-command's module is imported (so ``python -m explorer --help`` loads no
torch, numpy or pandas).
"""
from __future__ import annotations

import argparse
import importlib
import sys
from typing import Iterable

# name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "synth": ("explorer.cli.synth", "generate the procedural sneaker catalogue"),
    "ingest": ("explorer.cli.ingest", "ingest a folder of product photos (or Fashion-MNIST)"),
    "train": ("explorer.cli.train", "train a model on a catalogue and write a bundle"),
    "encode": ("explorer.cli.encode", "re-encode a catalogue with an existing bundle's model"),
    "info": ("explorer.cli.info", "print what is inside a bundle or catalogue"),
    "project": ("explorer.cli.project", "compute a 2-D map (PCA or UMAP) for a big bundle, "
                                        "fitted on a sample, with progress"),
    "evaluate": ("explorer.cli.evaluate", "disentanglement metrics, reconstruction and k-NN "
                                          "table"),
}


def build_parser(commands: Iterable[str] | None = None) -> argparse.ArgumentParser:
    """The parser, with the arguments of the named sub-commands (None: all of them, which
    imports every sub-command's module); the others are listed but take no arguments."""
    wanted = set(COMMANDS if commands is None else commands)
    parser = argparse.ArgumentParser(
        prog="python -m explorer",
        description="KickSpace: explore the visual latent space of a product catalogue.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name not in wanted:
            continue
        try:
            module = importlib.import_module(module_name)
            module.add_arguments(p)
            p.set_defaults(_run=module.run)
        except (ImportError, AttributeError) as e:  # a broken sub-command stays visible
            p.set_defaults(_broken=f"{name}: unavailable ({e})")
    return parser


def _command_in(argv: list[str]) -> str | None:
    """The sub-command argv names: its first argument that is not an option (the top-level
    parser has no option that takes a value)."""
    for a in argv:
        if not a.startswith("-"):
            return a if a in COMMANDS else None
    return None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    command = _command_in(argv)
    parser = build_parser([command] if command else [])
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
