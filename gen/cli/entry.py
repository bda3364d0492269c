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


class _Interrupt:
    """An interrupt in progress: the unraisable hook and SIGALRM handler it replaced
    (`hook` is None while there is none)."""
    hook = None
    alarm = None


def _on_signal(signum, frame) -> None:
    """SIGINT/SIGTERM: stop the child processes (yosys, nextpnr) at once, then unwind like
    Ctrl-C so that every temporary folder is removed on the way out. Later signals are
    ignored: one is enough, let the cleanup finish."""
    if _Interrupt.hook is not None:
        return
    from gen.common import procs
    _Interrupt.hook, sys.unraisablehook = sys.unraisablehook, _interrupt_again
    _Interrupt.alarm = signal.signal(signal.SIGALRM, _raise_interrupt)
    procs.stop_all()
    raise KeyboardInterrupt


def _raise_interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def _interrupt_again(unraisable) -> None:
    """The interrupt landed in a finalizer (a `__del__`), which cannot raise: Python would
    print "Exception ignored ... Traceback" and carry on. Raise it again a moment later,
    wherever the main thread is then."""
    if isinstance(unraisable.exc_value, KeyboardInterrupt):
        signal.setitimer(signal.ITIMER_REAL, 0.001)
    else:
        _Interrupt.hook(unraisable)


def _interrupt_over() -> None:
    if _Interrupt.hook is not None:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, _Interrupt.alarm)
        sys.unraisablehook, _Interrupt.hook = _Interrupt.hook, None


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
        _interrupt_over()


if __name__ == "__main__":
    sys.exit(main())
