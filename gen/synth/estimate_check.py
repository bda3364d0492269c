"""The estimator against yosys: synthesize a description's network per family (hierarchy
kept) and line up each block's and layer's yosys numbers with the estimate's.

Used by bench/estimate_fit.py (to fit the coefficients), bench/estimate_error.py (the error
table) and tests/test_estimate*.py.
"""

from __future__ import annotations

from models.description import Description

from gen.build.design_source import network_source
from gen.common.resources import classify
from gen.estimate.layer_blocks import layer_blocks
from gen.synth.yosys import SynthError, run_yosys
from gen.synth.yosys import is_cached as synth_cached


BLOCK_MODULE = {"window": "window", "engine": "engine", "folded": "engine", "reduce": "reduce"}


def block_module(layer: str, kind: str, buffered: bool = False) -> str:
    """The module of a block in the network top (a layer behind a FIFO is its `block`)."""
    if kind == "framing":       # counted in the encoder's row, a module of the top's own
        return "top.framing"
    if layer == "encoder":
        return "top.encoder"
    if kind == "fifo":
        return f"top.{layer}.fifo"
    return f"top.{layer}{'.block' if buffered else ''}.{BLOCK_MODULE[kind]}"


def is_cached(src, family: str) -> bool:
    return synth_cached(src.verilog, family, src.top)


def yosys_blocks(desc: Description, families: list[str], *, use_cache: bool = True,
                 plan=None, cached_only: bool = False, classic_abc: bool = False) -> dict:
    """{family: {"total": classes, "layers": {layer: classes},
    "blocks": [(layer, Block, classes)], "mapper": "abc9", or "abc9+abc" with the
    "fallback_modules" that gen.synth mapped with classic ABC after an ABC9 crash, or
    "abc" (`classic_abc`)}} from one hierarchical yosys run per family of the network, as
    `plan` (a gen.plan.plan_file.Plan) builds it, else unrolled."""
    src = network_source(desc, plan=plan)
    if cached_only and not all(is_cached(src, f) for f in families):
        raise SynthError(f"{desc.name}: no cached yosys results")
    choices = plan.choices() if plan else {}
    blocks = layer_blocks(desc, plan.stages if plan else 1, choices, plan.ii if plan else None)
    buffered = {name for name, c in choices.items() if c.fifo_depth > 0}
    out = {}
    for fam in families:
        r = run_yosys(src.verilog, fam, src.top, use_cache=use_cache,
                      classic_abc=classic_abc)
        # A skid register lives in the module of the block whose output it holds (the
        # engine's, or the pool's OR): its cells are counted there, none apart.
        rows = [(layer, b, classify(fam, {} if b.kind == "skid" else
                                    r.subtree(block_module(layer, b.kind, layer in buffered))))
                for layer, bl in blocks for b in bl]
        out[fam] = {"total": classify(fam, r.cells),
                    "layers": {layer: classify(fam, r.subtree(f"top.{layer}"))
                               for layer, _ in blocks},
                    "blocks": rows, "seconds": r.seconds, "mapper": r.mapper,
                    "fallback_modules": list(r.fallback_modules)}
    return out


def yosys_component(component, family: str, use_cache: bool = True) -> dict[str, int]:
    """Resource classes of one hardware block synthesized on its own (its module and the
    modules below it): the blocks keep their hierarchy in a network, so alone they cost
    the same."""
    from amaranth.back import verilog

    text = verilog.convert(component, name="block")
    return classify(family, run_yosys(text, family, "block", use_cache=use_cache).cells)
