#!/usr/bin/env bash
# Installs what pydocker needs on Debian 12, as root: the apt packages, then the project
# into .venv/ in the repo root. Safe to run again; it skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
    echo "install.sh: run as root (containers need namespaces, mounts and cgroups)" >&2
    exit 1
fi

# Runtime: python3-venv for .venv, libseccomp2 for seccomp filters.
# Tests and benchmarks: busybox-static (the test rootfs and image), docker-registry and skopeo
# (a local registry), and the upstream stack our layers are swapped with and measured against.
# debootstrap and systemd-container (systemd-nspawn): the packaging test boots a Debian machine
# whose PID 1 is a real systemd and installs the project there with packaging/pydocker-install;
# docker-compose (1.29) validates and runs docker-compose.yml on Debian's dockerd.
APT_PACKAGES=(
    python3 python3-venv libseccomp2 iproute2 procps
    busybox-static docker-registry skopeo
    runc crun containerd docker.io
    debootstrap systemd-container docker-compose
)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "install.sh: apt packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # Installing docker.io/containerd/docker-registry must not start the system's own daemons:
    # tests run private instances, and the host's network and /var/lib stay untouched.
    policy_rc_d=/usr/sbin/policy-rc.d
    made_policy=
    if [ ! -e "$policy_rc_d" ]; then
        printf '#!/bin/sh\nexit 101\n' > "$policy_rc_d"
        chmod 755 "$policy_rc_d"
        made_policy=1
    fi
    trap '[ -n "$made_policy" ] && rm -f "$policy_rc_d"' EXIT
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
    if [ -d /run/systemd/system ]; then
        systemctl disable docker.service docker.socket containerd.service docker-registry.service >/dev/null 2>&1 || true
    fi
fi

# Debian's interpreter, not whatever python3 comes first on PATH: pyrunc execs it on every
# container start, and a fresh Debian machine has exactly this one.
PYTHON=/usr/bin/python3.11
if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
    rm -rf .venv
    "$PYTHON" -m venv .venv
fi
stamp=.venv/.installed-from
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    .venv/bin/pip install -q --upgrade pip
    .venv/bin/pip install -q -e '.[dev]'
    # Nothing here needs setuptools (builds are isolated), and its distutils hook would sit
    # in every import of every pyrunc start (~1.5 ms).
    if [ -d .venv/lib/python3.11/site-packages/setuptools ]; then
        .venv/bin/pip uninstall -q -y setuptools
    fi
    echo "$want" > "$stamp"
fi
# Byte-compile now: pyrunc and the shim start once per container, and an environment with
# PYTHONDONTWRITEBYTECODE would otherwise recompile their sources on every start.
.venv/bin/python -m compileall -q -j 0 protos errdefs runc shim containerd dockerd client >/dev/null
