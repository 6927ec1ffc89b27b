"""pycontainerd-shim: one per container; runs pyrunc, then holds the container's stdio and reaps it."""
