"""pydocker in a real terminal (a pty driven by pexpect): `run -it`, `attach` and `exec -it`
with the container's shell, its window size following ours, ctrl-p ctrl-q, ctrl-c and
ctrl-d, and the exit status passed through. Each scenario runs with the real Docker CLI
too, on the same pydockerd, and both must see the same."""
from __future__ import annotations

import re

import pexpect
import pytest

from tests.fixtures.client import PYDOCKER
from tests.fixtures.polling import wait_until
from tests.fixtures.pydockerd import DOCKER

pytestmark = pytest.mark.root

CLIS = pytest.mark.parametrize("cli", [DOCKER, PYDOCKER], ids=["docker", "pydocker"])
PROMPT = "# "


@pytest.fixture
def terminal(stack):
    """spawn(cli, *args): the CLI in a 30x100 terminal of its own; all closed afterwards."""
    children = []

    def spawn(cli: str, *args: str) -> pexpect.spawn:
        child = pexpect.spawn(cli, list(args), env=stack.environment, dimensions=(30, 100), timeout=30,
                              encoding="utf-8")
        children.append(child)
        return child

    yield spawn
    for child in children:
        child.close(force=True)


def ask(shell: pexpect.spawn, command: str) -> str:
    """What command prints, in the container's shell (the typed line's echo cannot match)."""
    shell.sendline(f'echo "@@""$({command})""@@"')
    shell.expect(r"@@([^\"\r\n]*)@@")
    return shell.match.group(1)


def ended(child: pexpect.spawn) -> tuple[str, int]:
    """What the CLI printed last, and its exit status, once it exits."""
    child.expect(pexpect.EOF)
    child.close()
    return child.before, child.exitstatus


@CLIS
def test_run_it_shell_follows_the_window_and_passes_the_status(stack, terminal, cli):
    shell = terminal(cli, "run", "-it", "--rm", "busybox", "sh")
    shell.expect(PROMPT)
    assert ask(shell, "stty size") == "30 100"
    assert ask(shell, "tty").startswith("/dev/pts/")
    shell.setwinsize(40, 120)  # SIGWINCH to the CLI, which resizes the container's terminal
    wait_until(lambda: ask(shell, "stty size") == "40 120", what="the new window size inside")
    shell.sendline("exit 3")
    _, status = ended(shell)
    assert status == 3


@CLIS
def test_ctrl_c_is_the_containers(stack, terminal, cli):
    reader = terminal(cli, "run", "-it", "--rm", "busybox", "sh", "-c",
                      "stty raw -echo; echo ready; head -c 1 | od -An -to1; exit 4")
    reader.expect("ready")
    reader.sendintr()  # a byte in our raw terminal, not a SIGINT for the CLI
    reader.expect("003")
    assert ended(reader)[1] == 4


@CLIS
def test_detach_and_attach_again(stack, terminal, cli):
    name = "detached-" + ("docker" if cli == DOCKER else "pydocker")
    shell = terminal(cli, "run", "-it", "--name", name, "busybox", "sh")
    shell.expect(PROMPT)
    shell.sendline("MARK=kept")
    shell.sendcontrol("p")
    shell.sendcontrol("q")
    before, status = ended(shell)
    assert status == 0 and "escape" not in before  # run says nothing of it
    assert stack.inspect(name)["State"]["Running"]

    attached = terminal(cli, "attach", name)
    attached.expect(PROMPT)  # the nudged window size makes the shell draw its prompt again
    assert ask(attached, "echo $MARK") == "kept"
    attached.sendcontrol("p")
    attached.sendcontrol("q")
    before, status = ended(attached)
    assert (status, before.endswith("read escape sequence\r\n")) == (1, True)
    assert stack.inspect(name)["State"]["Running"]

    attached = terminal(cli, "attach", name)
    attached.expect(PROMPT)
    attached.sendline("exit 7")
    assert ended(attached)[1] == 7
    assert stack.inspect(name)["State"]["ExitCode"] == 7


@CLIS
def test_custom_detach_keys(stack, terminal, cli):
    name = "custom-" + ("docker" if cli == DOCKER else "pydocker")
    shell = terminal(cli, "run", "-it", "--detach-keys", "ctrl-x,x", "--name", name, "busybox", "sh")
    shell.expect(PROMPT)
    shell.sendcontrol("p")  # the default keys are just keys now
    shell.sendcontrol("q")
    shell.sendcontrol("x")
    shell.send("x")
    assert ended(shell)[1] == 0
    assert stack.inspect(name)["State"]["Running"]


@CLIS
def test_exec_it(stack, terminal, cli):
    stack.docker("run", "-d", "--name", "host", "busybox", "sleep", "300")
    shell = terminal(cli, "exec", "-it", "host", "sh")
    shell.expect(PROMPT)
    assert ask(shell, "stty size") == "30 100"
    shell.setwinsize(25, 90)
    wait_until(lambda: ask(shell, "stty size") == "25 90", what="the exec's new window size")
    shell.sendline("exit 5")
    assert ended(shell)[1] == 5

    shell = terminal(cli, "exec", "-it", "host", "sh")
    shell.expect(PROMPT)
    shell.sendcontrol("p")
    shell.sendcontrol("q")
    before, status = ended(shell)
    assert (status, before.endswith("read escape sequence\r\n")) == (1, True)


@CLIS
def test_ctrl_d_ends_run_i(stack, terminal, cli):
    cat = terminal(cli, "run", "-i", "--rm", "busybox", "cat")
    cat.sendline("hello")
    cat.expect("hello\r\nhello\r\n")  # our terminal's echo, then the container's
    cat.sendeof()
    before, status = ended(cat)
    assert (status, before) == (0, "")


@CLIS
def test_the_terminal_is_restored(stack, terminal, cli):
    wrapped = terminal("/bin/sh", "-c", f"stty -g; {cli} run -it --rm busybox sh -c 'exit 2'; echo status=$?; stty -g")
    wrapped.expect(pexpect.EOF)
    settings = re.findall(r"^[0-9a-f:]{20,}\r?$", wrapped.before, re.MULTILINE)
    assert len(settings) == 2 and settings[0] == settings[1]
    assert "status=2" in wrapped.before
