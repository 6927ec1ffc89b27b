"""The log drivers pydockerd has and json-file's options (daemon.json `log-driver` and
`log-opts`, `docker run --log-driver/--log-opt`), checked with Docker's words; pydockerd
passes the logger what they come to (`--max-size=BYTES`, `--max-file=N`).

Standard library only: it sits in the logger's package, which must stay light.
"""
from __future__ import annotations

import re

DRIVERS = ("json-file", "none")
JSON_FILE_OPTIONS = ("max-size", "max-file", "compress")
# go-units' FromHumanSize, which json-file's max-size goes through: decimal units.
_SIZE = re.compile(r"(\d+(?:\.\d+)?) ?([kKmMgG]?)[iI]?[bB]?")
_UNITS = {"": 1, "k": 1000, "m": 1000 ** 2, "g": 1000 ** 3}
_TRUE, _FALSE = ("1", "t", "T", "true", "TRUE", "True"), ("0", "f", "F", "false", "FALSE", "False")


def parse_size(text: str) -> int:
    found = _SIZE.fullmatch(text)
    if not found:
        raise ValueError(f"invalid size: '{text}'")
    return int(float(found.group(1)) * _UNITS[found.group(2).lower()])


def check(driver: str, options: dict[str, str]) -> dict[str, int]:
    """The logger's arguments for driver and options; ValueError with Docker's words if the
    driver is not one of ours or an option is wrong. The none driver takes any option."""
    if driver not in DRIVERS:
        raise ValueError(f"logger: no log driver named '{driver}' is registered")
    if driver == "none":
        return {}
    for name in options:
        if name not in JSON_FILE_OPTIONS:
            raise ValueError(f"unknown log opt '{name}' for json-file log driver")
    arguments = {}
    if "max-size" in options:
        arguments["max-size"] = parse_size(options["max-size"])
        if arguments["max-size"] <= 0:
            raise ValueError("max-size must be a positive number")
    if "max-file" in options:
        try:
            arguments["max-file"] = int(options["max-file"])
        except ValueError:
            raise ValueError(f'strconv.Atoi: parsing "{options["max-file"]}": invalid syntax') from None
        if arguments["max-file"] < 1:
            raise ValueError("max-file cannot be less than 1")
    if "compress" in options:
        compress = options["compress"]
        if compress not in _TRUE + _FALSE:
            raise ValueError(f'strconv.ParseBool: parsing "{compress}": invalid syntax')
        if compress in _TRUE:
            raise ValueError("compress is not supported by pydockerd: rotated logs stay uncompressed")
    return arguments
