"""The schedule of a sliding-window generator, computed at elaboration time.

The generator's read side walks each output row in `period` steps; step t < W reads input
column t of the kh rows the row needs into a shift register (one shift per step), and some
steps emit a window. Window ox becomes ready once its last real column is read; it is
emitted at the first free step after that. Windows that need right padding can be ready
only at the row's last column, so a few of them spill into the first steps of the next
row, which emit nothing of their own (their windows still lack columns): that is how a
"same"-padded layer keeps one window per input pixel. After a frame's last output row the
spilled windows go out in the first steps of the next frame's first row, or, while that row
still waits for its input, as `flush` emission-only steps that neither read nor shift (with
the register indices of `flushed` patterns), so the last frame completes without a next one.

Every emission is a constant wiring from shift-register positions (or the pad bit) to the
window word: a `pattern`. Patterns repeat along the row, so the hardware muxes between
only a handful of them.
"""

from __future__ import annotations

from dataclasses import dataclass

PAD = None  # a pattern entry that reads the pad bit


@dataclass(frozen=True)
class WindowPlan:
    height: int
    width: int
    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    out_height: int
    out_width: int
    period: int                       # steps per output row
    flush: int                        # extra steps after a frame's last output row
    length: int                       # shift-register columns
    patterns: tuple[tuple, ...]       # pattern id -> per kx: register index or PAD
    current: tuple                    # step -> pattern id emitted for this row, or None
    spilled: tuple                    # step -> pattern id of the previous row's window, or None
    flushed: tuple                    # k -> pattern id of spilled window k emitted without shifts
    banks: int                        # line-buffer rows

    def row_span(self, oy: int) -> tuple[int, int]:
        """First and last input row (frame-relative, may be padding) of output row oy."""
        top = oy * self.stride[0] - self.padding[0]
        return top, top + self.kernel[0] - 1


def plan_window(height: int, width: int, kernel, stride=(1, 1), padding=(0, 0)) -> WindowPlan:
    kh, kw = kernel
    sy, sx = stride
    ph, pw = padding
    ho = (height + 2 * ph - kh) // sy + 1
    wo = (width + 2 * pw - kw) // sx + 1
    if ho < 1 or wo < 1:
        raise ValueError(f"kernel {kernel} with padding {padding} does not fit a "
                         f"{height}x{width} map")
    slots, prev = [], -1
    for ox in range(wo):
        ready = max(0, min(ox * sx - pw + kw - 1, width - 1))
        prev = max(ready, prev + 1)
        slots.append(prev)
    period = max(width, slots[-1] - slots[0] + 1)
    flush = max(0, slots[-1] - period + 1)
    patterns: dict[tuple, int] = {}
    current: list = [None] * period
    spilled: list = [None] * period
    length = 1
    for ox, step in enumerate(slots):
        entry = []
        for kx in range(kw):
            cx = ox * sx - pw + kx
            if 0 <= cx < width:
                entry.append(step - cx)
                length = max(length, step - cx + 1)
            else:
                entry.append(PAD)
        pid = patterns.setdefault(tuple(entry), len(patterns))
        if step < period:
            current[step] = pid
        else:
            spilled[step - period] = pid
    # A flush emission happens with the register as after the row's last step: window k
    # would have seen k + 1 more shifts, and never reads the newest (unwritten) column.
    flushed = []
    for k in range(flush):
        entry = tuple(PAD if i is PAD else i - k for i in patterns_list(patterns)[spilled[k]])
        flushed.append(patterns.setdefault(entry, len(patterns)))
    return WindowPlan(height=height, width=width, kernel=(kh, kw), stride=(sy, sx),
                      padding=(ph, pw), out_height=ho, out_width=wo, period=period,
                      flush=flush, length=length, patterns=tuple(patterns_list(patterns)),
                      current=tuple(current), spilled=tuple(spilled), flushed=tuple(flushed),
                      banks=kh)


def patterns_list(patterns: dict[tuple, int]) -> list[tuple]:
    return sorted(patterns, key=patterns.__getitem__)
