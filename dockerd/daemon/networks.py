"""Placeholder: replaced by the networks service."""


class NetworkService:
    def __init__(self, daemon):
        self._daemon = daemon
