"""The daemon behind the API: one service per kind of object, each in its own module, all
reached by the routes through one Daemon (`request.app.state.daemon`).

    events      EventBus          what `GET /events` streams, with a history for `since`
    images      ImageService      images on pycontainerd's content and snapshot stores
    volumes     VolumeService     local volumes under <data-root>/volumes
    networks    NetworkService    bridge, host and none
    containers  ContainerService  container records on disk, their tasks in pycontainerd

Services are synchronous and thread-safe: FastAPI runs plain `def` routes in its thread
pool, and streaming routes bridge to them through threads. pycontainerd is reached over
one gRPC channel, in the containerd namespace "moby", as Docker does.
"""
from __future__ import annotations

import grpc

from ..config import Config
from .containers import ContainerService
from .events import EventBus
from .images import ImageService
from .networks import NetworkService
from .volumes import VolumeService


class Daemon:
    def __init__(self, config: Config):
        self.config = config
        # pycontainerd may restart under us: reconnect within a second of its return, not
        # after gRPC's default back-off, which grows to two minutes while it is down.
        self.channel = grpc.insecure_channel(f"unix://{config.containerd}", options=[
            ("grpc.initial_reconnect_backoff_ms", 100), ("grpc.min_reconnect_backoff_ms", 100),
            ("grpc.max_reconnect_backoff_ms", 1000)])
        self.events = EventBus()
        self.images = ImageService(self)
        self.volumes = VolumeService(self)
        self.networks = NetworkService(self)
        self.containers = ContainerService(self)

    def start(self) -> None:
        """Find the containers again (live restore) before the API serves."""
        self.containers.restore()

    def stop(self) -> None:
        """Let go of everything; containers keep running."""
        self.containers.close()
        self.channel.close()
