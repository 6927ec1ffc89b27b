"""Which endpoints a reference's registry is tried at: mirrors for Docker Hub pulls, HTTPS
first, plain HTTP only for insecure and loopback registries."""
import pytest

import errdefs
from containerd.client.hosts import Endpoint, endpoints, is_insecure


@pytest.mark.parametrize(("host", "insecure", "expected"), [
    ("localhost:5000", [], True),
    ("localhost", [], True),
    ("127.0.0.1:5000", [], True),
    ("127.8.9.1", [], True),
    ("[::1]:5000", [], False),  # Docker's default insecure CIDR is IPv4 loopback only
    ("registry.example:5000", [], False),
    ("registry.example:5000", ["registry.example:5000"], True),
    ("registry.example:5000", ["registry.example"], True),
    ("registry.example", ["registry.example:5000"], False),
    ("10.1.2.3:5000", ["10.0.0.0/8"], True),
    ("192.168.1.1", ["10.0.0.0/8"], False),
])
def test_insecure_registries(host, insecure, expected):
    assert is_insecure(host, insecure) is expected


def test_a_bad_cidr_is_an_invalid_argument():
    with pytest.raises(errdefs.InvalidArgument, match="not a valid CIDR"):
        is_insecure("10.0.0.1", ["10.0.0.0/33"])


def test_docker_hub_pulls_try_each_mirror_then_the_hub():
    assert endpoints("docker.io", mirrors=["https://mirror.one/", "http://127.0.0.1:5001", "mirror.two"]) == [
        Endpoint("https://mirror.one", mirror=True),
        Endpoint("http://127.0.0.1:5001", mirror=True),
        Endpoint("https://mirror.two", mirror=True),
        Endpoint("https://registry-1.docker.io"),
    ]


def test_pushes_and_other_registries_ignore_mirrors():
    assert endpoints("docker.io", mirrors=["https://mirror.one"], push=True) == [Endpoint("https://registry-1.docker.io")]
    assert endpoints("quay.io", mirrors=["https://mirror.one"]) == [Endpoint("https://quay.io")]


def test_insecure_registries_fall_back_from_unverified_https_to_http():
    assert endpoints("127.0.0.1:5000") == [Endpoint("https://127.0.0.1:5000", verify_tls=False),
                                           Endpoint("http://127.0.0.1:5000")]
    assert endpoints("reg.lan:5000", insecure=["reg.lan:5000"])[1] == Endpoint("http://reg.lan:5000")


def test_a_mirror_must_be_an_http_url():
    with pytest.raises(errdefs.InvalidArgument, match="invalid registry mirror"):
        endpoints("docker.io", mirrors=["ftp://mirror"])
