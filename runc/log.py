"""pyrunc's own log: the --log file in runc's formats.

containerd's shim runs runc with `--log <bundle>/log.json --log-format json` and, when a
command fails, reports the `msg` of the last line whose level is "error"; our own shim also
reads `kind`, the errdefs kind, so it need not guess the error from its words.
"""
import json
import os
import time

_LEVELS = ("debug", "info", "warning", "error")


def rfc3339(ns: int, *, nano: bool = False) -> str:
    """UTC time in Go's RFC3339 (or RFC3339Nano, trailing zeros dropped) layout."""
    seconds, fraction = divmod(ns, 1_000_000_000)
    text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    if nano and fraction:
        text += "." + f"{fraction:09d}".rstrip("0")
    return text + "Z"


def describe(e: BaseException) -> str:
    """An error as one line for the user and the log. An OSError loses Python's "[Errno N]"
    and names its path once: syscalls' messages may already hold it."""
    if isinstance(e, OSError) and e.strerror:
        if e.filename and str(e.filename) not in e.strerror:
            return f"{e.strerror}: {e.filename}"
        return e.strerror
    return str(e) or type(e).__name__


class Log:
    def __init__(self, path: str | None = None, fmt: str = "text", debug: bool = False):
        self.path = path
        self.fmt = fmt
        self.min_level = "debug" if debug else "info"

    def write(self, level: str, message: str, **fields) -> None:
        if self.path is None or _LEVELS.index(level) < _LEVELS.index(self.min_level):
            return
        now = rfc3339(time.time_ns())
        if self.fmt == "json":
            line = json.dumps({"level": level, "msg": message, "time": now, **fields})
        else:
            extra = "".join(f" {k}={json.dumps(v)}" for k, v in fields.items())
            line = f"time={json.dumps(now)} level={level} msg={json.dumps(message)}{extra}"
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, (line + "\n").encode())
        finally:
            os.close(fd)

    def debug(self, message: str, **fields) -> None:
        self.write("debug", message, **fields)

    def warning(self, message: str, **fields) -> None:
        self.write("warning", message, **fields)

    def error(self, message: str, **fields) -> None:
        self.write("error", message, **fields)
