#!/usr/bin/env bash
# The README's first command: install, then show the stack at work. For now the stack is
# its bottom layer, pyrunc: it builds the busybox image's root filesystem from Debian's
# busybox-static and runs a container through pyrunc's whole lifecycle.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
exec .venv/bin/python scripts/demo.py "$@"
