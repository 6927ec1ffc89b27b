"""Regenerate the committed protobuf and gRPC stubs next to the .proto files.

    python -m protos.gen           rewrite protos/*_pb2.py, *_pb2.pyi, *_pb2_grpc.py
    python -m protos.gen --check   generate into a temp dir; exit 1 if the committed files differ

Run with the dev extra installed (grpcio-tools is pinned there). Paths are taken from this
file, so the working directory does not matter; protoc sees the repo root as its include
root, which is why the stubs import each other as `from protos import x_pb2`.

google/rpc/status.proto (imported by ttrpc.proto and introspection.proto) comes from the
googleapis-common-protos distribution, the same file its `google.rpc.status_pb2` module was
built from, so the descriptor pool never holds two definitions of google.rpc.Status.

A `*_pb2_grpc.py` module is kept only for files that declare a gRPC service; the shim's API
and containerd's ttrpc event service are ttrpc-only (see TTRPC_ONLY) and get no gRPC stub:
serve and call them with protos.ttrpc.
"""
import argparse
import filecmp
import importlib.resources
import pathlib
import shutil
import sys
import tempfile

PROTOS = pathlib.Path(__file__).resolve().parent
ROOT = PROTOS.parent
GENERATED_SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py")
# Services spoken only over ttrpc: a grpc stub for them would be a trap.
TTRPC_ONLY = {"shim.proto", "ttrpc_events.proto"}


def _is_generated(path: pathlib.Path) -> bool:
    return path.name.endswith(GENERATED_SUFFIXES)


def _declares_service(proto: pathlib.Path) -> bool:
    return any(line.lstrip().startswith("service ") for line in proto.read_text().splitlines())


def generate(out: pathlib.Path) -> list[pathlib.Path]:
    """Generate every stub into out/protos/; return the paths relative to out."""
    from grpc_tools import protoc  # dev-only dependency
    import google.rpc.status_pb2

    protos = sorted(PROTOS.glob("*.proto"))
    with tempfile.TemporaryDirectory(prefix="protos-include-") as include:
        status_proto = pathlib.Path(google.rpc.status_pb2.__file__).with_name("status.proto")
        (pathlib.Path(include) / "google/rpc").mkdir(parents=True)
        shutil.copyfile(status_proto, pathlib.Path(include) / "google/rpc/status.proto")
        well_known = importlib.resources.files("grpc_tools") / "_proto"
        (out / "protos").mkdir(parents=True, exist_ok=True)
        argv = [
            "protoc", f"-I{ROOT}", f"-I{include}", f"-I{well_known}",
            f"--python_out={out}", f"--pyi_out={out}", f"--grpc_python_out={out}",
            *(str(p.relative_to(ROOT)) for p in protos),
        ]
        if protoc.main(argv) != 0:
            raise SystemExit("protoc failed (see above)")
    for proto in protos:
        if proto.name in TTRPC_ONLY or not _declares_service(proto):
            (out / "protos" / f"{proto.stem}_pb2_grpc.py").unlink()
    return sorted(p.relative_to(out) for p in (out / "protos").iterdir() if _is_generated(p))


def committed() -> list[pathlib.Path]:
    return sorted(p.relative_to(ROOT) for p in PROTOS.iterdir() if _is_generated(p))


def check() -> list[str]:
    """What differs between fresh stubs and the committed ones, one line per file."""
    with tempfile.TemporaryDirectory(prefix="protos-gen-") as tmp:
        fresh = generate(pathlib.Path(tmp))
        have = committed()
        problems = [f"missing: {p}" for p in fresh if p not in have]
        problems += [f"stale (no .proto generates it): {p}" for p in have if p not in fresh]
        problems += [
            f"differs: {p}" for p in fresh
            if p in have and not filecmp.cmp(pathlib.Path(tmp) / p, ROOT / p, shallow=False)
        ]
    return problems


def write() -> list[pathlib.Path]:
    with tempfile.TemporaryDirectory(prefix="protos-gen-") as tmp:
        fresh = generate(pathlib.Path(tmp))
        for stale in set(committed()) - set(fresh):
            (ROOT / stale).unlink()
        for path in fresh:
            shutil.copyfile(pathlib.Path(tmp) / path, ROOT / path)
    return fresh


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m protos.gen", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing; exit 1 on any difference")
    args = parser.parse_args(argv)
    if args.check:
        problems = check()
        for line in problems:
            print(line, file=sys.stderr)
        if problems:
            print("stubs are out of date: run `python -m protos.gen`", file=sys.stderr)
            return 1
        print("stubs are up to date")
        return 0
    for path in write():
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
