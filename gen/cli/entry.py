"""The `bnngen` command line. Each subcommand lives in its own module exposing
`register(subparsers)`, which adds a parser whose `func` takes the parsed args and
returns an exit code. A UserError becomes one line on stderr and exit code 2."""

from __future__ import annotations

import argparse
import functools
import os
import signal
import sys
import threading

from models.errors import UserError, printable

from gen.common import procs
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
    """An interrupt in progress. `hook`: the unraisable hook it replaced (None while there
    is none); `alarm`: the SIGALRM handler it replaced; `pending`: one that a finalizer
    swallowed, to be raised again by SIGALRM; `over`: the command has returned, and a
    signal now changes nothing."""
    hook = None
    alarm = None
    pending = False
    over = False


def _on_signal(signum, frame) -> None:
    """SIGINT/SIGTERM: stop the child processes (yosys, nextpnr) at once, then unwind like
    Ctrl-C so that every temporary folder is removed on the way out. Later signals are
    ignored: one is enough, let the cleanup finish."""
    if _Interrupt.hook is not None or _Interrupt.over:
        return
    _Interrupt.hook = sys.unraisablehook
    sys.unraisablehook = functools.partial(_interrupt_again, _Interrupt.hook)
    _Interrupt.alarm = signal.signal(signal.SIGALRM, _raise_pending)
    procs.stop_all()
    raise KeyboardInterrupt


def _interrupt_again(previous, unraisable) -> None:
    """The interrupt landed in a finalizer (a `__del__`), which cannot raise: Python would
    print "Exception ignored ... Traceback" and carry on. Raise it again a moment later,
    wherever the main thread is then (from any thread: the hook `previous` is bound here)."""
    if isinstance(unraisable.exc_value, KeyboardInterrupt):
        _Interrupt.pending = True
        signal.setitimer(signal.ITIMER_REAL, 0.001)
    else:
        previous(unraisable)


def _raise_pending(signum, frame) -> None:
    if _Interrupt.pending:
        _Interrupt.pending = False
        raise KeyboardInterrupt


def _interrupt_over() -> None:
    """Put back what an interrupt replaced. A command that finished before its swallowed
    interrupt came round again keeps its result: its output is whole."""
    if _Interrupt.hook is not None:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, signal.SIG_DFL if _Interrupt.alarm is None
                      else _Interrupt.alarm)
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
    # Signals are the main thread's: main() called in another thread leaves them alone,
    # and one called inside another (tests) puts back the state it found.
    ours = threading.current_thread() is threading.main_thread()
    saved, outer = {}, _Interrupt.over
    if ours:
        _Interrupt.over = False
        for sig in (signal.SIGINT, signal.SIGTERM):
            saved[sig] = signal.signal(sig, _on_signal)
    try:
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
    # (also an interrupt that comes while an error above is reported; a tool refused once
    # stopping)
    except (KeyboardInterrupt, procs.Stopped):
        if ours:
            _Interrupt.over, _Interrupt.pending = True, False   # nothing may raise now
        print("bnngen: interrupted", file=sys.stderr)
        return 130
    finally:
        if ours:
            _Interrupt.over, _Interrupt.pending = True, False
            for sig, handler in saved.items():
                signal.signal(sig, handler)
            _interrupt_over()
            _Interrupt.over = outer


if __name__ == "__main__":
    sys.exit(main())
