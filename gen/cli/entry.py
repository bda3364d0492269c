"""The `bnngen` command line. Each subcommand lives in its own module exposing
`register(subparsers)`, which adds a parser whose `func` takes the parsed args and
returns an exit code. A UserError becomes one line on stderr and exit code 2."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

from models.errors import UserError, printable

from gen.cli import (build_cmd, demo, explore_cmd, model_cmd, plan_cmd, report_cmd, train_cmd,
                     verify_cmd)


# Modules providing subcommands, in the order `bnngen --help` lists them.
SUBCOMMANDS = [model_cmd, demo, build_cmd, verify_cmd, train_cmd, report_cmd, plan_cmd,
               explore_cmd]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bnngen", description="Verified RTL for fully-binarized neural networks.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in SUBCOMMANDS:
        module.register(sub)
    return parser


def _on_signal(signum, frame) -> None:
    """SIGINT/SIGTERM: stop the child processes (yosys, nextpnr) at once, then unwind like
    Ctrl-C so that every temporary folder is removed on the way out."""
    from gen.common import procs
    procs.stop_all()
    for sig in (signal.SIGINT, signal.SIGTERM):   # one is enough: let the cleanup finish
        signal.signal(sig, signal.SIG_IGN)
    raise KeyboardInterrupt


def _closed_stdout() -> int:
    """stdout went away (`bnngen info FILE | head`): not an error of ours."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    saved = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            saved[sig] = signal.signal(sig, _on_signal)
    try:
        code = int(args.func(args) or 0)
        sys.stdout.flush()
        return code
    except UserError as e:
        print(f"bnngen: error: {printable(str(e))}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return _closed_stdout()
    except OSError as e:   # the environment's: a name too long, a full disk, ...
        where = f"{e.filename}: " if e.filename else ""
        print(printable(f"bnngen: error: {where}{e.strerror or e}"), file=sys.stderr)
        return 1
    except MemoryError:
        print("bnngen: error: out of memory", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("bnngen: interrupted", file=sys.stderr)
        return 130
    finally:
        for sig, handler in saved.items():   # main() called in-process (tests)
            signal.signal(sig, handler)


if __name__ == "__main__":
    sys.exit(main())
