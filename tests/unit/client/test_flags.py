"""The pflag-style parser the commands use, and docker's words for bad usage."""
import pytest

from client.__main__ import CommandError, main
from client.commands import load


def test_combined_short_flags_values_and_interleaving():
    _, args = load(["ps", "-aq", "-n5", "--filter", "status=exited", "-f=name=x", "--format={{.ID}}"])
    assert (args.all, args.quiet, args.last, args.filter, args.format) == \
        (True, True, 5, ["status=exited", "name=x"], "{{.ID}}")
    _, args = load(["rm", "a", "-f", "b", "--", "-c"])
    assert (args.containers, args.force, args.volumes) == (["a", "b", "-c"], True, False)
    _, args = load(["stop", "-t", "3", "x"])
    assert (args.timeout, args.containers) == (3, ["x"])
    _, args = load(["container", "ls", "-a"])
    assert args.all and args.command == "ps"
    _, args = load(["image", "inspect", "busybox"])
    assert (args.type, args.names) == ("image", ["busybox"])


@pytest.mark.parametrize("argv, status, first_line", [
    (["ps", "--bogus"], 125, "unknown flag: --bogus"),
    (["ps", "-x"], 125, "unknown shorthand flag: 'x' in -x"),
    (["ps", "-n", "x"], 125, 'invalid argument "x" for "-n, --last" flag: strconv.ParseInt: parsing "x": invalid syntax'),
    (["ps", "--format"], 125, "flag needs an argument: --format"),
    (["ps", "extra"], 1, "pydocker: 'pydocker ps' accepts no arguments"),
    (["stop"], 1, "pydocker: 'pydocker stop' requires at least 1 argument"),
    (["rename", "x"], 1, "pydocker: 'pydocker rename' requires 2 arguments"),
    (["nosuch"], 1, "pydocker: 'nosuch' is not a docker command."),
])
def test_usage_errors(argv, status, first_line):
    with pytest.raises(CommandError) as error:
        load(argv)
    assert error.value.status == status
    assert str(error.value).splitlines()[0] == first_line


def test_main_sets_the_exit_codes(capsys, tmp_path):
    assert main(["ps", "--bogus"]) == 125
    assert capsys.readouterr().err.startswith("unknown flag: --bogus\n\nUsage:  pydocker ps [OPTIONS]\n")
    assert main(["-H", f"unix://{tmp_path}/none", "ps"]) == 1
    assert "Cannot connect to the Docker daemon at unix://" in capsys.readouterr().err
    assert main(["ps", "--help"]) == 0
    assert "Usage:  pydocker ps [OPTIONS]" in capsys.readouterr().out
