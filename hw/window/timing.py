"""Cycle-level timing model of `WindowGenerator`'s control (counters only, no data).

It applies the same write and read rules as the RTL with the input always valid and the
output always ready, and measures the steady-state frame period (the initiation interval)
and the latency from a frame's last input pixel to its last window. `sim/` checks the RTL
against these numbers.
"""

from __future__ import annotations

from functools import lru_cache

from .plan import WindowPlan


_FRAMES = 4


@lru_cache(maxsize=256)
def window_timing(plan: WindowPlan) -> tuple[int, int]:
    """(latency, ii) in cycles. The latency is negative when the last input rows are not
    used (e.g. a 2x2/2 pool of an odd-sized map): the frame's last window leaves before the
    frame's last pixel arrives."""
    h, w = plan.height, plan.width
    kh = plan.kernel[0]
    sy = plan.stride[0]
    ph = plan.padding[0]
    ho, period, flush, banks = plan.out_height, plan.period, plan.flush, plan.banks
    per_frame_out = ho * plan.out_width
    w_g = w_x = 0
    oy = t = fb = 0
    ytop = -ph
    flushed = flush
    s2_valid = s2_emit = s3_valid = s3_emit = o_valid = False
    inputs = outputs = 0
    last_in: dict[int, int] = {}
    last_out: dict[int, int] = {}
    cycle = 0
    limit = 50 * _FRAMES * (h * w + ho * period + flush + 10)
    while (len(last_out) < _FRAMES or len(last_in) < _FRAMES) and cycle < limit:
        if o_valid:  # output always ready
            outputs += 1
            if outputs % per_frame_out == 0:
                last_out[outputs // per_frame_out - 1] = cycle
        gtop = fb + ytop
        d_w = w_g - banks - gtop
        write_ok = d_w < 0 or (d_w == 0 and w_x < min(t, w))
        ylast = min(ytop + kh - 1, h - 1)
        needs = t < w and ylast >= 0
        d_r = w_g - (fb + ylast)
        dep_ok = not needs or d_r > 0 or (d_r == 0 and w_x > t)
        emit = plan.current[t] is not None or (
            plan.spilled[t] is not None and (oy != 0 or t >= flushed))
        flush_go = not dep_ok and oy == 0 and t == 0 and flushed < flush
        o_valid = s3_valid and s3_emit
        s3_valid, s3_emit = s2_valid, s2_emit
        if dep_ok:
            s2_valid, s2_emit = True, emit
            if t == period - 1:
                t = 0
                if oy == ho - 1:
                    oy, ytop, fb, flushed = 0, -ph, fb + h, 0
                else:
                    oy, ytop = oy + 1, ytop + sy
            else:
                t += 1
        elif flush_go:
            s2_valid, s2_emit = True, True
            flushed += 1
        else:
            s2_valid = False
        if write_ok:
            inputs += 1
            if inputs % (h * w) == 0:
                last_in[inputs // (h * w) - 1] = cycle
            if w_x == w - 1:
                w_x, w_g = 0, w_g + 1
            else:
                w_x += 1
        cycle += 1
    if len(last_out) < _FRAMES or len(last_in) < _FRAMES:
        raise RuntimeError(f"window timing model did not converge for {plan}")
    f = _FRAMES - 1
    return last_out[f] - last_in[f], last_out[f] - last_out[f - 1]
