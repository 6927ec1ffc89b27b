import sys


def main() -> int:
    # Built by issue 5; the entry point exists now so the install layout is final.
    print("pydockerd: not implemented yet", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
