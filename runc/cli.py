"""Command-line parsing with runc's conventions, kept small because it runs per container.

argparse would cost ~5 ms a start (its import pulls in gettext, shutil and locale, and
building parsers formats every option), a quarter of Go runc's whole `run`. runc's own
parser (Go's flag package under urfave/cli) also behaves differently, and callers rely on it:
options come before arguments; the first argument ends the options, so `exec ID sh -c ...`
hands `-c` to sh; long options take one dash or two (`-root` is `--root`); values follow
as `--opt value` or `--opt=value`.
"""


class UsageError(Exception):
    """A command line that does not parse; the caller prints it with the usage and exits 2."""


class Option:
    def __init__(self, *names: str, kind: str = "value", default=None, help: str = ""):
        # kind: "flag" (no value), "value" (a string), "int", or "append" (repeatable, a list)
        self.names = names
        self.dest = names[-1].lstrip("-").replace("-", "_")
        self.kind = kind
        self.default = [] if kind == "append" else (False if kind == "flag" else default)
        self.help = help


class Argument:
    def __init__(self, name: str, *, required: bool = True, rest: bool = False, default=None, help: str = ""):
        # rest: takes every remaining argument (a list), as a command to run
        self.name = name
        self.required = required and not rest
        self.rest = rest
        self.default = [] if rest else default
        self.help = help


class Parsed:
    """The parsed values, as attributes named after each option's dest and each argument."""

    def __repr__(self) -> str:
        return f"Parsed({vars(self)!r})"


def wants_help(argv: list[str], options: list[Option]) -> bool:
    """-h or --help among the options (before the first argument)."""
    takes_value = {name.lstrip("-") for option in options if option.kind != "flag" for name in option.names}
    words = iter(argv)
    for word in words:
        if word in ("-h", "--help", "-help"):
            return True
        if word == "--" or not word.startswith("-"):
            return False
        if "=" not in word and word.lstrip("-") in takes_value:
            next(words, None)
    return False


def parse(argv: list[str], options: list[Option], arguments: list[Argument]) -> Parsed:
    by_name = {name.lstrip("-"): option for option in options for name in option.names}
    result = Parsed()
    for option in options:
        setattr(result, option.dest, list(option.default) if option.kind == "append" else option.default)
    i = 0
    while i < len(argv):
        word = argv[i]
        if word == "--":
            i += 1
            break
        if not word.startswith("-") or word == "-":
            break
        name, has_value, value = word.lstrip("-").partition("=")
        option = by_name.get(name)
        if option is None:
            raise UsageError(f"flag provided but not defined: {word.split('=')[0]}")
        if option.kind == "flag":
            if has_value and value not in ("true", "false"):
                raise UsageError(f"invalid boolean value {value!r} for {word.split('=')[0]}")
            setattr(result, option.dest, value != "false")
            i += 1
            continue
        if not has_value:
            if i + 1 >= len(argv):
                raise UsageError(f"flag needs an argument: {word}")
            value = argv[i + 1]
            i += 1
        i += 1
        if option.kind == "int":
            try:
                value = int(value)
            except ValueError:
                raise UsageError(f"invalid value {value!r} for {word.split('=')[0]}: not a number") from None
        if option.kind == "append":
            getattr(result, option.dest).append(value)
        else:
            setattr(result, option.dest, value)
    rest = argv[i:]
    for argument in arguments:
        if argument.rest:
            setattr(result, argument.name, rest)
            rest = []
        elif rest:
            setattr(result, argument.name, rest.pop(0))
        elif argument.required:
            raise UsageError(f"the argument {argument.name!r} is required")
        else:
            setattr(result, argument.name, argument.default)
    if rest:
        raise UsageError(f"unexpected arguments: {' '.join(rest)}")
    return result


def usage(prog: str, summary: str, options: list[Option], arguments: list[Argument]) -> str:
    words = [prog, "[options]" if options else ""]
    for argument in arguments:
        shown = f"{argument.name}..." if argument.rest else argument.name
        words.append(shown if argument.required else f"[{shown}]")
    lines = [" ".join(w for w in words if w), "", summary.strip()]
    described = [argument for argument in arguments if argument.help]
    if described:
        lines += ["", "arguments:"]
        lines += [f"  {argument.name:<28} {argument.help}" for argument in described]
    if options:
        lines += ["", "options:"]
        for option in options:
            names = ", ".join(option.names) + ("" if option.kind == "flag" else " VALUE")
            lines.append(f"  {names:<28} {option.help}")
    return "\n".join(lines)
