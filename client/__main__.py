"""pydocker: parse the global options, look up the command, run it, and turn what went wrong
into docker's words and exit codes. This is the one place that sets exit codes (pip's
base_command): commands return a status or raise."""

import os
import sys
import time

USAGE = """
Usage:  pydocker [OPTIONS] COMMAND

A self-sufficient runtime for containers, rebuilt in Python

Options:
  -H, --host string       Daemon socket to connect to
      --tls               Use TLS; implied by --tlsverify
      --tlscacert string  Trust certs signed only by this CA (default "~/.docker/ca.pem")
      --tlscert string    Path to TLS certificate file (default "~/.docker/cert.pem")
      --tlskey string     Path to TLS key file (default "~/.docker/key.pem")
      --tlsverify         Use TLS and verify the remote
      --trace             Show where the command's time goes, layer by layer (or PYDOCKER_TRACE=1)

{commands}
Run 'pydocker COMMAND --help' for more information on a command.
"""


class CommandError(Exception):
    """A failure already worded for the user: printed as is, with its exit status."""

    def __init__(self, message: str, status: int = 1):
        super().__init__(message)
        self.status = status


TLS_SWITCHES = ("--tls", "--tlsverify")
TLS_FILES = ("--tlscacert", "--tlscert", "--tlskey")


def _split_globals(argv: list[str]) -> tuple[str | None, bool, dict[str, str | bool], list[str]]:
    """(-H's host, --trace, the TLS flags given by name without dashes, the command and its
    arguments)."""
    host = None
    traced = False
    tls: dict[str, str | bool] = {}
    i = 0
    while i < len(argv):
        arg = argv[i]
        name, equals, value = arg.partition("=")
        if arg == "--trace":
            traced = True
            i += 1
        elif name in TLS_SWITCHES:
            tls[name[2:]] = value.lower() not in ("false", "0") if equals else True
            i += 1
        elif name in TLS_FILES:
            if not equals:
                if i + 1 >= len(argv):
                    raise CommandError(f"flag needs an argument: {arg}\nSee 'pydocker --help'.", 125)
                value = argv[i + 1]
                i += 1
            tls[name[2:]] = value
            i += 1
        elif arg in ("-H", "--host"):
            if i + 1 >= len(argv):
                raise CommandError(f"flag needs an argument: {arg}\nSee 'pydocker --help'.", 125)
            host = argv[i + 1]
            i += 2
        elif arg.startswith("--host="):
            host = arg.split("=", 1)[1]
            i += 1
        elif arg.startswith("-H") and len(arg) > 2:
            host = arg[2:]
            i += 1
        else:
            break
    return host, traced, tls, argv[i:]


def main(argv: list[str] | None = None) -> int:
    started_ns = time.time_ns()
    from client import api, commands

    argv = sys.argv[1:] if argv is None else argv
    tracing = None
    try:
        host, traced, tls, rest = _split_globals(argv)
        if not rest or rest[0] in ("-h", "--help", "help"):
            sys.stdout.write(USAGE.format(commands=commands.summary()))
            return 0
        client = api.Client(host, api.TLS.from_flags(tls))
        if how := _trace_output(traced):
            from client import trace

            tracing = trace.Trace("pydocker " + " ".join(rest), started_ns, how)
            client.headers.update(tracing.headers())
        module, args = commands.load(rest)
        return module.run(client, args) or 0
    except api.APIError as error:
        print(f"Error response from daemon: {error.message}", file=sys.stderr)
        return 1
    except api.CannotConnect as error:
        print(error, file=sys.stderr)
        return 1
    except CommandError as error:
        if str(error):
            print(error, file=sys.stderr)
        return error.status
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `pydocker ps | head -1`: stop quietly, as docker does
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as error:
        # A template's fault that its command did not word is worded as docker's inspect
        # words one. The formatting module is looked up, not imported: a command that never
        # loaded it raised something else, and re-raises it here.
        formatting = sys.modules.get("client.formatting")
        if formatting is None or not isinstance(error, formatting.TemplateError):
            raise
        print(f"template parsing error: {error}", file=sys.stderr)
        return 64
    finally:
        if tracing is not None:
            tracing.report()


def _trace_output(flag: bool) -> str | None:
    """How a trace is to be shown ("table", "json"), None for no trace: the client/trace
    module is not even imported for an untraced command."""
    setting = os.environ.get("PYDOCKER_TRACE", "")
    if setting == "json":
        return "json"
    return "table" if flag or setting not in ("", "0") else None


if __name__ == "__main__":
    sys.exit(main())
