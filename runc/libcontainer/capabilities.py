"""Linux capabilities of the container process: OCI names, parsing, and applying them.

The container's init applies them after pivot_root, when the host's files may no longer
be reachable, so nothing here reads a file or imports lazily once the sets are parsed.
"""
from . import syscalls as S

NAMES = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
    "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK",
    "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
    "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
)
"""Capability names indexed by number, as the kernel numbers them."""

NUMBERS = {name: number for number, name in enumerate(NAMES)}

SET_NAMES = ("bounding", "effective", "permitted", "inheritable", "ambient")

_CAP_LAST_CAP = "/proc/sys/kernel/cap_last_cap"


class Capabilities:
    """The five capability sets as bitmasks (bit n is capability n), and the kernel's
    highest capability, read when the sets were made so that applying them needs no /proc."""

    __slots__ = (*SET_NAMES, "last_cap")

    def __init__(self, bounding=0, effective=0, permitted=0, inheritable=0, ambient=0, *, last_cap):
        self.bounding = bounding
        self.effective = effective
        self.permitted = permitted
        self.inheritable = inheritable
        self.ambient = ambient
        self.last_cap = last_cap

    def __repr__(self):
        fields = ", ".join(f"{slot}={getattr(self, slot)!r}" for slot in self.__slots__)
        return f"Capabilities({fields})"


def last_cap() -> int:
    """The highest capability number the running kernel knows."""
    with open(_CAP_LAST_CAP, "rb") as file:
        return int(file.read())


def parse(spec_caps: dict) -> tuple[Capabilities, list[str]]:
    """The sets of an OCI `process.capabilities` object (absent sets are empty), and the
    names left out, unknown or beyond the running kernel, for the caller to warn about."""
    kernel_last = last_cap()
    masks = {}
    ignored = set()
    for set_name in SET_NAMES:
        mask = 0
        for name in spec_caps.get(set_name) or ():
            number = NUMBERS.get(name)
            if number is None or number > kernel_last:
                ignored.add(name)
            else:
                mask |= 1 << number
        masks[set_name] = mask
    return Capabilities(**masks, last_cap=kernel_last), sorted(ignored)


def _name(number):
    return NAMES[number] if number < len(NAMES) else f"capability {number}"


def drop_bounding(caps: Capabilities) -> None:
    """Drop from the bounding set every capability not in `caps.bounding` (needs CAP_SETPCAP)."""
    for number in range(caps.last_cap + 1):
        if not caps.bounding >> number & 1:
            try:
                S.linux.prctl(S.PR_CAPBSET_DROP, number)
            except OSError as e:
                raise OSError(e.errno, f"dropping {_name(number)} from the bounding set: {e.strerror}") from None


def set_keep_caps(keep: bool) -> None:
    """Whether the permitted set survives the switch away from uid 0 (PR_SET_KEEPCAPS)."""
    S.linux.prctl(S.PR_SET_KEEPCAPS, int(keep))


def apply(caps: Capabilities) -> list[str]:
    """Set the effective, permitted, inheritable and ambient sets of the calling thread.

    Returns the ambient capabilities the kernel refused to raise (an ambient capability must
    also be permitted and inheritable), for the caller to warn about: runc does not fail the
    container for them.
    """
    S.linux.capset(caps.effective, caps.permitted, caps.inheritable)
    S.linux.prctl(S.PR_CAP_AMBIENT, S.PR_CAP_AMBIENT_CLEAR_ALL)
    refused = []
    for number in range(caps.last_cap + 1):
        if caps.ambient >> number & 1:
            try:
                S.linux.prctl(S.PR_CAP_AMBIENT, S.PR_CAP_AMBIENT_RAISE, number)
            except OSError:
                refused.append(_name(number))
    return refused
