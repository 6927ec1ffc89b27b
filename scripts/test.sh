#!/usr/bin/env bash
# The README's test command: install what is needed, then run every test, root
# end-to-end tests included. CI runs exactly this (.ci/run), as root, with no stdin.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
exec .venv/bin/python -m pytest --run-root "$@"
