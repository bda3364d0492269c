"""The folded engine's weight word: the bit layout of one step's memory word and the
memory's contents."""

from __future__ import annotations

from models.description import Conv

from .schedule import FoldSchedule, channel_bits


class WeightWord:
    """Bit layout of one step's memory word: mux-group chunk ids, then per lane weights,
    mask (optional), first, last."""

    def __init__(self, sched: FoldSchedule):
        self.sched = sched
        columns: dict[tuple, int] = {}
        self.lane_mux = [columns.setdefault(col, len(columns)) for col in sched.chunk_columns]
        self.mux_columns = sorted(columns, key=columns.__getitem__)
        self.id_width = max(1, sched.zero_chunk.bit_length())
        self.fields: dict[tuple, tuple[int, int]] = {}
        at = 0

        def add(key, width):
            nonlocal at
            self.fields[key] = (at, width)
            at += width

        for k in range(len(self.mux_columns)):
            add(("chunk", k), self.id_width)
        for lane in range(sched.pe):
            add(("w", lane), sched.simd)
            if sched.needs_mask:
                add(("m", lane), sched.simd)
            add(("first", lane), 1)
            add(("last", lane), 1)
        self.width = at

    def get(self, word, key):
        start, width = self.fields[key]
        return word[start:start + width]

    def encode(self, conv: Conv) -> list[int]:
        """The memory's initial contents, one int per step."""
        s = self.sched
        simd, fan = s.simd, s.fan_in
        w_bits = channel_bits(conv.weights)
        k_bits = channel_bits(conv.kept)
        # Positions past the receptive field and idle steps read a constant 0; a weight of 1
        # there makes XNOR (bipolar) and AND (sparse) both give 0.
        fill = 1 if conv.domain == "bipolar" else 0
        words = []
        for t in range(s.steps):
            word = 0
            for k, col in enumerate(self.mux_columns):
                word |= col[t] << self.fields[("chunk", k)][0]
            for lane in range(s.pe):
                op = s.ops[lane][t]
                wv = mv = 0
                for b in range(simd):
                    c = (op.chunk % s.chunks_per_group) * simd + b
                    if op.channel >= 0 and c < fan:
                        wv |= int(w_bits[op.channel, c]) << b
                        mv |= int(k_bits[op.channel, c]) << b
                    else:
                        wv |= fill << b
                word |= wv << self.fields[("w", lane)][0]
                if s.needs_mask:
                    word |= mv << self.fields[("m", lane)][0]
                word |= int(op.first) << self.fields[("first", lane)][0]
                word |= int(op.last) << self.fields[("last", lane)][0]
            words.append(word)
        return words
