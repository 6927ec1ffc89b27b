"""bench/pull: pulling and unpacking a multi-layer image, pycontainerd against containerd.

    .venv/bin/python -m bench.pull [--runs N] [--layers N] [--layer-mib N] [--json]

One sample is a whole pull of the image from a local registry (Debian's docker-registry on
127.0.0.1, plain HTTP) into a daemon with an empty root: resolve, fetch every blob into the
content store, unpack every layer into overlayfs snapshots. Three ways, each on a fresh daemon:

  containerd + ctr        the reference: Debian's containerd 1.6 and `ctr images pull`
  pycontainerd + ctr      the same client against our daemon: the daemon side alone
  pycontainerd + client   our daemon and containerd.client.pull, what pydockerd uses

The image: a busybox layer, then --layers layers of --layer-mib MiB each, three fifths random
bytes (incompressible) and two fifths text (gzip shrinks it), so the compressed image is about
layers x layer-mib x 0.8. Each sample is checked: the image is listed and the snapshot of its
top layer's chain ID is committed. Run as root; everything made is removed at the end.
"""
import argparse
import json
import os
import random
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import grpc

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.shim import Ours, Stack, Theirs, ensure_references, install_missing, log  # noqa: E402
from containerd.client import pull as client_pull  # noqa: E402
from protos import images_pb2, images_pb2_grpc, snapshots_pb2, snapshots_pb2_grpc  # noqa: E402
from tests.fixtures.busybox import make_rootfs  # noqa: E402
from tests.fixtures.images import OciImage, build_oci_layout, chain_ids  # noqa: E402
from tests.fixtures.registry import serve_registry  # noqa: E402

NAMESPACE = "bench"
REPOSITORY = "bench/big:latest"
SNAPSHOTTER = "overlayfs"
EXTRA_PACKAGES = {"docker-registry": "docker-registry", "skopeo": "skopeo", "ctr": "containerd"}
WAYS = ("containerd + ctr", "pycontainerd + ctr", "pycontainerd + client")


def build_image(work: Path, layers: int, layer_mib: int) -> OciImage:
    work.mkdir()
    rng = random.Random(4)  # the same image every run
    words = [bytes(rng.choice(b"abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9))) for _ in range(4000)]
    trees = [make_rootfs(work / "layer0")]
    for number in range(1, layers + 1):
        tree = work / f"layer{number}"
        (tree / "data").mkdir(parents=True)
        random_bytes = layer_mib * 3 // 5 * 1024 * 1024
        (tree / "data" / "random.bin").write_bytes(rng.randbytes(random_bytes))
        text = bytearray()
        while len(text) < layer_mib * 1024 * 1024 - random_bytes:
            text += b" ".join(rng.choices(words, k=12)) + b"\n"
        (tree / "data" / "words.txt").write_bytes(bytes(text))
        trees.append(tree)
    image = build_oci_layout(work / "layout", trees, cmd=["sh"])
    for tree in trees:
        shutil.rmtree(tree)
    return image


def pull_with_ctr(stack: Stack, reference: str) -> None:
    subprocess.run(["ctr", "--address", str(stack.address), "--namespace", NAMESPACE, "images", "pull", "--plain-http",
                    reference], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def pull_with_our_client(stack: Stack, reference: str) -> None:
    client_pull.pull(stack.channel, NAMESPACE, reference)


def check_pulled(stack: Stack, reference: str, top_chain_id: str) -> None:
    metadata = (("containerd-namespace", NAMESPACE),)
    images_pb2_grpc.ImagesStub(stack.channel).Get(images_pb2.GetImageRequest(name=reference), metadata=metadata)
    info = snapshots_pb2_grpc.SnapshotsStub(stack.channel).Stat(
        snapshots_pb2.StatSnapshotRequest(snapshotter=SNAPSHOTTER, key=top_chain_id), metadata=metadata).info
    if info.kind != snapshots_pb2.COMMITTED:
        raise RuntimeError(f"{stack.name}: the top layer's snapshot is not committed: {info}")


def one_sample(way: str, top: Path, reference: str, top_chain_id: str, rootfs: Path, cgroup_parent: str) -> float:
    work = top / f"daemon-{secrets.token_hex(3)}"
    work.mkdir()
    stack = (Theirs if way == WAYS[0] else Ours)(way, work, rootfs, cgroup_parent)
    try:
        stack.start()
        begin = time.monotonic_ns()
        (pull_with_our_client if way == WAYS[2] else pull_with_ctr)(stack, reference)
        elapsed = (time.monotonic_ns() - begin) / 1e6
        check_pulled(stack, reference, top_chain_id)
        return elapsed
    except subprocess.CalledProcessError as error:
        raise RuntimeError(f"{way}: ctr failed: {error.stderr.decode(errors='replace')[-2000:]}") from None
    finally:
        stack.stop()
        shutil.rmtree(work)


def measure(top: Path, registry_host: str, image: OciImage, runs: int) -> dict:
    reference = f"{registry_host}/{REPOSITORY}"
    top_chain_id = chain_ids(image.diff_ids)[-1]
    rootfs = make_rootfs(top / "rootfs")
    cgroup_parent = f"/pydocker-bench-{secrets.token_hex(4)}"
    samples = {way: [] for way in WAYS}
    for round_number in range(runs):
        order = WAYS[round_number % len(WAYS):] + WAYS[:round_number % len(WAYS)]
        for way in order:
            ms = one_sample(way, top, reference, top_chain_id, rootfs, cgroup_parent)
            samples[way].append(ms)
            log(f"bench: round {round_number + 1}/{runs}: {way}: {ms:.0f} ms")
    compressed = sum(image.blob_path(d).stat().st_size for d in image.layer_digests)
    return {
        "image": {"layers": len(image.layer_digests), "compressed_mib": compressed / 2**20},
        "pull_ms": {way: {"median": statistics.median(v), "min": min(v), "max": max(v), "samples": v}
                    for way, v in samples.items()},
    }


def print_report(report: dict) -> None:
    image = report["image"]
    print(f"pull + unpack of {image['layers']} layers, {image['compressed_mib']:.0f} MiB compressed, from a local registry:")
    reference = report["pull_ms"][WAYS[0]]["median"]
    for way in WAYS:
        figures = report["pull_ms"][way]
        print(f"  {way:<24} median {figures['median']:8.0f} ms   min {figures['min']:8.0f}   max {figures['max']:8.0f}"
              f"   ratio {figures['median'] / reference:.2f}x")
    print("  target: pycontainerd <= 1.0x containerd")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--layers", type=int, default=6)
    parser.add_argument("--layer-mib", type=int, default=45)
    parser.add_argument("--json", action="store_true")
    opts = parser.parse_args()
    if os.geteuid() != 0:
        log("bench.pull: run as root")
        return 1
    ensure_references()
    install_missing(EXTRA_PACKAGES)
    top = Path(tempfile.mkdtemp(prefix="pydocker-bench-"))
    try:
        log("bench: building the image")
        image = build_image(top / "image", opts.layers, opts.layer_mib)
        (top / "registry").mkdir()
        with serve_registry(top / "registry") as registry:
            registry.push(image, REPOSITORY)
            report = measure(top, registry.host, image, opts.runs)
    finally:
        shutil.rmtree(top, ignore_errors=True)
    if opts.json:
        print(json.dumps(report, indent=2))
    else:
        print_report(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
