"""A network's blocks, layer by layer, as a folding plan's choices (or the unrolled
default) build them."""

from __future__ import annotations

from models.description import Conv, Description, MaxPool

from gen.estimate.blocks import (Block, encoder_block, fifo_block, framing_block, pool_blocks,
                                 skid_block, window_block)
from gen.estimate.engine_blocks import engine_block
from gen.estimate.folded_blocks import dense_block, folded_block


def engine_skid(conv: Conv, on: bool) -> list[Block]:
    """An engine's skid register (`on`), on its output's width."""
    if not on:
        return []
    from hw.engine import result_layout
    return [skid_block(result_layout(conv).size if conv.scores is not None
                       else conv.out_channels)]


def conv_blocks(conv: Conv, shape, stages: int = 1, choice=None) -> list[Block]:
    """A convolution's blocks as `choice` (a hw.folded.planned.LayerChoice; None: unrolled)
    builds it: a folded dense layer is the one streaming block (it takes pixels, not
    windows); a folded layer's engine is the folded block, behind its window generator."""
    from hw.dense.schedule import is_dense
    from hw.network import needs_window

    folded = choice is not None and choice.engine == "folded"
    stages, argmax = (choice.stages, choice.argmax_stages) if choice else (stages, 0)
    if folded and is_dense(conv, shape):
        return [dense_block(conv, choice.pe, choice.simd, choice.memory, stages, argmax,
                            choice.front, choice.skid)] + engine_skid(conv, choice.skid)
    blocks = [folded_block(conv, choice.pe, choice.simd, choice.memory, stages, argmax,
                           choice.front, choice.skid)
              if folded else engine_block(conv, stages, argmax)]
    blocks += engine_skid(conv, folded and choice.skid)
    if needs_window(conv):
        pipelined = bool(folded and choice.skid)
        blocks.insert(0, window_block(shape, conv.kernel, conv.stride, conv.padding,
                                      pipelined, ready_copies=pipelined))
    return blocks


def unrolled_ii(desc: Description, stages: int = 1) -> int:
    """The II of the network built unrolled, which its input pacer is built for: the flow
    model's (gen.estimate.flow_model; hw.network.Network's timing gives the same)."""
    from gen.estimate.flow_model import analyse
    return analyse(desc, {}, stages).ii


def input_blocks(desc: Description, ii: int, skid: bool = False) -> list[Block]:
    """The encoder (with a skid register in a network pipelined for a clock:
    hw.folded.planned) and the top's framing checker, its pacer built for `ii` (the
    network's initiation interval): the row `encoder` of an estimate."""
    inp = desc.input
    enc = encoder_block(desc)
    return [enc] + ([skid_block(enc.ff - 1)] if skid else []) + [
        framing_block(inp.channels * inp.bits, inp.height * inp.width, ii)]


def layer_blocks(desc: Description, stages: int = 1, choices: dict | None = None,
                 ii: int | None = None) -> list[tuple[str, list[Block]]]:
    """(layer name, its blocks) for the encoder (with the framing checker) and every layer,
    in stream order, each layer built as `choices` (layer name ->
    hw.folded.planned.LayerChoice, a folding plan's) says; any other layer is unrolled.
    `ii`: the network's initiation interval, for the pacer (a plan's; None: unrolled)."""
    if ii is None:
        if choices:
            raise ValueError("a planned network's blocks need the plan's II")
        ii = unrolled_ii(desc, stages)
    choices = choices or {}
    out = [("encoder", input_blocks(desc, ii, any(c.skid for c in choices.values())))]
    for layer, shape in zip(desc.layers, desc.layer_inputs()):
        choice = choices.get(layer.name)
        if isinstance(layer, MaxPool):
            blocks = pool_blocks(layer, shape, bool(choice and choice.skid))
        else:
            blocks = conv_blocks(layer, shape, stages, choice)
        if choice is not None and choice.fifo_depth > 0:
            blocks.insert(0, fifo_block(shape[2], choice.fifo_depth))
        out.append((layer.name, blocks))
    return out
