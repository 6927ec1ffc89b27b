"""The command surface that needs no container: spec, features, --version, usage errors."""
import json
import pathlib

import jsonschema
import pytest
import referencing
from referencing.jsonschema import DRAFT4

from runc.schema import gen

SCHEMA_DIR = pathlib.Path(gen.__file__).parent


def _validator(name):
    resources = [(gen.BASE_URI + p.name, DRAFT4.create_resource(json.loads(p.read_text()))) for p in SCHEMA_DIR.glob("*.json")]
    root = json.loads((SCHEMA_DIR / name).read_text())
    root["id"] = gen.BASE_URI + name
    return jsonschema.Draft4Validator(root, registry=referencing.Registry().with_resources(resources))


@pytest.mark.pyrunc_only
def test_spec_writes_a_valid_config(runtime, tmp_path):
    runtime("spec", "--bundle", str(tmp_path))
    config = json.loads((tmp_path / "config.json").read_text())
    _validator("config-schema.json").validate(config)
    assert config["process"]["args"] == ["sh"]
    done = runtime("spec", "--bundle", str(tmp_path), check=False)
    assert done.returncode == 1 and "exists" in done.stderr


@pytest.mark.pyrunc_only
def test_features_match_the_schema(runtime):
    features = json.loads(runtime("features").stdout)
    _validator("features-schema.json").validate(features)
    assert "SCMP_ACT_ERRNO" in features["linux"]["seccomp"]["actions"]
    assert "CAP_SYS_ADMIN" in features["linux"]["capabilities"]
    assert "rslave" in features["mountOptions"]


@pytest.mark.pyrunc_only
def test_version(runtime):
    out = runtime("--version").stdout
    assert out.startswith("pyrunc version ") and "\ncommit: " in out and "\nspec: " in out


@pytest.mark.pyrunc_only
def test_unknown_command_and_missing_container(runtime):
    done = runtime("frobnicate", check=False)
    assert done.returncode == 1 and "no such command" in done.stderr
    done = runtime("state", "missing", check=False)
    assert done.returncode == 1 and "container missing does not exist" in done.stderr


@pytest.mark.parametrize("command", ["create", "start", "state", "kill", "delete", "pause", "resume", "ps", "events", "exec"])
@pytest.mark.pyrunc_only
def test_commands_need_an_id(runtime, command):
    done = runtime(command, check=False)
    assert done.returncode == 2 and "is required" in done.stderr
