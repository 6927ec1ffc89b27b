"""containerd's rules for ids, namespaces and labels (pkg/identifiers, labels), checked before
any of them becomes a path component or a database key."""
import re

import errdefs

MAX_LENGTH = 76
MAX_LABEL_SIZE = 4096
_IDENTIFIER = re.compile(r"[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*")


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
