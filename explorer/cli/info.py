"""`python -m explorer info PATH`: what is inside a bundle (or a catalogue folder)."""
from __future__ import annotations

import sys
from pathlib import Path

from explorer.bundle.core import BundleError
from explorer.bundle.info import describe_bundle, describe_catalogue
from explorer.data.catalogue import CatalogueError


def add_arguments(parser) -> None:
    parser.add_argument("path", help="a bundle folder (bundle.json) or a catalogue folder")
    parser.add_argument("--json", action="store_true", help="print bundle.json as JSON")


def run(args) -> int:
    p = Path(args.path)
    try:
        if (p / "bundle.json").is_file():
            if args.json:
                print((p / "bundle.json").read_text())
            else:
                print(describe_bundle(p))
        elif (p / "catalogue.json").is_file():
            print(describe_catalogue(p))
        else:
            print(f"error: {p} is neither a bundle (bundle.json) nor a catalogue "
                  f"(catalogue.json)", file=sys.stderr)
            return 2
    except (BundleError, CatalogueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0
