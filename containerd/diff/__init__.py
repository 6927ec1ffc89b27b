"""Layers: applying one onto a snapshot (apply.py) and computing one between two snapshots
(compute.py), as containerd's walking differ; walking.py is the differ plugin that reads and
writes the layers in the content store and takes the snapshots' mounts."""
