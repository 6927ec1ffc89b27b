"""pyrunc's option parsing follows runc's (Go flag) conventions."""
import pytest

from runc import cli

OPTIONS = [
    cli.Option("-b", "--bundle", default="."),
    cli.Option("-d", "--detach", kind="flag"),
    cli.Option("-e", "--env", kind="append"),
    cli.Option("--preserve-fds", kind="int", default=0),
]
ARGUMENTS = [cli.Argument("id"), cli.Argument("command", rest=True)]


def test_options_then_arguments():
    args = cli.parse(["-b", "/x", "--detach", "-e", "A=1", "--env=B=2", "--preserve-fds", "2", "c1", "sh"], OPTIONS, ARGUMENTS)
    assert (args.bundle, args.detach, args.env, args.preserve_fds, args.id, args.command) == \
        ("/x", True, ["A=1", "B=2"], 2, "c1", ["sh"])


def test_defaults():
    args = cli.parse(["c1"], OPTIONS, ARGUMENTS)
    assert (args.bundle, args.detach, args.env, args.preserve_fds, args.command) == (".", False, [], 0, [])


def test_the_first_argument_ends_the_options():
    args = cli.parse(["c1", "sh", "-c", "echo -b"], OPTIONS, ARGUMENTS)
    assert args.command == ["sh", "-c", "echo -b"] and args.bundle == "."


def test_go_style_single_dash_long_options_and_double_dash():
    args = cli.parse(["-bundle=/b", "-detach=false", "--", "-weird-id"], OPTIONS, ARGUMENTS)
    assert (args.bundle, args.detach, args.id) == ("/b", False, "-weird-id")


@pytest.mark.parametrize("argv,message", [
    (["--nope", "c1"], "not defined: --nope"),
    (["-b"], "needs an argument"),
    (["--preserve-fds", "x", "c1"], "not a number"),
    ([], "'id' is required"),
    (["--detach=maybe", "c1"], "invalid boolean"),
])
def test_usage_errors(argv, message):
    with pytest.raises(cli.UsageError, match=message):
        cli.parse(argv, OPTIONS, ARGUMENTS)


def test_extra_arguments_are_refused():
    with pytest.raises(cli.UsageError, match="unexpected arguments: b"):
        cli.parse(["a", "b"], OPTIONS, [cli.Argument("id")])


def test_usage_describes_the_arguments_that_have_help():
    text = cli.usage("pyrunc ps", "List.", [], [cli.Argument("id"), cli.Argument("ps_args", rest=True, help="for ps")])
    assert "arguments:\n  ps_args" in text and text.rstrip().endswith("for ps")
    assert "  id " not in text


def test_help_is_only_an_option():
    assert cli.wants_help(["-b", "x", "--help"], OPTIONS)
    assert cli.wants_help(["--bundle=x", "-h"], OPTIONS)
    assert not cli.wants_help(["c1", "sh", "--help"], OPTIONS)
    assert "--preserve-fds VALUE" in cli.usage("pyrunc run", "Run it.", OPTIONS, ARGUMENTS)
