"""pydockerd-logger: a container's output written to Docker's json-file log, below pydockerd.

The shim starts this program once per task, through the `binary://` stdout/stderr URI that
pydockerd gives Tasks.Create (containerd's logging-binary protocol, runtime/v2/logging):
the container's stdout arrives on fd 3, its stderr on fd 4, and fd 5 is a pipe closed once
the program is ready. It runs until both streams end, that is until the container and every
holder of its pipes are gone, whatever happens to pydockerd or pycontainerd meanwhile: the
output is never blocked on them and never lost.

Each line becomes one JSON object on its own line, as Docker's json-file driver writes it:

    {"log":"hi\\n","stream":"stdout","time":"2025-01-01T00:00:00.123456789Z"}

A line longer than 16 KiB is cut into partial messages (no trailing newline), as Docker's
copier cuts at its buffer size; a partial line (a shell prompt) is written once nothing
more arrives for a moment, so a reader following the file (attach, logs -f) sees it; readers
join messages until one ends in a newline. With a terminal there is one stream, stdout.
The program holds a shared flock on the log file while it runs: pydockerd, once the
container has exited, takes the lock exclusively to know the output is all in the file.
With `--max-size` (and `--max-file`) the file rotates as Docker's json-file does: json.log
is renamed json.log.1 once full (json.log.1 to json.log.2, ...), and `logs` reads them
oldest first; options.py checks the options pydockerd takes from the user.

Standard library only, and little of it: it runs once per container.
"""
