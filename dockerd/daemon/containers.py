"""Placeholder: replaced by the container backend."""


class ContainerService:
    def __init__(self, daemon):
        self._daemon = daemon

    def restore(self) -> None:
        pass

    def close(self) -> None:
        pass
