"""The `bnngen` command line. Each subcommand lives in its own module exposing
`register(subparsers)`, which adds a parser whose `func` takes the parsed args and
returns an exit code. A UserError becomes one line on stderr and exit code 2."""

from __future__ import annotations

import argparse
import sys

from models.errors import UserError

from . import build_cmd, commands, demo, explore, plan_cmd, report_cmd, train_cmd

# Modules providing subcommands, in the order `bnngen --help` lists them.
SUBCOMMANDS = [commands, demo, build_cmd, train_cmd, report_cmd, plan_cmd, explore]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bnngen", description="Verified RTL for fully-binarized neural networks.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in SUBCOMMANDS:
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except UserError as e:
        print(f"bnngen: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("bnngen: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
