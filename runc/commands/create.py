"""Create a container: set up namespaces, rootfs and cgroups, and leave its init blocked on
the exec fifo until `pyrunc start`. Always detached; stdio is handed to the container as is."""
from ..libcontainer import container


def add_create_options(parser) -> None:
    parser.add_argument("-b", "--bundle", default=".", help="path to the bundle (default: the current directory)")
    parser.add_argument("--console-socket", help="unix socket that receives the pty master when process.terminal is true")
    parser.add_argument("--pid-file", help="write the container init's pid here")
    parser.add_argument("--no-pivot", action="store_true", help="use chroot instead of pivot_root (ramdisk roots)")
    parser.add_argument("--no-new-keyring", action="store_true", help="keep the caller's session keyring")
    parser.add_argument("--preserve-fds", type=int, default=0, help="pass fds 3..3+N-1 on to the container")
    parser.add_argument("--pidfd-socket", help="not supported: pidfds are not handed out")


def create_options(ctx, args, **extra) -> container.CreateOptions:
    return container.CreateOptions(bundle=args.bundle, console_socket=args.console_socket, pid_file=args.pid_file,
                                   no_pivot=args.no_pivot, no_new_keyring=args.no_new_keyring,
                                   preserve_fds=args.preserve_fds, systemd_cgroup=ctx.systemd_cgroup, **extra)


def configure(parser) -> None:
    add_create_options(parser)
    parser.add_argument("id")


def run(ctx, args) -> int:
    container.create(ctx.root, args.id, create_options(ctx, args), ctx.log)
    return 0
