"""Docker's reference normalisation, case by case (distribution/reference's normalize tests)."""
import pytest

import errdefs
from containerd.client.reference import parse

DIGEST = "sha256:" + "a" * 64

NORMALISED = [
    # (given, full reference, familiar form)
    ("busybox", "docker.io/library/busybox:latest", "busybox:latest"),
    ("busybox:1.36", "docker.io/library/busybox:1.36", "busybox:1.36"),
    ("library/busybox", "docker.io/library/busybox:latest", "busybox:latest"),
    ("docker.io/library/busybox:latest", "docker.io/library/busybox:latest", "busybox:latest"),
    ("index.docker.io/busybox", "docker.io/library/busybox:latest", "busybox:latest"),
    ("user/x", "docker.io/user/x:latest", "user/x:latest"),
    ("user/x/y", "docker.io/user/x/y:latest", "user/x/y:latest"),
    ("127.0.0.1:5000/x:tag", "127.0.0.1:5000/x:tag", "127.0.0.1:5000/x:tag"),
    ("localhost/x", "localhost/x:latest", "localhost/x:latest"),
    ("localhost:5000/a/b", "localhost:5000/a/b:latest", "localhost:5000/a/b:latest"),
    ("quay.io/org/app", "quay.io/org/app:latest", "quay.io/org/app:latest"),
    (f"busybox@{DIGEST}", f"docker.io/library/busybox@{DIGEST}", f"busybox@{DIGEST}"),
    (f"busybox:1.36@{DIGEST}", f"docker.io/library/busybox:1.36@{DIGEST}", f"busybox:1.36@{DIGEST}"),
    ("a_b.c-d__e", "docker.io/library/a_b.c-d__e:latest", "a_b.c-d__e:latest"),
    ("Host.Example/x", "Host.Example/x:latest", "Host.Example/x:latest"),  # a domain may have capitals
    ("localhost:5000", "docker.io/library/localhost:5000", "localhost:5000"),  # a name and a tag
]


@pytest.mark.parametrize(("given", "full", "familiar"), NORMALISED)
def test_normalisation_and_familiar_form(given, full, familiar):
    reference = parse(given)
    assert str(reference) == full
    assert reference.familiar == familiar
    assert parse(full) == reference


def test_parts():
    reference = parse(f"127.0.0.1:5000/team/app:v1@{DIGEST}")
    assert (reference.domain, reference.path, reference.tag, reference.digest) == ("127.0.0.1:5000", "team/app", "v1", DIGEST)
    assert reference.name == "127.0.0.1:5000/team/app"
    assert reference.object == DIGEST  # a digest pins the manifest, whatever the tag says
    assert parse("busybox").object == "latest"


INVALID = [
    ("", "empty reference"),
    ("Busybox", "must be lowercase"),
    ("user/Repo", "must be lowercase"),
    ("busybox@sha256:abc", "invalid digest"),
    (f"busybox@sha256:{'A' * 64}", "invalid checksum digest"),
    ("busybox@md5", "invalid digest"),
    ("busybox:", "invalid tag"),
    ("busybox:-x", "invalid tag"),
    ("busy//box", "invalid reference format"),
    ("-busybox", "invalid reference format"),
    ("busybox/", "invalid reference format"),
    ("a" * 64, "cannot specify 64-byte hexadecimal strings"),
    ("x/" + "a" * 260, "must not be more than 255 characters"),
]


@pytest.mark.parametrize(("given", "complaint"), INVALID)
def test_invalid_references_are_invalid_arguments(given, complaint):
    with pytest.raises(errdefs.InvalidArgument, match=complaint):
        parse(given)
