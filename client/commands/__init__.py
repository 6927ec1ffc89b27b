"""name -> (module, summary); only the command being run is imported (pip's registry)."""
import importlib
import sys

COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("run", "Create and run a new container from an image"),
    "exec": ("exec", "Execute a command in a running container"),
    "ps": ("ps", "List containers"),
    "pull": ("pull", "Download an image from a registry"),
    "push": ("push", "Upload an image to a registry"),
    "images": ("images", "List images"),
    "version": ("version", "Show the Docker version information"),
    "info": ("info", "Display system-wide information"),
    "attach": ("attach", "Attach local standard input, output, and error streams to a running container"),
    "cp": ("cp", "Copy files/folders between a container and the local filesystem"),
    "create": ("run", "Create a new container"),
    "events": ("events", "Get real time events from the server"),
    "history": ("history", "Show the history of an image"),
    "import": ("image_io", "Import the contents from a tarball to create a filesystem image"),
    "inspect": ("inspect", "Return low-level information on Docker objects"),
    "kill": ("lifecycle", "Kill one or more running containers"),
    "load": ("image_io", "Load an image from a tar archive or STDIN"),
    "logs": ("logs", "Fetch the logs of a container"),
    "pause": ("lifecycle", "Pause all processes within one or more containers"),
    "rename": ("rename", "Rename a container"),
    "restart": ("lifecycle", "Restart one or more containers"),
    "rm": ("rm", "Remove one or more containers"),
    "rmi": ("rmi", "Remove one or more images"),
    "save": ("image_io", "Save one or more images to a tar archive (streamed to STDOUT by default)"),
    "start": ("start", "Start one or more stopped containers"),
    "stats": ("stats", "Display a live stream of container(s) resource usage statistics"),
    "stop": ("lifecycle", "Stop one or more running containers"),
    "tag": ("tag", "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE"),
    "top": ("top", "Display the running processes of a container"),
    "unpause": ("lifecycle", "Unpause all processes within one or more containers"),
    "wait": ("wait", "Block until one or more containers stop, then print their exit codes"),
    # management commands' own verbs: the module sees the two words as args.command
    "volume create": ("volume", "Create a volume"),
    "volume ls": ("volume", "List volumes"),
    "volume inspect": ("volume", "Display detailed information on one or more volumes"),
    "volume rm": ("volume", "Remove one or more volumes"),
    "volume prune": ("volume", "Remove unused local volumes"),
    "network create": ("network", "Create a network"),
    "network ls": ("network", "List networks"),
    "network inspect": ("network", "Display detailed information on one or more networks"),
    "network rm": ("network", "Remove one or more networks"),
    "network connect": ("network", "Connect a container to a network"),
    "network disconnect": ("network", "Disconnect a container from a network"),
    "network prune": ("network", "Remove all unused networks"),
    "system df": ("system", "Show docker disk usage"),
    "system prune": ("system", "Remove unused data"),
    "system layers": ("layers", "Show the live process tree of the stack: daemons, shims, containers"),
    "container prune": ("system", "Remove all stopped containers"),
    "image prune": ("system", "Remove unused images"),
}
MANAGEMENT = {
    "container": "Manage containers", "image": "Manage images", "network": "Manage networks",
    "system": "Manage Docker", "volume": "Manage volumes",
}
# docker's management commands whose verbs are the top-level commands under another name
ALIASES = {
    ("container", "ls"): "ps", ("container", "list"): "ps", ("container", "ps"): "ps",
    ("container", "inspect"): "inspect", ("container", "rm"): "rm", ("container", "remove"): "rm",
    ("image", "ls"): "images", ("image", "list"): "images", ("image", "inspect"): "inspect",
    ("image", "rm"): "rmi", ("image", "remove"): "rmi", ("image", "import"): "import",
    ("volume", "list"): "volume ls", ("volume", "remove"): "volume rm",
    ("network", "list"): "network ls", ("network", "remove"): "network rm",
    ("system", "events"): "events", ("system", "info"): "info",
}
_CONTAINER_VERBS = ("attach", "cp", "create", "exec", "kill", "logs", "pause", "rename", "restart", "run",
                    "start", "stats", "stop", "top", "unpause", "wait")
_IMAGE_VERBS = ("history", "load", "pull", "push", "save", "tag")
ALIASES.update({("container", verb): verb for verb in _CONTAINER_VERBS})
ALIASES.update({("image", verb): verb for verb in _IMAGE_VERBS})


def summary() -> str:
    top = "".join(f"  {name:<10}  {text}\n" for name, (_, text) in COMMANDS.items() if " " not in name)
    managed = "".join(f"  {name:<10}  {text}\n" for name, text in MANAGEMENT.items())
    return f"Management Commands:\n{managed}\nCommands:\n{top}"


def group_usage(group: str) -> str:
    verbs = sorted({name.split(" ", 1)[1] for name in COMMANDS if name.startswith(group + " ")} |
                   {verb for (g, verb) in ALIASES if g == group})
    lines = "".join(f"  {verb}\n" for verb in verbs)
    return (f"\nUsage:  pydocker {group} COMMAND\n\n{MANAGEMENT[group]}\n\nCommands:\n{lines}\n"
            f"Run 'pydocker {group} COMMAND --help' for more information on a command.\n")


class Namespace:
    def __init__(self, **values):
        self.__dict__.update(values)


class _Option:
    def __init__(self, names, dest, action, type, default, nargs):
        self.names, self.dest, self.action, self.type, self.default, self.nargs = \
            names, dest, action, type, default, nargs

    @property
    def label(self) -> str:
        short = [n for n in self.names if not n.startswith("--")]
        long = [n for n in self.names if n.startswith("--")]
        return ", ".join(short + long[:1])


class Parser:
    """pflag's command-line rules in the argparse calls the commands use (argparse itself
    imports shutil, gettext and locale: too slow for `pydocker ps`). Flags and arguments may
    interleave; `-aq` combines booleans; `-n5`, `-n 5`, `--last=5`, `--last 5`; `--` ends flags.
    Bad usage is worded as docker words it: exit 125 for a bad flag, 1 for missing arguments."""

    def __init__(self, name: str, usage: str, description: str, required: str):
        self.name, self.usage, self.description, self.required = name, usage, description, required
        self.flags: dict[str, _Option] = {}
        self.options: list[_Option] = []
        self.positionals: list[_Option] = []

    def add_argument(self, *names, action=None, type=None, default=None, nargs=None):
        if names[0].startswith("-"):
            long = next((n for n in names if n.startswith("--")), names[0])
            option = _Option(names, long.lstrip("-").replace("-", "_"), action, type,
                             [] if action == "append" else (False if action == "store_true" else default), nargs)
            self.options.append(option)
            for n in names:
                self.flags[n] = option
        else:
            self.positionals.append(_Option(names, names[0], action, type, default, nargs))

    def _fail(self, message: str, status: int = 125):
        from client.__main__ import CommandError

        raise CommandError(f"{message}\n\nUsage:  {self.usage}\n\n"
                           f"Run '{self.name} --help' for more information", status)

    def _set(self, values: dict, option: _Option, flag: str, value: str | None):
        if option.action == "store_true":
            if value is not None and value not in ("true", "false", "1", "0"):
                self._fail(f'invalid argument "{value}" for "{option.label}" flag: strconv.ParseBool: '
                           f'parsing "{value}": invalid syntax')
            values[option.dest] = value in (None, "true", "1")
            return
        if option.type is int:
            try:
                value = int(value)
            except ValueError:
                self._fail(f'invalid argument "{value}" for "{option.label}" flag: strconv.ParseInt: '
                           f'parsing "{value}": invalid syntax')
        if option.action == "append":
            values[option.dest] = values[option.dest] + [value]
        else:
            values[option.dest] = value

    def parse_args(self, argv: list[str]) -> Namespace:
        values = {o.dest: o.default for o in self.options}
        arguments: list[str] = []
        i = 0
        while i < len(argv):
            arg = argv[i]
            i += 1
            if arg == "--":
                arguments.extend(argv[i:])
                break
            if arg in ("-h", "--help"):
                self.print_help()
                from client.__main__ import CommandError

                raise CommandError("", 0)
            if arg.startswith("--"):
                flag, eq, value = arg.partition("=")
                option = self.flags.get(flag)
                if option is None:
                    self._fail(f"unknown flag: {flag}")
                if not eq and option.action != "store_true":
                    if i >= len(argv):
                        self._fail(f"flag needs an argument: {flag}")
                    value, i = argv[i], i + 1
                self._set(values, option, flag, value if eq or option.action != "store_true" else None)
            elif arg.startswith("-") and arg != "-":
                letters = arg[1:]
                while letters:
                    letter, letters = letters[0], letters[1:]
                    option = self.flags.get("-" + letter)
                    if option is None:
                        self._fail(f"unknown shorthand flag: '{letter}' in {arg}")
                    if option.action == "store_true":
                        if letters.startswith("="):
                            self._set(values, option, letter, letters[1:])
                            letters = ""
                        else:
                            self._set(values, option, letter, None)
                        continue
                    value = letters.removeprefix("=")
                    letters = ""
                    if not value:
                        if i >= len(argv):
                            self._fail(f"flag needs an argument: '{letter}' in {arg}")
                        value, i = argv[i], i + 1
                    self._set(values, option, letter, value)
            else:
                arguments.append(arg)
        self._positionals(values, arguments)
        return Namespace(**values)

    def _positionals(self, values: dict, arguments: list[str]) -> None:
        from client.__main__ import CommandError

        least = sum(1 for p in self.positionals if p.nargs in (None, "+"))
        most = None if any(p.nargs == "+" for p in self.positionals) else len(self.positionals)
        if most == 0 and arguments:
            raise CommandError(f"pydocker: '{self.name}' accepts no arguments\n\nUsage:  {self.usage}\n\n"
                               f"Run '{self.name} --help' for more information", 1)
        if len(arguments) < least or (most is not None and len(arguments) > most):
            verb = "See" if self.required.startswith("at least") else "Run"
            raise CommandError(f"pydocker: '{self.name}' requires {self.required}\n\nUsage:  {self.usage}\n\n"
                               f"{verb} '{self.name} --help' for more information", 1)
        rest = list(arguments)
        for p in self.positionals:
            if p.nargs == "+":
                values[p.dest], rest = rest, []
            elif p.nargs == "?":
                values[p.dest] = rest.pop(0) if rest else p.default
            else:
                values[p.dest] = rest.pop(0)

    def print_help(self) -> None:
        lines = [f"\nUsage:  {self.usage}\n", f"{self.description}\n"]
        if self.options:
            lines.append("Options:")
            for o in self.options:
                short = next((n for n in o.names if len(n) == 2), None)
                long = next((n for n in o.names if n.startswith("--")), "")
                lines.append(f"  {short + ', ' if short else '    '}{long}")
        print("\n".join(lines))


def parser(name: str, usage: str, description: str, required: str = "at least 1 argument") -> Parser:
    return Parser(f"pydocker {name}", usage.replace("docker ", "pydocker ", 1), description, required)


def load(argv: list[str]):
    from client.__main__ import CommandError

    name, rest = argv[0], argv[1:]
    if name in MANAGEMENT:
        verb = rest[0] if rest else None
        if verb is None or verb in ("-h", "--help"):
            sys.stdout.write(group_usage(name))
            raise CommandError("", 0)
        rest = rest[1:]
        if (name, verb) in ALIASES:
            kind, name = name, ALIASES[(name, verb)]
            if name == "inspect":
                rest = ["--type", kind] + rest
        elif f"{name} {verb}" in COMMANDS:
            name = f"{name} {verb}"
        else:
            raise CommandError(f"pydocker: '{name} {verb}' is not a docker command.\nSee 'pydocker {name} --help'", 1)
    if name not in COMMANDS:
        raise CommandError(f"pydocker: '{name}' is not a docker command.\nSee 'pydocker --help'", 1)
    module = importlib.import_module(f"client.commands.{COMMANDS[name][0]}")
    args = module.parser(name).parse_args(rest)
    args.command = name
    return module, args


def for_each(names: list[str], action, echo: bool = True) -> int:
    """Run action(name) for every argument as docker does: print each name that worked, each
    daemon error on stderr, and exit 1 if any failed."""
    from client.api import APIError

    failed = []
    for name in names:
        try:
            result = action(name)
        except APIError as error:
            failed.append(f"Error response from daemon: {error.message}")
            continue
        if echo:
            print(name if result is None else result, flush=True)
    if failed:
        from client.__main__ import CommandError

        raise CommandError("\n".join(failed), 1)
    return 0


def write(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()
