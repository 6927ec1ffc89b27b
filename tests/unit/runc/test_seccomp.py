"""Seccomp filters: building them from OCI profiles, and what a loaded filter really does.

Effect tests load the filter in a forked child (a filter cannot be removed again) and send
their observations back through a pipe. They call syscalls by x86_64 number, so they run
only there; building filters needs neither root nor a particular machine.
"""
import ctypes
import errno
import json
import os
import platform
import resource
import signal
import socket
import sys
import traceback

import pytest

import errdefs
from runc.libcontainer import capabilities, seccomp

x86_64_only = pytest.mark.skipif(platform.machine() != "x86_64", reason="calls syscalls by their x86_64 numbers")

SYS_SCHED_YIELD = 24
SYS_CLONE = 56
SYS_MKDIR = 83
SYS_GETUID = 102
SYS_GETGID = 104
SYS_GETEUID = 107
SYS_GETEGID = 108
SYS_GETPPID = 110
SYS_GETPGRP = 111
SYS_GETSID = 124
SYS_PERSONALITY = 135
SYS_GETTID = 186
SYS_KEYCTL = 250
SYS_UNSHARE = 272
SYS_CLONE3 = 435

PR_SET_NO_NEW_PRIVS = 38
CLONE_NEWUTS = 0x04000000
KEYCTL_GET_KEYRING_ID = 0
KEY_SPEC_SESSION_KEYRING = -3
ADDR_NO_RANDOMIZE = 0x0040000
# Every CLONE_NEW* flag: Docker lets clone(2) through only when none is set.
CLONE_NAMESPACE_FLAGS = 0x7E020000

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long


def syscall(number, *args):
    """The syscall's result, or minus its errno."""
    result = libc.syscall(ctypes.c_long(number), *(ctypes.c_long(arg) for arg in args))
    return -ctypes.get_errno() if result == -1 else result


def set_no_new_privs():
    assert libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0


def fork_child(body):
    """Run body() in a forked child; returns its wait status and what it sent back."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        status = 1
        try:
            os.close(read_fd)
            try:
                message = {"result": body()}
                status = 0
            except BaseException:
                message = {"error": traceback.format_exc()}
            os.write(write_fd, json.dumps(message).encode())
        finally:
            os._exit(status)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as reader:
        payload = reader.read()
    _, wait_status = os.waitpid(pid, 0)
    return wait_status, json.loads(payload) if payload else None


def run_in_child(body):
    wait_status, message = fork_child(body)
    assert message is not None, f"the child sent nothing (wait status {wait_status:#x})"
    assert "error" not in message, message["error"]
    assert os.waitstatus_to_exitcode(wait_status) == 0
    return message["result"]


class RefuseImports:
    """A meta path finder that fails every import not already done, as after pivot_root."""

    def find_spec(self, name, path=None, target=None):
        raise ImportError(f"{name} imported after the root moved")


def rule(names, action, errno_ret=None, args=()):
    entry = {"names": list(names), "action": action}
    if errno_ret is not None:
        entry["errnoRet"] = errno_ret
    if args:
        entry["args"] = [{"index": index, "value": value, "valueTwo": value_two, "op": op}
                         for index, op, value, value_two in args]
    return entry


# --- building filters ---------------------------------------------------------------------

@pytest.mark.parametrize("action", seccomp.ACTIONS)
def test_every_action_builds_as_default_and_rule(action):
    other = "SCMP_ACT_TRAP" if action == "SCMP_ACT_ALLOW" else "SCMP_ACT_ALLOW"
    prepared = seccomp.prepare({"defaultAction": action, "syscalls": [rule(["getppid"], other)]})
    assert isinstance(prepared, seccomp.Filter)
    seccomp.prepare({"defaultAction": other, "syscalls": [rule(["getppid"], action)]})


@pytest.mark.parametrize("op", seccomp.OPERATORS)
def test_every_operator_builds(op):
    seccomp.prepare({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [rule(["getppid"], "SCMP_ACT_ERRNO", args=[(0, op, 0xF0, 0x30)])],
    })


BIG_ENDIAN_ARCHITECTURES = {
    "SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64", "SCMP_ARCH_MIPS64N32", "SCMP_ARCH_PARISC", "SCMP_ARCH_PARISC64",
    "SCMP_ARCH_PPC", "SCMP_ARCH_PPC64", "SCMP_ARCH_S390", "SCMP_ARCH_S390X",
}


@pytest.mark.parametrize("arch", seccomp.ARCHITECTURES)
def test_every_architecture_of_the_machines_byte_order_builds(arch):
    profile = {
        "defaultAction": "SCMP_ACT_ERRNO",
        "architectures": [arch],
        "syscalls": [rule(["read", "write", "mkdir", "_llseek"], "SCMP_ACT_ALLOW")],
    }
    if (arch in BIG_ENDIAN_ARCHITECTURES) == (sys.byteorder == "big"):
        seccomp.prepare(profile)
    else:
        with pytest.raises(errdefs.InvalidArgument, match=f"{arch} cannot share a filter"):
            seccomp.prepare(profile)


@pytest.mark.parametrize("flag", seccomp.FLAGS)
def test_every_flag_builds(flag):
    seccomp.prepare({"defaultAction": "SCMP_ACT_ALLOW", "flags": [flag]})


def test_feature_lists_name_what_pyrunc_supports():
    assert "SCMP_ACT_NOTIFY" not in seccomp.ACTIONS
    assert {"SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_TRAP", "SCMP_ACT_ERRNO",
            "SCMP_ACT_TRACE", "SCMP_ACT_ALLOW", "SCMP_ACT_LOG"} == set(seccomp.ACTIONS)
    assert len(seccomp.OPERATORS) == 7
    assert {"SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_AARCH64"} <= set(seccomp.ARCHITECTURES)
    assert set(seccomp.FLAGS) == {
        "SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
    }


def test_unknown_syscall_names_are_skipped():
    seccomp.prepare({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [rule(["no_such_syscall", "mkdir"], "SCMP_ACT_ERRNO"),
                     rule(["no_such_syscall"], "SCMP_ACT_KILL", args=[(0, "SCMP_CMP_EQ", 1, 0)])],
    })


def test_rule_with_the_default_action_is_skipped():
    seccomp.prepare({
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 1,
        "syscalls": [rule(["mkdir"], "SCMP_ACT_ERRNO", errno_ret=1), rule(["rmdir"], "SCMP_ACT_ERRNO")],
    })


def test_same_syscall_with_several_conditions_on_one_argument_builds():
    seccomp.prepare({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [rule(["getppid"], "SCMP_ACT_ERRNO",
                          args=[(0, "SCMP_CMP_EQ", 7, 0), (0, "SCMP_CMP_EQ", 9, 0), (1, "SCMP_CMP_GT", 2, 0)])],
    })


@pytest.mark.parametrize("profile, kind, words", [
    ({"defaultAction": "SCMP_ACT_NOTIFY"}, errdefs.NotImplemented, ["defaultAction", "SCMP_ACT_NOTIFY"]),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [rule(["getppid"], "SCMP_ACT_NOTIFY")]},
     errdefs.NotImplemented, ["syscalls[0].action", "SCMP_ACT_NOTIFY"]),
    ({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/run/agent.sock"},
     errdefs.NotImplemented, ["listenerPath"]),
    ({"defaultAction": "SCMP_ACT_BOGUS"}, errdefs.InvalidArgument, ["defaultAction", "SCMP_ACT_BOGUS"]),
    ({"syscalls": [rule(["getppid"], "SCMP_ACT_ALLOW")]}, errdefs.InvalidArgument, ["defaultAction", "None"]),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [rule(["mkdir"], "SCMP_ACT_ERRNO"), rule(["getppid"], "ALLOW")]},
     errdefs.InvalidArgument, ["syscalls[1].action", "'ALLOW'"]),
    ({"defaultAction": "SCMP_ACT_ALLOW",
      "syscalls": [rule(["getppid"], "SCMP_ACT_ERRNO", args=[(0, "SCMP_CMP_EQ", 1, 0), (1, "SCMP_CMP_LIKE", 1, 0)])]},
     errdefs.InvalidArgument, ["syscalls[0].args[1].op", "SCMP_CMP_LIKE"]),
    ({"defaultAction": "SCMP_ACT_ALLOW",
      "syscalls": [rule(["getppid"], "SCMP_ACT_ERRNO", args=[(6, "SCMP_CMP_EQ", 1, 0)])]},
     errdefs.InvalidArgument, ["syscalls[0].args[0].index", "6"]),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [rule(["getppid"], "SCMP_ACT_ERRNO", errno_ret=70000)]},
     errdefs.InvalidArgument, ["syscalls[0].action", "70000"]),
    ({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_Z80"]},
     errdefs.InvalidArgument, ["architectures[1]", "SCMP_ARCH_Z80"]),
    ({"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]},
     errdefs.InvalidArgument, ["flags[0]", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [rule([""], "SCMP_ACT_ERRNO")]},
     errdefs.InvalidArgument, ["syscalls[0].names"]),
])
def test_bad_profiles_are_refused_naming_the_field(profile, kind, words):
    with pytest.raises(kind) as caught:
        seccomp.prepare(profile)
    for word in words:
        assert word in str(caught.value)


# --- what a loaded filter does ------------------------------------------------------------

@x86_64_only
def test_loaded_filter_applies_actions_errnos_and_every_operator(tmp_path):
    profile = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            rule(["no_such_syscall", "mkdir"], "SCMP_ACT_ERRNO", errno_ret=errno.EPERM),
            rule(["getuid"], "SCMP_ACT_ERRNO", errno.E2BIG, [(0, "SCMP_CMP_NE", 5, 0)]),
            rule(["getgid"], "SCMP_ACT_ERRNO", errno.ENOEXEC, [(0, "SCMP_CMP_LT", 10, 0)]),
            rule(["geteuid"], "SCMP_ACT_ERRNO", errno.EBADF, [(0, "SCMP_CMP_LE", 10, 0)]),
            rule(["getegid"], "SCMP_ACT_ERRNO", errno.ECHILD, [(0, "SCMP_CMP_EQ", 0x1_0000_002A, 0)]),
            rule(["gettid"], "SCMP_ACT_ERRNO", errno.EAGAIN, [(0, "SCMP_CMP_GE", 100, 0)]),
            rule(["sched_yield"], "SCMP_ACT_ERRNO", errno.ENOMEM, [(0, "SCMP_CMP_GT", 100, 0)]),
            rule(["getpgrp"], "SCMP_ACT_ERRNO", errno.EACCES, [(0, "SCMP_CMP_MASKED_EQ", 0xF0, 0x30)]),
            # Two conditions on one argument: any of them applies the action.
            rule(["getppid"], "SCMP_ACT_ERRNO", errno.ENOTTY, [(0, "SCMP_CMP_EQ", 7, 0), (0, "SCMP_CMP_EQ", 9, 0)]),
            # Conditions on different arguments: all of them must hold.
            rule(["getsid"], "SCMP_ACT_ERRNO", errno.EXDEV, [(0, "SCMP_CMP_EQ", 0, 0), (1, "SCMP_CMP_EQ", 1, 0)]),
            rule(["getsid"], "SCMP_ACT_TRACE", args=[(0, "SCMP_CMP_EQ", 1, 0)]),
        ],
    }
    target = str(tmp_path / "denied")

    def body():
        # The caller's session and group may be 0 (a CI runner's processes can sit in the kernel's
        # session), so allowed calls are compared with what they returned before the filter.
        unfiltered = {"getpgrp": os.getpgrp(), "getsid": os.getsid(0)}
        set_no_new_privs()
        seccomp.prepare(profile).load()
        try:
            os.mkdir(target)
            mkdir = 0
        except OSError as exc:
            mkdir = -exc.errno
        return {
            "unfiltered": unfiltered,
            "mkdir": mkdir,
            "getuid": [syscall(SYS_GETUID, 6), syscall(SYS_GETUID, 5)],
            "getgid": [syscall(SYS_GETGID, 9), syscall(SYS_GETGID, 10)],
            "geteuid": [syscall(SYS_GETEUID, 10), syscall(SYS_GETEUID, 11)],
            "getegid": [syscall(SYS_GETEGID, 0x1_0000_002A), syscall(SYS_GETEGID, 0x2A)],
            "gettid": [syscall(SYS_GETTID, 100), syscall(SYS_GETTID, 99)],
            "sched_yield": [syscall(SYS_SCHED_YIELD, 101), syscall(SYS_SCHED_YIELD, 100)],
            "getpgrp": [syscall(SYS_GETPGRP, 0x3F), syscall(SYS_GETPGRP, 0x4F)],
            "getppid": [syscall(SYS_GETPPID, 7), syscall(SYS_GETPPID, 9), syscall(SYS_GETPPID, 8)],
            "getsid": [syscall(SYS_GETSID, 0, 1), syscall(SYS_GETSID, 0, 2), syscall(SYS_GETSID, 1)],
        }

    seen = run_in_child(body)
    assert not os.path.exists(target)
    assert seen["mkdir"] == -errno.EPERM
    assert seen["getuid"][0] == -errno.E2BIG and seen["getuid"][1] >= 0
    assert seen["getgid"][0] == -errno.ENOEXEC and seen["getgid"][1] >= 0
    assert seen["geteuid"][0] == -errno.EBADF and seen["geteuid"][1] >= 0
    assert seen["getegid"][0] == -errno.ECHILD and seen["getegid"][1] >= 0
    assert seen["gettid"][0] == -errno.EAGAIN and seen["gettid"][1] > 0
    assert seen["sched_yield"] == [-errno.ENOMEM, 0]
    assert seen["getpgrp"] == [-errno.EACCES, seen["unfiltered"]["getpgrp"]]
    assert seen["getppid"][:2] == [-errno.ENOTTY, -errno.ENOTTY]
    assert seen["getppid"][2] == os.getpid()
    assert seen["getsid"][:2] == [-errno.EXDEV, seen["unfiltered"]["getsid"]]
    # SCMP_ACT_TRACE's errno goes to a tracer; without one the kernel fails the call with ENOSYS.
    assert seen["getsid"][2] == -errno.ENOSYS


@x86_64_only
def test_kill_process_action_kills_with_sigsys():
    profile = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [rule(["getppid"], "SCMP_ACT_KILL_PROCESS")]}

    def body():
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        set_no_new_privs()
        seccomp.prepare(profile).load()
        syscall(SYS_GETPPID)
        return "survived"

    wait_status, message = fork_child(body)
    assert message is None
    assert os.WIFSIGNALED(wait_status) and os.WTERMSIG(wait_status) == signal.SIGSYS


@x86_64_only
@pytest.mark.root
def test_load_needs_neither_imports_nor_files(tmp_path):
    profile = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [rule(["mkdir"], "SCMP_ACT_ERRNO")]}
    empty_root = tmp_path / "root"
    empty_root.mkdir()

    def body():
        prepared = seccomp.prepare(profile)
        sys.meta_path.insert(0, RefuseImports())
        os.chroot(empty_root)
        os.chdir("/")
        prepared.load()
        return syscall(SYS_MKDIR, 0, 0)

    assert run_in_child(body) == -errno.EPERM


def test_filter_with_every_flag_loads():
    profile = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "flags": list(seccomp.FLAGS),
        "syscalls": [rule(["mkdir"], "SCMP_ACT_ERRNO")],
    }

    def body():
        set_no_new_privs()
        seccomp.prepare(profile).load()
        return "loaded"

    assert run_in_child(body) == "loaded"


def test_loading_without_no_new_privs_or_cap_sys_admin_is_refused():
    profile = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [rule(["mkdir"], "SCMP_ACT_ERRNO")]}

    def body():
        prepared = seccomp.prepare(profile)
        capabilities.apply(capabilities.parse({})[0])
        sys.meta_path.insert(0, RefuseImports())
        try:
            prepared.load()
        except errdefs.PermissionDenied as exc:
            return str(exc)
        return "loaded"

    assert "no_new_privs" in run_in_child(body)


# A Docker-like profile in the OCI form dockerd writes to config.json for an unprivileged
# container on x86_64: everything but the listed syscalls fails with EPERM.
DOCKER_LIKE_ALLOWED = """
accept accept4 access adjtimex alarm arch_prctl bind brk capget capset chdir chmod chown chroot
clock_getres clock_gettime clock_nanosleep close close_range connect copy_file_range creat dup
dup2 dup3 epoll_create epoll_create1 epoll_ctl epoll_ctl_old epoll_pwait epoll_pwait2 epoll_wait
epoll_wait_old eventfd eventfd2 execve execveat exit exit_group faccessat faccessat2 fadvise64
fallocate fanotify_init fanotify_mark fchdir fchmod fchmodat fchown fchownat fcntl fdatasync
fgetxattr flistxattr flock fork fremovexattr fsetxattr fstat fstatfs fsync ftruncate futex
futex_waitv futimesat get_robust_list get_thread_area getcpu getcwd getdents getdents64 getegid
geteuid getgid getgroups getitimer getpeername getpgid getpgrp getpid getppid getpriority
getrandom getresgid getresuid getrlimit getrusage getsid getsockname getsockopt gettid
gettimeofday getuid getxattr inotify_add_watch inotify_init inotify_init1 inotify_rm_watch
io_cancel io_destroy io_getevents io_pgetevents io_setup io_submit io_uring_enter
io_uring_register io_uring_setup ioctl ioprio_get ioprio_set kill landlock_add_rule
landlock_create_ruleset landlock_restrict_self lchown lgetxattr link linkat listen listxattr
llistxattr lremovexattr lseek lsetxattr lstat madvise membarrier memfd_create memfd_secret
migrate_pages mincore mkdir mkdirat mknod mknodat mlock mlock2 mlockall mmap modify_ldt mprotect
mq_getsetattr mq_notify mq_open mq_timedreceive mq_timedsend mq_unlink mremap msgctl msgget
msgrcv msgsnd msync munlock munlockall munmap nanosleep newfstatat open openat openat2 pause
pidfd_getfd pidfd_open pidfd_send_signal pipe pipe2 pkey_alloc pkey_free pkey_mprotect poll
ppoll prctl pread64 preadv preadv2 prlimit64 process_madvise process_mrelease pselect6 ptrace
pwrite64 pwritev pwritev2 read readahead readlink readlinkat readv recvfrom recvmmsg recvmsg
remap_file_pages removexattr rename renameat renameat2 restart_syscall rmdir rseq rt_sigaction
rt_sigpending rt_sigprocmask rt_sigqueueinfo rt_sigreturn rt_sigsuspend rt_sigtimedwait
rt_tgsigqueueinfo sched_get_priority_max sched_get_priority_min sched_getaffinity sched_getattr
sched_getparam sched_getscheduler sched_rr_get_interval sched_setaffinity sched_setattr
sched_setparam sched_setscheduler sched_yield seccomp select semctl semget semop semtimedop
sendfile sendmmsg sendmsg sendto set_robust_list set_thread_area set_tid_address setdomainname
setfsgid setfsuid setgid setgroups sethostname setitimer setpgid setpriority setregid setresgid
setresuid setreuid setrlimit setsid setsockopt setuid setxattr shmat shmctl shmdt shmget
shutdown sigaltstack signalfd signalfd4 socketpair splice stat statfs statx symlink
symlinkat sync sync_file_range syncfs sysinfo tee tgkill time timer_create timer_delete
timer_getoverrun timer_gettime timer_settime timerfd_create timerfd_gettime timerfd_settime
times tkill truncate umask uname unlink unlinkat utime utimensat utimes vfork vmsplice wait4
waitid write writev
_llseek _newselect chown32 fadvise64_64 fchown32 fcntl64 fstat64 fstatat64 fstatfs64
ftruncate64 getegid32 geteuid32 getgid32 getgroups32 getresgid32 getresuid32 getuid32 ipc
lchown32 lstat64 mmap2 recv send sendfile64 setfsgid32 setfsuid32 setgid32 setgroups32
setregid32 setresgid32 setresuid32 setreuid32 setuid32 sigprocmask sigreturn socketcall stat64
statfs64 truncate64 ugetrlimit waitpid clock_gettime64 clock_nanosleep_time64 clock_getres_time64
futex_time64 ppoll_time64 pselect6_time64 recvmmsg_time64 rt_sigtimedwait_time64
semtimedop_time64 timer_gettime64 timer_settime64 timerfd_gettime64 timerfd_settime64
utimensat_time64 io_pgetevents_time64 mq_timedreceive_time64 mq_timedsend_time64
sched_rr_get_interval_time64 arm_fadvise64_64 arm_sync_file_range breakpoint cacheflush set_tls
sync_file_range2
mseal lsm_get_self_attr statmount listmount
""".split()


def docker_like_profile():
    personalities = (0x0, 0x0008, 0x20000, 0x20008, 0xFFFFFFFF)
    return {
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": errno.EPERM,
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [
            rule(DOCKER_LIKE_ALLOWED, "SCMP_ACT_ALLOW"),
            *(rule(["personality"], "SCMP_ACT_ALLOW", args=[(0, "SCMP_CMP_EQ", persona, 0)])
              for persona in personalities),
            rule(["clone"], "SCMP_ACT_ALLOW", args=[(0, "SCMP_CMP_MASKED_EQ", CLONE_NAMESPACE_FLAGS, 0)]),
            rule(["clone3"], "SCMP_ACT_ERRNO", errno_ret=errno.ENOSYS),
            # Same as the default action, so skipped.
            rule(["bpf", "perf_event_open"], "SCMP_ACT_ERRNO", errno_ret=errno.EPERM),
            # Conditions on one argument, so any of these families is allowed.
            rule(["socket"], "SCMP_ACT_ALLOW", args=[
                (0, "SCMP_CMP_EQ", family, 0) for family in (socket.AF_UNIX, socket.AF_INET, socket.AF_INET6)
            ]),
        ],
    }


def test_docker_like_profile_has_a_realistic_size():
    assert len(DOCKER_LIKE_ALLOWED) > 350
    seccomp.prepare(docker_like_profile())


@x86_64_only
def test_docker_like_profile_denies_dangerous_calls_and_keeps_normal_ones(tmp_path):
    profile = docker_like_profile()
    made = tmp_path / "made"

    def body():
        set_no_new_privs()
        seccomp.prepare(profile).load()
        seen = {}
        os.mkdir(made)
        with open("/proc/self/status", "rb") as status:
            seen["read"] = len(status.read()) > 0
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as unix_socket:
            seen["unix socket"] = unix_socket.fileno() >= 0
        try:
            socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
            seen["vsock socket"] = 0
        except OSError as exc:
            seen["vsock socket"] = -exc.errno
        pid = os.fork()
        if pid == 0:
            os._exit(7)
        seen["fork"] = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
        clone = syscall(SYS_CLONE, CLONE_NEWUTS | signal.SIGCHLD, 0, 0, 0, 0)
        if clone == 0:
            os._exit(0)  # only if the filter failed to deny it
        seen["clone with a namespace"] = clone
        seen["clone3"] = syscall(SYS_CLONE3, 0, 0)
        seen["unshare"] = syscall(SYS_UNSHARE, CLONE_NEWUTS)
        seen["keyctl"] = syscall(SYS_KEYCTL, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0)
        seen["mkdir by number"] = syscall(SYS_MKDIR, 0, 0)
        seen["query personality"] = syscall(SYS_PERSONALITY, 0xFFFFFFFF)
        seen["change personality"] = syscall(SYS_PERSONALITY, ADDR_NO_RANDOMIZE)
        return seen

    seen = run_in_child(body)
    assert made.is_dir()
    assert seen == {
        "read": True,
        "unix socket": True,
        "vsock socket": -errno.EPERM,
        "fork": 7,
        "clone with a namespace": -errno.EPERM,
        "clone3": -errno.ENOSYS,
        "unshare": -errno.EPERM,
        "keyctl": -errno.EPERM,
        "mkdir by number": -errno.EFAULT,  # allowed: the kernel itself rejects the NULL path
        "query personality": 0,
        "change personality": -errno.EPERM,
    }
