#!/usr/bin/env bash
# Install the pinned dependencies and open the app on the demo bundle (the README's run command).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install -q --disable-pip-version-check -r requirements.txt
exec python3 -m streamlit run app.py "$@"
