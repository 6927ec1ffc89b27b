"""Seccomp filters from the OCI `linux.seccomp` object, built and loaded through libseccomp.

Building and loading are split because the container's init must dlopen the host's
libseccomp while the host filesystem is still visible (before pivot_root), but may have to
load the filter only much later (after dropping capabilities, right before exec). So
`prepare` does every library call that can fail on bad input, and `Filter.load` only hands
the finished filter to the kernel; it imports nothing and touches no file.
"""
import ctypes
import errno
import os

import errdefs

# Values of the SCMP_ACT_* macros in libseccomp's seccomp.h. The two that carry an errno
# keep it in the low 16 bits.
_ACTIONS = {
    "SCMP_ACT_KILL": 0x00000000,
    "SCMP_ACT_KILL_THREAD": 0x00000000,
    "SCMP_ACT_KILL_PROCESS": 0x80000000,
    "SCMP_ACT_TRAP": 0x00030000,
    "SCMP_ACT_LOG": 0x7FFC0000,
    "SCMP_ACT_ALLOW": 0x7FFF0000,
}
_ACTIONS_WITH_ERRNO = {
    "SCMP_ACT_ERRNO": 0x00050000,
    "SCMP_ACT_TRACE": 0x7FF00000,
}
_ERRNO_MASK = 0xFFFF

# enum scmp_compare in seccomp.h.
_OPERATORS = {
    "SCMP_CMP_NE": 1,
    "SCMP_CMP_LT": 2,
    "SCMP_CMP_LE": 3,
    "SCMP_CMP_EQ": 4,
    "SCMP_CMP_GE": 5,
    "SCMP_CMP_GT": 6,
    "SCMP_CMP_MASKED_EQ": 7,
}

# enum scmp_filter_attr in seccomp.h.
_ATTR_CTL_NNP = 3
_ATTR_CTL_OPTIMIZE = 8
_ATTR_API_SYSRAWRC = 9
_FLAG_ATTRIBUTES = {
    "SECCOMP_FILTER_FLAG_TSYNC": 4,
    "SECCOMP_FILTER_FLAG_LOG": 6,
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW": 7,
}

# Each SCMP_ARCH_X name maps to libseccomp's arch name x.lower(), resolved at prepare time.
_ARCH_PREFIX = "SCMP_ARCH_"

ACTIONS = tuple(sorted([*_ACTIONS, *_ACTIONS_WITH_ERRNO]))
OPERATORS = tuple(sorted(_OPERATORS))
ARCHITECTURES = (
    "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM", "SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64",
    "SCMP_ARCH_MIPS64N32", "SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64", "SCMP_ARCH_MIPSEL64N32",
    "SCMP_ARCH_PARISC", "SCMP_ARCH_PARISC64", "SCMP_ARCH_PPC", "SCMP_ARCH_PPC64",
    "SCMP_ARCH_PPC64LE", "SCMP_ARCH_RISCV64", "SCMP_ARCH_S390", "SCMP_ARCH_S390X",
    "SCMP_ARCH_X32", "SCMP_ARCH_X86", "SCMP_ARCH_X86_64",
)
FLAGS = tuple(sorted(_FLAG_ATTRIBUTES))

_UNSUPPORTED_ACTION = "SCMP_ACT_NOTIFY"
_MAX_ARGUMENTS = 6
_UNKNOWN_SYSCALL = -1  # __NR_SCMP_ERROR; other negative numbers are valid pseudo-syscalls
# A binary tree of syscalls (instead of a linear chain) only pays off for long rulesets;
# counting added rules also keeps it off a filter without rules, whose default action
# libseccomp up to 2.5.4 ignores when optimized. runc uses the same cut-off.
_BINARY_TREE_MIN_RULES = 33


class _ArgCmp(ctypes.Structure):
    _fields_ = [
        ("arg", ctypes.c_uint),
        ("op", ctypes.c_int),
        ("datum_a", ctypes.c_uint64),
        ("datum_b", ctypes.c_uint64),
    ]


_libseccomp = None


def _library():
    global _libseccomp
    if _libseccomp is None:
        try:
            lib = ctypes.CDLL("libseccomp.so.2")
        except OSError as exc:
            raise errdefs.FailedPrecondition(f"seccomp needs libseccomp.so.2 on the host: {exc}") from None
        ctx = ctypes.c_void_p
        for name, restype, argtypes in (
            ("seccomp_init", ctx, [ctypes.c_uint32]),
            ("seccomp_release", None, [ctx]),
            ("seccomp_load", ctypes.c_int, [ctx]),
            ("seccomp_attr_set", ctypes.c_int, [ctx, ctypes.c_int, ctypes.c_uint32]),
            ("seccomp_arch_resolve_name", ctypes.c_uint32, [ctypes.c_char_p]),
            ("seccomp_arch_add", ctypes.c_int, [ctx, ctypes.c_uint32]),
            ("seccomp_syscall_resolve_name", ctypes.c_int, [ctypes.c_char_p]),
            ("seccomp_rule_add_array", ctypes.c_int,
             [ctx, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint, ctypes.POINTER(_ArgCmp)]),
        ):
            function = getattr(lib, name)
            function.restype = restype
            function.argtypes = argtypes
        _libseccomp = lib
    return _libseccomp


class Filter:
    """A filter built by `prepare`, waiting to be loaded into the calling process."""

    __slots__ = ("_ctx", "_seccomp_load", "_seccomp_release")

    def __init__(self, lib, ctx):
        self._ctx = ctx
        # Bound now so load() needs no symbol lookup once the host filesystem is gone.
        self._seccomp_load = lib.seccomp_load
        self._seccomp_release = lib.seccomp_release

    def load(self) -> None:
        """Install the filter into this process (and its future children); usable once."""
        rc = self._seccomp_load(self._ctx)
        self._seccomp_release(self._ctx)
        self._ctx = None
        if rc == 0:
            return
        message = f"loading the seccomp filter into the kernel failed: {os.strerror(-rc)}"
        if rc == -errno.EACCES:
            raise errdefs.PermissionDenied(message + " (the process needs no_new_privs set or CAP_SYS_ADMIN)")
        raise errdefs.Internal(message)


def prepare(spec_seccomp: dict) -> Filter:
    """Build the filter for an OCI `linux.seccomp` object without loading it."""
    if spec_seccomp.get("listenerPath"):
        raise errdefs.NotImplemented("linux.seccomp.listenerPath: seccomp user notification is not supported")
    default_action = _action(
        spec_seccomp.get("defaultAction"), spec_seccomp.get("defaultErrnoRet"), "linux.seccomp.defaultAction"
    )
    lib = _library()
    ctx = lib.seccomp_init(default_action)
    if not ctx:
        raise errdefs.Internal("seccomp_init failed: the kernel or libseccomp rejects the default action")
    try:
        _configure(lib, ctx, spec_seccomp)
        rule_count = 0
        for index, entry in enumerate(spec_seccomp.get("syscalls") or ()):
            rule_count += _add_rules(lib, ctx, entry, default_action, f"linux.seccomp.syscalls[{index}]")
        if rule_count >= _BINARY_TREE_MIN_RULES:
            _set_attribute(lib, ctx, _ATTR_CTL_OPTIMIZE, 2, "binary tree optimization")
    except BaseException:
        lib.seccomp_release(ctx)
        raise
    return Filter(lib, ctx)


def _configure(lib, ctx, spec_seccomp):
    # Whether no_new_privs is set is process.noNewPrivileges' decision, not a side effect of
    # loading the filter, which libseccomp would make it by default.
    _set_attribute(lib, ctx, _ATTR_CTL_NNP, 0, "no_new_privs control")
    # Otherwise libseccomp reports every refusal of the kernel's as ECANCELED.
    _set_attribute(lib, ctx, _ATTR_API_SYSRAWRC, 1, "raw kernel error codes")
    for index, flag in enumerate(spec_seccomp.get("flags") or ()):
        attribute = _FLAG_ATTRIBUTES.get(flag)
        if attribute is None:
            raise errdefs.InvalidArgument(f"linux.seccomp.flags[{index}]: unknown seccomp flag {flag!r}")
        _set_attribute(lib, ctx, attribute, 1, flag)
    for index, arch in enumerate(spec_seccomp.get("architectures") or ()):
        field = f"linux.seccomp.architectures[{index}]"
        if arch not in ARCHITECTURES:
            raise errdefs.InvalidArgument(f"{field}: unknown seccomp architecture {arch!r}")
        token = lib.seccomp_arch_resolve_name(arch[len(_ARCH_PREFIX):].lower().encode())
        if token == 0:
            raise errdefs.NotImplemented(f"{field}: the host's libseccomp does not support {arch}")
        rc = lib.seccomp_arch_add(ctx, token)
        if rc == -errno.EDOM:
            raise errdefs.InvalidArgument(
                f"{field}: {arch} cannot share a filter with this machine's architecture (a different byte order)"
            )
        if rc < 0 and rc != -errno.EEXIST:  # the native arch is in every filter already
            raise errdefs.InvalidArgument(f"{field}: cannot add {arch} to the filter: {os.strerror(-rc)}")


def _set_attribute(lib, ctx, attribute, value, what):
    rc = lib.seccomp_attr_set(ctx, attribute, value)
    if rc < 0:
        raise errdefs.NotImplemented(
            f"seccomp {what} is not supported by this kernel or libseccomp: {os.strerror(-rc)}"
        )


def _action(name, errno_ret, field):
    if name in _ACTIONS:
        return _ACTIONS[name]  # an errnoRet here has nothing to set; runc ignores it too
    if name in _ACTIONS_WITH_ERRNO:
        if errno_ret is None:
            errno_ret = errno.EPERM  # the OCI default
        elif not isinstance(errno_ret, int) or not 0 <= errno_ret <= _ERRNO_MASK:
            raise errdefs.InvalidArgument(f"{field}: errno {errno_ret!r} for {name} is not in 0..{_ERRNO_MASK}")
        return _ACTIONS_WITH_ERRNO[name] | errno_ret
    if name == _UNSUPPORTED_ACTION:
        raise errdefs.NotImplemented(f"{field}: {name} (seccomp user notification) is not supported")
    raise errdefs.InvalidArgument(f"{field}: unknown seccomp action {name!r}")


def _add_rules(lib, ctx, entry, default_action, field) -> int:
    action = _action(entry.get("action"), entry.get("errnoRet"), f"{field}.action")
    conditions = [_condition(arg, f"{field}.args[{index}]") for index, arg in enumerate(entry.get("args") or ())]
    if action == default_action:
        return 0  # libseccomp refuses a rule that changes nothing
    # libseccomp cannot AND two conditions on one argument; like runc, such conditions
    # become one rule each, so any of them matching applies the action.
    arguments = [condition.arg for condition in conditions]
    if len(set(arguments)) == len(arguments):
        rules = [conditions]
    else:
        rules = [[condition] for condition in conditions]
    rules = [(len(rule), (_ArgCmp * len(rule))(*rule)) for rule in rules]
    added = 0
    for name in entry.get("names") or ():
        if not name:
            raise errdefs.InvalidArgument(f"{field}.names: an empty syscall name")
        number = lib.seccomp_syscall_resolve_name(name.encode())
        if number == _UNKNOWN_SYSCALL:
            # As runc does: no rule can name a syscall the host's libseccomp does not know,
            # typically one newer than it, and profiles list such names ahead of time.
            continue
        for count, array in rules:
            rc = lib.seccomp_rule_add_array(ctx, action, number, count, array)
            if rc < 0:
                raise errdefs.InvalidArgument(
                    f"{field}: cannot add the rule for syscall {name!r}: {os.strerror(-rc)}"
                )
            added += 1
    return added


def _condition(arg, field):
    index = arg.get("index")
    if not isinstance(index, int) or not 0 <= index < _MAX_ARGUMENTS:
        raise errdefs.InvalidArgument(f"{field}.index: {index!r} is not a syscall argument index (0..5)")
    op = _OPERATORS.get(arg.get("op"))
    if op is None:
        raise errdefs.InvalidArgument(f"{field}.op: unknown seccomp operator {arg.get('op')!r}")
    # For SCMP_CMP_MASKED_EQ, value is the mask and valueTwo the value compared with.
    return _ArgCmp(index, op, arg.get("value", 0), arg.get("valueTwo", 0))
