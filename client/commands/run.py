"""docker run and docker create: the flags become the create body the Docker CLI sends
(its opts.go and opts/ package, field for field, so that inspect shows the same), then
create (pulling the image when the daemon has none), attach before start, start, and wait.

Errors are reported at the stage docker reports them:

    a flag's value       invalid argument "1x" for "-m, --memory" flag: ...   + usage     125
    the options together pydocker: conflicting options: ... + the --help hint          125
    the daemon (run)     pydocker: Error response from daemon: ... + the hint  125, 126, 127
    the daemon (create)  Error response from daemon: ...                                  1
"""
from __future__ import annotations

import os
import sys

from client import api
from client.commands import Parser

MEMORY_UNITS = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}
PULL_POLICIES = ("always", "missing", "never")


class OptionsError(ValueError):
    """The options do not go together, or a file they name cannot be read (docker's parse())."""


class FlagParser(Parser):
    """The Parser with more of pflag: which flags were given (Changed, for the flags whose
    default is not their zero value), each flag's value checked by its type when that is a
    converter (docker's flag Value types), and SetInterspersed(false) as run, create and exec
    use it: flags end at the first argument (the image, the container), so that
    `run busybox sh -c x` keeps its -c."""

    def __init__(self, name: str, usage: str, description: str, required: str, interspersed: bool = False):
        super().__init__(name, usage, description, required)
        self.interspersed = interspersed

    def parse_args(self, argv: list[str]):
        end, given = self._scan(argv)
        flags, arguments = argv[:end], argv[end:]
        if "-h" in self.flags:  # run's -h is --hostname; only --help asks for help
            if flags[-1:] == ["-h"]:
                self._fail("flag needs an argument: 'h' in -h")
            flags = ["--hostname" if arg == "-h" else arg for arg in flags]
        if not self.interspersed and arguments:  # "--": what follows is not for the parser
            arguments = ["--"] + arguments[1 if arguments[0] == "--" else 0:]
        args = super().parse_args(flags + arguments)
        args.given = given
        return args

    def _scan(self, argv: list[str]) -> tuple[int, set[str]]:
        """Where the flags end (all of argv when interspersed), and the flags given."""
        given: set[str] = set()
        i = 0
        while i < len(argv):
            arg = argv[i]
            if arg == "--":
                return i, given
            if not arg.startswith("-") or arg == "-":
                if not self.interspersed:
                    return i, given
                i += 1
                continue
            i += 1
            if arg.startswith("--"):
                name, eq, _ = arg.partition("=")
                option = self.flags.get(name)
                if option is not None:
                    given.add(option.dest)
                    if not eq and option.action != "store_true":
                        i += 1
                continue
            for position, letter in enumerate(arg[1:], 1):
                option = self.flags.get("-" + letter)
                if option is None:
                    break
                given.add(option.dest)
                if option.action != "store_true":
                    if position == len(arg) - 1:
                        i += 1
                    break
        return len(argv), given

    def _positionals(self, values: dict, arguments: list[str]) -> None:
        for option in self.options:
            convert = option.type
            if convert is None or convert is int or values[option.dest] is None:
                continue
            items = values[option.dest] if option.action == "append" else [values[option.dest]]
            converted = []
            for item in items:
                try:
                    converted.append(convert(item))
                except ValueError as error:
                    self._fail(f'invalid argument "{item}" for "{option.label}" flag: {error}')
            values[option.dest] = converted if option.action == "append" else converted[0]
        super()._positionals(values, arguments)


# --- flag values (pflag's Value types of the Docker CLI) ---------------------------------------

def go_float(text: str) -> float:
    """strconv.ParseFloat's decimal syntax; Python's float() takes more (underscores, inf)."""
    if not text or any(c not in "0123456789.eE+-" for c in text):
        raise ValueError(f'strconv.ParseFloat: parsing "{text}": invalid syntax')
    try:
        return float(text)
    except ValueError:
        raise ValueError(f'strconv.ParseFloat: parsing "{text}": invalid syntax') from None


def memory_bytes(text: str) -> int:
    """go-units' RAMInBytes: 512, 64m, 1.5g, 2KiB, 10 MB (powers of 1024)."""
    cut = max(text.rfind(c) for c in "0123456789. ")
    if cut == -1:
        raise ValueError(f"invalid size: '{text}'")
    number, suffix = (text[:cut + 1], text[cut + 1:]) if text[cut] != " " else (text[:cut], text[cut + 1:])
    size = go_float(number)
    if size < 0:
        raise ValueError(f"invalid size: '{text}'")
    if not suffix:
        return int(size)
    lowered = suffix.lower()
    if len(lowered) <= 3:
        if lowered == "b":
            return int(size)
        if lowered[0] in MEMORY_UNITS and lowered[1:] in ("", "b", "ib"):
            return int(size * MEMORY_UNITS[lowered[0]])
    raise ValueError(f"invalid suffix: '{lowered if len(suffix) <= 3 else suffix}'")


def swap_bytes(text: str) -> int:
    """--memory-swap: -1 is unlimited."""
    return -1 if text == "-1" else memory_bytes(text)


def nano_cpus(text: str) -> int:
    """--cpus as NanoCpus: a rational number (1.5, 3/2) times 10^9, which must be whole."""
    from fractions import Fraction

    try:
        cpus = Fraction(text)
    except (ValueError, ZeroDivisionError):
        raise ValueError(f"failed to parse {text} as a rational number") from None
    nano = cpus * 1_000_000_000
    if nano.denominator != 1:
        raise ValueError("value is too precise")
    return int(nano)


def attach_stream(text: str) -> str:
    lowered = text.lower()
    if lowered not in ("stdin", "stdout", "stderr"):
        raise ValueError("valid streams are STDIN, STDOUT and STDERR")
    return lowered


def environment_variable(text: str) -> str:
    """opts.ValidateEnv: NAME=value as is; a bare NAME takes our value, if we have one."""
    name, eq, _ = text.partition("=")
    if not name:
        raise ValueError(f"invalid environment variable: {text}")
    if not eq and name in os.environ:
        return f"{name}={os.environ[name]}"
    return text


def label(text: str) -> str:
    if not text.partition("=")[0].strip():
        raise ValueError(f"invalid label '{text}': empty name")
    return text


def _go_bool(text: str) -> bool:
    value = {"1": True, "t": True, "T": True, "TRUE": True, "true": True, "True": True,
             "0": False, "f": False, "F": False, "FALSE": False, "false": False, "False": False}.get(text)
    if value is None:
        raise ValueError(text)
    return value


def _mount_value(convert, key: str, value: str):
    try:
        return convert(value)
    except ValueError:
        raise ValueError(f"invalid value for {key}: {value}") from None


def mount(text: str) -> dict:
    """opts.MountOpt: comma-separated key=value fields (CSV-quoted), as the API's Mount."""
    import csv

    try:
        fields = next(csv.reader([text]))
    except (csv.Error, StopIteration):
        fields = []
    spec: dict = {"Type": "volume"}
    options: dict[str, dict] = {}

    def section(name: str) -> dict:
        return options.setdefault(name, {})

    for field in fields:
        key, eq, value = field.partition("=")
        key = key.lower()
        if not eq:
            if key in ("readonly", "ro"):
                spec["ReadOnly"] = True
            elif key == "volume-nocopy":
                section("VolumeOptions")["NoCopy"] = True
            elif key == "bind-nonrecursive":
                section("BindOptions")["NonRecursive"] = True
            else:
                raise ValueError(f"invalid field '{field}' must be a key=value pair")
        elif key == "type":
            spec["Type"] = value.lower()
        elif key in ("source", "src"):
            spec["Source"] = os.path.abspath(value) if value == "." or value.startswith("./") else value
        elif key in ("target", "dst", "destination"):
            spec["Target"] = value
        elif key in ("readonly", "ro"):
            spec["ReadOnly"] = _mount_value(_go_bool, key, value)
        elif key == "bind-propagation":
            section("BindOptions")["Propagation"] = value.lower()
        elif key == "volume-nocopy":
            section("VolumeOptions")["NoCopy"] = _mount_value(_go_bool, key, value)
        elif key == "volume-subpath":
            section("VolumeOptions")["Subpath"] = value
        elif key in ("volume-label", "volume-opt"):
            name, _, text = value.partition("=")
            volume = section("VolumeOptions")
            into = volume.setdefault("Labels", {}) if key == "volume-label" else \
                volume.setdefault("DriverConfig", {}).setdefault("Options", {})
            if name:
                into[name] = text
        elif key == "volume-driver":
            section("VolumeOptions").setdefault("DriverConfig", {})["Name"] = value
        elif key == "tmpfs-size":
            section("TmpfsOptions")["SizeBytes"] = _mount_value(memory_bytes, key, value)
        elif key == "tmpfs-mode":
            section("TmpfsOptions")["Mode"] = _mount_value(lambda text: int(text, 8), key, value)
        else:
            raise ValueError(f"unexpected key '{key}' in '{field}'")
    if not spec["Type"]:
        raise ValueError("type is required")
    if not spec.get("Target"):
        raise ValueError("target is required")
    for name, owner in (("VolumeOptions", "volume"), ("BindOptions", "bind"), ("TmpfsOptions", "tmpfs")):
        if name in options and spec["Type"] != owner:
            raise ValueError(f"cannot mix '{owner}-*' options with mount type '{spec['Type']}'")
    if "VolumeOptions" in options:
        volume = options["VolumeOptions"]
        # in Go's field order; the CLI always makes a driver config, which is sent even empty
        options["VolumeOptions"] = {k: volume[k] for k in ("NoCopy", "Labels", "Subpath") if volume.get(k)}
        options["VolumeOptions"]["DriverConfig"] = volume.get("DriverConfig", {})
    ordered = {k: spec[k] for k in ("Type", "Source", "Target", "ReadOnly") if spec.get(k)}
    ordered.update((name, options[name]) for name in ("BindOptions", "VolumeOptions", "TmpfsOptions")
                   if name in options)
    return ordered


# --- the options together (docker's parse()) -----------------------------------------------------

def _strerror(error: OSError) -> str:
    """An OSError as Go words it: `open PATH: no such file or directory`."""
    text = error.strerror or str(error)
    return f"open {error.filename}: {text[:1].lower()}{text[1:]}"


def read_kv_file(path: str, lookup=None) -> list[str]:
    """An --env-file or --label-file (opts' parseKeyValueFile): KEY=value lines, # comments;
    a bare KEY takes lookup(KEY) when that has one."""
    try:
        with open(path, "rb") as file:
            data = file.read()
    except OSError as error:
        raise OptionsError(_strerror(error)) from None
    lines = data.split(b"\n")
    if lines and not lines[-1]:
        lines.pop()
    entries = []
    for number, raw in enumerate(lines, 1):
        raw = raw.removesuffix(b"\r")
        try:
            text = raw.decode()
        except UnicodeDecodeError:
            shown = " ".join(str(b) for b in raw)
            raise OptionsError(f"env file {path} contains invalid utf8 bytes at line {number}: [{shown}]") from None
        if number == 1:
            text = text.removeprefix("\ufeff")
        line = text.lstrip()
        if not line or line.startswith("#"):
            continue
        variable, eq, value = line.partition("=")
        variable = variable.lstrip(" \t")
        if " " in variable or "\t" in variable:
            raise OptionsError(f"poorly formatted environment: variable '{variable}' contains whitespaces")
        if not variable:
            raise OptionsError(f"poorly formatted environment: no variable name on line '{line}'")
        if eq:
            entries.append(f"{variable}={value}")
        elif lookup is not None and lookup(line) is not None:
            entries.append(f"{line.strip()}={lookup(line)}")
        else:
            entries.append(line.strip())
    return entries


def _port_number(text: str) -> int:
    if not (text.isascii() and text.isdigit()):
        raise ValueError(f'strconv.ParseUint: parsing "{text}": invalid syntax')
    if int(text) > 65535:
        raise ValueError(f'strconv.ParseUint: parsing "{text}": value out of range')
    return int(text)


def _port_range(text: str) -> tuple[int, int]:
    """nat.ParsePortRange: 80 or 8000-8010, each 0..65535."""
    if not text:
        raise ValueError("empty string specified for ports")
    bounds = text.split("-") if "-" in text else [text, text]
    start, end = _port_number(bounds[0]), _port_number(bounds[1])
    if end < start:
        raise ValueError(f"invalid range specified for port: {text}")
    return start, end


def _valid_ip(text: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def publish_notation(specs: list[str]) -> list[str]:
    """-p's long syntax (target=80,published=8080,protocol=udp) in the short one."""
    converted = []
    for spec in specs:
        if "=" not in spec:
            converted.append(spec)
            continue
        params = {"protocol": "tcp"}
        for param in spec.split(","):
            key, eq, value = param.partition("=")
            if not eq or not key:
                raise OptionsError(f"invalid publish opts format (should be name=value but got '{param}')")
            params[key] = value
        converted.append(f"{params.get('published', '')}:{params.get('target', '')}/{params['protocol']}")
    return converted


def port_specs(specs: list[str]) -> tuple[dict, dict]:
    """nat.ParsePortSpecs: [ip:][hostPort:]containerPort[/proto] → (ExposedPorts, PortBindings)."""
    exposed: dict[str, dict] = {}
    bindings: dict[str, list] = {}
    for raw in publish_notation(specs):
        parts = raw.split(":")
        if len(parts) == 1:
            ip, host_port, container_port = "", "", parts[0]
        elif len(parts) == 2:
            ip, host_port, container_port = "", parts[0], parts[1]
        else:
            ip, host_port, container_port = ":".join(parts[:-2]), parts[-2], parts[-1]
        container_port, _, proto = container_port.partition("/")
        proto = (proto or "tcp").lower() if container_port else ""
        if proto not in ("tcp", "udp", "sctp"):
            raise OptionsError(f"invalid proto: {proto}")
        if ip.startswith("["):
            if not ip.endswith("]"):
                raise OptionsError(f"invalid IP address {ip}: address {ip}:: missing ']' in address")
            ip = ip[1:-1]
        if ip and not _valid_ip(ip):
            raise OptionsError(f"invalid IP address: {ip}")
        if not container_port:
            raise OptionsError(f"no port specified: {raw}<empty>")
        try:
            start, end = _port_range(container_port)
        except ValueError:
            raise OptionsError(f"invalid containerPort: {container_port}") from None
        host_start = host_end = 0
        if host_port:
            try:
                host_start, host_end = _port_range(host_port)
            except ValueError:
                raise OptionsError(f"invalid hostPort: {host_port}") from None
            if end - start != host_end - host_start and end != start:
                raise OptionsError(f"invalid ranges specified for container and host Ports: "
                                   f"{container_port} and {host_port}")
        count = end - start + 1
        for offset in range(count):
            port = f"{start + offset}/{proto}"
            shown = ""
            if host_port:
                shown = str(host_start + offset)
                if count == 1 and host_start != host_end:
                    shown += f"-{host_end}"
            exposed.setdefault(port, {})
            bindings.setdefault(port, []).append({"HostIp": ip, "HostPort": shown})
    return exposed, bindings


def exposed_ports(specs: list[str], exposed: dict) -> None:
    """--expose 80, 7000-7010/udp: added to ExposedPorts."""
    for spec in specs:
        if ":" in spec:
            raise OptionsError(f"invalid port format for --expose: {spec}")
        port, _, proto = spec.partition("/")
        try:
            start, end = _port_range(port)
        except ValueError as error:
            raise OptionsError(f"invalid range format for --expose: {spec}, error: {error}") from None
        for number in range(start, end + 1):
            exposed.setdefault(f"{number}/{proto or 'tcp'}", {})


def restart_policy(text: str) -> dict:
    """opts.ParseRestartPolicy: name[:count]; the name is the daemon's to check."""
    if not text:
        return {"Name": "", "MaximumRetryCount": 0}
    name, colon, count = text.partition(":")
    if colon and not name:
        raise OptionsError("invalid restart policy format: no policy provided before colon")
    retries = 0
    if count:
        digits = count[1:] if count[0] in "+-" else count
        if not (digits.isascii() and digits.isdigit()):
            raise OptionsError("invalid restart policy format: maximum retry count must be an integer")
        retries = int(count)
    return {"Name": name, "MaximumRetryCount": retries}


def volume_spec(spec: str) -> tuple[str, str]:
    """compose's ParseVolume, as -v uses it: (source, target); no source is an anonymous volume."""
    if not spec:
        raise OptionsError("invalid empty volume spec")
    if len(spec) <= 2:
        return "", spec
    fields: list[str] = []
    buffer = ""
    for char in spec + "\0":
        if char == ":" and len(buffer) == 1 and buffer.isalpha():  # a Windows drive letter
            buffer += char
        elif char in (":", "\0"):
            if not buffer:
                raise OptionsError(f"invalid spec: {spec}: empty section between colons")
            if len(fields) == 2 and char == ":":
                raise OptionsError(f"invalid spec: {spec}: too many colons")
            fields.append(buffer)
            buffer = ""
        else:
            buffer += char
    if len(fields) == 1:
        return "", fields[0]
    return fields[0], fields[1]


def capabilities(names: list[str]) -> list[str] | None:
    """--cap-add or --cap-drop as the CLI sends them: upper case, CAP_-prefixed (but ALL),
    without duplicates, sorted; which of the two wins is the daemon's to decide."""
    normalised = {name.upper() for name in names}
    return sorted({name if name == "ALL" or name.startswith("CAP_") else f"CAP_{name}"
                   for name in normalised}) or None


_EMPTY_ENDPOINT = {"IPAMConfig": None, "Links": None, "Aliases": None, "MacAddress": "", "DriverOpts": None,
                   "GwPriority": 0, "NetworkID": "", "EndpointID": "", "Gateway": "", "IPAddress": "",
                   "IPPrefixLen": 0, "IPv6Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0,
                   "DNSNames": None}


def _sorted_map(mapping: dict) -> dict:
    """Go marshals a map with its keys in order."""
    return {key: mapping[key] for key in sorted(mapping)}


def container_config(args, console_size: tuple[int, int] = (0, 0)) -> dict:
    """The POST /containers/create body for the parsed flags, as the Docker CLI builds it."""
    image, command = args.arguments[0], args.arguments[1:]
    attach = set(args.attach)
    attach_stdin = "stdin" in attach or args.interactive
    attach_stdout = "stdout" in attach or not attach
    attach_stderr = "stderr" in attach or not attach

    binds, volumes = [], {}
    for spec in args.volume:
        source, _ = volume_spec(spec)
        if not source:
            volumes[spec] = {}
        elif spec not in binds:
            if source == "." or source.startswith("./"):
                spec = os.path.abspath(source) + spec[len(source):]
            binds.append(spec)
    tmpfs = {}
    for spec in args.tmpfs:
        path, _, options = spec.partition(":")
        tmpfs[path] = options

    exposed, bindings = port_specs(args.publish)
    exposed_ports(args.expose, exposed)
    environment = [entry for path in args.env_file for entry in read_kv_file(path, os.environ.get)] + args.env
    labels: dict[str, str] = {}
    for entry in [entry for path in args.label_file for entry in read_kv_file(path)] + args.label:
        name, _, value = entry.partition("=")
        labels[name] = value
    policy = restart_policy(args.restart)
    if args.rm and policy["Name"] not in ("", "no"):
        raise OptionsError("conflicting options: cannot specify both --restart and --rm")
    if args.entrypoint:
        entrypoint = [args.entrypoint]
    elif "entrypoint" in args.given:
        entrypoint = [""]  # --entrypoint= clears the image's
    else:
        entrypoint = None

    config = {"Hostname": args.hostname or "", "Domainname": args.domainname or "", "User": args.user or "",
              "AttachStdin": attach_stdin, "AttachStdout": attach_stdout, "AttachStderr": attach_stderr}
    if exposed:
        config["ExposedPorts"] = _sorted_map(exposed)
    config.update({"Tty": args.tty, "OpenStdin": args.interactive,
                   "StdinOnce": args.interactive and attach_stdin, "Env": environment or None,
                   "Cmd": command or None, "Image": image, "Volumes": _sorted_map(volumes),
                   "WorkingDir": args.workdir or "", "Entrypoint": entrypoint, "OnBuild": None,
                   "Labels": _sorted_map(labels)})
    if "stop_signal" in args.given:
        config["StopSignal"] = args.stop_signal
    if "stop_timeout" in args.given:
        config["StopTimeout"] = args.stop_timeout

    networks = args.network
    host = {"Binds": binds or None, "ContainerIDFile": "", "LogConfig": {"Type": "", "Config": {}},
            "NetworkMode": networks[0] if networks else "default", "PortBindings": _sorted_map(bindings),
            "RestartPolicy": policy, "AutoRemove": args.rm, "VolumeDriver": "", "VolumesFrom": None,
            "ConsoleSize": list(console_size), "CapAdd": capabilities(args.cap_add),
            "CapDrop": capabilities(args.cap_drop), "CgroupnsMode": "",
            "Dns": [], "DnsOptions": [], "DnsSearch": [], "ExtraHosts": None, "GroupAdd": None, "IpcMode": "",
            "Cgroup": "", "Links": None, "OomScoreAdj": 0, "PidMode": "", "Privileged": args.privileged,
            "PublishAllPorts": args.publish_all, "ReadonlyRootfs": args.read_only, "SecurityOpt": None}
    if tmpfs:
        host["Tmpfs"] = _sorted_map(tmpfs)
    host.update({"UTSMode": "", "UsernsMode": "", "ShmSize": args.shm_size or 0, "Isolation": "",
                 "CpuShares": args.cpu_shares or 0, "Memory": args.memory or 0, "NanoCpus": args.cpus or 0,
                 "CgroupParent": "", "BlkioWeight": 0, "BlkioWeightDevice": [], "BlkioDeviceReadBps": [],
                 "BlkioDeviceWriteBps": [], "BlkioDeviceReadIOps": [], "BlkioDeviceWriteIOps": [],
                 "CpuPeriod": 0, "CpuQuota": 0, "CpuRealtimePeriod": 0, "CpuRealtimeRuntime": 0,
                 "CpusetCpus": "", "CpusetMems": "", "Devices": [], "DeviceCgroupRules": None,
                 "DeviceRequests": None, "MemoryReservation": args.memory_reservation or 0,
                 "MemorySwap": args.memory_swap or 0, "MemorySwappiness": -1, "OomKillDisable": False,
                 "PidsLimit": args.pids_limit or 0, "Ulimits": [], "CpuCount": 0, "CpuPercent": 0,
                 "IOMaximumIOps": 0, "IOMaximumBandwidth": 0})
    if args.mount:
        host["Mounts"] = args.mount
    host.update({"MaskedPaths": None, "ReadonlyPaths": None})
    if "init" in args.given:
        host["Init"] = args.init
    if not networks:
        endpoints = {"default": dict(_EMPTY_ENDPOINT)}
    elif len(networks) == 1:
        endpoints = {}  # one network and no options: the daemon makes the endpoint
    else:
        endpoints = {name: dict(_EMPTY_ENDPOINT) for name in networks}
    return {**config, "HostConfig": host, "NetworkingConfig": {"EndpointsConfig": endpoints}}


def _unserialisable(value):
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def encode_json(value) -> bytes:
    """What Go's json.Encoder writes, which the Docker CLI sends: compact, HTML characters
    and U+2028/9 escaped, other text as UTF-8, a newline at the end. On the C encoder alone:
    the json package costs more than this command's own start-up (as api.loads does)."""
    import _json

    encode = _json.make_encoder(None, _unserialisable, _json.encode_basestring, None, ":", ",", False, False, True)
    text = "".join(encode(value, 0))
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"),
                          ("\u2029", "\\u2029")):
        text = text.replace(char, escaped)
    return (text + "\n").encode()


# --- the command ----------------------------------------------------------------------------------

def parser(name):
    run = name == "run"
    usage = f"docker {name} [OPTIONS] IMAGE [COMMAND] [ARG...]"
    summary = "Create and run a new container from an image" if run else "Create a new container"
    p = FlagParser(f"pydocker {name}", usage.replace("docker ", "pydocker ", 1), summary, "at least 1 argument")
    p.add_argument("arguments", nargs="+")
    if run:
        p.add_argument("-d", "--detach", action="store_true")
        p.add_argument("--sig-proxy", action="store_true")
        p.add_argument("--detach-keys", default="")
    p.add_argument("--name", default="")
    p.add_argument("--pull", default="missing")
    p.add_argument("-q", "--quiet", action="store_true")
    p.add_argument("-a", "--attach", action="append", type=attach_stream)
    p.add_argument("-e", "--env", action="append", type=environment_variable)
    p.add_argument("--env-file", action="append")
    p.add_argument("--entrypoint", default=None)
    p.add_argument("-h", "--hostname", default="")
    p.add_argument("--domainname", default="")
    p.add_argument("-i", "--interactive", action="store_true")
    p.add_argument("-l", "--label", action="append", type=label)
    p.add_argument("--label-file", action="append")
    p.add_argument("--read-only", action="store_true")
    p.add_argument("--restart", default="no")
    p.add_argument("--stop-signal", default=None)
    p.add_argument("--stop-timeout", type=int, default=None)
    p.add_argument("-t", "--tty", action="store_true")
    p.add_argument("-u", "--user", default="")
    p.add_argument("-w", "--workdir", default="")
    p.add_argument("--rm", action="store_true")
    p.add_argument("--cap-add", action="append")
    p.add_argument("--cap-drop", action="append")
    p.add_argument("--privileged", action="store_true")
    p.add_argument("--expose", action="append")
    p.add_argument("-p", "--publish", action="append")
    p.add_argument("-P", "--publish-all", action="store_true")
    p.add_argument("--network", "--net", action="append")
    p.add_argument("--tmpfs", action="append")
    p.add_argument("-v", "--volume", action="append")
    p.add_argument("--mount", action="append", type=mount)
    p.add_argument("-m", "--memory", type=memory_bytes, default=None)
    p.add_argument("--memory-reservation", type=memory_bytes, default=None)
    p.add_argument("--memory-swap", type=swap_bytes, default=None)
    p.add_argument("--shm-size", type=memory_bytes, default=None)
    p.add_argument("--cpus", type=nano_cpus, default=None)
    p.add_argument("-c", "--cpu-shares", type=int, default=None)
    p.add_argument("--pids-limit", type=int, default=None)
    p.add_argument("--init", action="store_true")
    return p


def _usage_error(command: str, message: str, status: int = 125):
    from client.__main__ import CommandError

    return CommandError(f"pydocker: {message}\n\nRun 'pydocker {command} --help' for more information", status)


def start_failure_status(message: str) -> int:
    """docker's runStartContainerErr: 127 not found, 126 cannot be run, 125 anything else."""
    if any(text in message for text in ("executable file not found", "no such file or directory",
                                        "system cannot find the file specified")):
        return 127
    if "permission denied" in message or "is a directory" in message:
        return 126
    return 125


def _pull(client, image: str, quiet: bool) -> None:
    from client.commands import pull

    full, tag, _, _ = pull.normalise(image)
    response = client.request("POST", "/images/create", {"fromImage": full, "tag": tag}, body=b"",
                              headers={"X-Registry-Auth": pull.registry_auth(full)})
    try:
        pull.print_stream(response, sys.stderr, quiet)
    finally:
        response.close()


def _is_image_name(image: str) -> bool:
    """Whether docker would pull it (a name, not an image ID)."""
    hexdigits = "0123456789abcdef"
    bare = image.removeprefix("sha256:")
    return not (image.startswith("sha256:") or (len(bare) == 64 and all(c in hexdigits for c in bare)))


def create(client, args, body: dict) -> str:
    """POST /containers/create, pulling the image first or when missing as --pull says;
    prints the daemon's warnings; the new container's ID."""
    from client.commands import pull

    image = args.arguments[0]
    params = {"name": args.name or None}
    if args.pull == "always":
        _pull(client, image, args.quiet)
    data = encode_json(body)
    headers = {"Content-Type": "application/json"}
    try:
        response = client.request("POST", "/containers/create", params, data, headers)
    except api.APIError as error:
        if error.status != 404 or args.pull != "missing" or not _is_image_name(image):
            raise
        if not args.quiet:
            print(f"Unable to find image '{pull.normalise(image)[2]}' locally", file=sys.stderr, flush=True)
        _pull(client, image, args.quiet)
        response = client.request("POST", "/containers/create", params, data, headers)
    try:
        reply = response.json() or {}
    finally:
        response.close()
    for warning in reply.get("Warnings") or []:
        print(f"WARNING: {warning}", file=sys.stderr, flush=True)
    return reply["Id"]


def _checked_config(args, console_size: tuple[int, int]) -> dict:
    if args.pull not in ("",) + PULL_POLICIES:
        raise OptionsError(f'invalid pull option: \'{args.pull}\': must be one of "always", "missing" or "never"')
    return container_config(args, console_size)


def run(client, args) -> int:
    from client.__main__ import CommandError
    from client import streams

    try:
        body = _checked_config(args, streams.terminal_size())
    except OptionsError as error:
        raise _usage_error(args.command, str(error)) from None
    if args.command == "create":
        print(create(client, args, body), flush=True)
        return 0

    if args.detach:
        if args.attach:
            raise CommandError("conflicting options: cannot specify both --attach and --detach", 1)
        body.update(AttachStdin=False, AttachStdout=False, AttachStderr=False, StdinOnce=False)
    elif body["Tty"] and body["AttachStdin"] and not os.isatty(0):
        raise CommandError("the input device is not a TTY", 1)
    try:
        container_id = create(client, args, body)
    except api.APIError as error:
        raise _usage_error("run", f"Error response from daemon: {error.message}",
                           start_failure_status(error.message)) from None
    except CommandError as error:  # the pull's own error, from its message stream
        raise _usage_error("run", str(error)) from None

    stdin, stdout, stderr = body["AttachStdin"], body["AttachStdout"], body["AttachStderr"]
    with streams.Signals(client, container_id, proxy="sig_proxy" not in args.given or args.sig_proxy):
        if not stdout and not stderr:
            print(container_id, flush=True)
        try:
            status = start_attached(client, container_id, tty=body["Tty"], stdin=stdin, stdout=stdout,
                                    stderr=stderr, detach_keys=args.detach_keys, auto_remove=args.rm)
        except api.APIError as error:
            print(f"pydocker: Error response from daemon: {error.message}\n\n"
                  f"Run 'pydocker run --help' for more information", file=sys.stderr, flush=True)
            return start_failure_status(error.message)
    return status or 0


def start_attached(client, container_id: str, *, tty: bool, stdin: bool, stdout: bool, stderr: bool,
                   detach_keys: str, auto_remove: bool) -> int | None:
    """docker's order for run and start -a: attach (to what is asked for), wait for the next
    exit (or the removal), start, then our terminal on the container's streams until its
    output ends. The container's exit status; None when there is none to wait for (the user
    detached, or no output was attached). A failed start raises its APIError, once the
    terminal is restored (and an automatic removal done)."""
    from client import streams

    conn = None
    if stdin or stdout or stderr:
        params = {"stream": "1", "stdin": "1" if stdin else None, "stdout": "1" if stdout else None,
                  "stderr": "1" if stderr else None, "detachKeys": detach_keys or None}
        conn = streams.hijack(client, f"/containers/{container_id}/attach", params)
    try:
        condition = "removed" if auto_remove else "next-exit"
        waiting = client.request("POST", f"/containers/{container_id}/wait", {"condition": condition})
        try:
            with streams.RawTerminal(tty and stdin) as terminal:
                try:
                    client.post(f"/containers/{container_id}/start")
                except api.APIError:
                    terminal.restore()
                    if auto_remove:  # the removal is waited for, its error logged, before the start's is said
                        _exit_status(waiting)
                    raise
                if conn is None:
                    return None
                with streams.WindowSize(client, f"/containers/{container_id}", enabled=tty and os.isatty(1)):
                    detached = streams.copy(conn, tty=tty, stdin=stdin, stdout=stdout, stderr=stderr,
                                            detach_keys=streams.detach_keys(detach_keys))
            if detached or not (stdout or stderr):  # with no output attached, docker does not wait
                return None
            return _exit_status(waiting)
        finally:
            waiting.close()
    finally:
        if conn is not None:
            conn.close()


def _exit_status(waiting) -> int:
    """The wait's reply; an error in it is logged as the Docker CLI logs it, and is 125."""
    from client import streams

    reply = waiting.json() or {}
    if (reply.get("Error") or {}).get("Message"):
        streams.logrus("error", f"Error waiting for container: {reply['Error']['Message']}")
        return 125
    return reply.get("StatusCode", 0)
