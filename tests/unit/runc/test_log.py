"""How pyrunc words an error for stderr, the --log file and the parent of a failed child."""
import errno

import errdefs
from runc.log import describe


def test_an_oserror_names_its_path_once_and_drops_the_errno_prefix():
    assert describe(FileNotFoundError(errno.ENOENT, "No such file or directory", "/no/such")) == \
        "No such file or directory: /no/such"
    # syscalls puts the path in the message already.
    assert describe(OSError(errno.EPERM, "mount on /x: Operation not permitted", "/x")) == \
        "mount on /x: Operation not permitted"
    assert describe(OSError(errno.EPERM, "unshare 0x20000: Operation not permitted")) == \
        "unshare 0x20000: Operation not permitted"


def test_other_errors_are_their_text_or_at_least_their_type():
    assert describe(errdefs.NotFound("container x does not exist")) == "container x does not exist"
    assert describe(OSError("no errno")) == "no errno"
    assert describe(KeyError()) == "KeyError"
