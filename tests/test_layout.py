"""The layout of the code (README.md, "A tour of the tree"), read from the sources' imports.

gen/ is a stack of wings, each a sub-package; a wing imports only from the wings below it
(and from hw/ and models/). hw/ never imports gen/; models/ imports neither. No module of
gen/ or hw/ is longer than MAX_LINES. Every import counts: at module level or inside a
function, absolute or relative.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# gen/'s wings, bottom to top: a wing may import from itself and from those before it.
WINGS = ("common", "estimate", "plan", "build", "synth", "simulate", "cli")
# The only modules gen/ may hold outside a wing.
GEN_LOOSE = {"__init__.py", "__main__.py"}
MAX_LINES = 400


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path, source: str | None = None) -> list[tuple[str, int]]:
    """(absolute module, line) of every import in the file, at any depth. `from P import n`
    yields P and P.n (n may be a module)."""
    source = path.read_text() if source is None else source
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module
            out.append((module, node.lineno))
            out += [(f"{module}.{a.name}", node.lineno) for a in node.names]
    return out


def wing(module: str) -> int | None:
    """Index in WINGS of a gen module's wing (None: not in gen/, or gen itself)."""
    parts = module.split(".")
    if parts[0] != "gen" or len(parts) < 2:
        return None
    return WINGS.index(parts[1]) if parts[1] in WINGS else -1


def sources(top: str) -> list[Path]:
    return sorted(p for p in (ROOT / top).rglob("*.py") if "__pycache__" not in p.parts)


def wrong_way(path: Path, source: str | None = None) -> list[str]:
    """The imports of a gen/ module that go up the stack, or into gen/ outside a wing."""
    own = wing(module_name(path))
    bad = []
    for module, line in imported(path, source):
        w = wing(module)
        if w is None:
            continue
        if w == -1 and module.split(".")[1] not in ("__init__", "__main__"):
            bad.append(f"{path.relative_to(ROOT)}:{line}: {module} is in no wing")
        elif own is not None and own >= 0 and w > own:
            bad.append(f"{path.relative_to(ROOT)}:{line}: {WINGS[own]} imports {module} "
                       f"({WINGS[w]} is above it)")
    return bad


def foreign(path: Path, forbidden: tuple[str, ...], source: str | None = None) -> list[str]:
    """The imports of `path` from the top-level packages in `forbidden`."""
    return [f"{path.relative_to(ROOT)}:{line}: imports {module}"
            for module, line in imported(path, source) if module.split(".")[0] in forbidden]


def test_no_module_over_the_limit():
    long = [f"{p.relative_to(ROOT)}: {n} lines" for top in ("gen", "hw") for p in sources(top)
            if (n := len(p.read_text().splitlines())) > MAX_LINES]
    assert not long, long


def test_gen_holds_wings_only():
    loose = sorted(p.name for p in (ROOT / "gen").iterdir()
                   if p.is_file() and p.suffix == ".py" and p.name not in GEN_LOOSE)
    assert not loose, f"modules of gen/ outside a wing: {loose}"
    folders = {p.name for p in (ROOT / "gen").iterdir()
               if p.is_dir() and p.name != "__pycache__"}
    assert folders == set(WINGS), f"gen/'s folders {sorted(folders)} are not the wings"
    for w in WINGS:
        assert (ROOT / "gen" / w / "__init__.py").exists(), f"gen/{w} is no package"


def test_wings_import_only_downwards():
    bad = [b for p in sources("gen") for b in wrong_way(p)]
    assert not bad, "\n".join(bad)


def test_hw_never_imports_gen():
    bad = [b for p in sources("hw") for b in foreign(p, ("gen",))]
    assert not bad, "\n".join(bad)


def test_models_import_neither_hw_nor_gen():
    bad = [b for p in sources("models") for b in foreign(p, ("hw", "gen"))]
    assert not bad, "\n".join(bad)


def test_the_checks_bite():
    """Each rule on a made-up module breaking it, imports inside functions and relative
    ones included."""
    plan = ROOT / "gen" / "plan" / "made_up.py"
    assert wrong_way(plan, "def f():\n    from gen.synth.yosys import run_yosys\n")
    assert wrong_way(plan, "from ..cli import entry\n")
    assert wrong_way(plan, "from gen import cli\n")
    assert wrong_way(plan, "import gen.simulate.verify\n")
    assert wrong_way(plan, "from gen import loose_module\n")
    assert not wrong_way(plan, "from ..common.staging import staged_folder\n"
                               "from gen.estimate import estimator\nfrom . import cost\n"
                               "from hw.network import Network\n")
    assert wrong_way(ROOT / "gen" / "common" / "made_up.py", "from ..estimate import blocks\n")
    hw = ROOT / "hw" / "folded" / "made_up.py"
    assert foreign(hw, ("gen",), "def f():\n    from gen.plan import search\n")
    assert not foreign(hw, ("gen",), "from ..timing import Timing\n")
    models = ROOT / "models" / "made_up.py"
    assert foreign(models, ("hw", "gen"), "from hw.timing import Timing\n")
    assert foreign(models, ("hw", "gen"), "import gen\n")
