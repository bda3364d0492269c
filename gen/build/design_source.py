"""What `bnngen report` synthesizes: the Verilog of a build folder, its top module and the
module of each layer, read from the build's manifest.

A model description is elaborated first (the same hw.network.Network that `bnngen build`
emits); a build folder is read as it is. Anything missing or unreadable is a one-line UserError.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from models.errors import UserError, printable


MANIFEST_NAMES = ("manifest.json",)


@dataclass(frozen=True)
class DesignSource:
    """The Verilog text with a top and one module per layer (layer name -> module name)."""

    name: str
    verilog: str
    top: str
    layers: tuple[tuple[str, str], ...]
    origin: str
    clock_mhz: float | None = None    # the clock it was planned for, where a plan says


_MODULE_RE = re.compile(r"^\s*module\s+(\\\S+|[A-Za-z_][\w$]*)", re.MULTILINE)


def verilog_modules(text: str) -> list[str]:
    """Module names declared in a Verilog text (escaped names without the backslash)."""
    return [m.lstrip("\\") for m in _MODULE_RE.findall(text)]


def _find_manifest(folder: Path) -> Path:
    for name in MANIFEST_NAMES:
        if (folder / name).is_file():
            return folder / name
    found = sorted(folder.glob("*manifest*.json"))
    if not found:
        raise UserError(f"{folder}: not a build folder (no manifest.json); run `bnngen build` "
                        "first or give a model description")
    return found[0]


def _layer_modules(manifest: dict, modules: list[str], top: str) -> list[tuple[str, str]]:
    """(layer, module) pairs: each manifest layer's submodule `<top>.<name>` inside the top
    (so one hierarchical synthesis covers them all), else its own `module` field."""
    out = []
    entries = manifest.get("layers", [])
    if not isinstance(entries, list):
        raise UserError("garbled manifest: field 'layers' must be a list")
    for entry in entries:
        if not isinstance(entry, dict) or "name" not in entry:
            continue
        name = str(entry["name"])
        inside = f"{top}.{name}"
        if inside in modules:
            out.append((name, inside))
        elif entry.get("module") is not None:
            out.append((name, str(entry["module"]).lstrip("\\")))
    return out


def load_build_dir(folder: str | Path) -> DesignSource:
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"{folder}: no such build folder or model description")
    mpath = _find_manifest(folder)
    try:
        manifest = json.loads(mpath.read_text())
        if not isinstance(manifest, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError) as e:
        raise UserError(f"{mpath}: garbled manifest ({str(e).splitlines()[0]})") from e
    vfiles = _verilog_files(folder, manifest)
    if not vfiles:
        raise UserError(f"{folder}: build folder has no Verilog (.v) files")
    try:
        text = "\n".join(p.read_text() for p in vfiles)
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"{folder}: unreadable Verilog ({e})") from e
    modules = verilog_modules(text)
    top = str(manifest.get("top") or manifest.get("top_module") or "").lstrip("\\")
    if not top:
        top = modules[-1] if modules else ""
    if top not in modules:
        raise UserError(f"{mpath}: garbled build folder: top module {top!r} is not in the Verilog")
    try:
        layers = _layer_modules(manifest, modules, top)
    except UserError as e:
        raise UserError(f"{mpath}: {e}") from None
    for layer, mod in layers:
        if mod not in modules:
            raise UserError(f"{mpath}: garbled build folder: module {mod!r} of layer {layer!r} "
                            "is not in the Verilog")
    name = str(manifest.get("name") or manifest.get("design") or folder.name)
    return DesignSource(name=name, verilog=text, top=top, layers=tuple(layers),
                        origin=str(folder), clock_mhz=_planned_clock(manifest))


def _planned_clock(manifest: dict) -> float | None:
    """The clock (MHz) of the plan a build was made from, if its manifest says."""
    plan = manifest.get("plan")
    clock = plan.get("clock_mhz") if isinstance(plan, dict) else None
    return float(clock) if isinstance(clock, (int, float)) and clock > 0 else None


def _verilog_files(folder: Path, manifest: dict) -> list[Path]:
    """The top's Verilog file (`<top>.v` among the manifest's `verilog` files: it holds
    every layer as a submodule), else every file the manifest names, else every *.v."""
    named = manifest.get("verilog") or manifest.get("files")
    if isinstance(named, str):
        named = [named]
    elif isinstance(named, dict):
        named = list(named)
    elif named is not None and not isinstance(named, list):
        raise UserError(f"{folder}: garbled manifest: field 'files' must be a list or an object")
    for n in named or []:
        if not isinstance(n, str) or Path(n).is_absolute() or ".." in Path(n).parts:
            raise UserError(f"{folder}: garbled manifest: field 'files': "
                            f"{printable(repr(n))[:60]} is not a path inside the folder")
    paths = [folder / n for n in (named or []) if n.endswith(".v")]
    missing = [p for p in paths if not p.is_file()]
    if missing:
        raise UserError(f"{folder}: garbled build folder: {missing[0].name} is missing")
    top = str(manifest.get("top") or "")
    top_file = [p for p in paths if p.name == f"{top}.v"]
    if top_file:
        return top_file
    return paths or sorted(folder.glob("*.v"))


def network_source(desc, origin: str = "", plan=None) -> DesignSource:
    """The network of a description as Verilog (top `top`, one module per layer named
    `top.<layer>`), for when no build folder is given: fully unrolled, or built as the
    folding `plan` (a gen.plan.plan_file.Plan) says, the way `bnngen build --plan` builds it."""
    from amaranth.back import verilog

    if plan is None:
        from hw.network import Network
        net = Network(desc)
    else:
        from gen.plan.planned_top import planned_top
        net = planned_top(desc, plan)
    text = verilog.convert(net, name="top")
    layers = tuple((name, f"top.{name}") for name, _ in net.blocks)
    return DesignSource(name=desc.name, verilog=text, top="top", layers=layers,
                        origin=origin or desc.name,
                        clock_mhz=plan.clock_mhz if plan is not None else None)


def load_source(path: str | Path, plan_path: str | Path | None = None) -> DesignSource:
    """A build folder as is, or a model description built (in memory) first, unrolled or
    as the plan file `plan_path` says."""
    path = Path(path)
    if path.is_dir():
        if plan_path is not None:
            raise UserError(f"{path}: --plan applies to a model description; a build folder "
                            "is reported as it was built")
        return load_build_dir(path)
    if not path.exists():
        raise UserError(f"{path}: no such build folder or model description")
    from models import description as fmt

    desc = fmt.load(path)
    plan = None
    if plan_path is not None:
        from gen.plan.plan_file import load_checked_plan
        plan = load_checked_plan(plan_path, desc)
    return network_source(desc, origin=str(path), plan=plan)
