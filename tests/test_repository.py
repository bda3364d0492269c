"""The repository stays light: no checkpoints inside the importable packages, no binary file
stored twice, and all binary files together under 10 MB (checkpoints are reproducible from
models/train/configs/ and live in runs/, which git ignores)."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("models/", "hw/", "gen/")


def tracked_files() -> list[Path]:
    try:
        out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True,
                             check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    return [ROOT / name for name in out.decode().split("\0") if name and (ROOT / name).is_file()]


def is_binary(path: Path) -> bool:
    return b"\0" in path.read_bytes()[:8192]


def test_no_checkpoint_in_a_package():
    inside = [str(p.relative_to(ROOT)) for p in tracked_files()
              if p.suffix in (".pt", ".pth", ".ckpt")
              and str(p.relative_to(ROOT)).startswith(PACKAGES)]
    assert inside == []


def test_binary_files_small_and_stored_once():
    binaries = [p for p in tracked_files() if is_binary(p)]
    digests: dict[str, str] = {}
    for p in binaries:
        digest = hashlib.sha256(p.read_bytes()).hexdigest()
        assert digest not in digests, f"{p.relative_to(ROOT)} = {digests[digest]}"
        digests[digest] = str(p.relative_to(ROOT))
    assert sum(p.stat().st_size for p in binaries) < 10 * 2**20


def test_benchmarks_is_a_record_not_a_diary():
    """BENCHMARKS.md holds current numbers, each table with its command: at most 250 lines
    (history lives in git, long tables in bench/results/)."""
    lines = (ROOT / "BENCHMARKS.md").read_text().splitlines()
    assert len(lines) <= 250, f"BENCHMARKS.md has {len(lines)} lines"
