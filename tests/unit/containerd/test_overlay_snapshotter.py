"""The overlayfs snapshotter's records and the mounts it answers, without mounting anything."""
import os

import pytest

import errdefs
from containerd.core import filters
from containerd.snapshots import Kind, Mount
from containerd.snapshots.overlay import OverlaySnapshotter

NS = "ns1"


@pytest.fixture
def snapshotter(tmp_path):
    snapshotter = OverlaySnapshotter(tmp_path / "overlayfs")
    yield snapshotter
    snapshotter.close()


def lowerdirs(mount: Mount) -> list[str]:
    return mount.option("lowerdir").split(":")


def committed_chain(snapshotter, depth: int) -> str:
    parent = ""
    for layer in range(depth):
        snapshotter.prepare(NS, f"extract-{layer}", parent)
        snapshotter.commit(NS, f"layer-{layer}", f"extract-{layer}")
        parent = f"layer-{layer}"
    return parent


def test_a_snapshot_without_parent_is_a_bind_of_its_own_directory(snapshotter):
    [active] = snapshotter.prepare(NS, "a")
    assert active.type == "bind" and active.options == ("rw", "rbind")
    assert os.path.isdir(active.source) and active.source.endswith("/fs")
    assert os.path.isdir(os.path.join(os.path.dirname(active.source), "work"))
    [view] = snapshotter.view(NS, "v")
    assert view.options == ("ro", "rbind")
    assert not os.path.exists(os.path.join(os.path.dirname(view.source), "work"))


def test_an_active_snapshot_on_parents_is_an_overlay_of_short_links_nearest_first(snapshotter):
    [first] = snapshotter.prepare(NS, "a")
    (open(os.path.join(first.source, "marker-0"), "w")).close()
    snapshotter.commit(NS, "layer-0", "a")
    [second] = snapshotter.prepare(NS, "b", "layer-0")
    snapshotter.commit(NS, "layer-1", "b")
    [mount] = snapshotter.prepare(NS, "top", "layer-1")
    assert mount.type == "overlay" and mount.source == "overlay"
    lowers = lowerdirs(mount)
    assert [os.path.dirname(lower) for lower in lowers] == [str(snapshotter.root / "l")] * 2
    assert all(len(os.path.basename(lower)) == 26 for lower in lowers)
    # Nearest first: the link resolves to the parent's fs, the one below it to layer-0's.
    assert os.path.realpath(lowers[0]) == second.option("upperdir")
    assert os.listdir(lowers[1]) == ["marker-0"]
    upper, work = mount.option("upperdir"), mount.option("workdir")
    assert upper.endswith("/fs") and work.endswith("/work") and os.path.dirname(upper) == os.path.dirname(work)


def test_views_on_one_parent_bind_it_read_only_and_on_more_overlay_only_lowers(snapshotter):
    committed_chain(snapshotter, 2)
    [one] = snapshotter.view(NS, "v1", "layer-0")
    assert one.type == "bind" and one.options == ("ro", "rbind")
    assert one.source == str(snapshotter.root / "snapshots" / "1" / "fs")
    [two] = snapshotter.view(NS, "v2", "layer-1")
    assert two.type == "overlay"
    assert [o for o in two.options if o.startswith(("upperdir=", "workdir="))] == []
    assert len(lowerdirs(two)) == 2
    assert snapshotter.mounts(NS, "v2") == [two]


def test_commit_renames_an_active_snapshot_and_keeps_its_files(snapshotter):
    [mount] = snapshotter.prepare(NS, "a", labels={"x": "1"})
    open(os.path.join(mount.source, "file"), "w").close()
    info = snapshotter.commit(NS, "c", "a", labels={"y": "2"})
    assert (info.key, info.kind, info.labels, info.parent) == ("c", Kind.COMMITTED, {"y": "2"}, "")
    with pytest.raises(errdefs.NotFound):
        snapshotter.stat(NS, "a")
    [child] = snapshotter.view(NS, "v", "c")
    assert os.listdir(child.source) == ["file"]
    with pytest.raises(errdefs.FailedPrecondition):
        snapshotter.mounts(NS, "c")


def test_commit_needs_an_active_snapshot_and_a_free_name(snapshotter):
    committed_chain(snapshotter, 1)
    snapshotter.prepare(NS, "a", "layer-0")
    with pytest.raises(errdefs.AlreadyExists):
        snapshotter.commit(NS, "layer-0", "a")
    snapshotter.view(NS, "v", "layer-0")
    with pytest.raises(errdefs.FailedPrecondition):
        snapshotter.commit(NS, "c", "v")
    with pytest.raises(errdefs.NotFound):
        snapshotter.commit(NS, "c", "missing")
    assert snapshotter.stat(NS, "a").kind is Kind.ACTIVE


def test_create_checks_key_and_parent(snapshotter):
    snapshotter.prepare(NS, "a")
    with pytest.raises(errdefs.AlreadyExists):
        snapshotter.prepare(NS, "a")
    with pytest.raises(errdefs.NotFound):
        snapshotter.prepare(NS, "b", "missing")
    with pytest.raises(errdefs.InvalidArgument):
        snapshotter.prepare(NS, "b", "a")  # not committed
    with pytest.raises(errdefs.InvalidArgument):
        snapshotter.prepare(NS, "")
    # A failed create leaves no directory and no link behind.
    assert sorted(os.listdir(snapshotter.root / "snapshots")) == ["1"]
    assert len(os.listdir(snapshotter.root / "l")) == 1


def test_namespaces_are_separate(snapshotter):
    committed_chain(snapshotter, 1)
    snapshotter.prepare("ns2", "layer-0")
    with pytest.raises(errdefs.NotFound):
        snapshotter.prepare("ns2", "child", "extract-0")
    with pytest.raises(errdefs.NotFound):
        snapshotter.view("ns2", "v", "layer-1")
    assert [info.key for info in snapshotter.walk(NS)] == ["layer-0"]
    assert [(info.key, info.kind) for info in snapshotter.walk("ns2")] == [("layer-0", Kind.ACTIVE)]
    assert snapshotter.namespaces() == [NS, "ns2"]


def test_remove_refuses_a_parent_and_deletes_the_files(snapshotter):
    committed_chain(snapshotter, 2)
    with pytest.raises(errdefs.FailedPrecondition):
        snapshotter.remove(NS, "layer-0")
    snapshotter.remove(NS, "layer-1")
    snapshotter.remove(NS, "layer-0")
    assert os.listdir(snapshotter.root / "snapshots") == []
    assert os.listdir(snapshotter.root / "l") == []
    with pytest.raises(errdefs.NotFound):
        snapshotter.remove(NS, "layer-0")


def test_update_sets_labels_by_field_path(snapshotter):
    snapshotter.prepare(NS, "a", labels={"keep": "1", "drop": "2"})
    info = snapshotter.update(NS, "a", {"new": "3"}, ["labels.new", "labels.drop"])
    assert info.labels == {"keep": "1", "new": "3"}
    assert info.updated_at >= info.created_at
    assert snapshotter.update(NS, "a", {"only": "4"}, []).labels == {"only": "4"}
    with pytest.raises(errdefs.InvalidArgument):
        snapshotter.update(NS, "a", {}, ["parent"])
    assert snapshotter.stat(NS, "a").labels == {"only": "4"}


def test_list_filters_as_containerd(snapshotter):
    committed_chain(snapshotter, 2)
    snapshotter.prepare(NS, "work", "layer-1", labels={"role": "rootfs"})
    snapshotter.view(NS, "look", "layer-0")

    def keys(*texts):
        return [info.key for info in snapshotter.list(NS, filters.parse_all(texts))]

    assert keys() == ["layer-0", "layer-1", "look", "work"]
    assert keys("kind==committed") == ["layer-0", "layer-1"]
    assert keys("kind==view", "kind==active") == ["look", "work"]
    assert keys("parent==layer-0") == ["layer-1", "look"]
    assert keys("name==work") == ["work"]
    assert keys("labels.role==rootfs") == ["work"]
    assert keys("labels.role") == ["work"]


def test_usage_counts_the_snapshots_own_blocks_and_inodes(snapshotter):
    [mount] = snapshotter.prepare(NS, "a")
    with open(os.path.join(mount.source, "data"), "wb") as f:
        f.write(b"x" * 100_000)
    os.link(os.path.join(mount.source, "data"), os.path.join(mount.source, "again"))
    os.mkdir(os.path.join(mount.source, "dir"))
    usage = snapshotter.usage(NS, "a")
    assert usage.inodes == 3  # the root, the file (twice linked, counted once), dir
    assert 100_000 <= usage.size < 300_000


def test_cleanup_removes_what_no_record_owns(snapshotter):
    snapshotter.prepare(NS, "a")
    os.makedirs(snapshotter.root / "snapshots" / "new-half" / "fs")
    os.makedirs(snapshotter.root / "snapshots" / "99" / "fs")
    os.symlink("../snapshots/99/fs", snapshotter.root / "l" / "ORPHAN")
    snapshotter.cleanup()
    assert os.listdir(snapshotter.root / "snapshots") == ["1"]
    assert len(os.listdir(snapshotter.root / "l")) == 1
    assert snapshotter.stat(NS, "a").kind is Kind.ACTIVE


def test_records_survive_a_restart(tmp_path):
    first = OverlaySnapshotter(tmp_path / "o")
    committed_chain(first, 1)
    first.close()
    again = OverlaySnapshotter(tmp_path / "o")
    try:
        assert [(i.key, i.kind) for i in again.walk(NS)] == [("layer-0", Kind.COMMITTED)]
        [mount] = again.prepare(NS, "next", "layer-0")
        assert mount.option("upperdir") == str(tmp_path / "o" / "snapshots" / "2" / "fs")
    finally:
        again.close()
