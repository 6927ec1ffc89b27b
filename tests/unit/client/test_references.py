"""What pull, push and import check of a reference on this side (distribution/reference's
ParseNormalizedNamed, in its words), and the X-Registry-Auth header they send."""
import base64
import json

import pytest

from client.__main__ import CommandError
from client.commands.pull import check_reference, normalise, registry_auth


@pytest.mark.parametrize("ref", ["busybox", "busybox:latest", "library/busybox:1.36.1", "localhost:5000/a/b:1",
                                 "127.0.0.1:5000/team/tool", "[::1]:5000/x", "a__b/c--d.e_f", "Foo/bar",
                                 "example.com/x@sha256:" + "0" * 64, "ex-ample.com/x:v1.2-x_y"])
def test_valid_references(ref):
    check_reference(ref)


@pytest.mark.parametrize("ref, message", [
    ("Bad", "invalid reference format: repository name (library/Bad) must be lowercase"),
    ("x/Y:tag", "invalid reference format: repository name (x/Y) must be lowercase"),
    ("a@@b", "invalid reference format"),
    ("a___b", "invalid reference format"),
    ("-a", "invalid reference format"),
    ("x:", "invalid reference format"),
    ("x:.tag", "invalid reference format"),
    ("x@sha256:abc", "invalid reference format"),
    ("0" * 64, f"invalid repository name ({'0' * 64}), cannot specify 64-byte hexadecimal strings"),
    ("a/" + "b" * 260, "repository name must not be more than 255 characters"),
])
def test_invalid_references_in_dockers_words(ref, message):
    with pytest.raises(CommandError) as raised:
        check_reference(ref)
    assert (str(raised.value), raised.value.status) == (message, 1)


def test_an_upper_case_first_element_is_a_registry():
    assert normalise("Foo/bar")[0] == "Foo/bar"
    assert normalise("foo/bar")[0] == "docker.io/foo/bar"


def decoded(header: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(header))


def test_registry_auth_from_the_config_files_auths(tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    assert registry_auth("docker.io/library/busybox") == "e30="  # no config file: {}
    (tmp_path / "config.json").write_text(json.dumps({"auths": {
        "https://index.docker.io/v1/": {"auth": base64.b64encode(b"hub:secret").decode()},
        "registry.example.com:5000": {"auth": base64.b64encode(b"me:p:ss").decode()},
        "https://old.example.com/v1/": {"auth": base64.b64encode(b"old:pw").decode()},
    }}))
    assert decoded(registry_auth("docker.io/library/busybox")) == {
        "username": "hub", "password": "secret", "serveraddress": "https://index.docker.io/v1/"}
    assert decoded(registry_auth("registry.example.com:5000/team/x")) == {
        "username": "me", "password": "p:ss", "serveraddress": "registry.example.com:5000"}
    assert decoded(registry_auth("old.example.com/x")) == {  # an old-style key, found by its host name
        "username": "old", "password": "pw", "serveraddress": "https://old.example.com/v1/"}
    assert registry_auth("elsewhere.example.com/x") == "e30="
