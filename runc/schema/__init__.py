"""The OCI runtime-spec JSON schema (draft-04), vendored byte for byte from
opencontainers/runtime-spec `schema/` at commit 6999a89a (v1.3.0 + 15; see LICENSE here),
and the generator of runc/spec_validator.py from it."""
