"""Capabilities: the name table, parsing OCI sets, and applying them in a forked child.

Applying changes the calling process for good, so those tests run in a child that reports
its /proc/self/status sets through a pipe. Dropping the bounding set needs root.
"""
import ctypes
import errno
import json
import os
import sys
import traceback

import pytest

from runc.libcontainer import capabilities, syscalls

CAP_CHOWN = 1 << 0
CAP_KILL = 1 << 5
CAP_SETPCAP = 1 << 8
CAP_NET_BIND_SERVICE = 1 << 10
CAP_SYS_ADMIN = 1 << 21
CAP_SYS_TIME = 1 << 25
NOBODY = 65534
PR_CAPBSET_READ = 23
STATUS_FIELDS = {
    b"CapInh:": "inheritable",
    b"CapPrm:": "permitted",
    b"CapEff:": "effective",
    b"CapBnd:": "bounding",
    b"CapAmb:": "ambient",
}


def names_of(mask: int) -> list[str]:
    """The names of the capabilities in a bitmask, in number order."""
    return [name for number, name in enumerate(capabilities.NAMES) if mask >> number & 1]


def current() -> capabilities.Capabilities:
    """The sets of the calling process, as the kernel reports them in /proc/self/status."""
    masks = {}
    with open("/proc/self/status", "rb") as status:
        for line in status:
            set_name = STATUS_FIELDS.get(line[:7])
            if set_name is not None:
                masks[set_name] = int(line[7:], 16)
    return capabilities.Capabilities(**masks, last_cap=capabilities.last_cap())


def run_in_child(body):
    """Run body() in a forked child and return what it returned, or fail with its traceback."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(read_fd)
            try:
                message = {"result": body()}
            except BaseException:
                message = {"error": traceback.format_exc()}
            os.write(write_fd, json.dumps(message).encode())
        finally:
            os._exit(0)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as reader:
        payload = reader.read()
    _, wait_status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(wait_status) == 0 and payload, f"the child died (wait status {wait_status:#x})"
    message = json.loads(payload)
    assert "error" not in message, message["error"]
    return message["result"]


def sets_of(caps):
    return {set_name: getattr(caps, set_name) for set_name in capabilities.SET_NAMES}


def test_name_table_matches_the_kernel_numbering():
    assert len(capabilities.NAMES) == 41
    assert capabilities.NAMES[0] == "CAP_CHOWN"
    assert capabilities.NAMES[21] == "CAP_SYS_ADMIN"
    assert capabilities.NAMES[37] == "CAP_AUDIT_READ"
    assert capabilities.NAMES[40] == "CAP_CHECKPOINT_RESTORE"
    for number, name in enumerate(capabilities.NAMES):
        assert capabilities.NUMBERS[name] == number
    assert len(capabilities.NUMBERS) == len(capabilities.NAMES)


def test_names_of_lists_a_mask_in_number_order():
    assert names_of(CAP_SYS_ADMIN | CAP_CHOWN | CAP_KILL) == ["CAP_CHOWN", "CAP_KILL", "CAP_SYS_ADMIN"]
    assert names_of(0) == []
    every = (1 << len(capabilities.NAMES)) - 1
    assert names_of(every) == list(capabilities.NAMES)


def test_parse_builds_the_five_masks():
    caps, ignored = capabilities.parse({
        "bounding": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
        "effective": ["CAP_CHOWN", "CAP_KILL"],
        "permitted": ["CAP_CHOWN", "CAP_KILL", "CAP_KILL"],
        "inheritable": [],
        "ambient": ["CAP_NET_BIND_SERVICE"],
    })
    assert sets_of(caps) == {
        "bounding": CAP_CHOWN | CAP_KILL | CAP_NET_BIND_SERVICE,
        "effective": CAP_CHOWN | CAP_KILL,
        "permitted": CAP_CHOWN | CAP_KILL,
        "inheritable": 0,
        "ambient": CAP_NET_BIND_SERVICE,
    }
    assert ignored == []
    assert caps.last_cap == capabilities.last_cap()


def test_parse_of_nothing_is_empty_sets():
    caps, ignored = capabilities.parse({})
    assert sets_of(caps) == dict.fromkeys(capabilities.SET_NAMES, 0)
    assert ignored == []


def test_parse_ignores_unknown_names_and_caps_beyond_the_kernel(monkeypatch):
    monkeypatch.setattr(capabilities, "last_cap", lambda: 38)
    caps, ignored = capabilities.parse({
        "bounding": ["CAP_CHOWN", "CAP_BPF", "CAP_FLY", "cap_kill"],
        "effective": ["CAP_CHECKPOINT_RESTORE", "CAP_FLY"],
        "permitted": ["CAP_PERFMON"],
    })
    assert caps.bounding == CAP_CHOWN
    assert caps.effective == 0
    assert caps.permitted == 1 << 38
    assert ignored == ["CAP_BPF", "CAP_CHECKPOINT_RESTORE", "CAP_FLY", "cap_kill"]
    assert caps.last_cap == 38


def test_current_reads_this_process():
    caps = current()
    assert caps.last_cap == capabilities.last_cap()
    assert caps.effective & ~caps.permitted == 0
    assert caps.ambient & ~(caps.permitted & caps.inheritable) == 0
    assert caps.bounding >> (caps.last_cap + 1) == 0
    if os.geteuid() == 0:
        assert caps.bounding & CAP_SYS_ADMIN


@pytest.mark.root
def test_child_drops_bounding_keeps_caps_over_setuid_and_applies_the_sets():
    spec = {
        "bounding": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
        "effective": ["CAP_CHOWN", "CAP_KILL"],
        "permitted": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
        "inheritable": ["CAP_NET_BIND_SERVICE"],
        # CAP_SYS_TIME is neither permitted nor inheritable, so the kernel refuses it.
        "ambient": ["CAP_NET_BIND_SERVICE", "CAP_SYS_TIME"],
    }

    def body():
        caps, _ = capabilities.parse(spec)
        # runc's order: bounding set while still uid 0, then the user switch, then the sets.
        capabilities.drop_bounding(caps)
        capabilities.set_keep_caps(True)
        os.setresgid(NOBODY, NOBODY, NOBODY)
        os.setresuid(NOBODY, NOBODY, NOBODY)
        capabilities.set_keep_caps(False)
        refused = capabilities.apply(caps)
        return {"sets": sets_of(current()), "refused": refused}

    seen = run_in_child(body)
    assert seen["refused"] == ["CAP_SYS_TIME"]
    assert seen["sets"] == {
        "bounding": CAP_CHOWN | CAP_KILL | CAP_NET_BIND_SERVICE,
        "effective": CAP_CHOWN | CAP_KILL,
        "permitted": CAP_CHOWN | CAP_KILL | CAP_NET_BIND_SERVICE,
        "inheritable": CAP_NET_BIND_SERVICE,
        "ambient": CAP_NET_BIND_SERVICE,
    }


@pytest.mark.root
def test_applying_needs_neither_imports_nor_files(tmp_path, monkeypatch):
    # As in the container's init, libc is first reached after the root moved.
    monkeypatch.setattr(syscalls, "_libc", None)
    caps, _ = capabilities.parse({"bounding": ["CAP_CHOWN"], "effective": ["CAP_CHOWN"], "permitted": ["CAP_CHOWN"]})
    libc = ctypes.CDLL(None, use_errno=True)
    empty_root = tmp_path / "root"
    empty_root.mkdir()

    class RefuseImports:
        def find_spec(self, name, path=None, target=None):
            raise ImportError(f"{name} imported after the root moved")

    def body():
        sys.meta_path.insert(0, RefuseImports())
        os.chroot(empty_root)
        os.chdir("/")
        capabilities.drop_bounding(caps)
        capabilities.set_keep_caps(False)
        refused = capabilities.apply(caps)
        in_bounding = [libc.prctl(PR_CAPBSET_READ, number, 0, 0, 0) for number in range(caps.last_cap + 1)]
        return {"refused": refused, "bounding": in_bounding}

    seen = run_in_child(body)
    assert seen["refused"] == []
    assert seen["bounding"] == [1] + [0] * caps.last_cap


@pytest.mark.root
def test_child_as_root_applies_sets_without_a_user_switch():
    caps, _ = capabilities.parse({
        "bounding": ["CAP_CHOWN", "CAP_SETPCAP"],
        "effective": ["CAP_CHOWN"],
        "permitted": ["CAP_CHOWN", "CAP_SETPCAP"],
    })

    def body():
        capabilities.drop_bounding(caps)
        return {"refused": capabilities.apply(caps), "sets": sets_of(current())}

    assert run_in_child(body) == {
        "refused": [],
        "sets": {
            "bounding": CAP_CHOWN | CAP_SETPCAP,
            "effective": CAP_CHOWN,
            "permitted": CAP_CHOWN | CAP_SETPCAP,
            "inheritable": 0,
            "ambient": 0,
        },
    }


def test_dropping_the_bounding_set_without_cap_setpcap_raises_oserror():
    def body():
        nothing, _ = capabilities.parse({})
        capabilities.apply(nothing)
        try:
            capabilities.drop_bounding(nothing)
        except OSError as exc:
            return [exc.errno, str(exc)]
        return "dropped"

    error, message = run_in_child(body)
    assert error == errno.EPERM
    assert "from the bounding set" in message
