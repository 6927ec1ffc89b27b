"""Dependencies point down the stack and every boundary is a process boundary: a layer
imports only itself, errdefs, and (for the RPC layers) the generated protos."""
import ast
import pathlib
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
LAYERS = {"client", "dockerd", "containerd", "shim", "runc", "protos", "errdefs"}
ALLOWED = {
    "client": {"errdefs"},
    "dockerd": {"errdefs", "protos"},
    "containerd": {"errdefs", "protos"},
    "shim": {"errdefs", "protos"},
    "runc": {"errdefs"},
    "protos": set(),
    "errdefs": set(),
}
# Started once per container or per command: these must stay light.
FORBIDDEN_IN_PER_CONTAINER = {"grpc", "pydantic", "httpx", "fastapi", "uvicorn", "starlette"}


def imported_top_levels(path: pathlib.Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


# containerd's client library (containerd.client) runs in its caller's process and reaches the
# daemon only over gRPC, as moby links containerd's Go client: pydockerd may import it, and it
# may import nothing of the daemon it talks to.
CONTAINERD_CLIENT = "containerd.client"


def imported_modules(path: pathlib.Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def is_containerd_client(path: pathlib.Path) -> bool:
    return path.relative_to(REPO).parts[:2] == ("containerd", "client")


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_layer_imports_only_what_is_below_it(layer):
    offenders = {}
    for path in (REPO / layer).rglob("*.py"):
        wrong = (imported_top_levels(path) & LAYERS) - ALLOWED[layer] - {layer}
        if layer == "dockerd" and "containerd" in wrong and all(
                name == CONTAINERD_CLIENT or name.startswith(CONTAINERD_CLIENT + ".")
                for name in imported_modules(path) if name.split(".")[0] == "containerd"):
            wrong.discard("containerd")
        if layer in ("runc", "shim"):
            wrong |= imported_top_levels(path) & FORBIDDEN_IN_PER_CONTAINER
        if wrong:
            offenders[str(path.relative_to(REPO))] = sorted(wrong)
    assert offenders == {}


def test_pyrunc_uses_only_the_standard_library():
    third_party = {}
    for path in (REPO / "runc").rglob("*.py"):
        if path.parent.name == "schema":
            continue  # the generator runs at development time, not in pyrunc
        extra = imported_top_levels(path) - set(sys.stdlib_module_names) - {"runc", "errdefs"}
        if extra:
            third_party[str(path.relative_to(REPO))] = sorted(extra)
    assert third_party == {}


def test_pyrunc_loads_no_heavy_module_at_run_time():
    """Every pyrunc module imported in a fresh interpreter pulls in nothing forbidden."""
    modules = sorted(
        ".".join(p.relative_to(REPO).with_suffix("").parts)
        for p in (REPO / "runc").rglob("*.py") if p.parent.name != "schema"
    )
    probe = ("import importlib, sys\n"
             f"for name in {modules!r}:\n    importlib.import_module(name)\n"
             "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))")
    loaded = set(subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True,
                                check=True).stdout.split())
    assert loaded & (FORBIDDEN_IN_PER_CONTAINER | {"google", "jsonschema", "fastjsonschema", "dataclasses", "argparse"}) == set()


def test_the_shim_loads_no_grpc():
    """What a shim process imports (the fork server imports it all once) stays free of grpc."""
    probe = "import sys, shim.serve, shim.__main__; print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))"
    loaded = set(subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True,
                                check=True).stdout.split())
    assert loaded & FORBIDDEN_IN_PER_CONTAINER == set()
    assert "google" in loaded  # protobuf, for the ttrpc wire


def test_the_containerd_client_imports_nothing_of_the_daemon():
    offenders = {}
    for path in (REPO / "containerd" / "client").rglob("*.py"):
        daemon_side = {name for name in imported_modules(path)
                       if name.split(".")[0] == "containerd" and not name.startswith(CONTAINERD_CLIENT)}
        relative = [node for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, ast.ImportFrom)
                    and node.level > (len(path.relative_to(REPO / "containerd" / "client").parts) - 1)]
        if daemon_side or relative:
            offenders[str(path.relative_to(REPO))] = sorted(daemon_side) + [f"relative import {node.module}" for node in relative]
    assert offenders == {}


def test_the_logging_binary_uses_only_the_standard_library():
    """pydockerd-logger runs once per container, started by the shim: stdlib only, and none
    of pydockerd's own weight (grpc, protobuf, fastapi...)."""
    third_party = {}
    for path in (REPO / "dockerd" / "logger").rglob("*.py"):
        extra = imported_top_levels(path) - set(sys.stdlib_module_names) - {"dockerd"}
        if extra:
            third_party[str(path.relative_to(REPO))] = sorted(extra)
    assert third_party == {}
    probe = "import sys, dockerd.logger.__main__; print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))"
    loaded = set(subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True,
                                check=True).stdout.split())
    assert loaded & (FORBIDDEN_IN_PER_CONTAINER | {"google", "errdefs", "protos", "containerd"}) == set()
