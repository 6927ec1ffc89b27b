"""Cgroup managers against a fake cgroupfs: plain files and directories in tmp_path, with
os.mkdir/os.rmdir standing in for the kernel where the fake needs it (a new cgroup comes
with its files; a cgroup with child cgroups cannot be removed)."""
import errno
import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

import errdefs
from runc.libcontainer import cgroups

CPUACCT_USAGE_ALL = "cpu user system\n0 700 300\n1 500 100\n"

V1_FILES = {
    "cpu": {
        "cpu.shares": "1024",
        "cpu.cfs_period_us": "100000",
        "cpu.cfs_quota_us": "-1",
        "cpu.stat": "nr_periods 0\nnr_throttled 0\nthrottled_time 0\n",
    },
    "cpuacct": {
        "cpuacct.usage": "0",
        "cpuacct.usage_percpu": "0 0",
        "cpuacct.usage_all": "cpu user system\n0 0 0\n1 0 0\n",
        "cpuacct.stat": "user 0\nsystem 0\n",
    },
    "cpuset": {"cpuset.cpus": "", "cpuset.mems": ""},
    "memory": {
        "memory.limit_in_bytes": "9223372036854771712",
        "memory.memsw.limit_in_bytes": "9223372036854771712",
        "memory.soft_limit_in_bytes": "9223372036854771712",
        "memory.usage_in_bytes": "0",
        "memory.max_usage_in_bytes": "0",
        "memory.failcnt": "0",
        "memory.swappiness": "60",
        "memory.oom_control": "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n",
        "memory.stat": "cache 0\nrss 0\n",
    },
    "devices": {"devices.allow": "", "devices.deny": "", "devices.list": "a *:* rwm\n"},
    "freezer": {"freezer.state": "THAWED", "freezer.self_freezing": "0"},
    "blkio": {
        "blkio.bfq.weight": "100",
        "blkio.bfq.weight_device": "",
        "blkio.throttle.read_bps_device": "",
        "blkio.throttle.write_bps_device": "",
        "blkio.throttle.read_iops_device": "",
        "blkio.throttle.write_iops_device": "",
        "blkio.throttle.io_service_bytes": "",
        "blkio.throttle.io_serviced": "",
    },
    "pids": {"pids.max": "max", "pids.current": "0"},
    "hugetlb": {
        "hugetlb.2MB.limit_in_bytes": "9223372036854771712",
        "hugetlb.2MB.usage_in_bytes": "0",
        "hugetlb.2MB.max_usage_in_bytes": "0",
        "hugetlb.2MB.failcnt": "0",
    },
    "name=systemd": {},
}

V2_CORE_FILES = {
    "cgroup.procs": "",
    "cgroup.subtree_control": "",
    "cgroup.freeze": "0",
    "cgroup.events": "populated 0\nfrozen 0\n",
    "cgroup.kill": "",
    "cpu.stat": "usage_usec 0\nuser_usec 0\nsystem_usec 0\n",
}
V2_CONTROLLER_FILES = {
    "cpu": {"cpu.weight": "100", "cpu.max": "max 100000"},
    "cpuset": {"cpuset.cpus": "", "cpuset.mems": ""},
    "io": {"io.max": "", "io.weight": "default 100", "io.stat": ""},
    "memory": {
        "memory.max": "max",
        "memory.low": "0",
        "memory.swap.max": "max",
        "memory.current": "0",
        "memory.swap.current": "0",
        "memory.stat": "anon 0\nfile 0\n",
        "memory.events": "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n",
    },
    "pids": {"pids.max": "max", "pids.current": "0"},
    "hugetlb": {"hugetlb.2MB.max": "max", "hugetlb.2MB.current": "0", "hugetlb.2MB.events": "max 0\n"},
}


def fill(directory, files):
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (directory / name).write_text(text)


class FakeHost:
    """A fake /sys/fs/cgroup and /proc/self under tmp_path, wired into the module."""

    def __init__(self, tmp_path, monkeypatch):
        self.tmp = tmp_path
        self.root = tmp_path / "sys/fs/cgroup"
        self.proc = tmp_path / "proc/self"
        self.proc.mkdir(parents=True)
        self.mountinfo = ["20 1 0:20 / / rw - ext4 /dev/vda rw"]
        self.cgroup_lines = []
        self.hierarchies = {}  # directory under root -> controllers it holds (v1)
        self.is_v2 = False
        monkeypatch.setattr(cgroups, "CGROUP_ROOT", str(self.root))
        monkeypatch.setattr(cgroups, "PROC_SELF", str(self.proc))
        real_mkdir = os.mkdir

        def kernel_mkdir(path, mode=0o777):
            real_mkdir(path, mode)
            self._populate(os.fspath(path))

        monkeypatch.setattr(os, "mkdir", kernel_mkdir)

    def _mount(self, mountpoint, fstype, options, root="/"):
        number = len(self.mountinfo) + 20
        self.mountinfo.append(f"{number} 20 0:{number} {root} {mountpoint} rw,relatime shared:{number} - {fstype} {fstype} {options}")

    def v1(self, own=None, hierarchies=("cpu,cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids", "hugetlb", "name=systemd"), unified=True, mount_roots=None):
        own = own or {}
        mount_roots = mount_roots or {}
        self._mount(self.root, "tmpfs", "rw,mode=755")
        for number, controllers in enumerate(hierarchies, start=1):
            directory = controllers.removeprefix("name=")
            self.hierarchies[directory] = controllers.split(",")
            self._mount(self.root / directory, "cgroup", f"rw,{controllers}", root=mount_roots.get(controllers, "/"))
            self.cgroup_lines.append(f"{number}:{controllers}:{own.get(controllers, '/')}")
            self._fill_v1(self.root / directory, self.hierarchies[directory])
            if "cpuset" in self.hierarchies[directory]:
                fill(self.root / directory, {"cpuset.cpus": "0-3", "cpuset.mems": "0"})
        if unified:
            self._mount(self.root / "unified", "cgroup2", "rw,nsdelegate")
            self.cgroup_lines.append("0::/")
            fill(self.root / "unified", {"cgroup.controllers": "", **V2_CORE_FILES})
        self._write_proc()
        return self

    def v2(self, own="/", controllers="cpu cpuset io memory pids hugetlb"):
        self.is_v2 = True
        self._mount(self.root, "cgroup2", "rw,nsdelegate")
        self.cgroup_lines.append(f"0::{own}")
        fill(self.root, {"cgroup.controllers": controllers, **V2_CORE_FILES})
        self._write_proc()
        return self

    def _write_proc(self):
        (self.proc / "mountinfo").write_text("\n".join(self.mountinfo) + "\n")
        (self.proc / "cgroup").write_text("\n".join(self.cgroup_lines) + "\n")

    def _fill_v1(self, directory, controllers):
        files = {"cgroup.procs": "", "tasks": ""}
        for controller in controllers:
            files.update(V1_FILES.get(controller, {}))
        fill(directory, files)

    def _populate(self, path):
        relative = os.path.relpath(path, self.root)
        if relative == "." or relative.startswith(".."):
            return
        if self.is_v2:
            parent = os.path.dirname(path)
            enabled = [c.lstrip("+") for c in open(f"{parent}/cgroup.subtree_control").read().split()]
            files = {"cgroup.controllers": " ".join(enabled), **V2_CORE_FILES}
            for controller in enabled:
                files.update(V2_CONTROLLER_FILES[controller])
            fill(Path(path), files)
        else:
            top = relative.split("/")[0]
            if top in self.hierarchies:
                self._fill_v1(Path(path), self.hierarchies[top])

    def path(self, relative):
        return self.root / relative


@pytest.fixture
def host(tmp_path, monkeypatch):
    return FakeHost(tmp_path, monkeypatch)


@pytest.fixture
def writes(monkeypatch):
    """Every cgroup file write, in order, as (file name, value); failures can be injected
    per file name as a list of errnos returned by the next writes."""
    log = []
    failures = {}
    real = cgroups._write_errno

    def recording(path, value):
        name = os.path.basename(path)
        log.append((name, value))
        if failures.get(name):
            return failures[name].pop(0)
        return real(path, value)

    monkeypatch.setattr(cgroups, "_write_errno", recording)
    recording.log = log
    recording.failures = failures
    return recording


@pytest.fixture
def no_sleep(monkeypatch):
    slept = []
    monkeypatch.setattr(cgroups.time, "sleep", slept.append)
    return slept


def remove_cgroup_dir(path, real_rmdir):
    """What rmdir does to a cgroup without children: its files go with it."""
    for entry in os.scandir(path):
        os.unlink(entry.path)
    real_rmdir(path)


@pytest.fixture
def kernel_rmdir(monkeypatch):
    """rmdir as cgroupfs does it: a cgroup's files go with it, child cgroups make it busy."""
    removed = []
    real_rmdir = os.rmdir

    def rmdir(path):
        path = os.fspath(path)
        if not os.path.exists(path):
            raise FileNotFoundError(errno.ENOENT, "No such file or directory", path)
        if any(entry.is_dir() for entry in os.scandir(path)):
            raise OSError(errno.EBUSY, "Device or resource busy", path)
        remove_cgroup_dir(path, real_rmdir)
        removed.append(path)

    monkeypatch.setattr(os, "rmdir", rmdir)
    return removed


def read(path):
    return path.read_text()


# ---------------------------------------------------------------------------------------
# Path resolution


def test_absolute_path_starts_at_each_hierarchy_root(host):
    host.v1(own={"memory": "/process_api/x"})
    manager = cgroups.new_manager("/pydocker/c1", "ignored")
    assert isinstance(manager, cgroups.V1Manager)
    root = str(host.root)
    assert manager.paths == {
        "cpu": f"{root}/cpu,cpuacct/pydocker/c1",
        "cpuacct": f"{root}/cpu,cpuacct/pydocker/c1",
        "cpuset": f"{root}/cpuset/pydocker/c1",
        "memory": f"{root}/memory/pydocker/c1",
        "devices": f"{root}/devices/pydocker/c1",
        "freezer": f"{root}/freezer/pydocker/c1",
        "blkio": f"{root}/blkio/pydocker/c1",
        "pids": f"{root}/pids/pydocker/c1",
        "hugetlb": f"{root}/hugetlb/pydocker/c1",
        "name=systemd": f"{root}/systemd/pydocker/c1",
    }


def test_relative_path_is_below_the_own_cgroup(host):
    host.v1(own={"memory": "/process_api/x", "name=systemd": "/user.slice"})
    manager = cgroups.new_manager("docker/c1", "ignored")
    assert manager.paths["memory"] == f"{host.root}/memory/process_api/x/docker/c1"
    assert manager.paths["name=systemd"] == f"{host.root}/systemd/user.slice/docker/c1"
    assert manager.paths["pids"] == f"{host.root}/pids/docker/c1"


def test_empty_path_is_the_container_id_below_the_own_cgroup(host):
    host.v1(own={"memory": "/process_api/x"})
    manager = cgroups.new_manager("", "ctr1")
    assert manager.paths["memory"] == f"{host.root}/memory/process_api/x/ctr1"
    assert manager.paths["devices"] == f"{host.root}/devices/ctr1"


def test_dot_dot_cannot_climb_out(host):
    host.v1(own={"memory": "/process_api/x"})
    assert cgroups.new_manager("../../../etc", "c").paths["memory"] == f"{host.root}/memory/process_api/x/etc"
    assert cgroups.new_manager("/a/../../../b", "c").paths["memory"] == f"{host.root}/memory/b"
    assert cgroups.new_manager("//a//b/", "c").paths["memory"] == f"{host.root}/memory/a/b"


@pytest.mark.parametrize("path", ["/", "..", ".", "a/.."])
def test_a_path_naming_no_cgroup_is_refused(host, path):
    host.v1()
    with pytest.raises(errdefs.InvalidArgument):
        cgroups.new_manager(path, "c")


def test_systemd_style_path_is_refused(host):
    host.v1()
    with pytest.raises(errdefs.InvalidArgument, match="systemd"):
        cgroups.new_manager("system.slice:docker:abc", "abc")


def test_empty_path_needs_a_container_id(host):
    host.v1()
    with pytest.raises(errdefs.InvalidArgument):
        cgroups.new_manager("", "")


def test_hybrid_host_leaves_the_unified_hierarchy_alone(host):
    host.v1(unified=True)
    manager = cgroups.new_manager("/x", "c")
    assert isinstance(manager, cgroups.V1Manager)
    assert not any("unified" in path for path in manager.paths.values())


def test_a_subtree_mount_resolves_the_own_cgroup_below_its_root(host):
    # Inside a container the hierarchy root shown is the container's cgroup.
    host.v1(own={"memory": "/docker/abc"}, mount_roots={"memory": "/docker/abc"})
    assert cgroups.new_manager("c1", "c").paths["memory"] == f"{host.root}/memory/c1"


def test_other_named_hierarchies_are_not_joined(host):
    host.v1(hierarchies=("devices", "name=systemd", "name=elogind"))
    assert set(cgroups.new_manager("/x", "c").paths) == {"devices", "name=systemd"}


def test_no_devices_hierarchy_is_refused(host):
    host.v1(hierarchies=("memory", "pids"))
    with pytest.raises(errdefs.FailedPrecondition, match="devices"):
        cgroups.new_manager("/x", "c")


def test_v2_host_gets_a_v2_manager(host):
    host.v2(own="/user.slice/session-1.scope")
    relative = cgroups.new_manager("", "ctr1")
    assert isinstance(relative, cgroups.V2Manager)
    assert relative.mountpoint == str(host.root)
    assert relative.path == f"{host.root}/user.slice/session-1.scope/ctr1"
    assert cgroups.new_manager("/pydocker/c1", "c").path == f"{host.root}/pydocker/c1"


def test_mountinfo_escapes_are_undone(host, monkeypatch):
    host.root = host.tmp / "sys/fs/with space"
    monkeypatch.setattr(cgroups, "CGROUP_ROOT", str(host.root))
    host.v1(hierarchies=("devices",), unified=False)
    text = (host.proc / "mountinfo").read_text().replace("with space", "with\\040space")
    (host.proc / "mountinfo").write_text(text)
    assert cgroups.new_manager("/x", "c").paths["devices"] == f"{host.root}/devices/x"


def test_v1_hierarchies(host):
    host.v1(own={"memory": "/process_api/x"})
    assert cgroups.v1_hierarchies() == [
        ("cpu,cpuacct", "cpu,cpuacct"),
        ("cpuset", "cpuset"),
        ("memory", "memory"),
        ("devices", "devices"),
        ("freezer", "freezer"),
        ("blkio", "blkio"),
        ("pids", "pids"),
        ("hugetlb", "hugetlb"),
        ("systemd", "name=systemd"),
    ]
    assert not cgroups.is_unified()


def test_v2_host_has_no_v1_hierarchies(host):
    host.v2()
    assert cgroups.v1_hierarchies() == []
    assert cgroups.is_unified()


def test_path_for_names_the_container_directory_of_each_hierarchy(host):
    host.v1(own={"memory": "/process_api/x"})
    manager = cgroups.new_manager("c1", "c")
    assert manager.path_for("cpu,cpuacct") == f"{host.root}/cpu,cpuacct/c1"
    assert manager.path_for("systemd") == f"{host.root}/systemd/c1"
    assert manager.path_for("memory") == f"{host.root}/memory/process_api/x/c1"
    with pytest.raises(errdefs.NotFound):
        manager.path_for("cpu")


# ---------------------------------------------------------------------------------------
# Saving and loading


def test_round_trip_through_json(host):
    host.v1()
    v1 = cgroups.new_manager("/x", "c")
    loaded = cgroups.load_manager(json.loads(json.dumps(v1.to_dict())))
    assert isinstance(loaded, cgroups.V1Manager) and loaded.paths == v1.paths
    assert v1.to_dict()["version"] == 1

    v2 = cgroups.V2Manager("/sys/fs/cgroup", "/sys/fs/cgroup/a/b")
    assert v2.to_dict() == {"version": 2, "mountpoint": "/sys/fs/cgroup", "path": "/sys/fs/cgroup/a/b"}
    loaded = cgroups.load_manager(json.loads(json.dumps(v2.to_dict())))
    assert isinstance(loaded, cgroups.V2Manager)
    assert (loaded.mountpoint, loaded.path) == ("/sys/fs/cgroup", "/sys/fs/cgroup/a/b")


@pytest.mark.parametrize("saved", [{}, {"version": 3}, {"version": 1}, {"version": 2, "path": "/x"}, {"version": 2, "mountpoint": "/sys/fs/cgroup", "path": "/elsewhere"}, None])
def test_loading_garbage_is_refused(saved):
    with pytest.raises(errdefs.InvalidArgument):
        cgroups.load_manager(saved)


@pytest.mark.parametrize("path", ["/sys/fs/cgroup", "/sys/fs/cgroupx/a", "/other/a"])
def test_v2_manager_must_be_below_its_mount(path):
    with pytest.raises(errdefs.InvalidArgument):
        cgroups.V2Manager("/sys/fs/cgroup", path)


# ---------------------------------------------------------------------------------------
# Creating


def test_v1_create_makes_every_hierarchy_directory_and_fills_cpuset(host):
    host.v1()
    fill(host.path("cpuset/pydocker"), {"cpuset.cpus": "", "cpuset.mems": ""})  # an unfilled parent left by someone
    manager = cgroups.new_manager("/pydocker/c1", "c")
    manager.create()
    for directory in set(manager.paths.values()):
        assert os.path.isdir(directory)
    for directory in ("cpuset/pydocker", "cpuset/pydocker/c1"):
        assert read(host.path(directory) / "cpuset.cpus") == "0-3"
        assert read(host.path(directory) / "cpuset.mems") == "0"
    assert manager.exists()


def test_v1_create_reuses_an_empty_cgroup(host):
    host.v1()
    manager = cgroups.new_manager("/c1", "c")
    manager.create()
    manager.create()
    assert manager.exists()


def test_v1_create_refuses_a_cgroup_with_processes(host):
    host.v1()
    manager = cgroups.new_manager("/c1", "c")
    manager.create()
    (host.path("freezer/c1") / "cgroup.procs").write_text("123\n")
    with pytest.raises(errdefs.FailedPrecondition, match="1 process"):
        manager.create()


def test_v1_create_refuses_a_frozen_cgroup(host):
    host.v1()
    manager = cgroups.new_manager("/c1", "c")
    manager.create()
    fill(host.path("freezer/c1"), {"freezer.state": "FROZEN", "freezer.self_freezing": "1"})
    with pytest.raises(errdefs.FailedPrecondition, match="frozen"):
        manager.create()


def test_v1_create_removes_what_it_made_when_it_fails(host, kernel_rmdir):
    host.v1()
    host.path("pids/pydocker").write_text("")  # a file where a directory must go
    manager = cgroups.new_manager("/pydocker/c1", "c")
    with pytest.raises(errdefs.Error):
        manager.create()
    for hierarchy in ("cpu,cpuacct", "memory", "devices", "systemd", "cpuset"):
        assert not host.path(hierarchy).joinpath("pydocker").exists()


def test_v2_create_enables_controllers_in_every_ancestor(host):
    host.v2(controllers="cpu memory pids")
    manager = cgroups.new_manager("/pydocker/c1", "c")
    manager.create()
    assert read(host.root / "cgroup.subtree_control") == "+cpu +memory +pids"
    assert read(host.path("pydocker/cgroup.subtree_control")) == "+cpu +memory +pids"
    assert read(host.path("pydocker/c1/cgroup.subtree_control")) == ""
    assert read(host.path("pydocker/c1/cgroup.controllers")) == "cpu memory pids"


def test_v2_create_enables_controllers_one_by_one_when_one_fails(host, writes):
    host.v2(controllers="cpu memory")
    writes.failures["cgroup.subtree_control"] = [errno.ENOENT, errno.ENOENT]
    cgroups.new_manager("/c1", "c").create()
    assert [w for w in writes.log if w[0] == "cgroup.subtree_control"] == [
        ("cgroup.subtree_control", "+cpu +memory"),
        ("cgroup.subtree_control", "+cpu"),
        ("cgroup.subtree_control", "+memory"),
    ]
    assert read(host.root / "cgroup.subtree_control") == "+memory"


def test_v2_create_refuses_a_cgroup_with_processes(host):
    host.v2()
    manager = cgroups.new_manager("/c1", "c")
    manager.create()
    (host.path("c1") / "cgroup.procs").write_text("7\n8\n")
    with pytest.raises(errdefs.FailedPrecondition, match="2 process"):
        manager.create()


# ---------------------------------------------------------------------------------------
# Attaching


def test_v1_attach_writes_each_hierarchy_once_and_retries_einval(host, writes, no_sleep):
    host.v1()
    manager = cgroups.new_manager("/c1", "c")
    manager.create()
    writes.failures["cgroup.procs"] = [errno.EINVAL, errno.EINVAL]
    manager.attach(4242)
    assert [w for w in writes.log if w[0] == "cgroup.procs"] == [("cgroup.procs", "4242")] * (9 + 2)
    assert no_sleep == [0.03, 0.03]
    assert read(host.path("cpu,cpuacct/c1/cgroup.procs")) == "4242"


def test_attach_gives_up_after_five_einval(host, writes, no_sleep):
    host.v2()
    manager = cgroups.new_manager("/c1", "c")
    manager.create()
    writes.failures["cgroup.procs"] = [errno.EINVAL] * 5
    with pytest.raises(errdefs.InvalidArgument, match="4242"):
        manager.attach(4242)
    assert len(no_sleep) == 4


def test_attach_of_a_missing_process_is_not_found(host, writes):
    host.v2()
    manager = cgroups.new_manager("/c1", "c")
    manager.create()
    writes.failures["cgroup.procs"] = [errno.ESRCH]
    with pytest.raises(errdefs.NotFound):
        manager.attach(4242)


# ---------------------------------------------------------------------------------------
# Setting resources, v1


@pytest.fixture
def v1(host):
    host.v1()
    manager = cgroups.new_manager("/c1", "c")
    manager.create()
    return manager


def test_v1_memory(v1, host, writes):
    v1.set({"memory": {"limit": 100 << 20, "swap": 200 << 20, "reservation": 50 << 20, "swappiness": 10, "disableOOMKiller": True, "kernel": 1 << 20}})
    memory = host.path("memory/c1")
    assert read(memory / "memory.limit_in_bytes") == str(100 << 20)
    assert read(memory / "memory.memsw.limit_in_bytes") == str(200 << 20)
    assert read(memory / "memory.soft_limit_in_bytes") == str(50 << 20)
    assert read(memory / "memory.swappiness") == "10"
    assert read(memory / "memory.oom_control") == "1"
    # Lowering from unlimited: memory first, so memsw never drops below it.
    names = [name for name, _ in writes.log]
    assert names.index("memory.limit_in_bytes") < names.index("memory.memsw.limit_in_bytes")
    assert "memory.kmem.limit_in_bytes" not in names


def test_v1_memory_swap_goes_first_when_it_grows(v1, host, writes):
    (host.path("memory/c1") / "memory.limit_in_bytes").write_text(str(100 << 20))
    v1.set({"memory": {"limit": 300 << 20, "swap": 600 << 20}})
    names = [name for name, _ in writes.log]
    assert names.index("memory.memsw.limit_in_bytes") < names.index("memory.limit_in_bytes")


def test_v1_unlimited_memory_lifts_swap_too(v1, host):
    v1.set({"memory": {"limit": -1}})
    assert read(host.path("memory/c1/memory.limit_in_bytes")) == "-1"
    assert read(host.path("memory/c1/memory.memsw.limit_in_bytes")) == "-1"


def test_v1_memory_limit_below_usage(v1, host, writes):
    fill(host.path("memory/c1"), {"memory.usage_in_bytes": "5000", "memory.max_usage_in_bytes": "6000"})
    writes.failures["memory.limit_in_bytes"] = [errno.EBUSY]
    with pytest.raises(errdefs.FailedPrecondition, match="uses 5000 bytes .peak 6000"):
        v1.set({"memory": {"limit": 4096}})


@pytest.mark.parametrize("swappiness", [101, -2])
def test_v1_swappiness_range(v1, swappiness):
    with pytest.raises(errdefs.InvalidArgument, match="swappiness"):
        v1.set({"memory": {"swappiness": swappiness}})


def test_v1_swappiness_minus_one_is_left_alone(v1, host, writes):
    v1.set({"memory": {"swappiness": -1}})
    assert writes.log == []


def test_v1_cpu(v1, host):
    v1.set({"cpu": {"shares": 512, "quota": 50000, "period": 200000, "cpus": "0-1", "mems": "0", "realtimeRuntime": 5}})
    cpu = host.path("cpu,cpuacct/c1")
    assert read(cpu / "cpu.shares") == "512"
    assert read(cpu / "cpu.cfs_quota_us") == "50000"
    assert read(cpu / "cpu.cfs_period_us") == "200000"
    assert read(host.path("cpuset/c1/cpuset.cpus")) == "0-1"
    assert read(host.path("cpuset/c1/cpuset.mems")) == "0"


def test_v1_cpu_shares_clamped_by_the_kernel(v1, monkeypatch):
    real = cgroups._write_errno

    def clamping(path, value):
        if path.endswith("cpu.shares"):
            value = str(min(int(value), 262144))
        return real(path, value)

    monkeypatch.setattr(cgroups, "_write_errno", clamping)
    with pytest.raises(errdefs.InvalidArgument, match="maximum allowed is 262144"):
        v1.set({"cpu": {"shares": 500000}})


def test_v1_cpu_period_rejected_before_the_quota_is_retried_after_it(v1, host, writes):
    writes.failures["cpu.cfs_period_us"] = [errno.EINVAL]
    v1.set({"cpu": {"quota": 1000, "period": 5000}})
    assert [w for w in writes.log if w[0].startswith("cpu.cfs")] == [
        ("cpu.cfs_period_us", "5000"),
        ("cpu.cfs_quota_us", "1000"),
        ("cpu.cfs_period_us", "5000"),
    ]
    assert read(host.path("cpu,cpuacct/c1/cpu.cfs_period_us")) == "5000"


def test_v1_cpu_period_rejected_without_a_quota_is_an_error(v1, writes):
    writes.failures["cpu.cfs_period_us"] = [errno.EINVAL]
    with pytest.raises(errdefs.InvalidArgument, match="cfs_period_us"):
        v1.set({"cpu": {"period": 5000}})


@pytest.mark.parametrize(("limit", "written"), [(100, "100"), (-1, "max"), (0, None)])
def test_v1_pids(v1, host, limit, written):
    v1.set({"pids": {"limit": limit}})
    assert read(host.path("pids/c1/pids.max")) == (written or "max")


def test_v1_devices_deny_all_then_the_rules_in_order(v1, writes):
    v1.set(
        {
            "devices": [
                {"allow": False, "access": "rwm"},
                {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rw"},
                {"allow": True, "type": "b", "major": 8, "access": "r"},
                {"allow": False, "type": "c", "major": 10, "minor": -1, "access": "w"},
                {"allow": True, "type": "c", "access": "m"},
            ]
        }
    )
    assert writes.log == [
        ("devices.deny", "a"),
        ("devices.deny", "a *:* rwm"),
        ("devices.allow", "c 1:3 rw"),
        ("devices.allow", "b 8:* r"),
        ("devices.deny", "c 10:* w"),
        ("devices.allow", "c *:* m"),
    ]


def test_v1_devices_untouched_without_a_devices_key(v1, writes):
    v1.set({"pids": {"limit": 5}})
    assert not [w for w in writes.log if w[0].startswith("devices.")]


def test_v1_devices_key_with_no_rules_denies_everything(v1, writes):
    v1.set({"devices": None})
    assert writes.log == [("devices.deny", "a")]


def test_v1_hugepages(v1, host):
    v1.set({"hugepageLimits": [{"pageSize": "2MB", "limit": 4 << 20}]})
    assert read(host.path("hugetlb/c1/hugetlb.2MB.limit_in_bytes")) == str(4 << 20)


def test_v1_blkio_uses_bfq_files_without_cfq(v1, host, writes):
    v1.set(
        {
            "blockIO": {
                "weight": 300,
                "weightDevice": [{"major": 8, "minor": 0, "weight": 200}],
                "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1048576}],
                "throttleWriteIOPSDevice": [{"major": 8, "minor": 16, "rate": 100}],
            }
        }
    )
    assert writes.log == [
        ("blkio.bfq.weight", "300"),
        ("blkio.bfq.weight_device", "8:0 200"),
        ("blkio.throttle.read_bps_device", "8:0 1048576"),
        ("blkio.throttle.write_iops_device", "8:16 100"),
    ]


def test_v1_blkio_prefers_cfq_weight(v1, host, writes):
    fill(host.path("blkio/c1"), {"blkio.weight": "500"})
    v1.set({"blockIO": {"weight": 300}})
    assert read(host.path("blkio/c1/blkio.weight")) == "300"


@pytest.mark.parametrize(
    ("resources", "controller"),
    [
        ({"hugepageLimits": [{"pageSize": "2MB", "limit": 1}]}, "hugetlb"),
        ({"memory": {"limit": 1 << 20}}, "memory"),
        ({"cpu": {"cpus": "0"}}, "cpuset"),
        ({"blockIO": {"weight": 100}}, "blkio"),
    ],
)
def test_v1_resource_on_a_missing_controller(host, resources, controller):
    host.v1(hierarchies=("devices", "pids"))
    manager = cgroups.new_manager("/c1", "c")
    manager.create()
    with pytest.raises(errdefs.FailedPrecondition, match=f"the {controller} cgroup controller"):
        manager.set(resources)


def test_v1_empty_resources_write_nothing(v1, writes):
    v1.set({"memory": {}, "cpu": None, "pids": {}, "blockIO": {}, "network": {"classID": 1}})
    assert writes.log == []


# ---------------------------------------------------------------------------------------
# Setting resources, v2


@pytest.fixture
def v2(host):
    host.v2()
    manager = cgroups.new_manager("/c1", "c")
    manager.create()
    return manager


def test_v2_cpu_conversions(v2, host):
    v2.set({"cpu": {"shares": 1024, "quota": 50000, "cpus": "1", "mems": "0"}})
    assert read(host.path("c1/cpu.weight")) == "39"
    assert read(host.path("c1/cpu.max")) == "50000 100000"
    assert read(host.path("c1/cpuset.cpus")) == "1"
    assert read(host.path("c1/cpuset.mems")) == "0"
    v2.set({"cpu": {"quota": -1, "period": 200000, "shares": 2}})
    assert read(host.path("c1/cpu.max")) == "max 200000"
    assert read(host.path("c1/cpu.weight")) == "1"
    v2.set({"cpu": {"shares": 262144}})
    assert read(host.path("c1/cpu.weight")) == "10000"


@pytest.mark.parametrize(
    ("memory", "expected"),
    [
        ({"limit": 100, "swap": 300, "reservation": 50}, {"memory.max": "100", "memory.swap.max": "200", "memory.low": "50"}),
        ({"limit": 100, "swap": 100}, {"memory.max": "100", "memory.swap.max": "0"}),
        ({"limit": 100, "swap": -1}, {"memory.max": "100", "memory.swap.max": "max"}),
        ({"limit": -1}, {"memory.max": "max", "memory.swap.max": "max"}),
        ({"limit": 100}, {"memory.max": "100", "memory.swap.max": "untouched"}),
    ],
)
def test_v2_memory_conversions(v2, host, memory, expected):
    (host.path("c1/memory.swap.max")).write_text("untouched")
    v2.set({"memory": {**memory, "swappiness": 10, "disableOOMKiller": True, "kernel": 5}})
    for name, value in expected.items():
        assert read(host.path("c1") / name) == value


@pytest.mark.parametrize("memory", [{"swap": 300}, {"limit": -1, "swap": 300}, {"limit": 300, "swap": 100}])
def test_v2_memory_swap_needs_a_sound_limit(v2, memory):
    with pytest.raises(errdefs.InvalidArgument, match="memory"):
        v2.set({"memory": memory})


def test_v2_memory_without_swap_accounting(v2, host):
    host.path("c1/memory.swap.max").unlink()
    v2.set({"memory": {"limit": 100, "swap": 100}})  # "no swap" holds anyway
    v2.set({"memory": {"limit": -1}})
    with pytest.raises(errdefs.NotFound, match="memory.swap.max"):
        v2.set({"memory": {"limit": 100, "swap": 200}})


def test_v2_pids_hugetlb(v2, host):
    v2.set({"pids": {"limit": 64}, "hugepageLimits": [{"pageSize": "2MB", "limit": 2 << 20}]})
    assert read(host.path("c1/pids.max")) == "64"
    assert read(host.path("c1/hugetlb.2MB.max")) == str(2 << 20)
    v2.set({"pids": {"limit": -1}})
    assert read(host.path("c1/pids.max")) == "max"


def test_v2_io_weight_scaled_without_bfq(v2, host, writes):
    v2.set({"blockIO": {"weight": 500, "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1024}], "throttleWriteIOPSDevice": [{"major": 8, "minor": 0, "rate": 10}]}})
    assert writes.log == [
        ("io.bfq.weight", "500"),
        ("io.weight", "4950"),
        ("io.max", "8:0 rbps=1024"),
        ("io.max", "8:0 wiops=10"),
    ]


def test_v2_io_weight_raw_with_bfq(v2, host):
    fill(host.path("c1"), {"io.bfq.weight": "default 100"})
    v2.set({"blockIO": {"weight": 500}})
    assert read(host.path("c1/io.bfq.weight")) == "500"


def test_v2_devices_are_skipped(v2, writes):
    v2.set({"devices": [{"allow": False, "access": "rwm"}]})
    assert writes.log == []


@pytest.mark.parametrize(
    ("resources", "controller"),
    [
        ({"memory": {"limit": 1}}, "memory"),
        ({"pids": {"limit": 1}}, "pids"),
        ({"cpu": {"shares": 100}}, "cpu"),
        ({"cpu": {"mems": "0"}}, "cpuset"),
        ({"blockIO": {"weight": 100}}, "io"),
        ({"hugepageLimits": [{"pageSize": "2MB", "limit": 1}]}, "hugetlb"),
    ],
)
def test_v2_resource_on_a_controller_not_enabled(host, resources, controller):
    host.v2(controllers="")
    manager = cgroups.new_manager("/c1", "c")
    manager.create()
    with pytest.raises(errdefs.FailedPrecondition, match=f"the {controller} cgroup controller"):
        manager.set(resources)


# ---------------------------------------------------------------------------------------
# Processes, freezing, signalling


def test_pids_include_child_cgroups(v2, host):
    (host.path("c1/cgroup.procs")).write_text("10\n11\n")
    fill(host.path("c1/sub/deeper"), {"cgroup.procs": "12\n"})
    fill(host.path("c1/sub"), {"cgroup.procs": ""})
    assert sorted(v2.pids()) == [10, 11, 12]


def test_pids_of_a_missing_cgroup(host):
    host.v2()
    assert cgroups.new_manager("/nothing", "c").pids() == []


def test_v1_freeze_and_thaw(v1, host):
    state = host.path("freezer/c1/freezer.state")
    v1.freeze()
    assert read(state) == "FROZEN"
    (host.path("freezer/c1/freezer.self_freezing")).write_text("1\n")
    assert v1.is_frozen()
    v1.thaw()
    assert read(state) == "THAWED"
    assert not v1.is_frozen()


def test_v1_frozen_only_through_an_ancestor_is_not_frozen(v1, host):
    fill(host.path("freezer/c1"), {"freezer.state": "FROZEN\n", "freezer.self_freezing": "0\n"})
    assert not v1.is_frozen()


def test_v1_freeze_that_stays_freezing_gives_up_thawed(v1, host, monkeypatch, no_sleep):
    monkeypatch.setattr(cgroups, "FREEZE_TIMEOUT", 0.0)
    real = cgroups._write_errno

    def stuck(path, value):
        return real(path, "FREEZING" if value == "FROZEN" else value)

    monkeypatch.setattr(cgroups, "_write_errno", stuck)
    with pytest.raises(errdefs.DeadlineExceeded):
        v1.freeze()
    assert read(host.path("freezer/c1/freezer.state")) == "THAWED"


def test_v1_freeze_without_freezer(host):
    host.v1(hierarchies=("devices",))
    manager = cgroups.new_manager("/c1", "c")
    manager.create()
    with pytest.raises(errdefs.FailedPrecondition, match="freezer"):
        manager.freeze()
    assert not manager.is_frozen()


def test_v2_freeze_waits_for_the_events_file(v2, host, monkeypatch, no_sleep):
    events = host.path("c1/cgroup.events")
    events.write_text("populated 1\nfrozen 1\n")
    v2.freeze()
    assert read(host.path("c1/cgroup.freeze")) == "1"
    assert v2.is_frozen()
    v2.thaw()
    assert read(host.path("c1/cgroup.freeze")) == "0"
    assert not v2.is_frozen()

    monkeypatch.setattr(cgroups, "FREEZE_TIMEOUT", 0.0)
    events.write_text("populated 1\nfrozen 0\n")
    with pytest.raises(errdefs.DeadlineExceeded):
        v2.freeze()
    assert read(host.path("c1/cgroup.freeze")) == "0"


def test_v2_freeze_on_an_old_kernel(v2, host):
    host.path("c1/cgroup.freeze").unlink()
    with pytest.raises(errdefs.FailedPrecondition, match="5.2"):
        v2.freeze()
    assert not v2.is_frozen()


@pytest.fixture
def sleeper():
    process = subprocess.Popen(["sleep", "60"])
    yield process
    if process.poll() is None:
        process.kill()
    process.wait()


def a_pid_that_cannot_exist():
    with open("/proc/sys/kernel/pid_max") as file:
        return int(file.read())


def test_v1_signal_all_freezes_signals_and_thaws(v1, host, sleeper, writes):
    (host.path("freezer/c1/cgroup.procs")).write_text(f"{sleeper.pid}\n{a_pid_that_cannot_exist()}\n")
    v1.signal_all(signal.SIGTERM)
    assert sleeper.wait(timeout=10) == -signal.SIGTERM
    assert [value for name, value in writes.log if name == "freezer.state"] == ["FROZEN", "THAWED"]


def test_signal_all_keeps_a_paused_cgroup_frozen_except_for_sigkill(v1, host, monkeypatch, writes):
    fill(host.path("freezer/c1"), {"freezer.state": "FROZEN", "freezer.self_freezing": "1", "cgroup.procs": "77\n"})
    sent = []
    monkeypatch.setattr(os, "kill", lambda pid, sig: sent.append((pid, sig)))
    v1.signal_all(signal.SIGTERM)
    assert read(host.path("freezer/c1/freezer.state")) == "FROZEN"
    v1.signal_all(signal.SIGKILL)
    assert read(host.path("freezer/c1/freezer.state")) == "THAWED"
    assert sent == [(77, signal.SIGTERM), (77, signal.SIGKILL)]


def test_signal_all_without_freezer_still_signals(host, sleeper):
    host.v1(hierarchies=("devices",))
    manager = cgroups.new_manager("/c1", "c")
    manager.create()
    (host.path("devices/c1/cgroup.procs")).write_text(f"{sleeper.pid}\n")
    manager.signal_all(signal.SIGKILL)
    assert sleeper.wait(timeout=10) == -signal.SIGKILL


def test_v2_sigkill_uses_cgroup_kill(v2, host, monkeypatch, writes):
    (host.path("c1/cgroup.procs")).write_text("77\n")
    monkeypatch.setattr(os, "kill", lambda pid, sig: pytest.fail("signalled one by one"))
    v2.signal_all(signal.SIGKILL)
    assert writes.log == [("cgroup.kill", "1")]


def test_v2_other_signals_go_to_each_process(v2, host, monkeypatch, writes):
    (host.path("c1/cgroup.procs")).write_text("77\n")
    host.path("c1/cgroup.events").write_text("frozen 1\n")
    sent = []
    monkeypatch.setattr(os, "kill", lambda pid, sig: sent.append((pid, sig)))
    v2.signal_all(signal.SIGHUP)
    assert sent == [(77, signal.SIGHUP)]
    assert writes.log == [("cgroup.freeze", "1"), ("cgroup.freeze", "0")]


# ---------------------------------------------------------------------------------------
# Stats


def test_v1_stats(v1, host, monkeypatch):
    monkeypatch.setattr(os, "sysconf", lambda name: 100)
    fill(
        host.path("cpu,cpuacct/c1"),
        {
            "cpuacct.usage": "2000\n",
            "cpuacct.usage_percpu": "1200 800 \n",
            "cpuacct.usage_all": CPUACCT_USAGE_ALL,
            "cpuacct.stat": "user 150\nsystem 20\n",
            "cpu.stat": "nr_periods 10\nnr_throttled 2\nthrottled_time 5000\n",
        },
    )
    fill(
        host.path("memory/c1"),
        {
            "memory.stat": "cache 4096\nrss 8192\ntotal_cache 4096\n",
            "memory.usage_in_bytes": "12288\n",
            "memory.max_usage_in_bytes": "20000\n",
            "memory.limit_in_bytes": "104857600\n",
            "memory.failcnt": "3\n",
            "memory.memsw.usage_in_bytes": "12288\n",
            "memory.memsw.max_usage_in_bytes": "20000\n",
            "memory.memsw.failcnt": "0\n",
            "memory.kmem.usage_in_bytes": "100\n",
        },
    )
    fill(host.path("pids/c1"), {"pids.current": "3\n", "pids.max": "max\n"})
    fill(
        host.path("blkio/c1"),
        {
            "blkio.throttle.io_service_bytes": "8:0 Read 4096\n8:0 Write 0\n8:0 Total 4096\nTotal 4096\n",
            "blkio.throttle.io_serviced": "8:0 Read 1\n8:0 Write 0\nTotal 1\n",
        },
    )
    fill(host.path("hugetlb/c1"), {"hugetlb.2MB.usage_in_bytes": "2097152", "hugetlb.2MB.failcnt": "1"})
    stats = v1.stats()
    assert stats["cpu"] == {
        "usage": {
            "total": 2000,
            "percpu": [1200, 800],
            "percpu_kernel": [300, 100],
            "percpu_user": [700, 500],
            "kernel": 200_000_000,
            "user": 1_500_000_000,
        },
        "throttling": {"periods": 10, "throttledPeriods": 2, "throttledTime": 5000},
    }
    assert stats["memory"] == {
        "cache": 4096,
        "usage": {"limit": 104857600, "usage": 12288, "max": 20000, "failcnt": 3},
        "swap": {"limit": 9223372036854771712, "usage": 12288, "max": 20000, "failcnt": 0},
        "kernel": {"limit": 0, "usage": 100, "failcnt": 0},
        "kernelTCP": {"limit": 0, "failcnt": 0},
        "raw": {"cache": 4096, "rss": 8192, "total_cache": 4096},
    }
    assert stats["pids"] == {"current": 3}
    assert stats["blkio"] == {
        "ioServiceBytesRecursive": [
            {"major": 8, "op": "Read", "value": 4096},
            {"major": 8, "op": "Write"},
            {"major": 8, "op": "Total", "value": 4096},
        ],
        "ioServicedRecursive": [{"major": 8, "op": "Read", "value": 1}, {"major": 8, "op": "Write"}],
    }
    assert stats["hugetlb"] == {"2MB": {"usage": 2097152, "failcnt": 1}}


def test_v1_stats_prefer_richer_blkio_files(v1, host):
    fill(
        host.path("blkio/c1"),
        {
            "blkio.bfq.io_serviced_recursive": "8:0 Read 5\n",
            "blkio.bfq.io_service_bytes_recursive": "8:0 Read 512\n",
            "blkio.throttle.io_serviced": "8:0 Read 1\n",
        },
    )
    assert v1.stats()["blkio"] == {
        "ioServicedRecursive": [{"major": 8, "op": "Read", "value": 5}],
        "ioServiceBytesRecursive": [{"major": 8, "op": "Read", "value": 512}],
    }


def test_v1_stats_omit_missing_controllers(host):
    host.v1(hierarchies=("devices", "pids"))
    manager = cgroups.new_manager("/c1", "c")
    manager.create()
    fill(host.path("pids/c1"), {"pids.current": "1", "pids.max": "20"})
    assert manager.stats() == {"pids": {"current": 1, "limit": 20}}


def test_stats_of_a_missing_cgroup(host):
    host.v2()
    with pytest.raises(errdefs.NotFound):
        cgroups.new_manager("/nothing", "c").stats()


def test_v2_stats(v2, host):
    fill(
        host.path("c1"),
        {
            "cpu.stat": "usage_usec 300\nuser_usec 200\nsystem_usec 100\nnr_periods 4\nnr_throttled 1\nthrottled_usec 7\n",
            "memory.stat": "anon 8192\nfile 4096\n",
            "memory.current": "12288\n",
            "memory.max": "104857600\n",
            "memory.swap.current": "1000\n",
            "memory.swap.max": "max\n",
            "pids.current": "2\n",
            "pids.max": "50\n",
            "io.stat": "8:0 rbytes=4096 wbytes=0 rios=2 wios=0 dbytes=0 dios=0\n",
            "hugetlb.2MB.current": "0\n",
            "hugetlb.2MB.events": "max 4\n",
        },
    )
    stats = v2.stats()
    assert stats["cpu"] == {
        "usage": {"total": 300_000, "kernel": 100_000, "user": 200_000},
        "throttling": {"periods": 4, "throttledPeriods": 1, "throttledTime": 7000},
    }
    assert stats["memory"] == {
        "cache": 4096,
        "usage": {"limit": 104857600, "usage": 12288, "failcnt": 0},
        "swap": {"limit": 2**64 - 1, "usage": 13288, "failcnt": 0},
        "kernel": {"limit": 0, "failcnt": 0},
        "kernelTCP": {"limit": 0, "failcnt": 0},
        "raw": {"anon": 8192, "file": 4096},
    }
    assert stats["pids"] == {"current": 2, "limit": 50}
    assert stats["blkio"] == {
        "ioServiceBytesRecursive": [{"major": 8, "op": "Read", "value": 4096}, {"major": 8, "op": "Write"}],
        "ioServicedRecursive": [{"major": 8, "op": "Read", "value": 2}, {"major": 8, "op": "Write"}],
    }
    assert stats["hugetlb"] == {"2MB": {"failcnt": 4}}
    (host.path("c1/memory.swap.max")).write_text("1000\n")
    assert v2.stats()["memory"]["swap"]["limit"] == 104858600


def test_v2_stats_without_controllers_count_procs(host):
    host.v2(controllers="")
    manager = cgroups.new_manager("/c1", "c")
    manager.create()
    (host.path("c1/cgroup.procs")).write_text("5\n6\n")
    assert manager.stats() == {
        "cpu": {"usage": {"kernel": 0, "user": 0}, "throttling": {}},
        "pids": {"current": 2},
    }


def test_oom_kill_count(v1, host):
    fill(host.path("memory/c1"), {"memory.oom_control": "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n"})
    assert v1.oom_kill_count() == 2


def test_oom_kill_count_v2(v2, host):
    fill(host.path("c1"), {"memory.events": "low 0\nhigh 0\nmax 9\noom 3\noom_kill 3\n"})
    assert v2.oom_kill_count() == 3


def test_oom_kill_count_without_memory_controller(host):
    host.v1(hierarchies=("devices",))
    assert cgroups.new_manager("/c1", "c").oom_kill_count() == 0
    assert cgroups.V2Manager(str(host.root), f"{host.root}/c1").oom_kill_count() == 0


# ---------------------------------------------------------------------------------------
# Destroying


def test_destroy_removes_children_first_and_keeps_parents(v2, host, kernel_rmdir):
    fill(host.path("c1/a/b"), {"cgroup.procs": ""})
    fill(host.path("c1/c"), {"cgroup.procs": ""})
    v2.destroy()
    c1 = str(host.path("c1"))
    assert kernel_rmdir[-1] == c1
    assert kernel_rmdir.index(f"{c1}/a/b") < kernel_rmdir.index(f"{c1}/a")
    assert set(kernel_rmdir) == {f"{c1}/a/b", f"{c1}/a", f"{c1}/c", c1}
    assert host.root.is_dir()
    assert not v2.exists()
    v2.destroy()  # already gone


def test_v1_destroy_every_hierarchy(host, kernel_rmdir):
    host.v1()
    manager = cgroups.new_manager("/pydocker/c1", "c")
    manager.create()
    manager.destroy()
    assert sorted(kernel_rmdir) == sorted(set(manager.paths.values()))
    assert not manager.exists()
    assert host.path("memory/pydocker").is_dir()


def test_destroy_retries_busy_with_growing_backoff(v2, host, monkeypatch, no_sleep):
    busy = [errno.EBUSY] * 4  # the fast path, then three retries
    real_rmdir = os.rmdir

    def rmdir(path):
        if busy:
            raise OSError(busy.pop(), "Device or resource busy", path)
        remove_cgroup_dir(path, real_rmdir)

    monkeypatch.setattr(os, "rmdir", rmdir)
    v2.destroy()
    assert no_sleep == [0.001, 0.002, 0.004]
    assert not v2.exists()


def test_destroy_gives_up_on_a_cgroup_that_stays_busy(v2, monkeypatch, no_sleep):
    def rmdir(path):
        raise OSError(errno.EBUSY, "Device or resource busy", path)

    monkeypatch.setattr(os, "rmdir", rmdir)
    with pytest.raises(errdefs.FailedPrecondition, match="processes still in it"):
        v2.destroy()
    assert len(no_sleep) == 10
    assert no_sleep[-1] == pytest.approx(0.512)


def test_v1_destroy_reports_every_failure_after_trying_all(host, monkeypatch, no_sleep):
    host.v1(hierarchies=("devices", "memory"))
    manager = cgroups.new_manager("/c1", "c")
    manager.create()
    tried = []

    def rmdir(path):
        tried.append(path)
        raise OSError(errno.EBUSY, "Device or resource busy", path)

    monkeypatch.setattr(os, "rmdir", rmdir)
    with pytest.raises(errdefs.FailedPrecondition) as caught:
        manager.destroy()
    assert "devices/c1" in str(caught.value) and "memory/c1" in str(caught.value)
