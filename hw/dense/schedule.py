"""The streaming dense engine's schedule: which lane visits which chunk of which pixel in
each step (hw.dense.engine describes the engine)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.description import Conv

from ..folded.schedule import assign_lanes


def is_dense(conv: Conv, in_shape: tuple[int, int, int]) -> bool:
    """A kernel over the whole unpadded input map: one output pixel per frame."""
    return tuple(conv.kernel) == tuple(in_shape[:2]) and tuple(conv.padding) == (0, 0)


def position_live(conv: Conv) -> np.ndarray:
    """(O, kh, kw, cg) bool: the weights that need a visit (kept bits when bipolar; one-bits
    in the sparse domain with p = 0; every input when the sparse sum needs P_all)."""
    if conv.domain == "bipolar":
        return conv.kept.astype(bool)
    if conv.p != 0:
        return np.ones(conv.weights.shape, dtype=bool)
    return conv.weights.astype(bool)


@dataclass(frozen=True)
class DenseOp:
    """One lane's work in one step."""

    channel: int      # output channel, -1 for an idle step
    chunk: int        # global chunk id (group * chunks_per_group + c), or the zero chunk
    first: bool       # the channel's first op of the frame: its accumulator restarts
    last: bool        # the channel's last op of the frame: its result is ready
    slot: int         # the channel's accumulator in the lane's bank


@dataclass(frozen=True)
class DenseSchedule:
    pe: int
    simd: int
    group_bits: int                      # cg: a group's bits of one pixel
    groups: int
    chunks_per_group: int
    lanes: tuple[tuple[int, ...], ...]   # per lane with work: its channels (slot order)
    finish: tuple[tuple[int, ...], ...]  # per lane: its channels in the order they finish
    banked: tuple[bool, ...]             # per lane: channels interleave (a bank of sums)
    pixel_steps: tuple[int, ...]         # cycles per pixel, raster order
    ops: tuple[tuple[DenseOp, ...], ...]  # per lane: sum(pixel_steps) ops
    pixel_of: tuple[int, ...]            # per step: its pixel
    constant: tuple[int, ...]            # channels with no live weight at all
    needs_mask: bool                     # a visited chunk holds a pruned weight

    @property
    def steps(self) -> int:
        return len(self.pixel_of)

    @property
    def zero_chunk(self) -> int:
        return self.groups * self.chunks_per_group

    def pixel_ends(self) -> list[bool]:
        return [t == self.steps - 1 or self.pixel_of[t + 1] != self.pixel_of[t]
                for t in range(self.steps)]


def live_position_chunks(conv: Conv, simd: int) -> np.ndarray:
    """(O, kh*kw, chunks_per_group) bool: chunk c of pixel p holds a live weight of o."""
    live = position_live(conv)
    o_n, kh, kw, cg = live.shape
    n = -(-cg // simd)
    padded = np.zeros((o_n, kh * kw, n * simd), dtype=bool)
    padded[:, :, :cg] = live.reshape(o_n, kh * kw, cg)
    return padded.reshape(o_n, kh * kw, n, simd).any(axis=3)


def channel_lanes(live: np.ndarray, pe: int) -> list[list[int]]:
    """The lanes that get channels (as in a folded engine), from (O, P, n) live chunks."""
    return [lane for lane in assign_lanes(live.sum(axis=(1, 2)).tolist(), pe) if lane]


def dense_pixel_steps(conv: Conv, pe: int, simd: int) -> tuple[int, ...]:
    """Cycles per pixel (cheaper than the full schedule: no ops are built)."""
    live = live_position_chunks(conv, simd)
    per_pixel = live.sum(axis=2)                         # (O, P)
    lanes = channel_lanes(live, pe)
    if not lanes:
        return (1,) * live.shape[1]
    loads = np.stack([per_pixel[lane].sum(axis=0) for lane in lanes])
    return tuple(int(s) for s in np.maximum(1, loads.max(axis=0)))


def chunks_need_mask(conv: Conv, live: np.ndarray, simd: int) -> bool:
    """A visited chunk holds a pruned weight (the tail past the group's bits needs none)."""
    if conv.domain != "bipolar" or conv.mask is None:
        return False
    o_n, kh, kw, cg = conv.weights.shape
    n = live.shape[2]
    kept = np.ones((o_n, kh * kw, n * simd), dtype=bool)
    kept[:, :, :cg] = conv.kept.astype(bool).reshape(o_n, kh * kw, cg)
    whole = kept.reshape(o_n, kh * kw, n, simd).all(axis=3)
    return bool((live & ~whole).any())


def check_dense(conv: Conv, pe: int, simd: int) -> None:
    cg = conv.in_channels_per_group
    if not 1 <= pe <= conv.out_channels:
        raise ValueError(f"{conv.name}: pe must be in 1..{conv.out_channels}, not {pe}")
    if not 1 <= simd <= cg:
        raise ValueError(f"{conv.name}: a streamed dense layer reads at most one pixel's "
                         f"{cg} group bits per lane and cycle: simd must be in 1..{cg}, "
                         f"not {simd}")


def lane_ops(live: np.ndarray, lanes: list[list[int]], og: int,
              pixel_steps: tuple[int, ...]) -> list[dict[str, np.ndarray]]:
    """Per lane, per step: channel (-1 idle), pixel, chunk id, first and last flags and slot,
    as arrays (dense_shape sizes from them; dense_schedule makes its ops of them)."""
    o_n, pixels, n = live.shape
    zero = -(-o_n // og) * n
    ids = [[np.flatnonzero(live[o, p]) for p in range(pixels)] for o in range(o_n)]
    out = []
    for lane in lanes:
        cols = {k: [] for k in ("channel", "pixel", "chunk", "first", "slot")}
        started = set()
        for p in range(pixels):
            count = 0
            for slot, o in enumerate(lane):
                cs = ids[o][p]
                k = len(cs)
                if k:
                    cols["channel"] += [o] * k
                    cols["chunk"] += ((o // og) * n + cs).tolist()
                    cols["first"] += [o not in started] + [False] * (k - 1)
                    cols["slot"] += [slot] * k
                    started.add(o)
                    count += k
            idle = pixel_steps[p] - count
            cols["channel"] += [-1] * idle
            cols["chunk"] += [zero] * idle
            cols["first"] += [False] * idle
            cols["slot"] += [0] * idle
            cols["pixel"] += [p] * pixel_steps[p]
        op = {k: np.asarray(v, dtype=np.int64) for k, v in cols.items()}
        last = np.zeros(len(op["channel"]), dtype=np.int64)
        for o in lane:
            at = np.flatnonzero(op["channel"] == o)
            if len(at):
                last[at[-1]] = 1
        op["last"] = last
        out.append(op)
    return out


def _finish_order(op: dict[str, np.ndarray]) -> tuple[int, ...]:
    """A lane's channels in the order their last ops come."""
    return tuple(int(c) for c in op["channel"][op["last"] == 1])


def lane_banked(op: dict[str, np.ndarray]) -> bool:
    """The lane's channels interleave (several pixels each visit several channels): each
    needs its own sum, kept in a bank; else one accumulator serves them in turn."""
    busy = op["channel"][op["channel"] >= 0]
    runs = 1 + int((busy[1:] != busy[:-1]).sum()) if len(busy) else 0
    return runs > len(set(busy.tolist()))


def slot_bits(lane, banked: bool) -> int:
    return (len(lane) - 1).bit_length() if banked else 0


def dense_schedule(conv: Conv, pe: int, simd: int) -> DenseSchedule:
    """The schedule of dense layer `conv` on `pe` lanes of `simd` bits (lanes without a
    channel are left out)."""
    check_dense(conv, pe, simd)
    og = conv.out_channels_per_group
    live = live_position_chunks(conv, simd)
    o_n, pixels, n = live.shape
    lanes = channel_lanes(live, pe)
    pixel_steps = dense_pixel_steps(conv, pe, simd)
    arrays = lane_ops(live, lanes, og, pixel_steps)
    ops = [tuple(DenseOp(int(c), int(k), bool(f), bool(e), int(s))
                 for c, k, f, e, s in zip(op["channel"], op["chunk"], op["first"], op["last"],
                                          op["slot"]))
           for op in arrays]
    pixel_of = [p for p in range(pixels) for _ in range(pixel_steps[p])]
    constant = tuple(o for o in range(o_n) if not live[o].any())
    return DenseSchedule(pe=pe, simd=simd, group_bits=conv.in_channels_per_group,
                         groups=conv.groups, chunks_per_group=n,
                         lanes=tuple(tuple(x) for x in lanes),
                         finish=tuple(_finish_order(op) for op in arrays),
                         banked=tuple(lane_banked(op) for op in arrays),
                         pixel_steps=pixel_steps, ops=tuple(ops), pixel_of=tuple(pixel_of),
                         constant=constant, needs_mask=chunks_need_mask(conv, live, simd))
