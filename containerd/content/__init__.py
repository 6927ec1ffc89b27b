"""Content: blobs addressed by their digest, as containerd stores them.

`local` keeps the blobs on disk, shared by every namespace (plugins/content/local);
`store` gives each namespace its own view of them through records in the metadata store
(core/metadata/content.go), and is what the rest of pycontainerd uses.
"""
