"""Child processes (yosys, nextpnr) that an interrupt stops.

`run` is subprocess.run for the tools bnngen starts, from any thread: each process is
registered while it runs, and `stop_all` (called from the CLI's SIGINT/SIGTERM handler)
kills every registered one and makes later `run` calls fail at once, so that worker
threads end quickly and their temporary folders are removed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading

_lock = threading.RLock()   # the signal handler may run while this thread holds it
_live: set[subprocess.Popen] = set()
_stopping = False


class Stopped(Exception):
    """A tool was not started (or was killed) because bnngen is being interrupted."""


def run(cmd: list[str], *, cwd=None, timeout: float | None = None) -> subprocess.CompletedProcess:
    """subprocess.run(cmd, capture_output=True, text=True), stoppable by `stop_all`. The
    child's temporary files go to a folder of its own, removed when it ends: a killed tool
    (yowasp's runtime keeps a temporary folder while it runs) leaves nothing behind."""
    scratch = tempfile.mkdtemp(prefix="bnngen-tool-")
    env = dict(os.environ, TMPDIR=scratch, TEMP=scratch, TMP=scratch)
    with _lock:
        if _stopping:
            shutil.rmtree(scratch, ignore_errors=True)
            raise Stopped("interrupted")
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                stdin=subprocess.DEVNULL, text=True, errors="replace", env=env)
        _live.add(proc)
    try:
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            raise subprocess.TimeoutExpired(cmd, timeout, out, err) from None
        except BaseException:
            proc.kill()
            proc.wait()
            raise
    finally:
        with _lock:
            _live.discard(proc)
        shutil.rmtree(scratch, ignore_errors=True)
    if _stopping:
        raise Stopped("interrupted")
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def stream(cmd: list[str], on_line, *, cwd=None) -> int:
    """Run `cmd`, calling on_line(line) for each line of its stdout+stderr as it comes
    (a simulation's progress); stoppable by `stop_all`. Returns the exit code."""
    with _lock:
        if _stopping:
            raise Stopped("interrupted")
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, text=True, errors="replace")
        _live.add(proc)
    try:
        for line in proc.stdout:
            on_line(line.rstrip("\n"))
        code = proc.wait()
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    finally:
        proc.stdout.close()
        with _lock:
            _live.discard(proc)
    if _stopping:
        raise Stopped("interrupted")
    return code


def stop_all() -> None:
    """Kill every running child and refuse new ones (for the rest of this process)."""
    global _stopping
    with _lock:
        _stopping = True
        live = list(_live)
    for proc in live:
        try:
            proc.kill()
        except OSError:
            pass
