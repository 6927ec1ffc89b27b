"""Shared test configuration.

Root tests (real namespaces, mounts, cgroups, containers) run only with --run-root, as the
README's test command and CI do; asking for them without euid 0 is an error, not a skip,
so a misconfigured run cannot pass by skipping what matters.
"""
import os

import pytest

pytest_plugins = [
    "tests.fixtures.images",
    "tests.fixtures.registry",
    "tests.fixtures.bundle",
    "tests.fixtures.upstream",
    "tests.fixtures.pycontainerd",
    "tests.fixtures.pydockerd",
    "tests.fixtures.client",
    "tests.fixtures.nspawn",
]


def pytest_addoption(parser):
    parser.addoption("--run-root", action="store_true", help="run the root end-to-end tests (needs euid 0)")
    parser.addoption(
        "--runtime",
        default=None,
        help="OCI runtime binary the runc e2e suite drives (default: the venv's pyrunc); "
        "pointing it at an upstream runc tests the tests",
    )


def pytest_configure(config):
    if config.getoption("--run-root") and os.geteuid() != 0:
        raise pytest.UsageError("--run-root needs euid 0: the root tests create namespaces, mounts and cgroups")


def pytest_collection_modifyitems(config, items):
    other_runtime = config.getoption("--runtime")
    skip_other = pytest.mark.skip(reason=f"checks pyrunc's own words or extensions, not those of {other_runtime}")
    skip_root = pytest.mark.skip(reason="root end-to-end test: run with --run-root as root")
    for item in items:
        if "root" in item.keywords and not config.getoption("--run-root"):
            item.add_marker(skip_root)
        if other_runtime and "pyrunc_only" in item.keywords:
            item.add_marker(skip_other)
