"""Query parsing as moby does it: booleans, filters in both forms, since/until times."""
import pytest

import errdefs
from dockerd.api import query


@pytest.mark.parametrize("value", ["", "0", "no", "false", "False", "NONE", " false "])
def test_false_booleans(value):
    assert query.boolean(value) is False


@pytest.mark.parametrize("value", ["1", "True", "true", "yes", "anything"])
def test_true_booleans(value):
    assert query.boolean(value) is True


def test_an_absent_boolean_is_its_default():
    assert query.boolean(None) is False
    assert query.boolean(None, default=True) is True


def test_filters_in_the_clis_map_form():
    assert query.filters('{"label":{"a=b":true,"c":true},"status":{"exited":true}}') == {
        "label": ["a=b", "c"], "status": ["exited"]}


def test_filters_in_docker_pys_list_form():
    assert query.filters('{"status":["exited"],"label":["a=b"]}') == {"status": ["exited"], "label": ["a=b"]}


def test_no_filters():
    assert query.filters(None) == {} and query.filters("") == {}


@pytest.mark.parametrize("value", ["{not json", "[1]", '{"label": 3}'])
def test_bad_filters_are_invalid_arguments(value):
    with pytest.raises(errdefs.InvalidArgument):
        query.filters(value)


@pytest.mark.parametrize("value, nanos", [
    ("1735689600", 1735689600_000000000),
    ("1735689600.000000000", 1735689600_000000000),
    ("1735689600.5", 1735689600_500000000),
    ("1735689600.123456789", 1735689600_123456789),
    ("0", 0),
])
def test_times_are_seconds_and_a_fraction(value, nanos):
    assert query.timestamp_nano(value) == nanos


def test_an_absent_time_is_none():
    assert query.timestamp_nano(None) is None and query.timestamp_nano("") is None


@pytest.mark.parametrize("value", ["yesterday", "1.x", "1e3", "10m"])
def test_bad_times_are_invalid_arguments(value):
    with pytest.raises(errdefs.InvalidArgument):
        query.timestamp_nano(value)
