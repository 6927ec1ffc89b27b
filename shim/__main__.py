import sys


def main() -> int:
    # Built by issue 3; the entry point exists now so the install layout is final.
    print("pycontainerd-shim: not implemented yet", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
