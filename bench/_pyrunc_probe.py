"""pyrunc with timestamps: what `bench.runtime --profile` runs instead of .venv/bin/pyrunc.

    python bench/_pyrunc_probe.py EVENTS CPROFILE -- PYRUNC-ARGS...

Does what the `pyrunc` console script does (import runc.__main__, call its run()), after
wrapping the functions of each phase of `run` so that each appends
"<pid> <label> <b|e> <CLOCK_MONOTONIC ns>" to EVENTS. The forked intermediate and init
processes inherit the wrappers and the file descriptor, so their phases are recorded too,
up to init's execve of the container's program. CPROFILE, unless "-", receives a cProfile
dump of the pyrunc process (the parent; the forked children are not dumped).

pyrunc itself is not modified: the wrapping happens here, at run time. The cost of one
record is a few microseconds, a few dozen records per run.
"""
import time

T_UP = time.clock_gettime_ns(time.CLOCK_MONOTONIC)

import os  # noqa: E402 - already loaded by site: costs nothing
import sys  # noqa: E402

_EVENTS_FD = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)


def mark(label: str, edge: str, ns: int | None = None) -> None:
    ns = time.clock_gettime_ns(time.CLOCK_MONOTONIC) if ns is None else ns
    os.write(_EVENTS_FD, f"{os.getpid()} {label} {edge} {ns}\n".encode())


def wrap(owner, attr: str, label: str) -> None:
    original = getattr(owner, attr, None)
    if original is None:
        # pyrunc changed under the probe: say so rather than fail the run.
        os.write(_EVENTS_FD, f"{os.getpid()} {owner.__name__}.{attr} missing 0\n".encode())
        return

    def timed(*args, **kwargs):
        mark(label, "b")
        try:
            return original(*args, **kwargs)
        finally:
            mark(label, "e")

    timed.__wrapped__ = original
    setattr(owner, attr, timed)


def instrument_command(module) -> None:
    """Called once the verb's module (and so libcontainer) is imported."""
    from runc import foreground, spec
    from runc.libcontainer import cgroups, container, init, rootfs

    wrap(module, "run", "command run()")
    wrap(spec, "load", "spec.load (read + validate config.json)")
    wrap(spec, "validate", "spec.validate (OCI schema + runc rules)")
    wrap(container, "create", "container.create")
    wrap(container, "prepare_process", "prepare_process (capabilities, seccomp)")
    for cls in (cgroups.V1Manager, cgroups.V2Manager):
        wrap(cls, "create", "cgroup create")
        wrap(cls, "attach", "cgroup attach")
        wrap(cls, "set", "cgroup set (resources)")
        wrap(cls, "destroy", "cgroup destroy")
    wrap(init, "start", "fork intermediate")
    wrap(container._Launch, "_converse", "parent: wait for child set-up (sync)")
    wrap(init, "_intermediate", "intermediate: body")
    wrap(init, "_enter_namespaces", "intermediate: unshare namespaces")
    wrap(init, "_init", "init: body")
    wrap(init, "_prepare_rootfs", "init: prepare rootfs")
    wrap(rootfs, "prepare_root", "init: rootfs.prepare_root")
    wrap(rootfs, "mount_all", "init: rootfs.mount_all")
    wrap(rootfs, "create_devices", "init: rootfs.create_devices")
    wrap(rootfs, "pivot_root", "init: rootfs.pivot_root")
    wrap(init, "_configure_container", "init: configure (hostname, masked/readonly paths)")
    wrap(init, "_become_user", "init: capabilities + user")
    wrap(init, "_wait_for_start", "init: wait on exec fifo")
    wrap(init, "_exec", "init: close fds + execve")
    wrap(container.Container, "start", "Container.start (exec fifo)")
    wrap(foreground, "wait", "foreground.wait (container runs, exits)")
    wrap(container.Container, "destroy", "Container.destroy")


def main() -> int:
    separator = sys.argv.index("--")
    profile_path = sys.argv[2]
    argv = sys.argv[separator + 1:]
    profiler = None
    if profile_path != "-":
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    mark("python up (interpreter + site)", "e", T_UP)
    mark("import runc.__main__", "b")
    import runc.__main__ as entry

    mark("import runc.__main__", "e")
    load_command = entry.load_command

    def instrumented_load_command(name):
        mark("load verb module (lazy imports)", "b")
        module = load_command(name)
        mark("load verb module (lazy imports)", "e")
        instrument_command(module)
        return module

    entry.load_command = instrumented_load_command
    sys.argv = ["pyrunc", *argv]
    mark("run()", "b")
    try:
        status = entry.run(argv)
    finally:
        mark("run()", "e")
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(profile_path)
            report_missing_pyc()
    return status


def report_missing_pyc() -> None:
    """Record every loaded module whose source has no up-to-date .pyc (compiled on each start)."""
    for name, module in list(sys.modules.items()):
        spec = getattr(module, "__spec__", None)
        source = getattr(spec, "origin", None)
        if not (source and source.endswith(".py") and getattr(spec, "cached", None)):
            continue
        try:
            fresh = os.stat(spec.cached).st_mtime >= os.stat(source).st_mtime
        except OSError:
            fresh = False
        if not fresh:
            os.write(_EVENTS_FD, f"{os.getpid()} {name} nopyc 0\n".encode())


if __name__ == "__main__":
    sys.exit(main())
