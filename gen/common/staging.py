"""Output folders that appear whole or not at all, and never replace what bnngen did not
write.

Every folder bnngen writes (build, report, explore) carries a marker file, `MARKER`. An
existing folder given as an output is replaced only when it carries that marker, is empty,
or holds nothing but files that command writes (a folder from a bnngen without markers);
anything else (a file, a folder of the user's, the current folder or one above it, a
folder holding an input) is refused before any work is done, unless `force` (folders
only; a file or a folder holding the current folder or an input is never replaced).

The new folder is filled as a hidden sibling `.NAME.bnngen-PID.*` and renamed into
place; an older folder there is first moved aside into `.NAME.bnngen-old-PID.*` and then
deleted. SIGINT and SIGTERM are held off between the two renames. Such siblings left by a
run that was killed (its process gone) are removed by the next run writing there.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from models.errors import UserError, printable

MARKER = ".bnngen-output"
MARKER_TEXT = ("This folder was written by bnngen ({kind}). bnngen replaces it whole when "
               "asked to write here again: keep your own files elsewhere.\n")

# What each kind of output holds, to recognise a folder written before markers existed.
KNOWN_ENTRIES = {
    "build": re.compile(r"manifest\.json|lint\.vlt|layers|report|constraints|tb|"
                        r"[A-Za-z_]\w*\.(?:v|core|h)"),
    "report": re.compile(r"report\.json|report\.md|resources\.png"),
    "explore": re.compile(r"explore\.json|explore\.md|explore\.png"),
}
_STAGING = re.compile(r"\.(?P<name>.+)\.bnngen-(?:old-)?(?P<pid>\d+)\.[A-Za-z0-9_]+")


def _show(path: Path | str) -> str:
    return printable(str(path))


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def check_output_folder(out: str | os.PathLike, kind: str, *, force: bool = False,
                        inputs: Iterable[str | os.PathLike] = ()) -> Path:
    """Refuse an output folder bnngen may not replace; return it. Call before the work."""
    given = Path(out)
    if str(out) == "":
        raise UserError("the output path is empty")
    absolute = Path(os.path.abspath(given))
    if absolute.parent == absolute:
        raise UserError(f"{_show(given)}: refusing to write output over the root folder")
    real = absolute.resolve()
    if _inside(Path.cwd().resolve(), real):
        raise UserError(f"{_show(given)}: is the current folder or holds it; give a new "
                        "folder as the output")
    for item in inputs:
        if _inside(Path(item).resolve(), real):
            raise UserError(f"{_show(given)}: {'is' if Path(item).resolve() == real else 'holds'}"
                            f" the input {_show(item)}; give another folder as the output")
    check_parent(given, absolute)
    if given.is_symlink():
        if not force:
            raise UserError(f"{_show(given)}: is a symbolic link; bnngen would replace the "
                            "link (pass --force to allow)")
        return given
    if not given.exists():
        return given
    if not given.is_dir():
        raise UserError(f"{_show(given)}: exists and is not a folder; refusing to replace it")
    if force or is_bnngen_output(given, kind):
        return given
    raise UserError(f"{_show(given)}: folder exists and was not written by bnngen {kind}; "
                    "refusing to replace it (choose a new folder, or pass --force)")


def check_parent(given: Path, absolute: Path) -> None:
    """The nearest existing folder above the output must be a folder we may write in."""
    for parent in absolute.parents:
        if parent.exists():
            if not parent.is_dir():
                raise UserError(f"{_show(given)}: {_show(parent)} is a file, not a folder")
            if not os.access(parent, os.W_OK | os.X_OK):
                raise UserError(f"{_show(given)}: cannot write in {_show(parent)} "
                                "(permission denied)")
            return


def check_output_file(out: str | os.PathLike, is_ours, *, force: bool = False,
                      inputs: Iterable[str | os.PathLike] = ()) -> Path:
    """Refuse an output file bnngen may not replace: a folder, an input, or an existing file
    for which `is_ours(path)` is false (unless `force`). Call before the work."""
    given = Path(out)
    if str(out) == "":
        raise UserError("the output path is empty")
    absolute = Path(os.path.abspath(given))
    for item in inputs:
        if Path(item).resolve() == absolute.resolve():
            raise UserError(f"{_show(given)}: is the input {_show(item)}; give another file "
                            "as the output")
    check_parent(given, absolute)
    if given.is_dir():
        raise UserError(f"{_show(given)}: is a folder; give a file name as the output")
    if given.exists() and not force and not is_ours(given):
        raise UserError(f"{_show(given)}: exists and was not written by bnngen; refusing to "
                        "replace it (choose a new file, or pass --force)")
    return given


def write_file_atomic(path: str | os.PathLike, text: str) -> None:
    """Write `text` to `path` through a temporary file in the same folder and a rename."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    except OSError as e:
        raise UserError(f"{_show(path)}: cannot write ({e.strerror})") from None
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        with signals_held():
            os.replace(tmp, path)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        raise UserError(f"{_show(path)}: cannot write ({e.strerror})") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def is_bnngen_output(folder: Path, kind: str) -> bool:
    """A folder bnngen may replace: marked, empty, or holding only what `kind` writes."""
    try:
        names = [e.name for e in os.scandir(folder)]
    except OSError as e:
        raise UserError(f"{_show(folder)}: cannot read the folder ({e.strerror})") from None
    if MARKER in names:
        return True
    known = KNOWN_ENTRIES[kind]
    return all(known.fullmatch(n) for n in names)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def remove_stale(parent: Path, name: str) -> None:
    """Delete `.NAME.bnngen-*` siblings whose process is gone (a killed run's leftovers),
    and `.NAME.old.*` folders holding nothing but a moved-aside NAME (from older bnngens)."""
    try:
        entries = list(os.scandir(parent))
    except OSError:
        return
    for e in entries:
        if not e.is_dir(follow_symlinks=False):
            continue
        m = _STAGING.fullmatch(e.name)
        if m and m["name"] == name and not _alive(int(m["pid"])):
            shutil.rmtree(e.path, ignore_errors=True)
        elif re.fullmatch(rf"\.{re.escape(name)}\.old\.[a-z0-9_]{{8}}", e.name):
            # left by a bnngen before these markers: the old output moved aside, alone
            try:
                inside = os.listdir(e.path)
            except OSError:
                continue
            if inside in ([], [name]):
                shutil.rmtree(e.path, ignore_errors=True)


@contextmanager
def signals_held() -> Iterator[None]:
    """SIGINT and SIGTERM wait until the block ends (main thread; elsewhere a no-op)."""
    held = {signal.SIGINT, signal.SIGTERM}
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


@contextmanager
def staged_folder(out: str | os.PathLike, kind: str, *, force: bool = False,
                  inputs: Iterable[str | os.PathLike] = ()) -> Iterator[Path]:
    """Yield an empty temporary sibling of `out` to fill. When the block ends normally it
    replaces `out` (checked again with check_output_folder) in one rename; on any error it
    is removed and `out` is left as it was."""
    out = check_output_folder(out, kind, force=force, inputs=inputs)
    absolute = Path(os.path.abspath(out))
    parent, name = absolute.parent, absolute.name
    pid = os.getpid()
    try:
        parent.mkdir(parents=True, exist_ok=True)
        remove_stale(parent, name)
        tmp = Path(tempfile.mkdtemp(prefix=f".{name}.bnngen-{pid}.", dir=parent))
    except OSError as e:
        raise UserError(f"{_show(out)}: cannot create the output folder ({e.strerror})") \
            from None
    try:
        (tmp / MARKER).write_text(MARKER_TEXT.format(kind=kind))
        yield tmp
        tmp.chmod(0o755)  # mkdtemp makes 0700; outputs are for sharing
        check_output_folder(out, kind, force=force, inputs=inputs)  # still ours to replace?
        with signals_held():
            _swap(tmp, absolute)
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise UserError(f"{_show(out)}: cannot write the output folder ({e.strerror})") \
            from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _swap(tmp: Path, out: Path) -> None:
    """Put `tmp` where `out` is; the old `out`, if any, is deleted. On failure `out` is as
    it was."""
    if not os.path.lexists(out):
        os.replace(tmp, out)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{out.name}.bnngen-old-{os.getpid()}.",
                                dir=out.parent))
    try:
        os.replace(out, old / out.name)
        try:
            os.replace(tmp, out)
        except BaseException:
            os.replace(old / out.name, out)
            raise
    finally:
        shutil.rmtree(old, ignore_errors=True)
