"""Mount planning without root: a recording syscall seam stands in for mount(2), while
path resolution inside the rootfs (openat2 RESOLVE_IN_ROOT) is the real one."""
import os

import pytest

from runc.libcontainer import rootfs
from runc.libcontainer import syscalls as S


class Recorder(S.Linux):
    """Records mount-like calls instead of making them; resolves their /proc/self/fd
    targets to the path the fd points at, so tests read real paths."""

    def __init__(self):
        self.calls = []

    def mount(self, source, target, fstype, flags=0, data=None):
        if target.startswith("/proc/self/fd/"):
            target = os.readlink(target)
        self.calls.append(("mount", source, target, fstype, flags, data))

    def umount(self, target, flags=0):
        self.calls.append(("umount", target, flags))

    def pivot_root(self, new_root, put_old):
        self.calls.append(("pivot_root", new_root, put_old))


@pytest.fixture
def root(tmp_path):
    path = tmp_path / "rootfs"
    path.mkdir()
    r = rootfs.Rootfs(Recorder(), str(path))
    yield r
    r.close()


def test_mount_options_split():
    o = rootfs.MountOptions(["nosuid", "noexec", "nodev", "ro", "mode=755", "size=65536k", "rprivate"])
    assert o.flags == S.MS_NOSUID | S.MS_NOEXEC | S.MS_NODEV | S.MS_RDONLY
    assert o.data == "mode=755,size=65536k"
    assert o.propagation == [S.MS_PRIVATE | S.MS_REC]
    assert rootfs.MountOptions(["ro", "rw"]).flags == 0
    assert rootfs.MountOptions(["rbind"]).is_bind
    assert rootfs.MountOptions(["rbind"]).flags == S.MS_BIND | S.MS_REC


def test_dev_counts_as_bound_by_bind_or_rbind_only():
    def dev(options, destination="/dev", fstype="bind"):
        return [{"destination": destination, "type": fstype, "source": "/dev", "options": options}]

    assert rootfs.binds_dev(dev(["bind"]))
    assert rootfs.binds_dev(dev(["rbind", "ro"]))
    assert rootfs.binds_dev(dev(["rbind"], destination="//dev/", fstype=None))
    assert not rootfs.binds_dev(dev(["nosuid", "mode=755"], fstype="tmpfs"))
    assert not rootfs.binds_dev(dev(["rbind"], destination="/dev/shm"))
    assert not rootfs.binds_dev([])


def test_targets_are_created_inside_the_rootfs(root, tmp_path):
    rootfs.mount_one(root, {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "size=1m"]},
                     cgroup_mounter=None)
    assert os.path.isdir(os.path.join(root.path, "dev/shm"))
    assert root.sc.calls == [("mount", "shm", os.path.join(root.path, "dev/shm"), "tmpfs", S.MS_NOSUID, "size=1m")]


def test_symlink_in_the_image_cannot_redirect_a_mount(root, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(str(outside), os.path.join(root.path, "evil"))
    os.symlink("../../../../..", os.path.join(root.path, "up"))
    source = tmp_path / "src"
    source.mkdir()
    rootfs.mount_one(root, {"destination": "/evil/x", "type": "bind", "source": str(source), "options": ["rbind"]},
                     cgroup_mounter=None)
    rootfs.mount_one(root, {"destination": "/up/etc", "type": "tmpfs", "source": "tmpfs"}, cgroup_mounter=None)
    targets = [call[2] for call in root.sc.calls]
    assert all(t.startswith(root.path + "/") for t in targets), targets
    assert list(outside.iterdir()) == []


def test_bind_flags_need_a_remount(root, tmp_path):
    source = tmp_path / "file"
    source.write_text("x")
    rootfs.mount_one(root, {"destination": "/etc/hosts", "type": "bind", "source": str(source),
                            "options": ["rbind", "ro", "nosuid", "rprivate"]}, cgroup_mounter=None)
    dest = os.path.join(root.path, "etc/hosts")
    assert os.path.isfile(dest)
    assert root.sc.calls == [
        ("mount", str(source), dest, None, S.MS_BIND | S.MS_REC, None),
        ("mount", None, dest, None, S.MS_BIND | S.MS_REMOUNT | S.MS_RDONLY | S.MS_NOSUID, None),
        ("mount", None, dest, None, S.MS_PRIVATE | S.MS_REC, None),
    ]


def test_read_only_tmpfs_is_mounted_writable_first(root):
    rootfs.mount_one(root, {"destination": "/ro", "type": "tmpfs", "source": "tmpfs", "options": ["ro", "mode=755"]},
                     cgroup_mounter=None)
    dest = os.path.join(root.path, "ro")
    assert root.sc.calls == [("mount", "tmpfs", dest, "tmpfs", 0, "mode=755"),
                             ("mount", None, dest, None, S.MS_REMOUNT | S.MS_RDONLY, "mode=755")]


def test_mounts_over_proc_files_are_limited(root):
    with pytest.raises(PermissionError):
        rootfs.mount_one(root, {"destination": "/proc/kcore", "type": "bind", "source": "/dev/null", "options": ["bind"]},
                         cgroup_mounter=None)
    rootfs.mount_one(root, {"destination": "/proc/cpuinfo", "type": "bind", "source": "/dev/null", "options": ["bind"]},
                     cgroup_mounter=None)


def test_proc_on_a_symlink_is_refused(root):
    os.symlink("/", os.path.join(root.path, "proc"))
    with pytest.raises(PermissionError, match="symlink"):
        rootfs.mount_one(root, {"destination": "/proc", "type": "proc", "source": "proc"}, cgroup_mounter=None)


def test_pivot_root_order(tmp_path):
    recorder = Recorder()
    here = os.getcwd()
    try:
        rootfs.pivot_root(recorder, str(tmp_path))
    finally:
        os.chdir(here)
    assert recorder.calls == [
        ("pivot_root", ".", "."),
        ("mount", None, ".", None, S.MS_SLAVE | S.MS_REC, None),
        ("umount", ".", S.MNT_DETACH),
    ]


def test_prepare_root_makes_the_holding_mount_private(tmp_path):
    class NotAMountPoint(Recorder):
        def mount(self, source, target, fstype, flags=0, data=None):
            if flags == S.MS_PRIVATE and target != str(tmp_path):
                raise OSError(22, "Invalid argument")
            super().mount(source, target, fstype, flags, data)

    recorder = NotAMountPoint()
    rootfs.prepare_root(recorder, str(tmp_path / "a" / "rootfs"), None)
    assert recorder.calls == [
        ("mount", None, "/", None, S.MS_SLAVE | S.MS_REC, None),
        ("mount", None, str(tmp_path), None, S.MS_PRIVATE, None),
        ("mount", str(tmp_path / "a" / "rootfs"), str(tmp_path / "a" / "rootfs"), None, S.MS_BIND | S.MS_REC, None),
    ]


def test_resolve_inside_never_leaves_the_root(tmp_path):
    root = tmp_path / "r"
    (root / "etc").mkdir(parents=True)
    os.symlink("/etc", root / "abs")
    os.symlink("../../../etc", root / "rel")
    os.symlink("loop2", root / "loop1")
    os.symlink("loop1", root / "loop2")
    os.symlink("abs/../../..", root / "chain")
    assert rootfs.resolve_inside(str(root), "/abs/x") == "/etc/x"
    assert rootfs.resolve_inside(str(root), "rel/passwd") == "/etc/passwd"
    assert rootfs.resolve_inside(str(root), "/../../missing/dir") == "/missing/dir"
    assert rootfs.resolve_inside(str(root), "/chain/tmp") == "/tmp"
    with pytest.raises(OSError, match="symbolic links"):
        rootfs.resolve_inside(str(root), "/loop1/x")
