"""A container process's standard streams, between the runtime and containerd's client.

The client names each stream in Create/Exec (containerd's conventions):
  ""                 nothing: the process gets /dev/null
  /path or fifo://   a FIFO the client made; the shim opens it and copies through it
  file:///path       the shim appends the stream to that file itself
  binary:///path?k=v a logging program the shim starts, reading the streams on fds 3 and 4
The process writes into pipes the shim holds; the shim's IO loop moves the bytes on. The shim
opens a stdout/stderr FIFO read-write, so the FIFO never has "no reader": a client that
goes away (a restarting daemon) causes no EPIPE, and a new one can open it again.
With a terminal, the pty master replaces the pipes: one output stream, no stderr.
"""
import os
import urllib.parse

import errdefs

from .ioloop import IOLoop


class Stdio:
    """What the client asked for, kept to be returned by State (clients reattach with it)."""

    def __init__(self, stdin: str = "", stdout: str = "", stderr: str = "", terminal: bool = False):
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = stderr
        self.terminal = terminal


def _open_sink(uri: str) -> int:
    """A writable fd for an output stream's destination."""
    parsed = urllib.parse.urlparse(uri)
    if parsed.scheme in ("", "fifo"):
        return os.open(parsed.path or uri, os.O_RDWR | os.O_CLOEXEC)
    if parsed.scheme == "file":
        os.makedirs(os.path.dirname(parsed.path), exist_ok=True)
        return os.open(parsed.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)
    raise errdefs.InvalidArgument(f"unsupported stdio URI {uri!r}")


class ProcessIO:
    """The pipes (or pty) of one process and the threads copying them."""

    def __init__(self, stdio: Stdio, namespace: str, container_id: str, loop: IOLoop, env: dict[str, str]):
        self.loop = loop
        self.env = env
        self.stdio = stdio
        self.namespace = namespace
        self.container_id = container_id
        self.runtime_fds: tuple[int, int, int] | None = None  # what the runtime gets as 0, 1, 2
        self._ours_after_start: list[int] = []
        self._pending_outputs: list[tuple[int, int, str]] = []  # (1 or 2, read end, uri)
        self._stdin_write: int | None = None
        self._stdin_copy = None
        self._outputs = []
        self.master: int | None = None  # the pty master, with a terminal

    # --- pipes -------------------------------------------------------------------------
    def prepare_pipes(self) -> None:
        """Make the pipes the runtime hands to the process; call `wire()` once it exists."""
        devnull = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
        fds = [devnull, devnull, devnull]
        self._ours_after_start.append(devnull)
        if self.stdio.stdin:
            r, w = os.pipe2(os.O_CLOEXEC)
            fds[0] = r
            self._ours_after_start.append(r)
            self._stdin_write = w
        for index, uri in ((1, self.stdio.stdout), (2, self.stdio.stderr)):
            if uri:
                r, w = os.pipe2(os.O_CLOEXEC)
                fds[index] = w
                self._ours_after_start.append(w)
                self._pending_outputs.append((index, r, uri))
        self.runtime_fds = tuple(fds)

    def wire(self) -> None:
        """After the runtime has handed our pipes to the process: close our copies of its
        ends, and start copying."""
        for fd in self._ours_after_start:
            os.close(fd)
        self._ours_after_start = []
        outputs, self._pending_outputs = self._pending_outputs, []
        if self._uses_logging_binary(outputs):
            self._start_logging_binary(outputs)
        else:
            for _, read_end, uri in outputs:
                self._start_output(read_end, _open_sink(uri))
        if self._stdin_write is not None:
            self._start_stdin()

    def _uses_logging_binary(self, outputs) -> bool:
        return any(urllib.parse.urlparse(uri).scheme == "binary" for _, _, uri in outputs)

    def _start_logging_binary(self, outputs) -> None:
        """containerd's logging-binary protocol: the program gets stdout on fd 3, stderr on
        fd 4 and a pipe on fd 5 that it closes once it is ready; CONTAINER_ID and
        CONTAINER_NAMESPACE in its environment."""
        uri = next(uri for _, _, uri in outputs if urllib.parse.urlparse(uri).scheme == "binary")
        parsed = urllib.parse.urlparse(uri)
        args = [parsed.path]
        for key, values in urllib.parse.parse_qs(parsed.query).items():
            args += [f"--{key}={value}" for value in values]
        streams = {1: None, 2: None}
        for index, read_end, _ in outputs:
            streams[index] = read_end
        devnull = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
        ready_r, ready_w = os.pipe2(os.O_CLOEXEC)
        actions = [(os.POSIX_SPAWN_DUP2, devnull, 0), (os.POSIX_SPAWN_DUP2, devnull, 1), (os.POSIX_SPAWN_DUP2, devnull, 2),
                   (os.POSIX_SPAWN_DUP2, streams[1] if streams[1] is not None else devnull, 3),
                   (os.POSIX_SPAWN_DUP2, streams[2] if streams[2] is not None else devnull, 4),
                   (os.POSIX_SPAWN_DUP2, ready_w, 5)]
        env = {**self.env, "CONTAINER_ID": self.container_id, "CONTAINER_NAMESPACE": self.namespace}
        try:
            os.posix_spawn(parsed.path, args, env, file_actions=actions)
        finally:
            os.close(ready_w)
            os.close(devnull)
            for fd in streams.values():
                if fd is not None:
                    os.close(fd)
        os.read(ready_r, 1)  # EOF once the logging program is ready (or gone)
        os.close(ready_r)

    def _start_output(self, read_end: int, sink: int) -> None:
        self._outputs.append(self.loop.copy(read_end, sink))

    # --- terminal ----------------------------------------------------------------------
    def attach_console(self, master: int) -> None:
        """With a terminal the process's streams are the pty: copy its master to stdout and
        stdin into it. The master stays ours for resizing until the output copy ends."""
        self.master = master
        if self.stdio.stdout and urllib.parse.urlparse(self.stdio.stdout).scheme == "binary":
            self._start_logging_binary([(1, os.dup(master), self.stdio.stdout)])
        elif self.stdio.stdout:
            self._start_output(os.dup(master), _open_sink(self.stdio.stdout))
        if self.stdio.stdin:
            self._stdin_write = os.dup(master)
            self._start_stdin()

    def _start_stdin(self) -> None:
        # O_RDWR: opening a FIFO read-only would block until the client opens its end.
        source = os.open(self.stdio.stdin, os.O_RDWR | os.O_CLOEXEC)
        self._stdin_copy = self.loop.copy(source, self._stdin_write)
        self._stdin_write = None  # the loop's now

    def close_stdin(self) -> None:
        """CloseIO: the process reads EOF once what was copied is consumed."""
        if self._stdin_copy is not None:
            self.loop.end(self._stdin_copy)
            self._stdin_copy = None

    def wait_output(self, timeout: float = 10.0) -> None:
        """Until the output copies have drained (the process and all holders of the pipes
        are gone), but never longer than `timeout`, as containerd's shim waits on delete."""
        for copy in self._outputs:
            copy.done.wait(timeout)
