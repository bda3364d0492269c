"""Output folders that appear whole or not at all."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from models.errors import UserError


@contextmanager
def staged_folder(out: str | os.PathLike) -> Iterator[Path]:
    """Yield an empty temporary sibling of `out` to fill. When the block ends normally it
    replaces `out` (an older folder there included) in one rename; on any error it is
    removed and `out` is left as it was."""
    out = Path(out)
    parent = out.resolve().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=parent))
    except OSError as e:
        raise UserError(f"{out}: cannot create the output folder ({e.strerror})") from None
    try:
        yield tmp
        tmp.chmod(0o755)  # mkdtemp makes 0700; outputs are for sharing
        old = None
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=parent))
            os.replace(out, old / out.name)
        os.replace(tmp, out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
