"""What one yosys run reports: each module's own cells, the CMOS transistor estimate and
the memory macros (asic), read from `stat -json` and `dump`."""

from __future__ import annotations

import re
from dataclasses import dataclass, field


@dataclass(frozen=True)
class SynthResult:
    """Cell counts after synthesis of `top` for one family, per module and in total."""

    family: str
    top: str
    modules: dict[str, dict[str, int]]   # module -> its own cells (submodules as cells)
    transistors: dict[str, int]          # asic only: module -> transistors, submodules in
    seconds: float = 0.0                 # yosys wall time when it really ran (0 from cache)
    cached: bool = False
    mapper: str = "abc9"                 # "abc": classic ABC throughout; "abc9+abc": ...
    fallback_modules: tuple[str, ...] = ()   # ... ABC9 crashed on these, classic ABC mapped them
    memories: dict = field(default_factory=dict)   # asic: module -> its own macros (Memory)

    def subtree(self, module: str) -> dict[str, int]:
        """Primitive cells of `module` with every submodule instance expanded."""
        out: dict[str, int] = {}
        for cell, n in self.modules[module].items():
            if cell in self.modules:
                for k, v in self.subtree(cell).items():
                    out[k] = out.get(k, 0) + n * v
            else:
                out[cell] = out.get(cell, 0) + n
        return out

    def subtree_transistors(self, module: str) -> int | None:
        """`stat -tech cmos`'s estimate for a module already counts its submodules'
        instances (a layer's figure is its engine's plus its window's): adding them
        again would count every level of the hierarchy once more."""
        if not self.transistors:
            return None
        return self.transistors.get(module, 0)

    def subtree_memories(self, module: str) -> list[Memory]:
        """The memory macros of `module` and of every module below it (asic only)."""
        out = [Memory(*m) for m in self.memories.get(module, [])]
        for cell, n in self.modules[module].items():
            if cell in self.modules:
                out += self.subtree_memories(cell) * n
        return out

    @property
    def cells(self) -> dict[str, int]:
        return self.subtree(self.top)


@dataclass(frozen=True)
class Memory:
    """One memory macro as yosys inferred it (constant bits trimmed): `words` x `width`
    bits; a ROM has no write port."""

    words: int
    width: int
    read_ports: int
    write_ports: int

    @property
    def bits(self) -> int:
        return self.words * self.width


_DUMP_MODULE = re.compile(r"^module \\?(\S+)", re.M)


_DUMP_PARAM = re.compile(r"^\s*parameter \\(WIDTH|SIZE|RD_PORTS|WR_PORTS) (\d+)\s*$", re.M)


def parse_memories(dump: str) -> dict[str, list[list[int]]]:
    """module -> [[words, width, read ports, write ports]] from `dump t:$mem_v2`."""
    out: dict[str, list[list[int]]] = {}
    heads = list(_DUMP_MODULE.finditer(dump))
    for k, head in enumerate(heads):
        body = dump[head.end():heads[k + 1].start() if k + 1 < len(heads) else len(dump)]
        for cell in body.split("cell $mem_v2 ")[1:]:
            p = {m.group(1): int(m.group(2)) for m in _DUMP_PARAM.finditer(cell)}
            out.setdefault(head.group(1).lstrip("\\"), []).append(
                [p["SIZE"], p["WIDTH"], p["RD_PORTS"], p["WR_PORTS"]])
    return out


def parse_stat(stat: dict) -> tuple[dict[str, dict[str, int]], dict[str, int]]:
    """Every module's own cells (and CMOS transistor estimate) from yosys's `stat -json`."""
    modules, transistors = {}, {}
    for name, node in stat.get("modules", {}).items():
        name = name.lstrip("\\")
        modules[name] = {k.lstrip("\\"): int(v)
                         for k, v in node.get("num_cells_by_type", {}).items()}
        tr = node.get("estimated_num_transistors")
        if tr is not None:
            transistors[name] = int(str(tr).rstrip("+"))
    return modules, transistors
