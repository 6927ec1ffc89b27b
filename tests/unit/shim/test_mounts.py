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
