"""pyrunc: an OCI runtime with runc 1.1's command line, for the containerd shim and Docker.

It creates a container, then exits: the container's parent becomes whoever ran pyrunc
(the shim), which is what lets every layer above it restart without the container noticing.
"""
VERSION = "0.1.0"
# The runtime-spec version pyrunc implements (what `pyrunc spec` writes and `features` reports).
OCI_VERSION = "1.2.0"
