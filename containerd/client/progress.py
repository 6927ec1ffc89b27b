"""Pull progress as Docker prints it: one line per layer, its action and how far it got.

The actions are the words `docker pull` shows (moby's distribution/pull_v2.go and its
containerd-backed counterpart), so pydockerd can pass these on unchanged as its
`{"id", "status", "progressDetail": {"current", "total"}}` JSON messages.
"""
from collections.abc import Callable
from dataclasses import dataclass

RESOLVING = "Resolving"
WAITING = "Waiting"
DOWNLOADING = "Downloading"
VERIFYING = "Verifying Checksum"
DOWNLOAD_COMPLETE = "Download complete"
EXTRACTING = "Extracting"
PULL_COMPLETE = "Pull complete"
ALREADY_EXISTS = "Already exists"


@dataclass(frozen=True)
class Progress:
    id: str  # a layer's short digest, or the reference being resolved
    action: str
    current: int = 0  # bytes so far, while Downloading
    total: int = 0


ProgressCallback = Callable[[Progress], None]


def ignore(_: Progress) -> None:
    """The callback when the caller wants none."""

# pushing
PREPARING = "Preparing"
PUSHING = "Pushing"
PUSHED = "Pushed"
LAYER_ALREADY_EXISTS = "Layer already exists"
