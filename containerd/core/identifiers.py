"""containerd's rules for ids, namespaces, labels and digests (pkg/identifiers, labels,
go-digest), checked before any of them becomes a path component or a database key."""
import re

import errdefs

MAX_LENGTH = 76
MAX_LABEL_SIZE = 4096
_IDENTIFIER = re.compile(r"[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*")
# go-digest's algorithms and the length of their hex part.
_DIGEST = re.compile(r"sha256:[a-f0-9]{64}|sha384:[a-f0-9]{96}|sha512:[a-f0-9]{128}")


def validate(identifier: str) -> str:
    """identifier itself if it is a valid container id, namespace or topic component."""
    if not identifier:
        raise errdefs.InvalidArgument("identifier must not be empty: invalid argument")
    if len(identifier) > MAX_LENGTH:
        raise errdefs.InvalidArgument(
            f'identifier "{identifier}" greater than maximum length ({MAX_LENGTH} characters): invalid argument')
    if not _IDENTIFIER.fullmatch(identifier):
        raise errdefs.InvalidArgument(f'identifier "{identifier}" must match {_IDENTIFIER.pattern}: invalid argument')
    return identifier


def validate_labels(labels: dict[str, str]) -> None:
    for key, value in labels.items():
        if len(key) + len(value) > MAX_LABEL_SIZE:
            raise errdefs.InvalidArgument(
                f"label key and value greater than maximum size ({MAX_LABEL_SIZE} bytes), key: {key[:10]}: invalid argument")


def validate_digest(digest: str) -> str:
    """digest itself if it is a well-formed "<algorithm>:<hex>" of an algorithm we know."""
    if not _DIGEST.fullmatch(digest):
        raise errdefs.InvalidArgument(f'"{digest}" failed validation: invalid checksum digest format: invalid argument')
    return digest
