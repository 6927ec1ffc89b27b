"""ps's columns from /containers/json items, as docker's container formatter prints them."""
from client.commands.ps import Container, display_ports


def test_ports_grouped_as_docker_groups_them():
    assert display_ports([]) == ""
    assert display_ports([{"PrivatePort": 80, "Type": "tcp"}]) == "80/tcp"
    assert display_ports([{"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"},
                          {"IP": "::", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"}]) == \
        "0.0.0.0:8080->80/tcp, [::]:8080->80/tcp"
    assert display_ports([{"PrivatePort": 9001, "Type": "udp"}, {"PrivatePort": 9000, "Type": "udp"},
                          {"PrivatePort": 7000, "Type": "tcp"}]) == "7000/tcp, 9000-9001/udp"
    assert display_ports([{"IP": "127.0.0.1", "PrivatePort": 9000, "PublicPort": 9000, "Type": "udp"},
                          {"IP": "127.0.0.1", "PrivatePort": 9001, "PublicPort": 9001, "Type": "udp"}]) == \
        "127.0.0.1:9000-9001->9000-9001/udp"
    assert display_ports([{"PrivatePort": 1, "Type": "tcp"}, {"PrivatePort": 3, "Type": "tcp"}]) == "1/tcp, 3/tcp"


ITEM = {"Id": "a" * 64, "Names": ["/web", "/other/link"], "Image": "busybox", "ImageID": "sha256:" + "b" * 64,
        "Command": "sh -c 'while true; do sleep 1; done'", "Created": 0, "State": "running", "Status": "Up 2 hours",
        "Labels": {"tier": "front"}, "Ports": [], "SizeRw": 8192, "SizeRootFs": 4_265_000}


def test_truncated_columns():
    c = Container(ITEM, trunc=True, now=7200)
    assert (c.ID(), c.Names(), c.Command(), c.RunningFor(), c.Size(), c.Label("tier")) == \
        ("a" * 12, "web", '"sh -c \'while true; …"', "2 hours ago", "8.19kB (virtual 4.26MB)", "front")
    full = Container(ITEM, trunc=False, now=7200)
    assert (full.ID(), full.Names(), full.Command()) == \
        ("a" * 64, "web,other/link", '"sh -c \'while true; do sleep 1; done\'"')


def test_image_column():
    def image(name, trunc=True):
        return Container(dict(ITEM, Image=name), trunc=trunc, now=0).Image()

    assert image("sha256:" + "b" * 64) == "b" * 12
    assert image("busybox@sha256:" + "c" * 64) == "busybox"
    assert image("busybox@sha256:" + "c" * 64, trunc=False) == "busybox@sha256:" + "c" * 64
    assert image("docker.io/library/busybox:latest") == "busybox:latest"
    assert image("localhost:5000/x/y:1") == "localhost:5000/x/y:1"
    assert image("") == "<no image>"
