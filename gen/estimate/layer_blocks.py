"""A network's blocks, layer by layer, as a folding plan's choices (or the unrolled
default) build them."""

from __future__ import annotations

from models.description import Conv, Description, MaxPool

from gen.estimate.blocks import (Block, encoder_block, fifo_block, pool_blocks, skid_block,
                                 window_block)
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
                            choice.front)] + engine_skid(conv, choice.skid)
    blocks = [folded_block(conv, choice.pe, choice.simd, choice.memory, stages, argmax,
                           choice.front)
              if folded else engine_block(conv, stages, argmax)]
    blocks += engine_skid(conv, folded and choice.skid)
    if needs_window(conv):
        blocks.insert(0, window_block(shape, conv.kernel, conv.stride, conv.padding))
    return blocks


def layer_blocks(desc: Description, stages: int = 1,
                 choices: dict | None = None) -> list[tuple[str, list[Block]]]:
    """(layer name, its blocks) for the encoder and every layer, in stream order, each layer
    built as `choices` (layer name -> hw.folded.planned.LayerChoice, a folding plan's) says;
    any other layer is unrolled."""
    choices = choices or {}
    out = [("encoder", [encoder_block(desc)])]
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
