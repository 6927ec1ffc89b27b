"""Create a container: set up namespaces, rootfs and cgroups, and leave its init blocked on
the exec fifo until `pyrunc start`. Always detached; stdio is handed to the container as is."""
from .. import cli
from ..libcontainer import container

CREATE_OPTIONS = [
    cli.Option("-b", "--bundle", default=".", help="path to the bundle (default: the current directory)"),
    cli.Option("--console-socket", help="unix socket that receives the pty master when process.terminal is true"),
    cli.Option("--pid-file", help="write the container init's pid here"),
    cli.Option("--no-pivot", kind="flag", help="use chroot instead of pivot_root (ramdisk roots)"),
    cli.Option("--no-new-keyring", kind="flag", help="keep the caller's session keyring"),
    cli.Option("--preserve-fds", kind="int", default=0, help="pass fds 3..3+N-1 on to the container"),
]
OPTIONS = CREATE_OPTIONS
ARGUMENTS = [cli.Argument("id")]


def create_options(ctx, args, **extra) -> container.CreateOptions:
    return container.CreateOptions(bundle=args.bundle, console_socket=args.console_socket, pid_file=args.pid_file,
                                   no_pivot=args.no_pivot, no_new_keyring=args.no_new_keyring,
                                   preserve_fds=args.preserve_fds, systemd_cgroup=ctx.systemd_cgroup, **extra)


def run(ctx, args) -> int:
    container.create(ctx.root, args.id, create_options(ctx, args), ctx.log)
    return 0
