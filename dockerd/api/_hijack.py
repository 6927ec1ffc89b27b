"""The server's hijack table, reachable from the routers whichever package loads first.

`dockerd.server` imports the app (and so the routers) while it initialises; a router that
imported `dockerd.server.hijack` the usual way would, when the app is imported first (as
tests do), start the server package in the middle of the app's own import. Then hijack.py,
which depends on nothing of the server package, is loaded on its own under its own name."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

NAME = "dockerd.server.hijack"


def load():
    if NAME in sys.modules:
        return sys.modules[NAME]
    if "dockerd.server" in sys.modules:
        return importlib.import_module(NAME)
    spec = importlib.util.spec_from_file_location(NAME, Path(__file__).resolve().parent.parent / "server" / "hijack.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[NAME] = module
    spec.loader.exec_module(module)
    return module
