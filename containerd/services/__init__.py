"""containerd's API services, one module each: a gRPC servicer translating between the wire
types and the core, and the plugin registration that builds it. Requests are scoped to a
namespace by gRPC metadata, as containerd's are, and may name a lease that keeps what they
create. What the services share is here: the request's namespace, lease and deadline, and
opaque payloads between Any and TypedValue."""
import grpc
from google.protobuf import any_pb2

import errdefs

from ..core import identifiers
from ..core.metadata import TypedValue

NAMESPACE_KEY = "containerd-namespace"
LEASE_KEY = "containerd-lease"


def required_namespace(context: grpc.ServicerContext) -> str:
    """The namespace a request is for; a request without one fails, as in containerd."""
    namespace = next((value for key, value in context.invocation_metadata() if key == NAMESPACE_KEY), "")
    if not namespace:
        raise errdefs.FailedPrecondition("namespace is required: failed precondition")
    try:
        return identifiers.validate(namespace)
    except errdefs.InvalidArgument as exc:
        raise errdefs.InvalidArgument(f"namespace validation: {exc}") from None


def lease_from(context: grpc.ServicerContext) -> str:
    """The lease a request works under, "" for none: what it creates (blobs, writes,
    snapshots) is held by that lease. Using a lease the namespace lacks is NotFound."""
    return next((value for key, value in context.invocation_metadata() if key == LEASE_KEY), "")


# Go clients without a deadline of their own send one centuries away; ttrpc (an int64 of
# nanoseconds) and Python's waits cannot hold that, and it means no deadline anyway.
FARTHEST_DEADLINE = 365 * 24 * 3600.0


def deadline(context: grpc.ServicerContext) -> float | None:
    """Seconds until the caller gives up, for the calls made on its behalf; None for never."""
    remaining = context.time_remaining()
    return None if remaining is None or remaining > FARTHEST_DEADLINE else remaining


def typed_value(value: any_pb2.Any, present: bool) -> TypedValue | None:
    return TypedValue(value.type_url, value.value) if present else None


def to_any(value: TypedValue | None) -> any_pb2.Any | None:
    return None if value is None else any_pb2.Any(type_url=value.type_url, value=value.value)
