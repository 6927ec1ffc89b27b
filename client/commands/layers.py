"""pydocker system layers: the stack as it runs on this machine, a process a line, as a tree.

    pydockerd                 the daemon serving this client's socket (-H, DOCKER_HOST)
    `- pycontainerd           the one it uses (its --containerd)
       |- shim fork server    the warm interpreter that forks shims
       `- shim                one per task: its socket, its task
          |- container        the task's init (the pid in the bundle's init.pid)
          `- logger, exec     the shim's other children

All of it comes from /proc, so no daemon needs to answer: command lines, parents, start
times, and the unix sockets each process listens on (its socket descriptors matched with
/proc/net/unix). A daemon that is down is said to be, and what it left running is still
shown: without pydockerd, every pycontainerd on the machine with its shims; without
pycontainerd, its shims and their containers, found by the directory of their sockets
(a shim's socket is in s/ beside its daemon's). pydockerd, when up, names the containers.
"""
from __future__ import annotations

import os
import time

from client import api
from client.commands import parser as make_parser, write

DEFAULT_CONTAINERD = "/run/pycontainerd/pycontainerd.sock"
DEFAULT_DOCKERD_CONFIG = "/etc/pydocker/daemon.json"
# __SO_ACCEPTCON in /proc/net/unix's Flags column: a listening socket.
_LISTENING = 0x10000
# Programs run as `python -m MODULE`, by the name their console script has.
_MODULES = {"dockerd": "pydockerd", "containerd": "pycontainerd", "shim": "pycontainerd-shim",
            "dockerd.logger": "pydockerd-logger"}
_SHIMS = ("pycontainerd-shim", "containerd-shim-pydocker-v1")
_COMMAND_WIDTH = 60


def parser(name):
    p = make_parser(name, "docker system layers [OPTIONS]",
                    "Show the live process tree of the stack: daemons, shims, containers", required="no arguments")
    p.add_argument("--format", default="")
    return p


# --- /proc -------------------------------------------------------------------------------------


class Process:
    def __init__(self, pid: int, ppid: int, argv: list[str], started: float):
        self.pid, self.ppid, self.argv, self.started = pid, ppid, argv, started
        self.program = program(argv)

    def flags(self, *names: str) -> list[str]:
        """The values these flags have on the command line (`-f v`, `-f=v`), in order."""
        words = self.argv[1:]
        values = []
        for i, word in enumerate(words):
            name, equals, value = word.partition("=")
            if name in names:
                if equals:
                    values.append(value)
                elif i + 1 < len(words):
                    values.append(words[i + 1])
        return values

    def flag(self, *names: str) -> str | None:
        values = self.flags(*names)
        return values[-1] if values else None

    def describe(self, now: float, sockets: list[str]) -> dict:
        return {"pid": self.pid, "ppid": self.ppid, "uptime": round(now - self.started, 3),
                "command": " ".join(self.argv), "sockets": sockets}

    def shown(self) -> str:
        """The command line as the tree shows it: a Python program by its own name."""
        if os.path.basename(self.argv[0]).startswith("python") and self.program != os.path.basename(self.argv[0]):
            rest = self.argv[self.argv.index("-m") + 2:] if "-m" in self.argv else self.argv[2:]
            return " ".join([self.program, *rest])
        return " ".join(self.argv)


def program(argv: list[str]) -> str:
    """What a command line runs: its binary, or the script or module an interpreter runs."""
    name = os.path.basename(argv[0])
    if not name.startswith("python"):
        return name
    words = iter(argv[1:])
    for word in words:
        if word == "-m":
            module = next(words, "")
            return _MODULES.get(module, module)
        if not word.startswith("-"):
            return os.path.basename(word)
    return name


def _read(path: str) -> str | None:
    try:
        with open(path, "rb") as f:
            return f.read().decode(errors="replace")
    except OSError:  # gone meanwhile, or not ours to read
        return None


def scan() -> dict[int, Process]:
    boot = next(float(line.split()[1]) for line in _read("/proc/stat").splitlines() if line.startswith("btime "))
    tick = os.sysconf("SC_CLK_TCK")
    processes = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        stat = _read(f"/proc/{entry}/stat")
        cmdline = _read(f"/proc/{entry}/cmdline")
        if not stat or not cmdline:  # gone, or a kernel thread
            continue
        fields = stat.rpartition(")")[2].split()  # after "pid (comm)": state ppid ... starttime (the 20th)
        processes[int(entry)] = Process(int(entry), int(fields[1]), cmdline.rstrip("\0").split("\0"),
                                        boot + int(fields[19]) / tick)
    return processes


def listening_sockets() -> dict[str, str]:
    """inode -> path of every listening unix socket bound to a name."""
    sockets = {}
    for line in (_read("/proc/net/unix") or "").splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 8 and int(fields[3], 16) & _LISTENING:
            sockets[fields[6]] = fields[7]
    return sockets


def sockets_of(pid: int, listening: dict[str, str]) -> list[str]:
    paths = set()
    try:
        descriptors = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return []
    for fd in descriptors:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:[") and target[8:-1] in listening:
            paths.add(listening[target[8:-1]])
    return sorted(paths)


def _cwd(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        return None


def _pid_file(path: str) -> int | None:
    text = _read(path)
    return int(text) if text and text.strip().isdigit() else None


def _forkserver_socket(process: Process) -> str | None:
    """The fork server's socket, on the command line of the fork server and of every shim it forked."""
    words = process.argv[process.argv.index("forkserver") + 1:] if "forkserver" in process.argv else []
    return words[0] if words else None


def _same(a: str | None, b: str | None) -> bool:
    return bool(a and b) and os.path.realpath(a) == os.path.realpath(b)


# --- the stack ---------------------------------------------------------------------------------


class Stack:
    def __init__(self, processes: dict[int, Process], listening: dict[str, str], now: float):
        self.processes, self.listening, self.now = processes, listening, now

    def sockets(self, process: Process) -> list[str]:
        return sockets_of(process.pid, self.listening)

    def named(self, *programs: str) -> list[Process]:
        return sorted((p for p in self.processes.values() if p.program in programs), key=lambda p: p.pid)

    def pydockerd(self, host: str) -> Process | None:
        """The pydockerd that serves `host`, by the sockets it listens on, or else its -H flags."""
        wanted = host.removeprefix("unix://")
        for process in self.named("pydockerd"):
            hosts = [h.removeprefix("unix://") for h in process.flags("-H", "--host")]
            if any(_same(wanted, path) for path in self.sockets(process) + hosts) or (
                    not hosts and _same(wanted, api.DEFAULT_HOST.removeprefix("unix://"))):
                return process
        return None

    def pycontainerd_address(self, process: Process) -> str:
        address = process.flag("--address", "-a")
        if address:
            return os.path.join(_cwd(process.pid) or "/", address)
        served = [path for path in self.sockets(process) if not path.endswith(".ttrpc")]
        return served[0] if served else DEFAULT_CONTAINERD

    def shims(self) -> tuple[list[Process], list[Process]]:
        """(fork servers, shims). A forked shim has its fork server's command line; the fork
        server's pid is in the file beside its socket."""
        forkservers, shims = [], []
        for process in self.named(*_SHIMS) + [p for p in self.processes.values()
                                              if p.program.startswith("containerd-shim-") and p.program not in _SHIMS]:
            path = _forkserver_socket(process)
            if path is not None:
                (forkservers if _pid_file(path + ".pid") == process.pid else shims).append(process)
            elif process.flag("-id", "--id") and process.argv[-1] not in ("start", "delete"):
                shims.append(process)
        return forkservers, shims

    def daemon_directory(self, process: Process) -> str | None:
        """The directory of the pycontainerd a shim (or fork server) works for: its -address,
        or the one its socket's s/ directory is in."""
        address = process.flag("-address", "--address")
        if address:
            return os.path.dirname(os.path.realpath(address.removeprefix("unix://")))
        forkserver = _forkserver_socket(process)
        sockets = [forkserver] if forkserver is not None else self.sockets(process)
        return os.path.dirname(os.path.dirname(os.path.realpath(sockets[0]))) if sockets else None

    def shim_entry(self, shim: Process, names: dict[str, str]) -> dict:
        bundle = _cwd(shim.pid)
        task_id = shim.flag("-id", "--id") or (os.path.basename(bundle) if bundle else "")
        namespace = shim.flag("-namespace", "--namespace") or (os.path.basename(os.path.dirname(bundle))
                                                               if bundle else "")
        init = _pid_file(os.path.join(bundle, "init.pid")) if bundle else None
        execs = set()
        if bundle:
            try:
                execs = {_pid_file(os.path.join(bundle, name)) for name in os.listdir(bundle)
                         if name.startswith("exec-") and name.endswith(".pid")}
            except OSError:
                pass
        children = []
        for child in sorted((p for p in self.processes.values() if p.ppid == shim.pid), key=lambda p: p.pid):
            role = ("container" if child.pid == init else "exec" if child.pid in execs
                    else "logger" if child.program == "pydockerd-logger" else "process")
            entry = {"role": role, **child.describe(self.now, []), "shown": child.shown()}
            del entry["sockets"]
            if role == "container":
                entry |= {"id": task_id, "name": names.get(task_id)}
            children.append(entry)
        return {**shim.describe(self.now, self.sockets(shim)), "namespace": namespace, "id": task_id,
                "bundle": bundle, "processes": children}


def _configured_containerd(process: Process) -> str:
    """pydockerd's pycontainerd: --containerd, else daemon.json's "containerd", else the default."""
    address = process.flag("--containerd")
    if address:
        return address
    text = _read(process.flag("--config-file") or DEFAULT_DOCKERD_CONFIG)
    if text:
        import json

        try:
            address = json.loads(text).get("containerd")
        except (ValueError, AttributeError):
            address = None
    return address or DEFAULT_CONTAINERD


def collect(host: str, names_of) -> dict:
    """The stack serving `host`, as --format json prints it. names_of() asks pydockerd for the
    containers' names (id -> name); it is called only if pydockerd is up."""
    stack = Stack(scan(), listening_sockets(), time.time())
    dockerd = stack.pydockerd(host)
    forkservers, shims = stack.shims()
    running = {stack.pycontainerd_address(p): p for p in stack.named("pycontainerd")}
    if dockerd is not None:
        wanted = os.path.realpath(_configured_containerd(dockerd))
        known = [(wanted, os.path.dirname(wanted))]  # (address, directory) of each pycontainerd shown
        pydockerd = {"state": "running", **dockerd.describe(stack.now, stack.sockets(dockerd)), "containerd": wanted}
        names = names_of()
    else:
        # Which pycontainerd a dead pydockerd used is written nowhere: show every one, and the
        # shims whose daemon is gone too (known by their directory only).
        known = [(address, os.path.dirname(os.path.realpath(address))) for address in sorted(running)]
        orphaned = {stack.daemon_directory(p) for p in forkservers + shims} - {d for _, d in known} - {None}
        known += [(None, directory) for directory in sorted(orphaned)]
        pydockerd = {"state": "down", "address": host}
        names = {}
    daemons = []
    for address, directory in known:
        process = next((p for a, p in running.items() if _same(a, address)), None)
        entry = {"state": "running" if process else "down", "address": address}
        if process is not None:
            entry |= process.describe(stack.now, stack.sockets(process))
        # A fork server's socket is bound under a temporary name, then renamed: the name it
        # serves on is the one on its command line.
        entry["forkservers"] = [p.describe(stack.now, [_forkserver_socket(p)]) for p in forkservers
                                if _same(stack.daemon_directory(p), directory)]
        entry["shims"] = [stack.shim_entry(p, names) for p in shims if _same(stack.daemon_directory(p), directory)]
        daemons.append(entry)
    return {"host": host, "pydockerd": pydockerd, "pycontainerd": daemons}


# --- the tree ----------------------------------------------------------------------------------


def uptime(seconds: float) -> str:
    seconds = int(seconds)
    for unit, size, smaller, smaller_size in (("d", 86400, "h", 3600), ("h", 3600, "m", 60), ("m", 60, "s", 1)):
        if seconds >= size:
            return f"{seconds // size}{unit}{(seconds % size) // smaller_size:02d}{smaller}"
    return f"{seconds}s"


def _short(command: str) -> str:
    return command if len(command) <= _COMMAND_WIDTH else command[:_COMMAND_WIDTH - 3] + "..."


def rows(stack: dict) -> list[tuple[str, str, str, str, str]]:
    """(tree label, pid, ppid, uptime, details) for every line of the tree."""
    lines = []

    def add(prefix: str, label: str, entry: dict, details: str) -> None:
        if entry.get("state") == "down":
            lines.append((prefix + label, "-", "-", "down", details))
        else:
            lines.append((prefix + label, str(entry["pid"]), str(entry["ppid"]), uptime(entry["uptime"]), details))

    dockerd = stack["pydockerd"]
    add("", "pydockerd", dockerd, ", ".join(f"unix://{s}" for s in dockerd.get("sockets", [])) or stack["host"])
    for i, daemon in enumerate(stack["pycontainerd"]):
        last = i == len(stack["pycontainerd"]) - 1
        add("`- " if last else "|- ", "pycontainerd", daemon,
            ", ".join(daemon.get("sockets", [])) or daemon["address"] or "(known by its shims only)")
        inner = "   " if last else "|  "
        children = [("shim fork server", f) for f in daemon["forkservers"]] + [("shim", s) for s in daemon["shims"]]
        for j, (kind, entry) in enumerate(children):
            last_child = j == len(children) - 1
            if kind == "shim":
                details = f"{entry['namespace']}/{entry['id'][:12]}  {', '.join(entry['sockets'])}".rstrip()
            else:
                details = ", ".join(entry["sockets"])
            add(inner + ("`- " if last_child else "|- "), kind, entry, details)
            for k, process in enumerate(entry.get("processes", [])):
                branch = inner + ("   " if last_child else "|  ") + ("`- " if k == len(entry["processes"]) - 1 else "|- ")
                details = _short(process["shown"])
                if process["role"] == "container":
                    name = process["name"] or ""
                    details = f"{name} ({process['id'][:12]})  {details}" if name else f"{process['id'][:12]}  {details}"
                add(branch, process["role"], process, details)
    return lines


def render(stack: dict) -> str:
    header = ("LAYER", "PID", "PPID", "UPTIME", "DETAILS")
    table = [header, *rows(stack)]
    widths = [max(len(row[i]) for row in table) for i in range(4)]
    text = "".join(f"{label:<{widths[0]}}  {pid:<{widths[1]}}  {ppid:<{widths[2]}}  {up:<{widths[3]}}  {details}"
                   .rstrip() + "\n" for label, pid, ppid, up, details in table)
    notes = []
    if stack["pydockerd"]["state"] == "down":
        notes.append(f"pydockerd is down: nothing serves {stack['host']}. Its containers run on under their shims; "
                     f"shown: every pycontainerd on this machine and their shims.")
    for daemon in stack["pycontainerd"]:
        if daemon["state"] == "down":
            where = daemon["address"] or "(an unknown address)"
            notes.append(f"pycontainerd is down: nothing serves {where}. Its shims keep their containers.")
    return text + "".join(f"\n{note}" for note in notes) + ("\n" if notes else "")


def run(client, args) -> int:
    from client.__main__ import CommandError

    if args.format not in ("", "json"):
        raise CommandError(f"unsupported format {args.format!r}: only json", 125)

    def names() -> dict[str, str]:
        try:
            containers = client.get_json("/containers/json", {"all": "1"})
        except (api.APIError, api.CannotConnect):
            return {}
        return {c["Id"]: (c.get("Names") or [""])[0].lstrip("/") for c in containers}

    stack = collect(client.host, names)
    if args.format == "json":
        import json

        write(json.dumps(stack, indent=2) + "\n")
    else:
        write(render(stack))
    return 0
