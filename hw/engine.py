"""The grouped binary convolution engine: one window in, one output pixel out, per clock.

Weights are constants of the elaborated circuit: in the bipolar domain an XNOR with a
constant weight is the input bit or its inverse and a pruned weight is no wire at all; in
the sparse domain output channel o counts only the inputs where its weight is 1 (P_and) and
adds p times the popcount of all its group's inputs (P_all, shared by the group):
s_o = q*P_and + p*P_all. Then either a per-channel threshold with flip (constants, folded by
yosys) or, for the last layer, scores k_o*s_o + c_o and their argmax (lowest index on ties).

Window bit (ky*kw + kx)*C_in + c is input channel c at kernel position (ky, kx): channel
group j of output o reads channels j*C_in/g ... (j+1)*C_in/g - 1.
"""

from __future__ import annotations

import numpy as np
from amaranth import Cat, Const, Module, Mux, Signal, Value, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from models.description import Conv

from .pipeline import PipelineOutput
from .popcount import build_popcount, delay, pipeline_valid, reduce_tree
from .timing import Timing, payload_width


def check_stages(value, name: str = "stages") -> int:
    """A count of register stages: a non-negative integer."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, not {value!r}")
    return value


def sum_range(conv: Conv, o: int) -> tuple[int, int]:
    """The range of s_o for output channel o."""
    kept = int(conv.kept[o].sum())
    if conv.domain == "bipolar":
        return 0, kept
    fan = int(conv.weights[o].size)
    ones = int(conv.weights[o].sum())
    return min(0, conv.p * fan), conv.q * ones + max(0, conv.p * fan)


def score_width(conv: Conv) -> int:
    """The fewest two's complement bits (at least 2) holding every score of a scores layer
    (a lowest score of -2**n needs n + 1 bits, not n + 2)."""
    lo = hi = 0
    for o in range(conv.out_channels):
        s_lo, s_hi = sum_range(conv, o)
        k, c = int(conv.scores.scale[o]), int(conv.scores.offset[o])
        lo, hi = min(lo, k * s_lo + c), max(hi, k * s_hi + c)
    return max((-lo - 1).bit_length() + 1, hi.bit_length() + 1, 2)


def class_width(classes: int) -> int:
    return max(1, (classes - 1).bit_length())


def result_layout(conv: Conv) -> data.StructLayout:
    """Payload of a scores layer: the predicted class, then every score (two's complement)."""
    return data.StructLayout({
        "cls": class_width(conv.out_channels),
        "scores": data.ArrayLayout(signed(score_width(conv)), conv.out_channels)})


class ConvEngine(wiring.Component):
    """Fully unrolled grouped XNOR/AND-popcount engine with threshold or scores + argmax.

    Parameters
    ----------
    conv : the layer; `conv.weights.shape[3] * conv.groups` input channels.
    stages : register stages inside the popcount trees.
    argmax_stages : register stages inside a scores layer's argmax tree.

    Attributes
    ----------
    i : stream of kh*kw*C_in-bit windows.
    o : stream of C_out-bit pixels, or of `result_layout(conv)` for a scores layer.
    """

    def __init__(self, conv: Conv, stages: int = 1, argmax_stages: int = 0):
        if not isinstance(conv, Conv):
            raise TypeError(f"conv must be a Conv, not {conv!r}")
        check_stages(stages)
        self.conv, self.stages = conv, stages
        self.argmax_stages = check_stages(argmax_stages, "argmax_stages")
        kh, kw = conv.kernel
        self.in_channels = conv.in_channels_per_group * conv.groups
        self.window_bits = kh * kw * self.in_channels
        out = result_layout(conv) if conv.scores is not None else conv.out_channels
        super().__init__({"i": In(stream.Signature(self.window_bits)),
                          "o": Out(stream.Signature(out))})

    @property
    def depth(self) -> int:
        """Register stages from window to output (the output register included)."""
        return self.stages + (2 + self.argmax_stages if self.conv.scores is not None else 1)

    @property
    def timing(self) -> Timing:
        """One window's (hw.timing: an engine's interval is per window)."""
        return Timing(latency=self.depth, ii=1, in_width=self.window_bits,
                      out_width=payload_width(self.o), in_items=1, out_items=1,
                      stages=self.depth)

    def _index(self, j: int, ky: int, kx: int, i: int) -> int:
        kw = self.conv.kernel[1]
        return (ky * kw + kx) * self.in_channels + j * self.conv.in_channels_per_group + i

    def elaborate(self, platform):
        m = Module()
        conv = self.conv
        out = PipelineOutput(m, self.o)
        adv = out.adv
        m.d.comb += self.i.ready.eq(adv)
        valid = pipeline_valid(m, self.i.valid, self.stages, adv)
        win = self.i.payload
        og, cg = conv.out_channels_per_group, conv.in_channels_per_group
        kh, kw = conv.kernel
        positions = [(ky, kx, i) for ky in range(kh) for kx in range(kw) for i in range(cg)]
        p_all = {}
        sums = []
        for o in range(conv.out_channels):
            j = o // og
            w, kept = conv.weights[o], conv.kept[o]
            if conv.domain == "bipolar":
                leaves = [win[self._index(j, *pos)] if w[pos] else ~win[self._index(j, *pos)]
                          for pos in positions if kept[pos]]
                sums.append(build_popcount(m, leaves, self.stages, adv, name=f"pc{o}"))
            else:
                leaves = [win[self._index(j, *pos)] for pos in positions if w[pos]]
                s = conv.q * build_popcount(m, leaves, self.stages, adv, name=f"pc{o}")
                if conv.p:
                    if j not in p_all:
                        everything = [win[self._index(j, *pos)] for pos in positions]
                        p_all[j] = build_popcount(m, everything, self.stages, adv,
                                                  name=f"pall{j}")
                    s = s + conv.p * p_all[j]
                sums.append(s)
        if conv.scores is None:
            act = conv.activation
            bits = Signal(conv.out_channels)
            for o, s in enumerate(sums):
                tau = int(act.thresholds[o])
                m.d.comb += bits[o].eq((s <= tau) if act.flip[o] else (s >= tau))
            with m.If(adv):
                m.d.sync += [self.o.valid.eq(valid), self.o.payload.eq(bits)]
            return m
        scores_output(m, conv, sums, valid, out, self.argmax_stages)
        return m


def weight_fanin(conv: Conv) -> np.ndarray:
    """Wires into each output channel's popcount (for descriptions of the engine)."""
    if conv.domain == "bipolar":
        return conv.kept.reshape(conv.out_channels, -1).sum(axis=1)
    return conv.weights.reshape(conv.out_channels, -1).sum(axis=1)


def scores_output(m: Module, conv: Conv, sums: list, done, out: PipelineOutput,
                  argmax_stages: int = 0) -> None:
    """A scores layer's last stages: score registers k_o * s_o + c_o (loaded when `done`),
    then the argmax (lowest index wins ties) with `argmax_stages` registers inside its tree,
    and the result out."""
    adv = out.adv
    sw = score_width(conv)
    scores = []
    for k, sm in enumerate(sums):
        reg = Signal(signed(sw), name=f"score{k}")
        with m.If(adv & done):
            m.d.sync += reg.eq(int(conv.scores.scale[k]) * sm + int(conv.scores.offset[k]))
        scores.append(reg)
    valid = pipeline_valid(m, done, 1 + argmax_stages, adv)
    best_idx = argmax_tree(m, scores, argmax_stages, adv)
    result = Signal(result_layout(conv))
    m.d.comb += result.cls.eq(best_idx)
    held = delay(m, Cat(*scores), argmax_stages, adv, "scores")  # beside the argmax
    m.d.comb += [result.scores[k].eq(held.word_select(k, sw)) for k in range(len(scores))]
    out.put(valid, result)


def argmax_tree(m: Module, values: list, stages: int, en):
    """The index of the largest of `values` (signed, of one shape; the lowest index among
    equals), `stages` cycles later: a tournament of pairs (hw.popcount.reduce_tree), so
    that a clock can cut it at any level."""
    def offset_binary(v):
        """Signed `v` as an unsigned number of the same order (its sign bit flipped): a
        comparison of those is a carry chain's carry out, without the LUT that a signed
        one needs after it."""
        v = Value.cast(v)
        return Cat(v[:-1], ~v[-1])

    def match(left, right):
        (va, ka), (vb, kb) = left, right
        take = offset_binary(vb) > offset_binary(va)   # strict: the left (lower indices) wins a tie
        return Mux(take, vb, va), Mux(take, kb, ka)

    nodes = [(v, Const(k, range(max(2, len(values))))) for k, v in enumerate(values)]
    return reduce_tree(m, nodes, match, stages, en, "argmax")[1]
