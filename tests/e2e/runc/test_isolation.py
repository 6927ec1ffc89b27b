"""What a container sees, checked from inside it with busybox applets."""
import os
import stat

import pytest

pytestmark = pytest.mark.root


def run_output(runtime, bundle, script: str) -> str:
    bundle.sh(script)
    done = runtime("run", "--bundle", str(bundle.path), bundle.id, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_pid_1_in_a_new_pid_namespace(runtime, bundle):
    pid, pid_ns, net_ns = run_output(runtime, bundle, "echo $$; readlink /proc/self/ns/pid; readlink /proc/self/ns/net").split()
    assert pid == "1"
    assert pid_ns != os.readlink("/proc/self/ns/pid")
    assert net_ns != os.readlink("/proc/self/ns/net")


def test_hostname(runtime, bundle):
    assert run_output(runtime, bundle, "hostname").strip() == bundle.id


def test_root_is_the_bundle_rootfs(runtime, bundle):
    (bundle.rootfs / "marker").write_text("inside\n")
    assert run_output(runtime, bundle, "cat /marker; ls /") .startswith("inside\n")


def test_mounts(runtime, bundle):
    mounts = {}
    for line in run_output(runtime, bundle, "cat /proc/self/mountinfo").splitlines():
        fields = line.split()
        fstype = fields[fields.index("-") + 1]
        mounts[fields[4]] = (fstype, fields[5])
    assert mounts["/proc"][0] == "proc"
    assert mounts["/dev"][0] == "tmpfs"
    assert mounts["/dev/pts"][0] == "devpts"
    assert mounts["/dev/shm"][0] == "tmpfs"
    assert mounts["/dev/mqueue"][0] == "mqueue"
    assert mounts["/sys"][0] == "sysfs" and mounts["/sys"][1].startswith("ro")
    assert mounts["/sys/fs/cgroup"][0] == "tmpfs"
    assert mounts["/sys/fs/cgroup/memory"][0] == "cgroup"
    assert mounts["/proc/sys"][1].startswith("ro")
    # Nothing of the host's mount table leaks in: no host paths, and the old root is gone.
    assert not [m for m in mounts if m.startswith(("/work", "/tmp", "/root", "/mnt"))]


def test_masked_paths(runtime, bundle):
    assert os.path.exists("/proc/interrupts") and os.path.exists("/proc/timer_list")
    out = run_output(runtime, bundle, "wc -c < /proc/interrupts; cat /proc/timer_list | wc -c; ls /sys/firmware | wc -l; "
                                      "echo x > /proc/sys/kernel/hostname || echo ro")
    assert out.split() == ["0", "0", "0", "ro"]


def test_a_dev_bound_with_rbind_gets_no_device_nodes(runtime, bundle, tmp_path):
    # The nodes of a bound /dev are its source's: any the runtime made would land in the
    # source, the host's own /dev when that is what is bound.
    source = tmp_path / "dev"
    source.mkdir()
    os.mknod(source / "null", stat.S_IFCHR | 0o666, os.makedev(1, 3))  # both runtimes need it
    mounts = bundle.config["mounts"]
    index = next(i for i, m in enumerate(mounts) if m["destination"] == "/dev")
    # No type: the options alone make it a bind mount.
    mounts[index] = {"destination": "/dev", "source": str(source), "options": ["rbind", "nosuid"]}
    run_output(runtime, bundle, "true")
    made = {"zero", "full", "random", "urandom", "tty", "ptmx", "fd", "stdin", "stdout", "stderr"}
    assert made & set(os.listdir(source)) == set()


def test_devices(runtime, bundle):
    out = run_output(runtime, bundle, "ls -l /dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/tty; "
                                      "for l in /dev/ptmx /dev/fd /dev/stdin; do readlink $l; done; head -c 3 /dev/zero | od -An -tx1")
    lines = out.splitlines()
    assert all(line.startswith("crw-rw-rw-") for line in lines[:6]), lines[:6]
    assert lines[6:9] == ["pts/ptmx", "/proc/self/fd", "/proc/self/fd/0"]
    assert lines[9].split() == ["00", "00", "00"]


def test_default_capabilities_only(runtime, bundle):
    out = run_output(runtime, bundle, "grep -E '^Cap(Eff|Prm|Bnd|Inh|Amb)' /proc/self/status")
    caps = dict(line.split(":") for line in out.splitlines())
    docker_default = 0x00000000a80425fb  # the 14 capabilities of `pyrunc spec` and Docker
    assert int(caps["CapEff"], 16) == docker_default
    assert int(caps["CapPrm"], 16) == docker_default
    assert int(caps["CapBnd"], 16) == docker_default
    assert int(caps["CapInh"], 16) == 0
    assert int(caps["CapAmb"], 16) == 0


def test_user_groups_cwd_env_umask(runtime, bundle):
    process = bundle.config["process"]
    process["user"] = {"uid": 1000, "gid": 1000, "additionalGids": [5, 65534]}
    process["cwd"] = "/home/user"
    process["env"].append("GREETING=hello there")
    process["user"]["umask"] = 0o027
    out = run_output(runtime, bundle, "id -u; id -g; id -G; pwd; echo $GREETING; umask; echo $HOME")
    assert out.splitlines() == ["1000", "1000", "1000 5 65534", "/home/user", "hello there", "0027", "/home/user"]


def test_no_new_privileges_and_read_only_root(runtime, bundle):
    bundle.config["root"]["readonly"] = True
    out = run_output(runtime, bundle, "grep NoNewPrivs /proc/self/status; touch /x 2>&1 || true")
    assert "NoNewPrivs:\t1" in out
    assert "Read-only file system" in out


def test_rlimits_and_oom_score_adj(runtime, bundle):
    bundle.config["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 123, "hard": 456}]
    bundle.config["process"]["oomScoreAdj"] = 321
    out = run_output(runtime, bundle, "ulimit -n; ulimit -Hn; cat /proc/self/oom_score_adj")
    assert out.split() == ["123", "456", "321"]


def test_sysctl_in_own_network_namespace(runtime, bundle):
    bundle.config["linux"]["sysctl"] = {"net.ipv4.ip_unprivileged_port_start": "7"}
    assert run_output(runtime, bundle, "cat /proc/sys/net/ipv4/ip_unprivileged_port_start").strip() == "7"


def test_network_namespace_has_only_loopback(runtime, bundle):
    assert run_output(runtime, bundle, "ls /sys/class/net").split() == ["lo"]


def test_sigpipe_is_not_ignored(runtime, bundle):
    # Python ignores SIGPIPE and SIGXFSZ for itself; the container must get the defaults back.
    ignored = int(run_output(runtime, bundle, "grep SigIgn /proc/self/status").split()[1], 16)
    assert ignored & (1 << (13 - 1)) == 0
    assert ignored & (1 << (25 - 1)) == 0
