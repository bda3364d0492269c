"""`pip install .` (not editable) into a fresh virtual environment, then the command line
from a folder outside the checkout: the package carries what it needs (the shipped models,
the estimator's coefficients), with no path into the checkout.

The fresh environment sees this one's site-packages for the dependencies (a .pth line: no
network), but not its editable hook, so `gen`, `hw` and `models` come from the install."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def tracked(dst: Path) -> None:
    """A copy of the checkout's tracked files (the build writes its own files next to them)."""
    try:
        names = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True,
                               check=True).stdout.decode().split("\0")
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    for name in filter(None, names):
        src = ROOT / name
        if src.is_file():
            (dst / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst / name)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    base = tmp_path_factory.mktemp("install")
    src, venv = base / "src", base / "venv"
    tracked(src)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = Path(subprocess.run([str(venv / "bin/python"), "-c",
                                "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin/python"),
                    "install", "-q", "--no-deps", "--no-build-isolation", "--no-index",
                    str(src)], check=True, capture_output=True)
    return venv


def run(venv: Path, cwd: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    r = subprocess.run(list(args), cwd=cwd, env=env, capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, f"{' '.join(args)}: exit {r.returncode}\n{r.stdout}\n{r.stderr}"
    return r.stdout


def test_installed_package_is_not_the_checkout(installed, tmp_path):
    out = run(installed, tmp_path, "python", "-c",
              "import gen, hw, models; print(gen.__file__, hw.__file__, models.__file__)")
    for path in out.split():
        assert Path(path).is_relative_to(installed), path


def test_commands_from_any_folder(installed, tmp_path):
    run(installed, tmp_path, "bnngen", "validate", "zoo:default")
    assert "conv0" in run(installed, tmp_path, "bnngen", "info", "zoo:default")
    assert "ecp5" in run(installed, tmp_path, "bnngen", "estimate", "zoo:default",
                         "--family", "ecp5")
    run(installed, tmp_path, "bnngen", "plan", "zoo:default", "--fps", "1000", "--clock", "50",
        "--device", "25f", "-o", "plan.json")
    assert json.loads((tmp_path / "plan.json").read_text())["model"]
    run(installed, tmp_path, "bnngen", "build", "zoo:default", "--plan", "plan.json",
        "-o", "out")
    man = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert man["layers"] and all((tmp_path / "out" / f).is_file() for f in man["files"])
