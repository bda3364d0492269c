"""The streaming dense engine's weight word: the bit layout of one step's memory word and
the memory's contents."""

from __future__ import annotations

from models.description import Conv

from .schedule import DenseSchedule, slot_bits


class DenseWord:
    """Bit layout of one step's memory word: the pixel-end flag, mux-group chunk ids, then
    per lane weights, mask (optional), first, last and (a banked lane) slot."""

    def __init__(self, sched: DenseSchedule):
        self.sched = sched
        columns: dict[tuple, int] = {}
        self.lane_mux = [columns.setdefault(tuple(op.chunk for op in lane), len(columns))
                         for lane in sched.ops]
        self.mux_columns = sorted(columns, key=columns.__getitem__)
        self.id_width = max(1, sched.zero_chunk.bit_length())
        self.fields: dict[tuple, tuple[int, int]] = {}
        at = 0

        def add(key, width):
            nonlocal at
            self.fields[key] = (at, width)
            at += width

        add(("end",), 1)
        for k in range(len(self.mux_columns)):
            add(("chunk", k), self.id_width)
        for lane, channels in enumerate(sched.lanes):
            add(("w", lane), sched.simd)
            if sched.needs_mask:
                add(("m", lane), sched.simd)
            add(("first", lane), 1)
            add(("last", lane), 1)
            add(("slot", lane), slot_bits(channels, sched.banked[lane]))
        self.width = at

    def get(self, word, key):
        start, width = self.fields[key]
        return word[start:start + width]

    def encode(self, conv: Conv) -> list[int]:
        """The memory's initial contents, one int per step."""
        s = self.sched
        cg, n, simd = s.group_bits, s.chunks_per_group, s.simd
        weights = conv.weights.reshape(conv.out_channels, -1, cg)
        kept = conv.kept.reshape(conv.out_channels, -1, cg)
        # Chunk positions past the group's bits and idle steps read a constant 0; a weight of 1
        # there makes XNOR (bipolar) and AND (sparse) both give 0.
        fill = 1 if conv.domain == "bipolar" else 0
        ends = s.pixel_ends()
        words = []
        for t in range(s.steps):
            word = int(ends[t]) << self.fields[("end",)][0]
            for k, col in enumerate(self.mux_columns):
                word |= col[t] << self.fields[("chunk", k)][0]
            p = s.pixel_of[t]
            for lane in range(len(s.lanes)):
                op = s.ops[lane][t]
                wv = mv = 0
                for b in range(simd):
                    r = (op.chunk % n) * simd + b
                    if op.channel >= 0 and r < cg:
                        wv |= int(weights[op.channel, p, r]) << b
                        mv |= int(kept[op.channel, p, r]) << b
                    else:
                        wv |= fill << b
                word |= wv << self.fields[("w", lane)][0]
                if s.needs_mask:
                    word |= mv << self.fields[("m", lane)][0]
                word |= int(op.first) << self.fields[("first", lane)][0]
                word |= int(op.last) << self.fields[("last", lane)][0]
                if self.fields[("slot", lane)][1]:
                    word |= op.slot << self.fields[("slot", lane)][0]
            words.append(word)
        return words
