"""Placeholder: replaced by the images service."""


class ImageService:
    def __init__(self, daemon):
        self._daemon = daemon
