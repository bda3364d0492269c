"""The schedule of a folded convolution engine, computed at elaboration time.

A folded engine computes an output pixel in `steps` clock cycles: each cycle each of its
`pe` lanes reads one `simd`-bit chunk of the window, XNORs (bipolar) or ANDs (sparse) it
with that chunk's weights and adds the popcount to its accumulator. After a channel's last
chunk the lane thresholds the sum (or keeps it, for a scores layer) and moves on to its next
output channel.

Chunks: group j's receptive field is ordered input-channel-major, (i, ky, kx), so that one
(o, i) kernel slice, the unit of block pruning, is contiguous; chunk c of group j is
positions [c*simd, (c+1)*simd) of that order (the tail of the last chunk reads constant 0).

Skipping: a channel visits only the chunks that hold at least one of its live weights (kept
bits when bipolar; one-bits in the sparse domain with p = 0). With p != 0 the sparse sum
needs P_all, the popcount of every input, so every chunk is visited. A pruned chunk costs
neither a cycle nor a memory word; a channel with no live chunk is a constant.

Lanes: channels go to lanes longest-first onto the least-loaded lane (ties: lowest lane),
so a dense layer gets channel o on lane o % pe, and a pruned layer's `steps` is close to
(live chunks) / pe. A lane with less work idles on a zero chunk (id `zero_chunk`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from models.description import Conv


@dataclass(frozen=True)
class Op:
    """One lane's work in one step."""

    channel: int      # output channel, -1 for an idle step
    chunk: int        # global chunk id (group * chunks_per_group + c), or the zero chunk
    first: bool       # the first op of its channel: the accumulator restarts
    last: bool        # the last op of its channel: the sum is complete


@dataclass(frozen=True)
class FoldSchedule:
    pe: int
    simd: int
    fan_in: int                          # F = kh*kw*C_in/g
    groups: int
    chunks_per_group: int
    lanes: tuple[tuple[int, ...], ...]   # per lane: its channels, in processing order
    ops: tuple[tuple[Op, ...], ...]      # per lane: `steps` ops
    constant: tuple[int, ...]            # channels with no live chunk
    needs_mask: bool                     # a visited chunk holds a pruned weight

    @property
    def steps(self) -> int:
        return len(self.ops[0]) if self.ops else 0

    @property
    def zero_chunk(self) -> int:
        return self.groups * self.chunks_per_group

    @property
    def live_ops(self) -> int:
        return sum(op.channel >= 0 for lane in self.ops for op in lane)

    @cached_property
    def chunk_columns(self) -> tuple[tuple[int, ...], ...]:
        """Per lane, the chunk id of every step."""
        return tuple(tuple(op.chunk for op in lane) for lane in self.ops)


def field_order(conv: Conv) -> np.ndarray:
    """(F,) window-relative positions: entry r is (ky*kw + kx)*C_in + i for the r-th position
    (i, ky, kx) of group 0's receptive field; add j*C_in/g for group j."""
    kh, kw = conv.kernel
    cg = conv.in_channels_per_group
    c_in = cg * conv.groups
    i, ky, kx = np.meshgrid(np.arange(cg), np.arange(kh), np.arange(kw), indexing="ij")
    return ((ky * kw + kx) * c_in + i).ravel()


def channel_bits(array: np.ndarray) -> np.ndarray:
    """(O, kh, kw, cg) -> (O, F) in the (i, ky, kx) order of `field_order`."""
    return array.transpose(0, 3, 1, 2).reshape(array.shape[0], -1)


def live_bits(conv: Conv) -> np.ndarray:
    """(O, F) bool: the positions whose weight needs a visit."""
    if conv.domain == "bipolar":
        return channel_bits(conv.kept).astype(bool)
    if conv.p != 0:
        return np.ones((conv.out_channels, conv.weights[0].size), dtype=bool)
    return channel_bits(conv.weights).astype(bool)


def live_chunks(conv: Conv, simd: int) -> list[list[int]]:
    """Per output channel, the chunk indices (within its group) it must visit."""
    live = live_bits(conv)
    fan = live.shape[1]
    n = -(-fan // simd)
    padded = np.zeros((live.shape[0], n * simd), dtype=bool)
    padded[:, :fan] = live
    any_live = padded.reshape(live.shape[0], n, simd).any(axis=2)
    return [list(np.flatnonzero(row)) for row in any_live]


def assign_lanes(counts: list[int], pe: int) -> list[list[int]]:
    """Longest processing time first onto the least-loaded lane; channels with no work are
    left out. Each lane keeps its channels in ascending order."""
    loads = [0] * pe
    lanes: list[list[int]] = [[] for _ in range(pe)]
    for o in sorted(range(len(counts)), key=lambda o: (-counts[o], o)):
        if counts[o] == 0:
            continue
        k = min(range(pe), key=lambda lane: (loads[lane], lane))
        loads[k] += counts[o]
        lanes[k].append(o)
    return [sorted(lane) for lane in lanes]


def fold_schedule(conv: Conv, pe: int, simd: int) -> FoldSchedule:
    """The schedule of `conv` on `pe` lanes of `simd` bits."""
    fan = int(conv.weights[0].size)
    if not 1 <= pe <= conv.out_channels:
        raise ValueError(f"{conv.name}: pe must be in 1..{conv.out_channels}, not {pe}")
    if not 1 <= simd <= fan:
        raise ValueError(f"{conv.name}: simd must be in 1..{fan}, not {simd}")
    per_group = -(-fan // simd)
    og = conv.out_channels_per_group
    chunks = live_chunks(conv, simd)
    lanes = assign_lanes([len(c) for c in chunks], pe)
    steps = max(1, max(sum(len(chunks[o]) for o in lane) for lane in lanes))
    zero = conv.groups * per_group
    ops = []
    for lane in lanes:
        row = []
        for o in lane:
            base = (o // og) * per_group
            cs = chunks[o]
            row += [Op(o, base + int(c), k == 0, k == len(cs) - 1) for k, c in enumerate(cs)]
        row += [Op(-1, zero, False, False)] * (steps - len(row))
        ops.append(tuple(row))
    needs_mask = False
    if conv.domain == "bipolar" and conv.mask is not None:
        kept = channel_bits(conv.kept).astype(bool)
        for o, cs in enumerate(chunks):
            for c in cs:
                if not kept[o, c * simd:(c + 1) * simd].all():
                    needs_mask = True
    constant = tuple(o for o in range(conv.out_channels) if not chunks[o])
    return FoldSchedule(pe=pe, simd=simd, fan_in=fan, groups=conv.groups,
                        chunks_per_group=per_group, lanes=tuple(tuple(x) for x in lanes),
                        ops=tuple(ops), constant=constant, needs_mask=needs_mask)


def fold_steps(conv: Conv, pe: int, simd: int) -> int:
    """Cycles per output pixel (cheaper than the full schedule: no ops are built)."""
    chunks = live_chunks(conv, simd)
    lanes = assign_lanes([len(c) for c in chunks], pe)
    return max(1, max(sum(len(chunks[o]) for o in lane) for lane in lanes))


@dataclass(frozen=True)
class FoldShape:
    """What a folded engine's cost depends on, without building its ops (for planners)."""

    steps: int
    lanes_used: int
    mux_columns: int
    needs_mask: bool
    word_width: int
    column_lanes: tuple[int, ...]    # per multiplexer column, the lanes with a channel that read it


def fold_shape(conv: Conv, pe: int, simd: int) -> FoldShape:
    """`fold_schedule`'s sizes, computed from chunk ids alone (same lanes, same columns)."""
    fan = int(conv.weights[0].size)
    per_group = -(-fan // simd)
    og = conv.out_channels_per_group
    chunks = live_chunks(conv, simd)
    lanes = assign_lanes([len(c) for c in chunks], pe)
    steps = max(1, max(sum(len(chunks[o]) for o in lane) for lane in lanes))
    zero = conv.groups * per_group
    columns: dict[tuple, int] = {}      # lanes with a channel per multiplexer column
    for lane in lanes:
        col = [(o // og) * per_group + int(c) for o in lane for c in chunks[o]]
        key = tuple(col + [zero] * (steps - len(col)))
        columns[key] = columns.get(key, 0) + bool(lane)
    needs_mask = False
    if conv.domain == "bipolar" and conv.mask is not None:
        kept = channel_bits(conv.kept).astype(bool)
        ones = np.ones((kept.shape[0], per_group * simd), dtype=bool)
        zeros = np.zeros_like(ones)
        ones[:, :fan] = zeros[:, :fan] = kept     # the tail past F needs no mask
        shape = (kept.shape[0], per_group, simd)
        visited = zeros.reshape(shape).any(axis=2)
        needs_mask = bool((visited & ~ones.reshape(shape).all(axis=2)).any())
    id_width = max(1, zero.bit_length())
    width = len(columns) * id_width + pe * (simd * (2 if needs_mask else 1) + 2)
    return FoldShape(steps=steps, lanes_used=sum(1 for lane in lanes if lane),
                     mux_columns=len(columns), needs_mask=needs_mask, word_width=width,
                     column_lanes=tuple(columns.values()))
