"""config.json validation: the generated validator agrees with the jsonschema reference
library, and every rejection names the field."""
import copy
import json
import pathlib

import jsonschema
import pytest
import referencing
from referencing.jsonschema import DRAFT4

import errdefs
from runc import spec
from runc.commands.spec import default_spec
from runc.schema import gen

SCHEMA_DIR = pathlib.Path(gen.__file__).parent
UPSTREAM_FIXTURES = pathlib.Path(__file__).parents[3].parent / "shared/reference/oci-runtime-spec-schema/test/config"


@pytest.fixture(scope="module")
def reference_validator():
    resources = [(gen.BASE_URI + p.name, DRAFT4.create_resource(json.loads(p.read_text())))
                 for p in SCHEMA_DIR.glob("*.json")]
    root = json.loads((SCHEMA_DIR / gen.ROOT_SCHEMA).read_text())
    root["id"] = gen.BASE_URI + gen.ROOT_SCHEMA
    return jsonschema.Draft4Validator(root, registry=referencing.Registry().with_resources(resources))


def test_generated_validator_is_current():
    assert (SCHEMA_DIR.parent / "spec_validator.py").read_text() == gen.generate(), \
        "runc/spec_validator.py is stale: run python -m runc.schema.gen"


def _schema_verdict(config) -> bool:
    from runc import spec_validator

    try:
        spec_validator.validate(config)
        return True
    except spec_validator.ValidationError:
        return False


def _mutations():
    base = default_spec()
    yield "default", base
    for path, value in [
        (("process", "args"), "sh"),
        (("process", "cwd"), 7),
        (("process", "user", "uid"), -1),
        (("process", "rlimits"), [{"type": "NOFILE", "soft": 1, "hard": 1}]),
        (("linux", "namespaces"), [{"type": "bogus"}]),
        (("linux", "resources", "memory", "limit"), "1g"),
        (("linux", "seccomp"), {"defaultAction": "SCMP_ACT_WHATEVER"}),
        (("linux", "rootfsPropagation"), "sideways"),
        (("mounts",), [{"type": "bind"}]),
        (("hostname",), ["x"]),
        (("ociVersion",), None),
    ]:
        config = copy.deepcopy(base)
        target = config
        for key in path[:-1]:
            target = target.setdefault(key, {})
        if value is None:
            del target[path[-1]]
        else:
            target[path[-1]] = value
        yield ".".join(path), config


@pytest.mark.parametrize("name,config", list(_mutations()), ids=[n for n, _ in _mutations()])
def test_generated_validator_agrees_with_jsonschema(name, config, reference_validator):
    assert _schema_verdict(config) == reference_validator.is_valid(config)


@pytest.mark.skipif(not UPSTREAM_FIXTURES.is_dir(), reason="../shared/reference is not beside the repository")
def test_upstream_fixtures(reference_validator):
    checked = 0
    for verdict in ("good", "bad"):
        for path in (UPSTREAM_FIXTURES / verdict).glob("*.json"):
            try:
                config = json.loads(path.read_text())
            except ValueError:
                assert verdict == "bad"
                continue
            assert _schema_verdict(config) == (verdict == "good") == reference_validator.is_valid(config), path.name
            checked += 1
    assert checked >= 5


def _error_for(config) -> str:
    with pytest.raises(errdefs.InvalidArgument) as info:
        spec.validate(config)
    return str(info.value)


def test_schema_errors_name_the_field():
    config = default_spec()
    del config["process"]["cwd"]
    assert _error_for(config) == "config.json: process: must contain ['cwd'] properties"
    config = default_spec()
    config["process"]["args"] = "sh"
    assert "process.args" in _error_for(config)


def test_schema_errors_of_a_resources_update_name_the_field():
    update = {"ociVersion": "1.2.0", "linux": {"resources": {"memory": {"limit": "lots"}}}}
    with pytest.raises(errdefs.InvalidArgument) as info:
        spec.check_schema(update, "resources")
    assert str(info.value) == "resources: linux.resources.memory.limit: must be integer"


def test_runtime_rules():
    config = default_spec()
    config["process"]["args"] = []
    assert "process.args" in _error_for(config)
    config = default_spec()
    config["process"]["cwd"] = "relative"
    assert "process.cwd" in _error_for(config)
    config = default_spec()
    config["linux"]["namespaces"] = [{"type": "pid"}]
    assert "hostname" in _error_for(config)
    config = default_spec()
    config["linux"]["sysctl"] = {"kernel.panic": "1"}
    assert "not namespaced" in _error_for(config)
    config = default_spec()
    config["linux"]["sysctl"] = {"net.ipv4.ip_forward": "1"}
    config["linux"]["namespaces"] = [n for n in config["linux"]["namespaces"] if n["type"] != "network"]
    assert "network namespace" in _error_for(config)
    config = default_spec()
    config["linux"]["namespaces"].append({"type": "user"})
    assert "mappings" in _error_for(config)


def test_unknown_rlimit_type_is_refused():
    # The schema's pattern (^RLIMIT_[A-Z]+$) lets it through; Linux has no such limit.
    config = default_spec()
    config["process"]["rlimits"].append({"type": "RLIMIT_FOO", "soft": 1, "hard": 1})
    assert _error_for(config) == "config.json: process.rlimits[1].type: unknown rlimit type 'RLIMIT_FOO'"


def test_seccomp_listener_is_refused_before_create_makes_anything():
    # seccomp.prepare refuses it too, but only once create has made the state directory and cgroup.
    config = default_spec()
    config["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/run/agent.sock"}
    with pytest.raises(errdefs.NotImplemented, match="listenerPath"):
        spec.validate(config)


def test_default_specs_share_no_lists():
    # Tests and bundle builders edit the spec they get; the next one must not see the edit.
    edited = default_spec()
    edited["linux"]["maskedPaths"].append("/proc/edited")
    edited["linux"]["readonlyPaths"].clear()
    fresh = default_spec()
    assert "/proc/edited" not in fresh["linux"]["maskedPaths"] and fresh["linux"]["readonlyPaths"]


def test_recursive_propagation_from_docker_is_accepted():
    config = default_spec()
    config["linux"]["rootfsPropagation"] = "rslave"
    spec.validate(config)
    assert config["linux"]["rootfsPropagation"] == "rslave"


def test_load_reports_bad_json(tmp_path):
    (tmp_path / "config.json").write_text("{nope")
    with pytest.raises(errdefs.InvalidArgument, match="invalid JSON"):
        spec.load(str(tmp_path))
    with pytest.raises(errdefs.NotFound):
        spec.load(str(tmp_path / "missing"))
