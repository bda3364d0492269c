"""What every hardware block answers for: its latency, initiation interval and stream widths.

FINN style: the planner, the estimator and the manifest read a block's `timing` instead of
re-deriving it. Every block has it in one form, a property (`block.timing`). A block's counts
are per frame, except an engine's (hw.engine, hw.folded.engine, hw.dense.engine): it sees
windows, not frames, so its `timing` is that of one window, and its layer (hw.network's
`ConvLayer`) multiplies the interval by the windows per frame. Counts are in clock cycles of
the one `sync` domain, assuming no input gaps and no output backpressure.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Timing:
    """Structural timing of one block.

    Attributes
    ----------
    latency : cycles from the transfer of a frame's last input item to the transfer of
        that frame's last output item; negative when a block ignores the last input rows
        (a 2x2/2 pool of an odd-sized map). Latencies of chained blocks add up.
    ii : initiation interval, cycles per frame at steady state.
    in_width, out_width : payload bits of the input and output streams.
    in_items, out_items : transfers per frame on the input and output streams.
    stages : register stages of the block's datapath (its pipeline depth).
    """

    latency: int
    ii: int
    in_width: int
    out_width: int
    in_items: int
    out_items: int
    stages: int

    def as_dict(self) -> dict:
        return asdict(self)


def payload_width(port) -> int:
    """Bits of a stream port's payload (plain value or data view)."""
    from amaranth import Value
    return len(Value.cast(port.payload))
