"""containerd's client library: the half of the containerd layer that runs in its caller's process.

pydockerd (and any ctr-like tool) uses it to pull, push, import and export images: it talks to
registries over HTTP itself and to pycontainerd only over gRPC (Content, Images, Leases,
Snapshots, Diff), as moby links containerd's Go client. It imports nothing of the daemon.

Entry points: `pull.pull`, `push.push`, `archive.import_archive` and `archive.export_archive`
(each takes a grpc channel and a namespace); `client.Client` for image records and content;
`reference.parse` for Docker's reference rules; `registry.Registry` for a registry alone.
"""
