"""The wire contract between pydockerd, pycontainerd and the shim: .proto files and their committed stubs."""
