#!/usr/bin/env bash
# Install the pinned dependencies and run the test suite (the README's test command).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install -q --disable-pip-version-check -r requirements-dev.txt
python3 -m pytest "$@"
