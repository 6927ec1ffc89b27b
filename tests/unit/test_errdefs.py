"""errdefs.status: which errors an RPC edge answers with their kind's status, and which are bugs."""
import pytest

import errdefs


@pytest.mark.parametrize("error, code", [
    (errdefs.NotFound("container x: not found"), 5),
    (errdefs.Conflict("x"), 9),
    (errdefs.Unknown("x"), 2),
    (FileNotFoundError(2, "No such file"), 5),
    (PermissionError(13, "Permission denied"), 7),
    (OSError(28, "No space left on device"), 2),
])
def test_expected_errors_answer_with_their_kinds_code_and_message(error, code):
    assert errdefs.status(error) == (code, str(error))


@pytest.mark.parametrize("error", [ValueError("a bug"), KeyError("id"), AttributeError("x")])
def test_anything_else_is_a_bug_left_to_the_edge(error):
    assert errdefs.status(error) is None
