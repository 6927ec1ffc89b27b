"""OCI hooks: programs the runtime runs at fixed points of a container's life, each given the
container's state JSON on stdin (runtime-spec config.md "POSIX-platform Hooks").

Where each kind runs (runc's choices):
  prestart, createRuntime   by pyrunc create, in the runtime's namespaces, after the mounts
  createContainer           by the container init, in the container's mount namespace, before pivot_root
  startContainer            by the container init, after `start`, just before the user program
  poststart                 by pyrunc start, once the user program runs
  poststop                  by pyrunc delete, after the container is gone
"""
import json
import subprocess

import errdefs

from .. import OCI_VERSION


def run(hooks: list[dict], state: dict, kind: str) -> None:
    """Run hooks in order; the first failure stops the rest and is raised."""
    payload = json.dumps(state).encode()
    for hook in hooks:
        argv = hook.get("args") or [hook["path"]]
        env = dict(e.split("=", 1) for e in hook.get("env", []) if "=" in e)
        try:
            done = subprocess.run(argv, executable=hook["path"], input=payload, env=env,
                                  capture_output=True, timeout=hook.get("timeout"))
        except subprocess.TimeoutExpired:
            raise errdefs.DeadlineExceeded(f"{kind} hook {hook['path']} timed out after {hook['timeout']}s")
        except OSError as e:
            raise errdefs.FailedPrecondition(f"{kind} hook {hook['path']}: {e.strerror}")
        if done.returncode != 0:
            detail = (done.stderr or done.stdout).decode(errors="replace").strip()
            raise errdefs.FailedPrecondition(
                f"{kind} hook {hook['path']} exited with status {done.returncode}" + (f": {detail}" if detail else ""))


def state_for(container_id: str, status: str, pid: int, bundle: str, annotations: dict) -> dict:
    state = {"ociVersion": OCI_VERSION, "id": container_id, "status": status, "bundle": bundle}
    if pid:
        state["pid"] = pid
    if annotations:
        state["annotations"] = annotations
    return state
