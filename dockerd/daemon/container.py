"""One container's record and state, as Docker keeps them (moby's container/container.go and
container/state.go): `<data-root>/containers/<id>/config.v2.json` and `hostconfig.json`,
written atomically (a temporary file renamed over the old one).

The record is written before anything is asked of pycontainerd, and on every state change,
so a pydockerd killed at any point finds on restart what it was doing.
"""
from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ZERO_TIME = "0001-01-01T00:00:00Z"
CREATED, RUNNING, PAUSED, RESTARTING, REMOVING, EXITED, DEAD = (
    "created", "running", "paused", "restarting", "removing", "exited", "dead")


def rfc3339(ns: int) -> str:
    """RFC 3339 with nanoseconds in UTC; the zero time for 0."""
    if not ns:
        return ZERO_TIME
    seconds, nanos = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{nanos:09d}Z"


def parse_rfc3339(text: str | None) -> int:
    """Nanoseconds since the epoch of our own rfc3339 strings (0 for the zero time)."""
    if not text or text.startswith("0001-"):
        return 0
    import calendar
    main, _, rest = text.rstrip("Z").partition(".")
    seconds = calendar.timegm(time.strptime(main, "%Y-%m-%dT%H:%M:%S"))
    nanos = int((rest + "000000000")[:9]) if rest else 0
    return seconds * 1_000_000_000 + nanos


@dataclass
class State:
    status: str = CREATED
    pid: int = 0
    exit_code: int = 0
    error: str = ""
    started_at: int = 0  # ns
    finished_at: int = 0  # ns
    oom_killed: bool = False

    @property
    def running(self) -> bool:
        return self.status in (RUNNING, PAUSED)

    def to_json(self) -> dict:
        return {
            "Status": self.status,
            "Running": self.status in (RUNNING, PAUSED),
            "Paused": self.status == PAUSED,
            "Restarting": self.status == RESTARTING,
            "OOMKilled": self.oom_killed,
            "RemovalInProgress": self.status == REMOVING,
            "Dead": self.status == DEAD,
            "Pid": self.pid if self.status in (RUNNING, PAUSED) else 0,
            "ExitCode": self.exit_code,
            "Error": self.error,
            "StartedAt": rfc3339(self.started_at),
            "FinishedAt": rfc3339(self.finished_at),
        }

    @classmethod
    def from_json(cls, data: dict) -> State:
        status = data.get("Status") or (RUNNING if data.get("Running") else EXITED)
        return cls(status=status, pid=int(data.get("Pid") or 0), exit_code=int(data.get("ExitCode") or 0),
                   error=data.get("Error") or "", started_at=parse_rfc3339(data.get("StartedAt")),
                   finished_at=parse_rfc3339(data.get("FinishedAt")), oom_killed=bool(data.get("OOMKilled")))


@dataclass
class Container:
    id: str
    name: str  # with its leading "/"
    created: int  # ns
    path: str
    args: list[str]
    config: dict  # Config, with the image's defaults merged in
    host_config: dict
    image: str  # the image ID, sha256:...
    directory: Path  # <data-root>/containers/<id>
    state: State = field(default_factory=State)
    restart_count: int = 0
    has_been_started_before: bool = False
    has_been_manually_stopped: bool = False
    mount_points: list[dict] = field(default_factory=list)  # inspect's Mounts
    spec: dict = field(default_factory=dict)
    snapshot_parent: str = ""
    # not saved
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    changed: threading.Condition = field(init=False, repr=False)
    exits: int = 0  # how many exits were seen since pydockerd started (for next-exit waiters)
    starts: int = 0
    removed: bool = False
    stdin_fd: int | None = None  # the task's stdin FIFO, held for OpenStdin containers
    exec_ids: set = field(default_factory=set)
    restart_timer: threading.Timer | None = None

    def __post_init__(self):
        self.changed = threading.Condition(self.lock)

    # paths

    @property
    def log_path(self) -> str:
        return str(self.directory / f"{self.id}-json.log")

    @property
    def hostname_path(self) -> str:
        return str(self.directory / "hostname")

    @property
    def hosts_path(self) -> str:
        return str(self.directory / "hosts")

    @property
    def resolv_conf_path(self) -> str:
        return str(self.directory / "resolv.conf")

    @property
    def short_name(self) -> str:
        return self.name.lstrip("/")

    @property
    def tty(self) -> bool:
        return bool(self.config.get("Tty"))

    def notify(self) -> None:
        with self.changed:
            self.changed.notify_all()

    # disk

    def save(self) -> None:
        record = {
            "ID": self.id, "Name": self.name, "Created": rfc3339(self.created), "Path": self.path, "Args": self.args,
            "Config": self.config, "Image": self.image, "State": self.state.to_json(),
            "RestartCount": self.restart_count, "HasBeenStartedBefore": self.has_been_started_before,
            "HasBeenManuallyStopped": self.has_been_manually_stopped, "MountPoints": self.mount_points,
            "Driver": "overlayfs", "LogPath": self.log_path, "Spec": self.spec, "SnapshotParent": self.snapshot_parent,
        }
        _write_atomically(self.directory / "config.v2.json", record)
        _write_atomically(self.directory / "hostconfig.json", self.host_config)

    @classmethod
    def load(cls, directory: Path) -> Container:
        record = json.loads((directory / "config.v2.json").read_text())
        try:
            host_config = json.loads((directory / "hostconfig.json").read_text())
        except (FileNotFoundError, ValueError):
            host_config = {}
        return cls(id=record["ID"], name=record["Name"], created=parse_rfc3339(record.get("Created")),
                   path=record.get("Path") or "", args=list(record.get("Args") or []), config=record.get("Config") or {},
                   host_config=host_config, image=record.get("Image") or "", directory=directory,
                   state=State.from_json(record.get("State") or {}), restart_count=int(record.get("RestartCount") or 0),
                   has_been_started_before=bool(record.get("HasBeenStartedBefore")),
                   has_been_manually_stopped=bool(record.get("HasBeenManuallyStopped")),
                   mount_points=list(record.get("MountPoints") or []), spec=record.get("Spec") or {},
                   snapshot_parent=record.get("SnapshotParent") or "")


def _write_atomically(path: Path, data: dict) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    with open(temporary, "w") as f:
        json.dump(data, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(temporary, path)


# --- names ---------------------------------------------------------------------------------------

# moby's pkg/namesgenerator, abridged.
_LEFT = [
    "admiring", "adoring", "affectionate", "agitated", "amazing", "angry", "awesome", "beautiful", "blissful",
    "bold", "boring", "brave", "busy", "charming", "clever", "compassionate", "competent", "condescending",
    "confident", "cool", "cranky", "crazy", "dazzling", "determined", "distracted", "dreamy", "eager", "ecstatic",
    "elastic", "elated", "elegant", "eloquent", "epic", "exciting", "fervent", "festive", "flamboyant", "focused",
    "friendly", "frosty", "funny", "gallant", "gifted", "goofy", "gracious", "great", "happy", "hardcore",
    "heuristic", "hopeful", "hungry", "infallible", "inspiring", "intelligent", "interesting", "jolly", "jovial",
    "keen", "kind", "laughing", "loving", "lucid", "magical", "modest", "musing", "mystifying", "naughty",
    "nervous", "nice", "nifty", "nostalgic", "objective", "optimistic", "peaceful", "pedantic", "pensive",
    "practical", "priceless", "quirky", "quizzical", "recursing", "relaxed", "reverent", "romantic", "sad",
    "serene", "sharp", "silly", "sleepy", "stoic", "strange", "stupefied", "suspicious", "sweet", "tender",
    "thirsty", "trusting", "unruffled", "upbeat", "vibrant", "vigilant", "vigorous", "wizardly", "wonderful",
    "xenodochial", "youthful", "zealous", "zen",
]
_RIGHT = [
    "agnesi", "albattani", "allen", "almeida", "archimedes", "ardinghelli", "aryabhata", "austin", "babbage",
    "banach", "bardeen", "bartik", "bassi", "bell", "benz", "bhabha", "bhaskara", "blackwell", "bohr", "booth",
    "borg", "bose", "boyd", "brahmagupta", "brattain", "brown", "carson", "chandrasekhar", "chatelet",
    "chatterjee", "chebyshev", "clarke", "cohen", "colden", "cori", "cray", "curie", "darwin", "davinci",
    "dijkstra", "dubinsky", "easley", "edison", "einstein", "elion", "engelbart", "euclid", "euler", "fermat",
    "fermi", "feynman", "franklin", "galileo", "gates", "goldberg", "goldstine", "golick", "goodall", "hamilton",
    "hawking", "heisenberg", "hermann", "hodgkin", "hoover", "hopper", "hugle", "hypatia", "jackson", "jang",
    "jennings", "jepsen", "johnson", "joliot", "jones", "kalam", "keldysh", "kepler", "khorana", "kilby",
    "knuth", "lalande", "lamarr", "leakey", "leavitt", "lehmann", "liskov", "lovelace", "lumiere", "mahavira",
    "mayer", "mccarthy", "mcclintock", "meitner", "mendel", "merkle", "mirzakhani", "montalcini", "moore",
    "morse", "napier", "nash", "neumann", "newton", "nobel", "noether", "northcutt", "noyce", "panini", "pare",
    "pascal", "pasteur", "payne", "perlman", "pike", "poincare", "ptolemy", "raman", "ramanujan", "ride",
    "ritchie", "robinson", "rosalind", "saha", "sammet", "shannon", "shaw", "shirley", "shockley", "sinoussi",
    "snyder", "spence", "stonebraker", "sutherland", "swanson", "swartz", "tesla", "thompson", "torvalds",
    "turing", "varahamihira", "visvesvaraya", "volhard", "wescoff", "wiles", "williams", "wilson", "wing",
    "wozniak", "wright", "yalow", "yonath",
]


def random_name(retry: int = 0) -> str:
    import random
    name = f"{random.choice(_LEFT)}_{random.choice(_RIGHT)}"
    if name == "boring_wozniak":  # Steve Wozniak is not boring (moby's rule)
        return random_name(retry)
    if retry > 0:
        name += str(random.randint(0, 9))
    return name


def write_fifo(fd: int | None, data: bytes) -> None:
    """All of data into a process's stdin FIFO, if it has one; a process that closed its
    stdin just stops taking input (the attached client is not failed for it)."""
    if fd is None:
        return
    try:
        while data:
            data = data[os.write(fd, data):]
    except OSError:
        pass
