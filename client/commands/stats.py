"""docker stats: one reader thread per container on GET /containers/{c}/stats, the columns
computed as docker's CLI computes them, printed once (--no-stream) or redrawn every half
second in place with ANSI escapes, as docker does. Without names it follows the containers
that start and die (all that exist with -a) through GET /events."""
from __future__ import annotations

import threading

from client.commands import Parser, write
from client import api, formatting as fmt
from client.commands.system import render

DEFAULT = "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}"
HEADERS = {"Container": "CONTAINER", "Name": "NAME", "ID": "CONTAINER ID", "CPUPerc": "CPU %",
           "MemUsage": "MEM USAGE / LIMIT", "MemPerc": "MEM %", "NetIO": "NET I/O", "BlockIO": "BLOCK I/O",
           "PIDs": "PIDS"}
REDRAW_SECONDS = 0.5
# a container whose stats do not come for this long shows dashes, as docker's collector does
SILENCE_SECONDS = 2.0
HOME, CLEAR_LINE, CLEAR_BELOW = "\x1b[H", "\x1b[K", "\x1b[J"


class _Parser(Parser):
    """docker stats takes any number of containers; none means every running one."""

    def _positionals(self, values: dict, arguments: list[str]) -> None:
        values["containers"] = arguments


def parser(name):
    p = _Parser(f"pydocker {name}", "pydocker stats [OPTIONS] [CONTAINER...]",
                "Display a live stream of container(s) resource usage statistics", "")
    p.add_argument("-a", "--all", action="store_true")
    p.add_argument("--no-stream", action="store_true")
    p.add_argument("--no-trunc", action="store_true")
    p.add_argument("--format", default="")
    return p


# --- the numbers, from one /stats reply (docker's stats_helpers.go) ---------------------

def cpu_percent(previous: dict, current: dict) -> float:
    """The container's share of the host's CPU time between two samples, times the CPUs."""
    cpu_delta = ((current.get("cpu_usage") or {}).get("total_usage") or 0) - \
        ((previous.get("cpu_usage") or {}).get("total_usage") or 0)
    system_delta = (current.get("system_cpu_usage") or 0) - (previous.get("system_cpu_usage") or 0)
    cpus = current.get("online_cpus") or len((current.get("cpu_usage") or {}).get("percpu_usage") or [])
    if system_delta > 0 and cpu_delta > 0:
        return cpu_delta / system_delta * cpus * 100.0
    return 0.0


def memory_usage(memory: dict) -> float:
    """Usage without the inactive page cache (cgroup v1's total_inactive_file, v2's inactive_file)."""
    usage = memory.get("usage") or 0
    stats = memory.get("stats") or {}
    if "total_inactive_file" in stats and stats["total_inactive_file"] < usage:
        return float(usage - stats["total_inactive_file"])
    if stats.get("inactive_file", 0) < usage:
        return float(usage - stats.get("inactive_file", 0))
    return float(usage)


def memory_percent(limit: float, used: float) -> float:
    return used / limit * 100.0 if limit else 0.0


def block_io(blkio: dict) -> tuple[int, int]:
    """Bytes read and written: the io_service_bytes entries whose op starts with r or w."""
    read = written = 0
    for entry in (blkio or {}).get("io_service_bytes_recursive") or []:
        op = (entry.get("op") or "")[:1].lower()
        if op == "r":
            read += entry.get("value") or 0
        elif op == "w":
            written += entry.get("value") or 0
    return read, written


def network_io(networks: dict) -> tuple[int, int]:
    """Bytes received and sent, over every interface."""
    networks = networks or {}
    return (sum(n.get("rx_bytes") or 0 for n in networks.values()),
            sum(n.get("tx_bytes") or 0 for n in networks.values()))


def percentage(value: float) -> str:
    """strconv.FormatFloat(value, 'f', 2, 64) + "%"."""
    return f"{value:.2f}%"


class Entry:
    """One container's latest figures (docker's StatsEntry), or dashes when they are invalid."""

    def __init__(self, container: str):
        self.container = container
        self.name = self.id = ""
        self.cpu = self.memory = self.memory_limit = self.memory_percent = 0.0
        self.net_rx = self.net_tx = self.block_read = self.block_write = 0
        self.pids = 0
        self.invalid = False
        self.error: str | None = None

    def update(self, stats: dict) -> None:
        memory = stats.get("memory_stats") or {}
        used = memory_usage(memory)
        limit = float(memory.get("limit") or 0)
        self.name, self.id = stats.get("name") or "", stats.get("id") or ""
        self.cpu = cpu_percent(stats.get("precpu_stats") or {}, stats.get("cpu_stats") or {})
        self.memory, self.memory_limit, self.memory_percent = used, limit, memory_percent(limit, used)
        self.net_rx, self.net_tx = network_io(stats.get("networks"))
        self.block_read, self.block_write = block_io(stats.get("blkio_stats"))
        self.pids = (stats.get("pids_stats") or {}).get("current") or 0
        self.invalid, self.error = False, None

    def silent(self) -> None:
        """No figures in time: zero them and show dashes until the next ones come."""
        self.cpu = self.memory = self.memory_limit = self.memory_percent = 0.0
        self.net_rx = self.net_tx = self.block_read = self.block_write = 0
        self.pids = 0
        self.failed("timeout waiting for stats")

    def failed(self, message: str) -> None:
        self.invalid, self.error = True, message


class Row:
    """What docker's statsContext offers a template."""

    def __init__(self, entry: Entry, trunc: bool):
        self._e, self._trunc = entry, trunc

    def Container(self):
        return self._e.container

    def Name(self):
        return self._e.name[1:] if len(self._e.name) > 1 else "--"

    def ID(self):
        return fmt.truncate_id(self._e.id) if self._trunc else self._e.id

    def CPUPerc(self):
        return "--" if self._e.invalid else percentage(self._e.cpu)

    def MemUsage(self):
        if self._e.invalid:
            return "-- / --"
        return f"{fmt.bytes_size(self._e.memory)} / {fmt.bytes_size(self._e.memory_limit)}"

    def MemPerc(self):
        return "--" if self._e.invalid else percentage(self._e.memory_percent)

    def NetIO(self):
        if self._e.invalid:
            return "--"
        return f"{fmt.human_size(self._e.net_rx, 3)} / {fmt.human_size(self._e.net_tx, 3)}"

    def BlockIO(self):
        if self._e.invalid:
            return "--"
        return f"{fmt.human_size(self._e.block_read, 3)} / {fmt.human_size(self._e.block_write, 3)}"

    def PIDs(self):
        return "--" if self._e.invalid else str(self._e.pids)

    def as_json(self):
        names = ["BlockIO", "CPUPerc", "Container", "ID", "MemPerc", "MemUsage", "Name", "NetIO", "PIDs"]
        return {n: getattr(self, n)() for n in names}


def frame(table: str) -> str:
    """One redraw: home the cursor, each line over the old one with the rest of it erased,
    then erase below (the table may have lost rows)."""
    return HOME + "".join(line + CLEAR_LINE + "\n" for line in table.splitlines()) + CLEAR_BELOW


# --- reading ----------------------------------------------------------------------------

class JsonLines:
    """The objects of a newline-separated JSON stream (or of one JSON body), one at a time; a
    read that timed out can be tried again, nothing of the stream is lost."""

    def __init__(self, response):
        self.response = response
        self.buffer = b""

    def next(self) -> dict | None:
        """The next object; None at the end of the stream."""
        while True:
            line, newline, rest = self.buffer.partition(b"\n")
            if newline:
                self.buffer = rest
                if line.strip():
                    return api.loads(line)
                continue
            data = self.response.read_some()
            if not data:
                self.buffer = b""
                return api.loads(line) if line.strip() else None
            self.buffer += data


class Collector:
    """The containers followed and a reader thread for each; a container's first figures (or
    its error, or its silence) are awaited before the first table is printed."""

    def __init__(self, client, stream: bool):
        self.client, self.stream = client, stream
        self.lock = threading.Lock()
        self.entries: list[Entry] = []
        self._first: list[threading.Event] = []

    def add(self, container: str) -> None:
        with self.lock:
            if any(entry.container == container for entry in self.entries):
                return
            entry, first = Entry(container), threading.Event()
            self.entries.append(entry)
            self._first.append(first)
        threading.Thread(target=self._read, args=(entry, first), daemon=True).start()

    def remove(self, container: str) -> None:
        with self.lock:
            self.entries = [entry for entry in self.entries if entry.container != container]

    def wait_first(self) -> None:
        for first in list(self._first):
            first.wait()

    def snapshot(self) -> list[Entry]:
        with self.lock:
            return list(self.entries)

    def _read(self, entry: Entry, first: threading.Event) -> None:
        params = {"stream": "1" if self.stream else "0"}
        try:
            response = self.client.request("GET", f"/containers/{api.q(entry.container)}/stats", params)
        except api.APIError as error:
            with self.lock:
                entry.failed(f"Error response from daemon: {error.message}")
            first.set()
            return
        except api.CannotConnect as error:
            with self.lock:
                entry.failed(str(error))
            first.set()
            return
        response.sock.settimeout(SILENCE_SECONDS)
        reader = JsonLines(response)
        try:
            while True:
                try:
                    stats = reader.next()
                except TimeoutError:
                    with self.lock:
                        entry.silent()
                    first.set()
                    continue
                except (ConnectionError, ValueError):
                    stats = None  # a broken stream ends as a closed one does
                if stats is None:  # dashes from now on, as docker shows a stream that ended
                    with self.lock:
                        entry.failed("EOF")
                    return
                with self.lock:
                    entry.update(stats)
                first.set()
                if not self.stream:
                    return
        finally:
            first.set()
            response.close()


def follow_events(client, collector: Collector, everything: bool, subscribed: threading.Event,
                  ended: threading.Event) -> None:
    """docker's event handler for `stats` without names: start adds a container, die drops it
    (unless -a, where create adds it too)."""
    try:
        response = client.request("GET", "/events", {"filters": '{"type":{"container":true}}'})
    except (api.APIError, api.CannotConnect):
        subscribed.set()
        ended.set()
        return
    subscribed.set()
    reader = JsonLines(response)
    try:
        while event := reader.next():
            action, ident = event.get("Action"), (event.get("Actor") or {}).get("ID") or ""
            if not ident:
                continue
            if action == "start" or (action == "create" and everything):
                collector.add(ident[:12])
            elif action == "die" and not everything:
                collector.remove(ident[:12])
    except (ConnectionError, ValueError):
        pass
    finally:
        response.close()
        ended.set()


def run(client, args) -> int:
    import time

    from client.__main__ import CommandError

    format = args.format or "table"
    if format == "table":
        format = DEFAULT
    elif format == "json":
        format = "{{json .}}"
    collector = Collector(client, stream=not args.no_stream)
    show_all = not args.containers
    events_ended = threading.Event()
    if show_all:
        subscribed = threading.Event()
        threading.Thread(target=follow_events, args=(client, collector, args.all, subscribed, events_ended),
                         daemon=True).start()
        subscribed.wait()
        for container in client.get_json("/containers/json", {"all": "1" if args.all else None}):
            collector.add(container["Id"][:12])
        collector.wait_first()
    else:
        for container in args.containers:
            collector.add(container)
        collector.wait_first()
        errors = [entry.error for entry in collector.snapshot() if entry.error]
        if errors:
            raise CommandError("\n".join(errors), 1)

    def table() -> str:
        with collector.lock:
            rows = [Row(entry, not args.no_trunc) for entry in collector.entries]
            return render(format, rows, HEADERS)

    if args.no_stream:
        write(table())
        return 0
    while not events_ended.is_set():  # without names, a daemon gone ends it quietly, as docker
        time.sleep(REDRAW_SECONDS)
        write(frame(table()))
    return 0
