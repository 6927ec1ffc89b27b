"""Error kinds shared by every layer of the stack.

Each layer raises one of these kinds with a clear message; the kind alone decides how the
error crosses a boundary (a gRPC status, an HTTP status, a CLI exit code), and that
translation happens only at the edges, never in the code that raises.

The set mirrors containerd's errdefs so a kind survives a round trip through containerd's
own wire codes unchanged.
"""


class Error(Exception):
    """Base of every error kind; `kind` is the stable name used on the wire."""

    kind = "Unknown"


class Unknown(Error):
    kind = "Unknown"


class InvalidArgument(Error):
    kind = "InvalidArgument"


class NotFound(Error):
    kind = "NotFound"


class AlreadyExists(Error):
    kind = "AlreadyExists"


class PermissionDenied(Error):
    kind = "PermissionDenied"


class ResourceExhausted(Error):
    kind = "ResourceExhausted"


class FailedPrecondition(Error):
    kind = "FailedPrecondition"


class Conflict(Error):
    kind = "Conflict"


class NotModified(Error):
    kind = "NotModified"


class Aborted(Error):
    kind = "Aborted"


class OutOfRange(Error):
    kind = "OutOfRange"


class NotImplemented(Error):  # noqa: A001 - the kind's upstream name
    kind = "NotImplemented"


class Internal(Error):
    kind = "Internal"


class Unavailable(Error):
    kind = "Unavailable"


class DataLoss(Error):
    kind = "DataLoss"


class Unauthenticated(Error):
    kind = "Unauthenticated"


class Canceled(Error):
    kind = "Canceled"


class DeadlineExceeded(Error):
    kind = "DeadlineExceeded"


KINDS: dict[str, type[Error]] = {
    cls.kind: cls
    for cls in (
        Unknown, InvalidArgument, NotFound, AlreadyExists, PermissionDenied, ResourceExhausted,
        FailedPrecondition, Conflict, NotModified, Aborted, OutOfRange, NotImplemented, Internal,
        Unavailable, DataLoss, Unauthenticated, Canceled, DeadlineExceeded,
    )
}


def from_kind(kind: str, message: str) -> Error:
    """Rebuild an error from its wire name; an unknown name becomes Unknown, keeping the message."""
    return KINDS.get(kind, Unknown)(message)


def kind_of(exc: BaseException) -> str:
    """The kind of any exception: its own for ours; for the OS's, the kind its errno means."""
    if isinstance(exc, Error):
        return exc.kind
    if isinstance(exc, PermissionError):
        return PermissionDenied.kind
    if isinstance(exc, FileNotFoundError):
        return NotFound.kind
    if isinstance(exc, FileExistsError):
        return AlreadyExists.kind
    return Unknown.kind
