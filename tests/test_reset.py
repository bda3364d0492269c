"""Only control registers take the reset (docs/hardware.md, "Conventions"): yosys's own
reading of the emitted Verilog finds the reset input in the logic in front of no data register
of a folded engine, a streamed engine, a window generator or the encoder, and in front of
their control registers. That a reset
in the middle of a frame still costs that frame alone is sim/test_axis.py's."""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest
from amaranth.back import verilog

from gen.synth.yosys import yosys_executable
from models.factory import random_conv

# Data registers by name, and control registers that must keep their reset.
DATA = re.compile(r"(pc|pall)\d+_s\d+|argmax_s\d+|^win$|^pixel$|acc\d+|results\d+|score\d+"
                  r"|o_data|skid_payload|^column$|^col\d+$|scaled\d+")
CONTROL = ("skid_valid", "o__valid", "full", "last_step", "t_next", "word")


def _registers(block) -> dict[str, bool]:
    """Each flip-flop's register name -> whether the reset input reaches it (through logic,
    not through other flip-flops)."""
    text = verilog.convert(block, name="blk")
    script = "read_verilog -sv blk.v; hierarchy -top blk; proc; opt_clean; flatten; " \
             "write_json out.json"
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "blk.v").write_text(text)
        subprocess.run([*yosys_executable(), "-q", "-p", script], cwd=tmp, check=True,
                       capture_output=True, timeout=300)
        mod = json.loads(Path(tmp, "out.json").read_text())["modules"]["blk"]
    names = {}
    for name, net in sorted(mod["netnames"].items(), key=lambda kv: len(kv[0])):
        for bit in net["bits"]:
            names.setdefault(bit, name)
    flops = [c for c in mod["cells"].values() if "dff" in c["type"]]
    inputs_of = {}         # a combinational cell's output bit -> its input bits
    for cell in mod["cells"].values():
        if "dff" in cell["type"]:
            continue
        ins = [b for p, bits in cell["connections"].items()
               if cell["port_directions"][p] == "input" for b in bits]
        for p, bits in cell["connections"].items():
            if cell["port_directions"][p] == "output":
                for b in bits:
                    inputs_of[b] = ins
    rst = set(mod["ports"]["rst"]["bits"])

    def reaches(bits) -> bool:
        seen, todo = set(), list(bits)
        while todo:
            b = todo.pop()
            if b in rst:
                return True
            if b in seen or not isinstance(b, int):
                continue
            seen.add(b)
            todo += inputs_of.get(b, [])
        return False

    out = {}
    for cell in flops:
        q = names[cell["connections"]["Q"][0]].split(".")[-1].lstrip("\\")
        q = re.sub(r"\$\d+$", "", q)
        ins = [b for p, bits in cell["connections"].items() if p not in ("Q", "CLK")
               for b in bits]
        out[q] = out.get(q, False) or reaches(ins)
    return out


def _conv():
    return random_conv(np.random.default_rng(2), "c", (3, 3, 32), out_channels=4,
                       kernel=(3, 3), stride=(1, 1), padding=(1, 1), groups=1,
                       domain="bipolar", prune=0.0)


def _folded():
    from hw.folded.engine import FoldedEngine
    return FoldedEngine(_conv(), pe=2, simd=48, stages=2, front=2, skid=True)


def _dense():
    from hw.dense.engine import StreamingDense
    conv = random_conv(np.random.default_rng(3), "d", (2, 2, 32), out_channels=4, groups=1,
                       dense=True, domain="bipolar", prune=0.0)
    return StreamingDense(conv, pe=2, simd=16, stages=2, front=1, skid=True)


def _window():
    from hw.window.generator import WindowGenerator
    return WindowGenerator(4, 5, 8, (3, 3), (1, 1), (1, 1))


def _encoder():
    from hw.encoder import Encoder
    from models.description import Bitplanes
    return Encoder(2, 4, Bitplanes())


@pytest.mark.parametrize("make", [_folded, _dense, _window, _encoder],
                         ids=["folded", "dense", "window", "encoder"])
def test_only_control_registers_are_reset(make):
    regs = _registers(make())
    data = {n: r for n, r in regs.items() if DATA.search(n)}
    control = {n: r for n, r in regs.items() if n in CONTROL}
    assert data and control, f"names not found among {sorted(regs)}"
    assert not any(data.values()), \
        f"data registers with a reset: {sorted(n for n, r in data.items() if r)}"
    assert all(control.values()), \
        f"control registers without one: {sorted(n for n, r in control.items() if not r)}"
