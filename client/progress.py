"""The daemon's JSON message streams (pull, push, load, import) shown as the Docker CLI shows
them (moby's pkg/jsonmessage, v28).

Without a terminal each message is a line, and messages that carry a progress count are left
out. On a terminal every layer id owns a line, printed when the id first appears and rewritten in
place after that: the cursor goes up to the id's line, the line is erased and written again,
and the cursor comes back down. A message without an id ends that block of lines (a later id
starts a new one). A progress line reads

    a3ed95caeb02: Downloading [=====>                                             ]  1.2MB/3.4MB

the bar only when the terminal is wider than 110 columns, the time left only when the stream
gives a start time and the terminal is wider than 50. Messages are newline-delimited JSON, read
with the client's C-scanner loads (no json package: `pydocker pull` starts fast).
"""
from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator

from client import api

ERASE_LINE = "\x1b[2K"
BAR_WIDTH = 50  # a percentage point per two columns
DEFAULT_WIDTH = 200  # when the terminal's width cannot be read


def cursor_up(lines: int) -> str:
    return f"\x1b[{lines}A" if lines else ""


def cursor_down(lines: int) -> str:
    return f"\x1b[{lines}B" if lines else ""


class StreamError(Exception):
    """A message's errorDetail: the operation failed (its message is docker's words)."""


def messages(response) -> Iterator[dict]:
    """The JSON objects of a streamed reply, one a line, as they arrive."""
    buffer = b""
    while data := response.read_some():
        buffer += data
        *lines, buffer = buffer.split(b"\n")
        for line in lines:
            if line.strip():
                yield api.loads(line)
    if buffer.strip():
        yield api.loads(buffer)


def human_size(size: float) -> str:
    """units.HumanSize: decimal units, four significant digits."""
    from client.formatting import human_size as sized

    return sized(size, 4)


def go_duration(seconds: int) -> str:
    """time.Duration.String of a whole number of seconds: 0s, 45s, 1m30s, 2h0m5s."""
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{seconds}s"
    if minutes:
        return f"{minutes}m{seconds}s"
    return f"{seconds}s"


def progress_text(detail: dict, width: int, now: float | None = None) -> str:
    """JSONProgress.String: the bar, the counts and the time left."""
    current, total = detail.get("current") or 0, detail.get("total") or 0
    units = detail.get("units") or ""
    if current <= 0 and total <= 0:
        return ""
    if total <= 0:
        return f"{human_size(current):>8}" if not units else f"{current} {units}"
    percentage = min(int(current / total * 100) // 2, BAR_WIDTH)
    bar = f"[{'=' * percentage}>{' ' * (BAR_WIDTH - percentage)}] " if width > 110 else ""
    if detail.get("hidecounts"):
        numbers = ""
    elif not units:
        numbers = f"{human_size(current):>8}" + ("" if current > total else f"/{human_size(total)}")
    else:
        numbers = f"{current} {units}" if current > total else f"{current}/{total} {units}"
    left = ""
    start = detail.get("start") or 0
    if current > 0 and start > 0 and percentage < BAR_WIDTH and width > 50:
        elapsed_ns = int(((time.time() if now is None else now) - start) * 1e9)
        left = " " + go_duration((total - current) * (elapsed_ns // current) // 1_000_000_000)
    return bar + numbers + left


def terminal_width(out) -> int:
    try:
        return os.get_terminal_size(out.fileno()).columns
    except (OSError, ValueError):
        return DEFAULT_WIDTH


def render(message: dict, terminal: bool, width: int) -> str | None:
    """One message's text (JSONMessage.Display); None for progress without a terminal."""
    if message.get("errorDetail"):
        raise StreamError(message["errorDetail"].get("message", ""))
    detail = message.get("progressDetail")
    stream = message.get("stream") or ""
    text = ""
    end = ""
    if terminal and not stream and detail is not None:
        end = "\r"
        text = ERASE_LINE + end
    elif detail is not None and progress_text(detail, width):
        return None
    if message.get("id"):
        text += f"{message['id']}: "
    status = message.get("status") or ""
    if detail is not None and terminal:
        return text + f"{status} {progress_text(detail, width)}{end}"
    if message.get("progress"):
        return text + f"{status} {message['progress']}{end}"
    if stream:
        return text + stream + end
    return text + f"{status}{end}\n"


def display(stream: Iterator[dict], out, terminal: bool, aux: Callable[[dict], None] | None = None) -> None:
    """DisplayJSONMessagesStream: every message written to out; an error message raises
    StreamError after what came before it."""
    width = terminal_width(out) if terminal else DEFAULT_WIDTH
    lines: dict[str, int] = {}  # id -> its line in the current block
    for message in stream:
        if "aux" in message:
            if aux is not None:
                aux(message["aux"])
            continue
        below = 0
        ident = message.get("id") or ""
        if ident and (message.get("progressDetail") is not None or message.get("progress")):
            if ident not in lines:
                lines[ident] = len(lines)
                if terminal:
                    out.write("\n")
            below = len(lines) - lines[ident]
            if terminal:
                out.write(cursor_up(below))
        else:
            lines = {}
        failure = None
        try:
            text = render(message, terminal, width)
        except StreamError as error:
            text, failure = None, error
        if text is not None:
            out.write(text)
        if ident and terminal:
            out.write(cursor_down(below))
        out.flush()
        if failure is not None:
            raise failure
