"""The overlayfs snapshotter and the differ as root: layers applied straight into overlay
upperdirs (hostile ones contained), the merged views a real overlay mount shows, a chain of
layers too long for one page of mount options, and the Snapshots and Diff services, driven
by our client and by the real ctr."""
import gzip
import hashlib
import io
import os
import stat
import subprocess
import tarfile

import grpc
import pytest
from google.protobuf import field_mask_pb2

import errdefs
from containerd.diff import compression
from containerd.diff.apply import apply
from containerd.snapshots import Mount
from containerd.snapshots.overlay import OverlaySnapshotter
from protos import (
    content_pb2, content_pb2_grpc, diff_pb2, diff_pb2_grpc, event_types_pb2, leases_pb2, leases_pb2_grpc, snapshots_pb2,
    snapshots_pb2_grpc, types_pb2, typeurl,
)
from shim import mounts
from tests.fixtures.pycontainerd import NAMESPACE, OUR_RUNTIME

pytestmark = pytest.mark.root

NS = "e2e"


def member(name, kind=tarfile.REGTYPE, data=b"", mode=0o644, linkname="", uid=0, devmajor=0, devminor=0):
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.linkname, info.uid, info.gid, info.size = kind, mode, linkname, uid, uid, len(data)
    info.devmajor, info.devminor, info.mtime = devmajor, devminor, 1_600_000_000
    return info, data


def layer(*members) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return buffer.getvalue()


@pytest.fixture
def snapshotter(tmp_path):
    snapshotter = OverlaySnapshotter(tmp_path / "overlayfs")
    yield snapshotter
    snapshotter.close()


@pytest.fixture
def mounted(tmp_path):
    """Mount points made by a test, unmounted (and checked gone) in teardown."""
    points = []

    def mount(snapshot_mounts, name: str) -> str:
        target = tmp_path / name
        target.mkdir()
        mounts.mount_all([{"type": m.type, "source": m.source, "options": list(m.options)} for m in snapshot_mounts],
                         str(target))
        points.append(str(target))
        return str(target)

    yield mount
    for point in points:
        mounts.unmount(point)
    assert [line for line in open("/proc/self/mountinfo") if str(tmp_path) in line] == []


def extract(snapshotter, key: str, parent: str, tar: bytes) -> str:
    """Apply a layer into a new active snapshot, as an unpacker does, and commit it as key."""
    [mount] = snapshotter.prepare(NS, f"extract-{key}", parent)
    if mount.type == "overlay":
        apply(io.BytesIO(tar), compression.OCI_LAYER, mount.option("upperdir"), mount.option("lowerdir").split(":"))
    else:
        apply(io.BytesIO(tar), compression.OCI_LAYER, mount.source)
    snapshotter.commit(NS, key, f"extract-{key}")
    return key


# layers applied into overlay upperdirs


def test_whiteouts_and_opaque_dirs_show_in_the_merged_view(snapshotter, mounted):
    extract(snapshotter, "base", "", layer(
        member("etc", tarfile.DIRTYPE, mode=0o755), member("etc/passwd", data=b"root"), member("etc/gone", data=b"x"),
        member("opaque", tarfile.DIRTYPE, mode=0o750), member("opaque/old", data=b"old"),
        member("dev", tarfile.DIRTYPE), member("dev/null", tarfile.CHRTYPE, mode=0o666, devmajor=1, devminor=3),
        member("replaced/old", data=b"old")))
    extract(snapshotter, "top", "base", layer(
        member("etc/.wh.gone"), member("opaque/.wh..wh..opq"), member("opaque/new", data=b"new"),
        member("srv/www/index", data=b"parents from nowhere"),
        member(".wh.replaced"), member("replaced", tarfile.DIRTYPE), member("replaced/new", data=b"new")))
    [upper_view] = snapshotter.view(NS, "top-view", "top")
    upper = str(snapshotter.root / "snapshots" / "2" / "fs")
    # In the upperdir: overlay's own marks, and etc made with the lower etc's attributes.
    assert stat.S_ISCHR(os.lstat(f"{upper}/etc/gone").st_mode) and os.lstat(f"{upper}/etc/gone").st_rdev == 0
    assert os.getxattr(f"{upper}/opaque", "trusted.overlay.opaque") == b"y"
    assert stat.S_IMODE(os.stat(f"{upper}/etc").st_mode) == 0o755 and "passwd" not in os.listdir(f"{upper}/etc")
    merged = mounted([upper_view], "merged")
    assert sorted(os.listdir(f"{merged}/etc")) == ["passwd"]
    assert os.listdir(f"{merged}/opaque") == ["new"]
    assert open(f"{merged}/srv/www/index").read() == "parents from nowhere"
    assert os.listdir(f"{merged}/replaced") == ["new"]
    assert os.stat(f"{merged}/dev/null").st_rdev == os.makedev(1, 3)
    # Writing in a container's snapshot on top changes its upperdir only.
    container = mounted(snapshotter.prepare(NS, "container", "top"), "container")
    with open(f"{container}/etc/passwd", "a") as passwd:
        passwd.write("\nuser")
    assert open(f"{merged}/etc/passwd").read() == "root"


def huge_header() -> bytes:
    header = tarfile.TarInfo("././@PaxHeader")
    header.type, header.size = tarfile.XHDTYPE, 1 << 30
    return header.tobuf(tarfile.USTAR_FORMAT) + b"\0" * (4 << 20)


# Each case: the layer, given the outside directory's path, and the error expected (None: a
# contained result).
HOSTILE = {
    "dot-dot path": (lambda outside: layer(member("../../escaped", data=b"x")), "escapes"),
    "absolute path": (lambda outside: layer(member(f"{outside}/escaped", data=b"x")), None),
    "symlink then write through": (lambda outside: layer(member("link", tarfile.SYMTYPE, linkname="../../../.."),
                                                         member(f"link/{outside}/escaped", data=b"x")), None),
    "hardlink to outside": (lambda outside: layer(member("hard", tarfile.LNKTYPE, linkname=f"{outside}/victim")),
                            "missing"),
    "symlink chain": (lambda outside: layer(member("a", tarfile.SYMTYPE, linkname="b"),
                                            member("b", tarfile.SYMTYPE, linkname="/.."),
                                            member("a/escaped", data=b"x")), None),
    "whiteout outside": (lambda outside: layer(member("up", tarfile.SYMTYPE, linkname="/../.."),
                                               member("up/.wh.victim")), None),
    "huge header": (lambda outside: huge_header(), "tar header extension"),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_layers_stay_inside_the_upperdir(snapshotter, tmp_path, case):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim").write_bytes(b"precious")
    make, error = HOSTILE[case]
    tar = make(str(outside))
    extract(snapshotter, "base", "", layer(member("victim", data=b"inside")))
    [mount] = snapshotter.prepare(NS, "target", "base")
    upper = mount.option("upperdir")
    before = {entry: os.lstat(os.path.join(outside, entry)) for entry in os.listdir(outside)}
    if error:
        with pytest.raises(errdefs.InvalidArgument, match=error):
            apply(io.BytesIO(tar), compression.OCI_LAYER, upper, mount.option("lowerdir").split(":"))
    else:
        apply(io.BytesIO(tar), compression.OCI_LAYER, upper, mount.option("lowerdir").split(":"))
    assert {entry: os.lstat(os.path.join(outside, entry)) for entry in os.listdir(outside)} == before
    assert (outside / "victim").read_bytes() == b"precious"
    assert sorted(os.listdir(tmp_path)) == ["outside", "overlayfs"]
    if case in ("absolute path", "symlink then write through"):
        assert open(f"{upper}/{outside}/escaped").read() == "x"  # the same path, inside
    for directory, _, files in os.walk(upper):
        for name in files:
            assert os.path.realpath(os.path.join(directory, name)).startswith(upper + "/")


# a chain too long for a page of options


def test_sixty_layers_mount_through_the_shims_mount_code(tmp_path, mounted):
    # A long root makes even the short links' lowerdir longer than a page.
    root = tmp_path / ("deep-" * 10) / ("er-" * 10) / "overlayfs"
    snapshotter = OverlaySnapshotter(root)
    try:
        parent = ""
        for n in range(61):
            parent = extract(snapshotter, f"layer-{n}", parent, layer(member(f"layers/{n}", data=str(n).encode())))
        [mount] = snapshotter.prepare(NS, "rootfs", parent)
        _, data = mounts.parse_options(list(mount.options))
        assert len(data) > mounts.PAGE_SIZE and len(mount.option("lowerdir").split(":")) == 61
        cwd = os.getcwd()
        merged = mounted([mount], "rootfs")
        assert os.getcwd() == cwd
        assert sorted(os.listdir(f"{merged}/layers"), key=int) == [str(n) for n in range(61)]
        assert all(open(f"{merged}/layers/{n}").read() == str(n) for n in range(61))
        with open(f"{merged}/written", "w") as f:
            f.write("up")
        assert open(os.path.join(mount.option("upperdir"), "written")).read() == "up"
    finally:
        snapshotter.close()


def test_sixty_absolute_lowerdirs_longer_than_a_page_mount(tmp_path, mounted):
    lowers = []
    for n in range(64):
        lower = tmp_path / "layers" / f"layer-{n:03d}-{'x' * 30}"
        lower.mkdir(parents=True)
        (lower / f"file-{n}").write_text(str(n))
        lowers.append(str(lower))
    (tmp_path / "upper").mkdir()
    (tmp_path / "work").mkdir()
    options = (f"workdir={tmp_path}/work", f"upperdir={tmp_path}/upper", "lowerdir=" + ":".join(lowers))
    assert len(",".join(options)) > mounts.PAGE_SIZE
    merged = mounted([Mount("overlay", "overlay", options)], "merged")
    assert sorted(os.listdir(merged)) == sorted(f"file-{n}" for n in range(64))


# the services, over gRPC


@pytest.fixture
def daemon(pycontainerd):
    return pycontainerd


one_runtime = pytest.mark.parametrize("pycontainerd", [OUR_RUNTIME], indirect=True)


def snapshots(daemon, method, request, metadata=None):
    stub = snapshots_pb2_grpc.SnapshotsStub(daemon.channel)
    return getattr(stub, method)(request, metadata=metadata or daemon.metadata, timeout=30)


def write_blob(daemon, data: bytes, digest: str | None = None) -> str:
    digest = digest or "sha256:" + hashlib.sha256(data).hexdigest()
    stub = content_pb2_grpc.ContentStub(daemon.channel)
    list(stub.Write(iter([content_pb2.WriteContentRequest(action=content_pb2.COMMIT, ref=f"test-{digest}",
                                                          total=len(data), expected=digest, data=data)]),
                    metadata=daemon.metadata, timeout=30))
    return digest


def diff(daemon, method, request):
    return getattr(diff_pb2_grpc.DiffStub(daemon.channel), method)(request, metadata=daemon.metadata, timeout=60)


@one_runtime
def test_the_snapshots_service_answers_as_the_snapshotter(daemon):
    events = daemon.subscribe('topic~="^/snapshot/"')
    prepared = snapshots(daemon, "Prepare", snapshots_pb2.PrepareSnapshotRequest(
        snapshotter="overlayfs", key="base-extract", labels={"stage": "one"})).mounts
    assert [(m.type, list(m.options)) for m in prepared] == [("bind", ["rw", "rbind"])]
    assert prepared[0].source.startswith(str(daemon.root / "io.containerd.snapshotter.v1.overlayfs" / "snapshots"))
    snapshots(daemon, "Commit", snapshots_pb2.CommitSnapshotRequest(snapshotter="overlayfs", name="base",
                                                                    key="base-extract"))
    [overlay] = snapshots(daemon, "Prepare", snapshots_pb2.PrepareSnapshotRequest(
        snapshotter="overlayfs", key="work", parent="base")).mounts
    assert overlay.type == "overlay" and any(o.startswith("lowerdir=") for o in overlay.options)
    mounts_again = snapshots(daemon, "Mounts", snapshots_pb2.MountsRequest(snapshotter="overlayfs", key="work")).mounts
    assert mounts_again == [overlay]
    info = snapshots(daemon, "Stat", snapshots_pb2.StatSnapshotRequest(snapshotter="overlayfs", key="work")).info
    assert (info.name, info.parent, info.kind) == ("work", "base", snapshots_pb2.ACTIVE)
    updated = snapshots(daemon, "Update", snapshots_pb2.UpdateSnapshotRequest(
        snapshotter="overlayfs", info=snapshots_pb2.Info(name="work", labels={"a": "1"}),
        update_mask=field_mask_pb2.FieldMask(paths=["labels.a"]))).info
    assert dict(updated.labels) == {"a": "1"}
    listed = [i.name for r in snapshots(daemon, "List", snapshots_pb2.ListSnapshotsRequest(
        snapshotter="overlayfs", filters=["kind==committed"])) for i in r.info]
    assert listed == ["base"]
    usage = snapshots(daemon, "Usage", snapshots_pb2.UsageRequest(snapshotter="overlayfs", key="base"))
    assert usage.inodes == 1 and usage.size >= 0
    with pytest.raises(grpc.RpcError) as refused:
        snapshots(daemon, "Remove", snapshots_pb2.RemoveSnapshotRequest(snapshotter="overlayfs", key="base"))
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    with pytest.raises(grpc.RpcError) as unknown:
        snapshots(daemon, "Stat", snapshots_pb2.StatSnapshotRequest(snapshotter="btrfs", key="work"))
    assert unknown.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as taken:
        snapshots(daemon, "Prepare", snapshots_pb2.PrepareSnapshotRequest(snapshotter="overlayfs", key="work"))
    assert taken.value.code() == grpc.StatusCode.ALREADY_EXISTS
    snapshots(daemon, "Remove", snapshots_pb2.RemoveSnapshotRequest(snapshotter="overlayfs", key="work"))
    snapshots(daemon, "Remove", snapshots_pb2.RemoveSnapshotRequest(snapshotter="overlayfs", key="base"))
    snapshots(daemon, "Cleanup", snapshots_pb2.CleanupRequest(snapshotter="overlayfs"))
    seen = [e for e in events.until("/snapshot/remove") + events.until("/snapshot/remove")]
    assert [e.topic for e in seen] == ["/snapshot/prepare", "/snapshot/commit", "/snapshot/prepare",
                                       "/snapshot/remove", "/snapshot/remove"]
    commit = typeurl.unpack(seen[1].event)
    assert isinstance(commit, event_types_pb2.SnapshotCommit)
    assert (commit.key, commit.name, commit.snapshotter) == ("base-extract", "base", "overlayfs")


@one_runtime
def test_the_diff_service_applies_and_computes_layers(daemon):
    base = layer(member("etc", tarfile.DIRTYPE, mode=0o755), member("etc/os-release", data=b"pydocker"),
                 member("etc/gone", data=b"x"))
    blob = gzip.compress(base)
    digest = write_blob(daemon, blob)
    [mount] = snapshots(daemon, "Prepare", snapshots_pb2.PrepareSnapshotRequest(snapshotter="overlayfs",
                                                                                 key="extract-1")).mounts
    applied = diff(daemon, "Apply", diff_pb2.ApplyRequest(
        diff=types_pb2.Descriptor(media_type=compression.OCI_LAYER_GZIP, digest=digest, size=len(blob)),
        mounts=[mount])).applied
    assert applied.digest == "sha256:" + hashlib.sha256(base).hexdigest() and applied.size == len(base)
    assert open(os.path.join(mount.source, "etc", "os-release")).read() == "pydocker"
    snapshots(daemon, "Commit", snapshots_pb2.CommitSnapshotRequest(snapshotter="overlayfs", name="one",
                                                                    key="extract-1"))

    # A second layer over an overlay: applied into the upperdir, then computed back.
    second = layer(member("etc/.wh.gone"), member("etc/added", data=b"new"))
    digest = write_blob(daemon, second)
    [active] = snapshots(daemon, "Prepare", snapshots_pb2.PrepareSnapshotRequest(snapshotter="overlayfs",
                                                                                  key="extract-2", parent="one")).mounts
    diff(daemon, "Apply", diff_pb2.ApplyRequest(
        diff=types_pb2.Descriptor(media_type=compression.OCI_LAYER, digest=digest, size=len(second)), mounts=[active]))
    [lower] = snapshots(daemon, "View", snapshots_pb2.ViewSnapshotRequest(snapshotter="overlayfs", key="lower",
                                                                          parent="one")).mounts
    computed = diff(daemon, "Diff", diff_pb2.DiffRequest(left=[lower], right=[active], labels={"k": "v"})).diff
    assert computed.media_type == compression.OCI_LAYER_GZIP
    info = content_pb2_grpc.ContentStub(daemon.channel).Info(content_pb2.InfoRequest(digest=computed.digest),
                                                             metadata=daemon.metadata).info
    data = b"".join(r.data for r in content_pb2_grpc.ContentStub(daemon.channel).Read(
        content_pb2.ReadContentRequest(digest=computed.digest), metadata=daemon.metadata))
    tar = gzip.decompress(data)
    assert info.labels["containerd.io/uncompressed"] == "sha256:" + hashlib.sha256(tar).hexdigest()
    assert info.labels["k"] == "v" and info.size == computed.size == len(data)
    with tarfile.open(fileobj=io.BytesIO(tar)) as listing:
        assert sorted(m.name for m in listing.getmembers()) == ["etc", "etc/.wh.gone", "etc/added"]

    # A blob that does not match its digest any more is refused.
    blob_path = daemon.root / "io.containerd.content.v1.content" / "blobs" / "sha256" / digest.split(":")[1]
    blob_path.write_bytes(second.replace(b"new", b"bad"))
    [again] = snapshots(daemon, "Prepare", snapshots_pb2.PrepareSnapshotRequest(snapshotter="overlayfs",
                                                                                 key="extract-3", parent="one")).mounts
    with pytest.raises(grpc.RpcError) as corrupt:
        diff(daemon, "Apply", diff_pb2.ApplyRequest(
            diff=types_pb2.Descriptor(media_type=compression.OCI_LAYER, digest=digest, size=len(second)),
            mounts=[again]))
    assert corrupt.value.code() == grpc.StatusCode.DATA_LOSS
    with pytest.raises(grpc.RpcError) as unmountable:
        diff(daemon, "Apply", diff_pb2.ApplyRequest(
            diff=types_pb2.Descriptor(media_type=compression.OCI_LAYER, digest=digest, size=len(second)),
            mounts=[lower]))
    assert unmountable.value.code() == grpc.StatusCode.UNIMPLEMENTED


# the real ctr


def ctr(daemon, *args: str) -> str:
    done = subprocess.run(["ctr", "--address", str(daemon.address), "--namespace", NAMESPACE, "snapshots", *args],
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, f"ctr snapshots {' '.join(args)} exited {done.returncode}: {done.stderr}"
    return done.stdout


@one_runtime
def test_ctr_snapshots_agree_with_the_api(daemon):
    ctr(daemon, "prepare", "ctr-base")
    ctr(daemon, "commit", "base", "ctr-base")
    ctr(daemon, "prepare", "work", "base")
    rows = [line.split() for line in ctr(daemon, "ls").splitlines()[1:]]
    assert sorted(rows) == [["base", "Committed"], ["work", "base", "Active"]]
    mount_line = ctr(daemon, "mounts", "/somewhere", "work").strip()
    [api_mount] = snapshots(daemon, "Mounts", snapshots_pb2.MountsRequest(snapshotter="overlayfs", key="work")).mounts
    assert mount_line == f"mount -t overlay overlay /somewhere -o {','.join(api_mount.options)}"
    info = ctr(daemon, "info", "work")
    assert '"Kind": "Active"' in info and '"containerd.io/gc.root"' in info and '"Parent": "base"' in info
    ctr(daemon, "rm", "work")
    ctr(daemon, "rm", "base")
    assert ctr(daemon, "ls").splitlines()[1:] == []


@one_runtime
def test_snapshots_made_under_a_lease_are_held_by_it(daemon):
    stub = leases_pb2_grpc.LeasesStub(daemon.channel)
    stub.Create(leases_pb2.CreateRequest(id="unpack"), metadata=daemon.metadata, timeout=30)
    leased = (*daemon.metadata, ("containerd-lease", "unpack"))
    snapshots(daemon, "Prepare", snapshots_pb2.PrepareSnapshotRequest(snapshotter="overlayfs", key="extract"),
              metadata=leased)
    snapshots(daemon, "Commit", snapshots_pb2.CommitSnapshotRequest(snapshotter="overlayfs", name="layer",
                                                                    key="extract"), metadata=leased)
    resources = stub.ListResources(leases_pb2.ListResourcesRequest(id="unpack"), metadata=daemon.metadata,
                                   timeout=30).resources
    assert ("layer", "snapshots/overlayfs") in [(r.id, r.type) for r in resources]
    # A lease the namespace lacks: the snapshot is not made.
    with pytest.raises(grpc.RpcError) as missing:
        snapshots(daemon, "Prepare", snapshots_pb2.PrepareSnapshotRequest(snapshotter="overlayfs", key="orphan"),
                  metadata=(*daemon.metadata, ("containerd-lease", "no-such-lease")))
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    keys = [i.name for r in snapshots(daemon, "List", snapshots_pb2.ListSnapshotsRequest(snapshotter="overlayfs"))
            for i in r.info]
    assert keys == ["layer"]
