"""Error kinds shared by every layer of the stack.

Each layer raises one of these kinds with a clear message; the kind alone decides how the
error crosses a boundary (a gRPC status, an HTTP status, a CLI exit code), and that
translation happens only at the edges, never in the code that raises.

The set mirrors containerd's errdefs. On gRPC (and ttrpc) a kind travels as a status code,
as containerd maps them; Conflict and NotModified share FailedPrecondition's code there.
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


# gRPC status codes (the same numbers on ttrpc), kind by kind, as containerd maps them
# (pkg/errgrpc). Kept as plain numbers so the shim can map errors without importing grpc.
GRPC_CODES = {
    Canceled.kind: 1,
    Unknown.kind: 2,
    InvalidArgument.kind: 3,
    DeadlineExceeded.kind: 4,
    NotFound.kind: 5,
    AlreadyExists.kind: 6,
    PermissionDenied.kind: 7,
    ResourceExhausted.kind: 8,
    FailedPrecondition.kind: 9,
    Conflict.kind: 9,
    NotModified.kind: 9,
    Aborted.kind: 10,
    OutOfRange.kind: 11,
    NotImplemented.kind: 12,
    Internal.kind: 13,
    Unavailable.kind: 14,
    DataLoss.kind: 15,
    Unauthenticated.kind: 16,
}
_KIND_OF_GRPC_CODE = {
    1: Canceled, 2: Unknown, 3: InvalidArgument, 4: DeadlineExceeded, 5: NotFound, 6: AlreadyExists,
    7: PermissionDenied, 8: ResourceExhausted, 9: FailedPrecondition, 10: Aborted, 11: OutOfRange,
    12: NotImplemented, 13: Internal, 14: Unavailable, 15: DataLoss, 16: Unauthenticated,
}


def grpc_code(exc: BaseException) -> int:
    return GRPC_CODES[kind_of(exc)]


def status(exc: BaseException) -> tuple[int, str] | None:
    """The gRPC (or ttrpc) status an expected error answers with: (code, message) for our
    kinds and the OS's errors; None for anything else, a bug, which the edge logs."""
    if isinstance(exc, (Error, OSError)):
        return grpc_code(exc), str(exc)
    return None


def from_grpc_code(code: int, message: str) -> Error:
    return _KIND_OF_GRPC_CODE.get(code, Unknown)(message)
