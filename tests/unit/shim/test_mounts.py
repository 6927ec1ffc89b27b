"""The shim reads a rootfs mount's options as containerd does: mount(2) flags, in order,
and the rest as filesystem data."""
from shim import mounts


def test_flag_options_become_flags_and_the_rest_data():
    flags, data = mounts.parse_options(["defaults", "ro", "nosuid", "lowerdir=/a:/b", "upperdir=/u"])
    assert flags == mounts.MS_RDONLY | mounts.MS_NOSUID
    assert data == "lowerdir=/a:/b,upperdir=/u"


def test_a_later_option_undoes_an_earlier_one():
    assert mounts.parse_options(["nosuid", "nodev", "noexec", "suid", "dev", "exec"]) == (0, "")
    assert mounts.parse_options(["ro", "rw", "sync"]) == (mounts.MS_SYNCHRONOUS, "")
    assert mounts.parse_options(["sync", "async", "rbind"]) == (mounts.MS_BIND | mounts.MS_REC, "")


def test_long_lowerdirs_are_made_relative_to_their_common_parent():
    lowers = [f"/var/lib/snapshotter/snapshots/{n}/fs" for n in (12, 3, 100)]
    directory, data = mounts.compact_lowerdir(f"index=off,workdir=/w,upperdir=/u,lowerdir={':'.join(lowers)}")
    assert directory == "/var/lib/snapshotter/snapshots"
    assert data == "index=off,workdir=/w,upperdir=/u,lowerdir=12/fs:3/fs:100/fs"


def test_lowerdirs_that_share_only_the_root_or_are_one_stay_as_they_are():
    assert mounts.compact_lowerdir("lowerdir=/a/x:/b/y") == (None, "lowerdir=/a/x:/b/y")
    assert mounts.compact_lowerdir("lowerdir=/a/x") == (None, "lowerdir=/a/x")
    # A lowerdir that is the others' parent: their grandparent keeps every name non-empty.
    assert mounts.compact_lowerdir("lowerdir=/r/l:/r/l/x") == ("/r", "lowerdir=l:l/x")
