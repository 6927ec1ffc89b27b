# The image both services of docker-compose.yml run: Debian 12 with the project installed by
# packaging/pydocker-install, as on a machine (/opt/pydocker, the commands in /usr/local/bin,
# /etc/pydocker/daemon.json, the pydocker group). Built from the repository root; .dockerignore
# keeps the build context to what the installer needs.
#
# BASE_IMAGE: any Debian 12 image, for hosts that cannot pull debian:bookworm (one imported from
# a local debootstrap, say). PIP_INDEX_URL, PIP_NO_INDEX and PIP_FIND_LINKS reach the installer's
# pip, as they do on a machine: a wheelhouse can be served over HTTP, since docker-compose.yml
# builds on the host's network.
ARG BASE_IMAGE=debian:bookworm
FROM ${BASE_IMAGE}

# The installer's runtime packages, in a layer of their own: a change to the source does not
# fetch them again. The installer then finds them installed.
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        python3.11 python3-venv libseccomp2 procps \
    && rm -rf /var/lib/apt/lists/*

COPY . /usr/src/pydocker
ARG PIP_INDEX_URL
ARG PIP_NO_INDEX
ARG PIP_FIND_LINKS
# No pip cache: it would only make the layer bigger.
RUN PIP_NO_CACHE_DIR=1 /usr/src/pydocker/packaging/pydocker-install
