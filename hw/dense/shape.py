"""What a streamed dense engine's cost depends on, without building its ops: lanes, mux
columns, word width and the ROM's varying bits (for the estimator and the planner)."""

from __future__ import annotations

import collections
from dataclasses import dataclass

import numpy as np

from models.description import Conv

from .schedule import (channel_lanes, check_dense, chunks_need_mask, dense_pixel_steps,
                        lane_banked, lane_ops, live_position_chunks, slot_bits)


def _varying_bits(values: np.ndarray, width: int) -> int:
    """Bits of `width`-bit fields that are not the same in every step."""
    if width == 0 or len(values) == 0:
        return 0
    bits = (values[:, None] >> np.arange(width)) & 1
    return int((bits != bits[:1]).any(axis=0).sum())


@dataclass(frozen=True)
class DenseShape:
    """What a streamed dense engine's cost depends on, without its ops (for planners)."""

    steps: int
    lanes: tuple[tuple[int, ...], ...]
    banked: tuple[bool, ...]
    mux_columns: int
    needs_mask: bool
    word_width: int
    rom_width: int      # the word's bits that vary over the steps (yosys drops the rest)
    end_varies: bool    # the pixel-end flag does (a pixel takes more than one step)
    column_lanes: tuple[int, ...]    # per multiplexer column, the lanes that read it


def dense_shape(conv: Conv, pe: int, simd: int) -> DenseShape:
    """`dense_schedule`'s sizes (same lanes, same columns, same word)."""
    check_dense(conv, pe, simd)
    live = live_position_chunks(conv, simd)
    o_n, pixels, n = live.shape
    cg = conv.in_channels_per_group
    lanes = channel_lanes(live, pe)
    pixel_steps = dense_pixel_steps(conv, pe, simd)
    ops = lane_ops(live, lanes, conv.out_channels_per_group, pixel_steps)
    banked = [lane_banked(op) for op in ops]
    columns = {tuple(op["chunk"].tolist()): op["chunk"] for op in ops}
    readers = collections.Counter(tuple(op["chunk"].tolist()) for op in ops)
    mask = chunks_need_mask(conv, live, simd)
    id_width = max(1, (conv.groups * n).bit_length())
    width = 1 + len(columns) * id_width + sum(
        simd * (2 if mask else 1) + 2 + slot_bits(lane, b) for lane, b in zip(lanes, banked))
    # The ROM's varying bits, field by field as DenseWord lays them out.
    end_varies = any(s > 1 for s in pixel_steps)
    varying = int(end_varies)
    varying += sum(_varying_bits(col, id_width) for col in columns.values())
    fill = 1 if conv.domain == "bipolar" else 0
    grids = [conv.weights] + ([conv.kept] if mask else [])
    padded = []
    for g in grids:
        a = np.full((o_n + 1, pixels, n * simd), fill if g is conv.weights else 0, np.uint8)
        a[:o_n, :, :cg] = g.reshape(o_n, pixels, cg)
        if g is not conv.weights:
            a[:o_n, :, cg:] = 0
        padded.append(a)
    for lane, op, b in zip(lanes, ops, banked):
        o = np.where(op["channel"] < 0, o_n, op["channel"])   # row o_n: the idle fill
        r = (op["chunk"] % n)[:, None] * simd + np.arange(simd)
        for a in padded:
            bits = a[o[:, None], op["pixel"][:, None], r]
            varying += int((bits != bits[:1]).any(axis=0).sum())
        varying += _varying_bits(op["first"], 1) + _varying_bits(op["last"], 1)
        varying += _varying_bits(op["slot"], slot_bits(lane, b))
    return DenseShape(steps=sum(pixel_steps), lanes=tuple(map(tuple, lanes)),
                      banked=tuple(banked), mux_columns=len(columns), needs_mask=mask,
                      word_width=width, rom_width=varying, end_varies=end_varies,
                      column_lanes=tuple(readers[key] for key in columns))
