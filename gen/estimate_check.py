"""The estimator against yosys: synthesize a description's network per family (hierarchy
kept) and line up each block's and layer's yosys numbers with the estimate's.

Used by bench/estimate_fit.py (to fit the coefficients), bench/estimate_error.py (the error
table) and tests/test_estimate*.py.
"""

from __future__ import annotations

from models.description import Description

from .design_source import network_source
from .estimate_blocks import layer_blocks
from .resources import classify
from .synth import SynthError, run_yosys
from .synth import is_cached as synth_cached

BLOCK_MODULE = {"encoder": "top.encoder", "window": "top.{layer}.window",
                "engine": "top.{layer}.engine", "reduce": "top.{layer}.reduce"}


def block_module(layer: str, kind: str) -> str:
    if layer == "encoder":
        return "top.encoder"
    return BLOCK_MODULE[kind].format(layer=layer)


def is_cached(src, family: str) -> bool:
    return synth_cached(src.verilog, family, src.top)


def yosys_blocks(desc: Description, families: list[str], *, use_cache: bool = True,
                 src=None, cached_only: bool = False, classic_abc: bool = False) -> dict:
    """{family: {"total": classes, "layers": {layer: classes},
    "blocks": [(layer, Block, classes)], "mapper": "abc9" or "abc" (gen.synth's fallback
    after an ABC9 crash)}} from one hierarchical yosys run per family."""
    src = src or network_source(desc)
    if cached_only and not all(is_cached(src, f) for f in families):
        raise SynthError(f"{desc.name}: no cached yosys results")
    blocks = layer_blocks(desc)
    out = {}
    for fam in families:
        r = run_yosys(src.verilog, fam, src.top, use_cache=use_cache,
                      classic_abc=classic_abc)
        rows = []
        for layer, bl in blocks:
            for b in bl:
                mod = block_module(layer, b.kind)
                if mod not in r.modules:   # a planned build's streamed dense layer: no window
                    continue
                rows.append((layer, b, classify(fam, r.subtree(mod))))
        out[fam] = {"total": classify(fam, r.cells),
                    "layers": {layer: classify(fam, r.subtree(f"top.{layer}"))
                               for layer, _ in blocks},
                    "blocks": rows, "seconds": r.seconds, "mapper": r.mapper}
    return out


def yosys_component(component, family: str, use_cache: bool = True) -> dict[str, int]:
    """Resource classes of one hardware block synthesized on its own (its module and the
    modules below it): the blocks keep their hierarchy in a network, so alone they cost
    the same."""
    from amaranth.back import verilog

    text = verilog.convert(component, name="block")
    return classify(family, run_yosys(text, family, "block", use_cache=use_cache).cells)
