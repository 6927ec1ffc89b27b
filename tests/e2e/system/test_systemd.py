"""The product's front door under a real systemd (issue 7's acceptance): on a Debian 12 machine
whose PID 1 is systemd (tests/fixtures/nspawn.py), packaging/pydocker-install installs the
project from a wheelhouse, and the administrator's commands do what the units promise.

The tests run in file order and share the machine and one long-running container, as an
administrator's session would: socket activation is checked before anything calls the API,
and the uninstaller comes last. The session registry is pydockerd's docker.io mirror: the
machine shares the host's network, so the registry's loopback address is the same inside.
"""
from __future__ import annotations

import json

import pytest

from tests.fixtures.nspawn import REPOSITORY, Machine, boot_machine
from tests.fixtures.polling import wait_until
from tests.fixtures.registry import Registry, serve_registry

pytestmark = pytest.mark.root

# Bind points named for nothing the uninstaller must remove: its checks look for "pydocker".
SOURCE = "/mnt/source"
WHEELS = "/mnt/wheels"
INSTALL = f"{SOURCE}/packaging/pydocker-install"
UNINSTALL = "/usr/local/sbin/pydocker-uninstall"  # the installed one, which removes itself
INSTALL_ENVIRONMENT = {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": WHEELS}
# Without sd_notify support a Type=notify start waits for TimeoutStartSec (90 s) and fails.
INSTALL_TIMEOUT = 180
UNIT_DIRECTORY = "/usr/local/lib/systemd/system"
UNITS = ("pycontainerd.service", "pydocker.service", "pydocker.socket")
SOCKET = "/run/pydocker.sock"
TICKER = "ticker"
TICK_COMMAND = "while true; do echo tick; sleep 0.2; done"
# An image only the second mirror holds: pulling it proves the reloaded mirror is the one used.
RELOAD_PROBE = "reload-probe"
NAMED_FOR_PYDOCKER = ("pydocker", "pycontainerd", "pyrunc")
INSTALLED_PATHS = (
    SOCKET, "/run/pydocker", "/run/pycontainerd", "/run/pyrunc", "/var/lib/pydocker", "/var/lib/pycontainerd",
    "/etc/pydocker", "/opt/pydocker", "/usr/local/share/doc/pydocker", "/usr/local/bin/pydocker",
    "/usr/local/bin/pydockerd", "/usr/local/bin/pycontainerd", "/usr/local/bin/pyrunc", "/usr/local/sbin/pydocker-uninstall",
    *(f"{UNIT_DIRECTORY}/{unit}" for unit in UNITS),
)


def mirror_config(registry: Registry) -> str:
    return json.dumps({"registry-mirrors": [registry.url], "insecure-registries": [registry.host]})


@pytest.fixture(scope="module")
def machine(debian_rootfs, wheelhouse, registry, tmp_path_factory) -> Machine:
    """The booted machine with pydocker installed (the installer's systemd path: it enables the
    units and starts pycontainerd and the socket) and the session registry as the mirror."""
    with boot_machine(debian_rootfs, "debian-systemd", tmp_path_factory.mktemp("machine"),
                      {REPOSITORY: SOURCE, wheelhouse: WHEELS}) as booted:
        booted.run(INSTALL, environment=INSTALL_ENVIRONMENT, timeout=INSTALL_TIMEOUT)
        booted.write("/etc/pydocker/daemon.json", mirror_config(registry))
        yield booted


@pytest.fixture(scope="module")
def second_mirror(tmp_path_factory, busybox_image) -> Registry:
    with serve_registry(tmp_path_factory.mktemp("second-mirror")) as served:
        served.push(busybox_image, f"library/{RELOAD_PROBE}:latest")
        yield served


@pytest.fixture(scope="module")
def main_pids() -> list[int]:
    """Every main PID pydocker.service had, as the tests saw them: the journal must hold each one's logs."""
    return []


def main_pid(machine: Machine, unit: str = "pydocker.service") -> int:
    return int(machine.show(unit, "MainPID"))


def active_state(machine: Machine, unit: str) -> str:
    return machine.show(unit, "ActiveState")


def wait_until_active(machine: Machine, unit: str) -> None:
    """systemd calls a Type=notify unit active once the daemon said READY=1, not when it forked."""
    wait_until(lambda: active_state(machine, unit) == "active", timeout=30, what=f"{unit} to be active")


def process_identity(machine: Machine, pid: int) -> tuple[int, str]:
    """(pid, start time since boot): a process that died and a new one that got its PID differ."""
    stat = machine.run("cat", f"/proc/{pid}/stat").stdout
    return pid, stat.rsplit(")", 1)[1].split()[19]


def container_identity(machine: Machine, name: str) -> tuple[int, str]:
    """The container's init as its pydockerd reports it, checked against the machine's /proc."""
    state = json.loads(machine.run("pydocker", "inspect", "--format", "{{json .State}}", name).stdout)
    assert state["Running"], state
    return process_identity(machine, state["Pid"])


def ticks(machine: Machine) -> int:
    return machine.run("pydocker", "logs", TICKER).stdout.count("tick\n")


def wait_for_more_ticks(machine: Machine, seen: int) -> None:
    """The container still writes, and its log still reaches pydockerd's log file."""
    wait_until(lambda: ticks(machine) > seen, timeout=30, what=f"{TICKER} to log more than {seen} ticks")


@pytest.fixture(scope="module")
def ticker(machine: Machine) -> tuple[int, str]:
    """A container that keeps printing; its init's identity when it started."""
    machine.run("pydocker", "run", "--detach", "--name", TICKER, "busybox", "sh", "-c", TICK_COMMAND)
    return container_identity(machine, TICKER)


def test_the_units_pass_systemd_analyze_verify(machine):
    verify = machine.run("systemd-analyze", "verify", *(f"{UNIT_DIRECTORY}/{unit}" for unit in UNITS), check=False)
    assert (verify.returncode, verify.stdout + verify.stderr) == (0, "")


def test_enable_now_starts_pycontainerd_and_the_socket_but_not_pydockerd(machine):
    # The installer has done as much; the administrator's command must agree with it.
    machine.systemctl("enable", "--now", "pydocker.socket", "pycontainerd.service")

    assert machine.systemctl("is-enabled", "pydocker.socket", "pycontainerd.service").split() == ["enabled"] * 2
    wait_until_active(machine, "pycontainerd.service")
    assert active_state(machine, "pydocker.socket") == "active"
    assert active_state(machine, "pydocker.service") == "inactive"
    assert machine.run("stat", "--format", "%F %a %U %G", SOCKET).stdout.strip() == "socket 660 root pydocker"


def test_the_first_api_call_starts_pydocker_service(machine, main_pids):
    version = machine.run("pydocker", "version", "--format", "{{.Server.Version}}")

    assert version.stdout.strip()
    wait_until_active(machine, "pydocker.service")
    main_pids.append(main_pid(machine))
    assert "pydockerd -H fd://" in machine.run("cat", f"/proc/{main_pids[-1]}/cmdline").stdout.replace("\0", " ")


def test_run_pulls_through_the_mirror_and_runs(machine):
    run = machine.run("pydocker", "run", "--rm", "busybox", "echo", "hello from a systemd machine")

    assert run.stdout == "hello from a systemd machine\n"
    assert "Pulling from library/busybox" in run.stderr


def test_restart_of_pydocker_keeps_containers_running(machine, ticker, main_pids):
    before = main_pid(machine)
    seen = ticks(machine)

    machine.systemctl("restart", "pydocker.service")

    wait_until_active(machine, "pydocker.service")
    main_pids.append(main_pid(machine))
    assert main_pids[-1] not in (0, before)
    assert container_identity(machine, TICKER) == ticker
    wait_for_more_ticks(machine, seen)


def test_kill_9_of_pydockerd_keeps_containers_running_and_systemd_restarts_it(machine, ticker, main_pids):
    killed = main_pid(machine)
    restarts = int(machine.show("pydocker.service", "NRestarts"))
    seen = ticks(machine)

    machine.run("kill", "-9", str(killed))

    restarted = wait_until(lambda: main_pid(machine) not in (0, killed) and main_pid(machine), timeout=30,
                           what="systemd to start pydockerd again")
    wait_until_active(machine, "pydocker.service")
    main_pids.append(restarted)
    assert int(machine.show("pydocker.service", "NRestarts")) == restarts + 1  # Restart=, not the socket
    assert container_identity(machine, TICKER) == ticker
    wait_for_more_ticks(machine, seen)


def test_stop_of_pycontainerd_keeps_containers_running(machine, ticker):
    pydockerd = main_pid(machine)

    machine.systemctl("stop", "pycontainerd.service")

    assert active_state(machine, "pycontainerd.service") == "inactive"
    assert process_identity(machine, ticker[0]) == ticker
    assert main_pid(machine) == pydockerd  # pydocker.service only wants pycontainerd
    seen = ticks(machine)
    wait_for_more_ticks(machine, seen)  # the container's output still reaches its log

    machine.systemctl("start", "pycontainerd.service")

    wait_until_active(machine, "pycontainerd.service")
    assert container_identity(machine, TICKER) == ticker
    assert machine.run("pydocker", "exec", TICKER, "echo", "exec after restart").stdout == "exec after restart\n"


def test_reload_picks_up_a_new_mirror_without_restarting(machine, second_mirror):
    pydockerd = main_pid(machine)
    machine.write("/etc/pydocker/daemon.json", mirror_config(second_mirror))

    machine.systemctl("reload", "pydocker.service")

    wait_until(lambda: json.loads(machine.run(
        "pydocker", "info", "--format", "{{json .RegistryConfig.Mirrors}}").stdout) == [second_mirror.url],
        timeout=30, what="pydocker info to show the new mirror")
    assert main_pid(machine) == pydockerd
    machine.run("pydocker", "pull", RELOAD_PROBE)


def test_reinstalling_upgrades_in_place_and_keeps_containers_running(machine, ticker, main_pids):
    daemons = main_pid(machine, "pycontainerd.service"), main_pid(machine)

    machine.run(INSTALL, environment=INSTALL_ENVIRONMENT, timeout=INSTALL_TIMEOUT)

    wait_until_active(machine, "pycontainerd.service")
    wait_until_active(machine, "pydocker.service")
    upgraded = main_pid(machine, "pycontainerd.service"), main_pid(machine)
    main_pids.append(upgraded[1])
    assert all(new not in (0, old) for new, old in zip(upgraded, daemons))
    assert container_identity(machine, TICKER) == ticker


def test_journal_of_pydocker_holds_pydockerds_logs(machine, main_pids):
    journal = machine.run("journalctl", "--no-pager", "--unit", "pydocker.service", "--output", "json").stdout
    entries = [json.loads(line) for line in journal.splitlines()]
    logged = [(int(entry["_PID"]), entry["MESSAGE"]) for entry in entries
              if entry.get("SYSLOG_IDENTIFIER") == "pydockerd" and isinstance(entry.get("MESSAGE"), str)]

    serving = {pid for pid, message in logged if "API listening on fd://" in message}
    assert main_pids and set(main_pids) <= serving
    assert any("/v2/library/busybox/manifests/" in message for _, message in logged)  # the first pull


def test_uninstall_purge_leaves_nothing_behind(machine, ticker):
    machine.run(UNINSTALL, "--purge", timeout=120)

    assert machine.run("systemctl", "list-unit-files", "--no-legend", "py*", check=False).stdout == ""
    assert [machine.show(unit, "LoadState") for unit in UNITS] == ["not-found"] * len(UNITS)
    assert machine.run("find", "/etc/systemd", "/usr/local/lib/systemd", "-name", "py*").stdout == ""
    assert machine.run("ls", "-d", *INSTALLED_PATHS, check=False).stdout == ""
    mountinfo = machine.run("cat", "/proc/self/mountinfo").stdout.splitlines()
    assert [line for line in mountinfo if any(word in line for word in NAMED_FOR_PYDOCKER)] == []
    cgroups = machine.run("find", "/sys/fs/cgroup", "-name", "*py*").stdout.splitlines()
    assert [path for path in cgroups if any(word in path for word in NAMED_FOR_PYDOCKER)] == []
    processes = machine.run("ps", "-eo", "pid=,args=").stdout.splitlines()
    assert [line for line in processes if any(word in line for word in (*NAMED_FOR_PYDOCKER, TICK_COMMAND))] == []
    assert machine.run("getent", "group", "pydocker", check=False).returncode == 2
