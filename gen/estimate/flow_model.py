"""An item-level timing model of the layer chain, for the initiation interval, the latency
and the FIFO depths between layers.

Each block is a recurrence over its stream items, the way the RTL schedules them:

- a window generator accepts input pixel (row g, column x) once it has arrived, one per
  cycle, and once its line buffer slot is free: row g overwrites row g - kh, which the read
  side releases column by column while it reads the output row whose top row that is, or
  all at once when it moves past it (hw/window/generator.py's write rule);
- its read side walks each output row in `period` steps (hw/window/plan.py), one per cycle,
  a step reading column t only once that column of the row's last input row is written;
  the steps that emit a window hand it to the engine, which takes one every S cycles (its
  fold) and holds the read side while it is busy;
- an engine without a window generator (1x1 kernel) takes a pixel every S cycles;
- a streamed dense layer (hw/dense/engine.py) takes pixel p of a frame S_p cycles after the
  previous one and answers once per frame, after the frame's last pixel;
- a FIFO in front of a layer (hw/folded/planned.py's `Buffered`) hands an item on
  `fifo_delay(depth)` cycles after it arrives (the block's own timing), or as soon as the
  layer takes it after that.

Blocks are chained without backpressure (as if every FIFO were unbounded): with a source
that sends a pixel per cycle, the rate that comes out at the end is the best the chain can
sustain, the initiation interval. With the source paced at that interval (frames evenly
spread), the largest number of items waiting in front of a block is the FIFO depth that
lets it run unhindered -- stride-2 and padded layers take their input in bursts, and a
layer that just finished a row refuses input while its line buffer is full.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.description import Conv, Description
from hw.folded.lanes import engine_depth
from hw.folded.planned import fifo_delay
from hw.window.plan import WindowPlan, plan_window


FRAMES = 3


@dataclass(frozen=True)
class Stage:
    """One layer in the model: an optional window generator, then a unit that takes one
    window (or pixel) every `steps` cycles with `latency` cycles to its output."""

    name: str
    height: int
    width: int
    plan: WindowPlan | None
    steps: int
    latency: int
    pixel_steps: tuple[int, ...] | None = None     # a streamed dense layer's S_p


@dataclass(frozen=True)
class Flow:
    ii: int                        # cycles per frame at steady state
    latency: int                   # last input pixel of a frame to its result
    backlog: dict[str, int]        # layer name -> most items waiting in front of it


def stages_of(desc: Description, steps: dict[str, int | tuple[int, ...]],
              stages: int = 1, pipes: dict[str, tuple[int, int, int]] | None = None
              ) -> list[Stage]:
    """The model's stages for a description; `steps` gives a folded conv's cycles per window
    (absent: 1, unrolled), or a streamed dense layer's cycles per pixel (a tuple); `pipes`
    a layer's (popcount stages, argmax stages, front) (absent: `stages`, none, none)."""
    out = []
    pipes = pipes or {}
    for layer, (h, w, _) in zip(desc.layers, desc.layer_inputs()):
        pc, am, front = pipes.get(layer.name, (stages, 0, 0))
        if isinstance(layer, Conv) and isinstance(steps.get(layer.name), tuple):
            lat = engine_depth(pc, layer.scores is not None, am, front)
            out.append(Stage(layer.name, h, w, None, 1, lat,
                             pixel_steps=tuple(steps[layer.name])))
        elif isinstance(layer, Conv):
            s = steps.get(layer.name, 1)
            scores = layer.scores is not None
            # a folded engine (hw.folded), or the unrolled one (hw.engine.ConvEngine)
            lat = (engine_depth(pc, scores, am, front) if s > 1
                   else pc + (2 + am if scores else 1))
            windowed = not (layer.kernel == (1, 1) and layer.stride == (1, 1)
                            and layer.padding == (0, 0))
            plan = plan_window(h, w, layer.kernel, layer.stride, layer.padding) \
                if windowed else None
            out.append(Stage(layer.name, h, w, plan, s, lat))
        else:
            out.append(Stage(layer.name, h, w, plan_window(h, w, layer.kernel, layer.stride),
                             1, 1))
    return out


def direct(arrivals: np.ndarray, steps: int, latency: int) -> tuple[np.ndarray, np.ndarray]:
    """(accept, output) times of a unit that takes an item every `steps` cycles."""
    accept = np.empty_like(arrivals)
    last = -(1 << 60)
    for n, a in enumerate(arrivals):
        last = max(int(a), last + steps)
        accept[n] = last
    return accept, accept + steps + latency - 1


def streamed(arrivals: np.ndarray, pixel_steps: tuple[int, ...],
             latency: int) -> tuple[np.ndarray, np.ndarray]:
    """(accept, output) times of a streamed dense layer: one output per frame."""
    accept = np.empty_like(arrivals)
    per = np.resize(np.asarray(pixel_steps, dtype=np.int64), len(arrivals))
    last, busy = -(1 << 60), 0
    for n, a in enumerate(arrivals):
        last = max(int(a), last + busy)
        accept[n] = last
        busy = int(per[n])
    ends = accept[len(pixel_steps) - 1::len(pixel_steps)]
    last_steps = int(pixel_steps[-1])
    return accept, ends + last_steps + latency - 1


def windowed(arrivals: np.ndarray, st: Stage, frames: int) -> tuple[np.ndarray, np.ndarray]:
    """(accept, output) times of a window generator feeding a unit of `st.steps` cycles."""
    p = st.plan
    h, w = st.height, st.width
    kh = p.kernel[0]
    sy, ph = p.stride[0], p.padding[0]
    ho = p.out_height
    accept = np.zeros(frames * h * w, dtype=np.int64)
    outputs: list[int] = []
    # Read side state: per output row R (global), its start and per-column read times.
    row_start: list[int] = []
    row_top: list[int] = []            # global top row of R
    row_cols: list[list[int]] = []     # read time of column t of R
    row_end: list[int] = []            # time of R's last step
    by_ylast: dict[int, list[int]] = {}
    for oy in range(ho):
        top = oy * sy - ph
        by_ylast.setdefault(max(0, min(top + kh - 1, h - 1)), []).append(oy)
    clock = {"step": -1, "take": -(1 << 60), "flush": None, "third": -(1 << 60)}

    def advance(at: int) -> int:
        # A step issued at `at` waits in the second stage while an emission waits in the
        # third (which every other step passes in a cycle); the read side issues the next
        # step once the second stage is free. The cycle it enters the third stage.
        moved = max(at + 1, clock["third"])
        clock["step"] = max(clock["step"], moved - 1)
        return moved

    def emit(at: int) -> None:
        # An emission then waits in the third stage until the window register is free (the
        # engine takes the previous window), then in the window register for the engine.
        loaded = max(advance(at) + 1, clock["take"])
        clock["third"] = loaded
        take = max(loaded + 1, clock["take"] + st.steps)
        clock["take"] = take
        outputs.append(take + st.steps + st.latency - 1)

    def free_time(b: int, x: int) -> int:
        """When row b's slot is free for column x (-inf if never used)."""
        for r in range(len(row_top) - 1, -1, -1):
            if row_top[r] == b:
                return row_cols[r][x] + 1 if x < len(row_cols[r]) else row_start[r]
            if row_top[r] < b:
                # the first row with top > b is the next one: free when the read side
                # moves there, right after row r's last step
                return row_end[r] + 1
        return -(1 << 60)

    def read_row(f: int, oy: int) -> None:
        top = oy * sy - ph
        ylast = min(top + kh - 1, h - 1)
        start = clock["step"] + 1
        row_start.append(start)
        row_top.append(f * h + top)
        cols = []
        t_prev = start - 1
        for t in range(p.period):
            t_now = max(t_prev + 1, clock["step"] + 1)
            if t < w and ylast >= 0:
                t_now = max(t_now, int(accept[(f * h + ylast) * w + t]) + 1)
            clock["step"] = t_now
            if t < w:
                cols.append(t_now)
            emitted = False
            if p.spilled[t] is not None and (oy != 0 or clock["flush"] is not None):
                # in a frame's first row the previous frame's spilled windows go out here,
                # or earlier in flush steps while this row still waits for its data
                at = t_now if oy != 0 else min(t_now, clock["flush"] + t)
                emit(at)
                emitted = at == t_now
            if p.current[t] is not None:
                emit(t_now)
            elif not emitted:
                advance(t_now)
            t_prev = clock["step"]
        row_cols.append(cols)
        row_end.append(clock["step"])
        if oy == 0:
            clock["flush"] = None
        if oy == ho - 1 and p.flush:       # spilled windows owed to the next frame
            clock["flush"] = clock["step"] + 1

    prev = -(1 << 60)
    for g in range(frames * h):
        f, r = divmod(g, h)
        for x in range(w):
            a = max(int(arrivals[g * w + x]), prev + 1)
            if g - kh >= 0:
                a = max(a, free_time(g - kh, x))
            accept[g * w + x] = a
            prev = a
        for oy in by_ylast.get(r, []):
            read_row(f, oy)
    if clock["flush"] is not None:         # the last frame's spilled windows
        for k in range(p.flush):
            emit(clock["flush"] + k)
    return accept, np.array(outputs, dtype=np.int64)


def run_chain(desc: Description, stages_: list[Stage], arrivals: np.ndarray, frames: int,
              fifos: dict[str, int] | None = None):
    """Encoder then every stage (behind a FIFO where `fifos` gives the layer a depth); per
    stage its arrivals and accept times, and the result times."""
    fifos = fifos or {}
    times = arrivals + 1                      # the encoder: one register
    record = []
    for st in stages_:
        offered = times + fifo_delay(fifos[st.name]) if fifos.get(st.name) else times
        if st.pixel_steps is not None:
            acc, out = streamed(offered, st.pixel_steps, st.latency)
        elif st.plan is None:
            acc, out = direct(offered, st.steps, st.latency)
        else:
            acc, out = windowed(offered, st, frames)
        record.append((st.name, times, acc))
        times = out
    return record, times


def backlog(produced: np.ndarray, accepted: np.ndarray) -> int:
    """Most items produced but not yet accepted, seen at the acceptance instants."""
    waiting = np.searchsorted(produced, accepted, side="left") - np.arange(len(accepted))
    return int(max(0, waiting.max())) if len(accepted) else 0


def analyse(desc: Description, steps: dict[str, int | tuple[int, ...]], stages: int = 1,
            frames: int = FRAMES, pipes: dict[str, tuple[int, int, int]] | None = None,
            fifos: dict[str, int] | None = None) -> Flow:
    """Initiation interval, latency and per-layer backlog of a folding (layer -> steps, and
    pipelining, as for `stages_of`; `fifos`: layer -> depth of the FIFO in front of it)."""
    sts = stages_of(desc, steps, stages, pipes)
    h, w = desc.input.height, desc.input.width
    pixels = h * w
    _, done = run_chain(desc, sts, np.arange(frames * pixels, dtype=np.int64), frames, fifos)
    per_frame = len(done) // frames
    ends = done[per_frame - 1::per_frame]
    ii = int(max(pixels, ends[-1] - ends[-2]))
    n = np.arange(frames * pixels, dtype=np.int64)
    paced = (n // pixels) * ii + ((n % pixels) * ii) // pixels
    record, done = run_chain(desc, sts, paced, frames, fifos)
    ends = done[per_frame - 1::per_frame]
    latency = int(ends[-1] - paced[-1])
    return Flow(ii=ii, latency=latency,
                backlog={name: backlog(t, acc) for name, t, acc in record})
