"""pycontainerd: containerd's v1 gRPC API; starts a shim per container and never parents containers."""
