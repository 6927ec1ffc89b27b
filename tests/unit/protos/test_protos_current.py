"""The committed stubs are what the pinned generator makes of the committed .proto files."""
import pytest

from protos import gen

pytest.importorskip("grpc_tools", reason="grpcio-tools comes with the dev extra")


def test_committed_stubs_match_the_proto_files():
    assert gen.check() == [], "run `python -m protos.gen` and commit the result"


def test_ttrpc_only_services_get_no_grpc_stub():
    names = {path.name for path in gen.committed()}
    assert "shim_pb2.py" in names and "shim_pb2_grpc.py" not in names
    assert "ttrpc_events_pb2_grpc.py" not in names
    assert "tasks_pb2_grpc.py" in names
