#!/usr/bin/env bash
# The README's first command: install, then show the stack at work: pycontainerd and
# pydockerd start, `pydocker run hello-world` pulls it (built here, served by a local registry
# acting as the docker.io mirror), a running container survives a kill -9 of pydockerd with all
# its output, and `pydocker system layers` shows the process tree throughout. Then pyrunc alone
# takes a container through its life.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
exec .venv/bin/python scripts/demo.py "$@"
