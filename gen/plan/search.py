"""The planner: per layer the cheapest folding that meets a throughput target.

Given a target in cycles per frame (or frames per second at a clock) and optionally a
device, every convolution layer gets the engine with the least estimated cost (gen/
plan/cost.py: the estimator's blocks and coefficients, so a plan's numbers are `bnngen
estimate --plan`'s) whose cycles per frame, steps x output pixels, stay within the target:
unrolled (one window per clock), or folded on `pe` lanes of `simd` bits with its weights in
BRAM or LUT-RAM (a dense layer folded is the streaming engine of hw/dense/engine.py, which needs no
window of the map: its cycles per frame are the sum of its cycles per pixel). Layers do
not compete for cycles (the network's interval is the slowest layer's), so the choice is
per layer; on a device the plan keeps the larger of its LUT and BRAM utilizations least
checked on the total (objective "balanced"), or spends BRAMs to keep its logic least
(objective "logic"). Then the chain's timing model (gen/estimate/flow_model.py) predicts the
initiation interval and latency and sizes the FIFO in front of every layer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

from models.description import Conv, Description, content_hash
from models.errors import UserError
from hw.dense.schedule import dense_pixel_steps, is_dense
from hw.dense.shape import dense_shape
from hw.engine import result_layout
from hw.folded.lanes import threshold_width
from hw.folded.schedule import assign_lanes, fold_shape, live_chunks

from gen.common.devices import Device, find_device
from gen.estimate.flow_model import analyse
from gen.estimate.timing_model import (USABLE, Pipelining, candidates, engine_paths, layer_window,
                                       meets, pool_skid, slowest, unrolled_paths, window_paths)
from gen.plan.cost import (LOGIC_ROM_MAX_BITS, Cost, blocks_cost, check_family,
                           deep_rom_bits, fifo_cost, input_cost, option_blocks,
                           shared_costs)
from gen.plan.plan_file import LayerPlan, Plan


STYLES = ("auto", "block", "distributed")


MAX_CYCLES = 1 << 62  # targets above this are all alike (and fit int64)


SIMD_TRIES = 4       # feasible simd widths costed per pe


# Without a device, a BRAM weighs as many LUTs as on a mid-size part of the family.
BRAM_WEIGHT = {"ice40": 240.0, "ecp5": 400.0, "gowin": 300.0, "xilinx": 300.0}


def check_positive(value: float | None, flag: str) -> None:
    """A finite number above zero (or not given)."""
    if value is not None and not (math.isfinite(value) and value > 0):
        raise UserError(f"{flag} must be a positive finite number, not {value}")


def target_cycles(cycles: int | None, fps: float | None, clock_mhz: float | None) -> int:
    """Cycles per frame from either form of the target."""
    check_positive(clock_mhz, "--clock")
    if cycles is not None:
        if cycles < 1:
            raise UserError(f"--cycles must be positive, not {cycles}")
        if cycles > MAX_CYCLES:
            raise UserError(f"--cycles {cycles} is above the largest target {MAX_CYCLES}")
        return int(cycles)
    check_positive(fps, "--fps")
    if fps is None or clock_mhz is None:
        raise UserError("give a target: --cycles N, or --fps N with --clock MHZ")
    cycles_f = clock_mhz * 1e6 // fps
    if not math.isfinite(cycles_f) or cycles_f > MAX_CYCLES:
        return MAX_CYCLES
    return max(1, int(cycles_f))


def divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def simd_options(conv: Conv, dense: bool = False) -> list[int]:
    """Divisors of the receptive field, and multiples of a kernel slice (a pruning block)
    up to it: chunk boundaries on block boundaries skip pruned blocks whole. A streamed
    dense layer reads one pixel at a time: divisors of its group bits, and powers of two."""
    if dense:
        cg = conv.in_channels_per_group
        return sorted(set(divisors(cg)) | {1 << k for k in range(cg.bit_length()) if 1 << k <= cg})
    fan = int(conv.weights[0].size)
    slice_ = conv.kernel[0] * conv.kernel[1]
    opts = set(divisors(fan)) | {k * slice_ for k in range(1, fan // slice_ + 1)}
    return sorted(o for o in opts if o <= fan)


def pe_options(conv: Conv) -> list[int]:
    return sorted(set(divisors(conv.out_channels)) | {conv.out_channels})


def column_readers(conv: Conv, pe: int, simd: int, dense: bool) -> int:
    """The most lanes of an engine option that read one chunk multiplexer column (at most
    `pe`; two or fewer cost no spread, gen.estimate.timing_model)."""
    if pe <= 2:
        return pe
    shape = dense_shape(conv, pe, simd) if dense else fold_shape(conv, pe, simd)
    return max((*shape.column_lanes, 1))


class StepTable:
    """fold_steps for every (pe, simd) of a layer, sharing the chunk analysis per simd; for a
    streamed dense layer its cycles per frame (`flow`: per pixel)."""

    def __init__(self, conv: Conv, dense: bool = False):
        self.conv, self.dense = conv, dense

    @cache  # noqa: B019 - one table per planning run
    def counts(self, simd: int) -> tuple[int, ...]:
        return tuple(len(c) for c in live_chunks(self.conv, simd))

    @cache  # noqa: B019 - one table per planning run
    def readers(self, pe: int, simd: int) -> int:
        return column_readers(self.conv, pe, simd, self.dense)

    @cache  # noqa: B019 - one table per planning run
    def flow(self, pe: int, simd: int) -> int | tuple[int, ...]:
        return dense_pixel_steps(self.conv, pe, simd) if self.dense else self.steps(pe, simd)

    def steps(self, pe: int, simd: int) -> int:
        if self.dense:
            return sum(self.flow(pe, simd))
        counts = self.counts(simd)
        lanes = assign_lanes(list(counts), pe)
        return max(1, max(sum(counts[o] for o in lane) for lane in lanes))


@dataclass(frozen=True)
class Option:
    engine: str
    pe: int
    simd: int
    steps: int
    memory: str
    cost: Cost
    flow: int | tuple[int, ...] = 1     # what gen.estimate.flow_model.analyse takes for it
    pipe: Pipelining = Pipelining()


def engine_paths_of(conv: Conv, engine: str, simd: int, style: str, dense: bool,
                    family: str, pe: int = 1, steps: int = 0, readers: int = 1):
    """Pipelining -> the register-to-register paths of one engine option
    (gen.estimate.timing_model); `pe` and `steps` size a weight ROM in LUTs, `readers`
    (column_readers) spread a chunk multiplexer's output."""
    sparse = conv.domain == "sparse"
    classes = conv.out_channels if conv.scores is not None else 0
    if engine == "unrolled":
        return lambda pipe: unrolled_paths(int(conv.weights[0].size), sparse, classes, pipe,
                                           family)
    per_group = conv.in_channels_per_group if dense else int(conv.weights[0].size)
    chunks = conv.groups * -(-per_group // simd) + 1
    input_bits = per_group * conv.groups
    output_bits = result_layout(conv).size if classes else conv.out_channels
    rom_words = steps if style in ("distributed", "block") else 0
    thresholds = (0, 0) if classes else (-(-conv.out_channels // pe), threshold_width(conv) + 1)
    return lambda pipe: engine_paths(simd, chunks, style == "block", sparse, classes,
                                     input_bits, pipe, family, output_bits, rom_words,
                                     pe * (simd + 2), thresholds, readers)


def pipelined(conv: Conv, engine: str, pe: int, simd: int, style: str, family: str,
              in_shape, dense: bool, stages: int,
              clock_mhz: float | None, steps: int = 0,
              readers: int = 1) -> tuple[Pipelining, list, bool]:
    """The cheapest pipelining of one engine option that meets the clock (None: `stages`
    popcount stages, nothing else), the option's blocks built so, and whether it meets the
    clock (no clock: True)."""
    paths_of = engine_paths_of(conv, engine, simd, style, dense, family, pe, steps, readers)
    best = None
    for pipe in candidates(paths_of, family, clock_mhz, stages, engine == "folded",
                           conv.scores is not None, readers):
        blocks = option_blocks(conv, engine, pe, simd, style, pipe, in_shape)
        cost = blocks_cost(blocks, family)
        key = (cost.lut_equivalent, cost.ff)
        if best is None or key < best[0]:
            best = (key, pipe, blocks)
    met = clock_mhz is None or meets(paths_of(best[1]), family, clock_mhz)
    return best[1], best[2], met


def layer_options(conv: Conv, limit_steps: int, family: str, memory: str = "auto",
                  stages: int = 1, fold: bool = False,
                  in_shape: tuple[int, int, int] | None = None,
                  clock_mhz: float | None = None) -> list[Option]:
    """The options worth costing that take at most `limit_steps` cycles per pixel: per pe,
    the few smallest simd that meet it (logic grows with simd at a given pe, while the
    memory's shape may favour a slightly wider word), and unrolled; each with the cheapest
    pipelining that meets `clock_mhz` on the family (none given: `stages` popcount
    stages). With a clock, a pe whose few smallest simd all miss it also tries wider ones
    (fewer chunks: a narrower chunk multiplexer) up to the first that meets it, and where
    any option meets the clock, only those are offered. Weights in LUT ROMs deeper than
    ROM_WORDS_PER_LUT (gen.estimate.cell_cost) only up to LOGIC_ROM_MAX_BITS unless `memory`
    asks for them."""
    dense = in_shape is not None and is_dense(conv, in_shape)
    table = StepTable(conv, dense)
    out, met = [], []
    if not fold:
        pipe, blocks, ok = pipelined(conv, "unrolled", 0, 0, "", family, in_shape, dense,
                                     stages, clock_mhz)
        out.append(Option("unrolled", conv.out_channels, int(conv.weights[0].size), 1, "",
                          blocks_cost(blocks, family), pipe=pipe))
        met.append(ok)
    styles = ("block", "distributed") if memory == "auto" else (memory,)
    for pe in pe_options(conv):
        taken, pe_met = 0, False
        for simd in simd_options(conv, dense):
            steps = table.steps(pe, simd)
            if steps > limit_steps:
                continue
            for style in styles:
                pipe, blocks, ok = pipelined(conv, "folded", pe, simd, style, family,
                                             in_shape, dense, stages, clock_mhz, steps,
                                             table.readers(pe, simd))
                if memory == "auto" and deep_rom_bits(blocks) > LOGIC_ROM_MAX_BITS:
                    continue
                out.append(Option("folded", pe, simd, steps, style,
                                  blocks_cost(blocks, family), table.flow(pe, simd), pipe))
                met.append(ok)
                pe_met = pe_met or ok
            taken += 1
            if taken >= SIMD_TRIES and (pe_met or clock_mhz is None):
                break
    if any(met):
        out = [o for o, ok in zip(out, met) if ok]
    return out


def weigh(cost: Cost, family: str, device: Device | None, bram_price: float = 1.0) -> float:
    """An option's price: LUTs plus BRAMs at a mid-size part's exchange rate; on a device,
    its fractions of the device's LUTs and (at `bram_price`) of its BRAMs."""
    if device is None:
        return cost.lut_equivalent + BRAM_WEIGHT[family] * cost.bram
    return cost.lut_equivalent / device.lut + bram_price * cost.bram / device.bram


# BRAM prices relative to LUTs tried on a device: from nearly free to nearly forbidden.
BRAM_PRICES = tuple(2.0 ** (k / 2) for k in range(-12, 13))


# What the planner keeps least on a device (`select`).
OBJECTIVES = ("balanced", "logic")
# Objective "logic" fills a device's LUTs and BRAMs up to this fraction: a fuller one
# places and routes poorly.
LOGIC_FILL = 0.9


def select(options: list[list[Option] | None], fixed: Cost, family: str,
           device: Device | None, objective: str = "balanced") -> list[Option | None]:
    """Per layer the option to build. Without a device: the cheapest by `weigh`. On a
    device, found by pricing BRAMs against LUTs at a range of rates, each layer taking its
    cheapest option at that rate (plan_network checks `objective` and the device):
    - "balanced": the choice whose larger utilization (of LUTs, LUT-RAM included, and of
      BRAMs, with what every plan pays) is least, so that neither runs out first (ties: the
      smaller sum of both);
    - "logic": the choice with the fewest LUTs and flip-flops (each layer weighing its
      flip-flops too, or not) whose LUTs and BRAMs stay within LOGIC_FILL of the device's:
      BRAMs spent to save logic, which is what spreads a design over the die and
      lengthens its routes; when no choice stays within, as "balanced"."""
    def pick(price: float, flip_flops: bool = False) -> list[Option | None]:
        return [None if opts is None else
                min(opts, key=lambda o: (weigh(o.cost, family, device, price)
                                         + (o.cost.ff / device.lut if flip_flops else 0),
                                         -o.steps))
                for opts in options]

    if device is None:
        return pick(1.0)
    logic = objective == "logic"
    best, best_key = None, None
    for price in BRAM_PRICES:
        for chosen in (pick(price), pick(price, True)) if logic else (pick(price),):
            total = sum((o.cost for o in chosen if o), fixed)
            use = (total.lut_equivalent / device.lut, total.bram / device.bram)
            key = (max(use) > LOGIC_FILL, (total.lut_equivalent + total.ff) / device.lut,
                   use[1]) if logic else (max(use), sum(use))
            if best_key is None or key < best_key:
                best, best_key = chosen, key
    if logic and best_key[0]:
        return select(options, fixed, family, device)
    return best


def plan_network(desc: Description, cycles: int, *, family: str | None = None,
                 device: str | None = None, memory: str = "auto", stages: int = 1,
                 clock_mhz: float | None = None, fold: bool = False,
                 objective: str = "balanced") -> Plan:
    """The cheapest plan whose predicted initiation interval is at most `cycles` (`fold`:
    every convolution folded, even where unrolled would be cheaper; `objective`: what a
    device's plan keeps least, `select`)."""
    if objective not in OBJECTIVES:
        raise UserError(f"unknown objective {objective!r}: choose from {', '.join(OBJECTIVES)}")
    if objective != "balanced" and not device:
        raise UserError(f"--objective {objective} needs a device (--device)")
    dev = find_device(device) if device else None
    family = check_family(dev.family if dev else (family or "ecp5"))
    if memory not in STYLES:
        raise UserError(f"unknown memory style {memory!r}: choose from {', '.join(STYLES)}")
    floor = analyse(desc, {}, stages).ii
    if cycles < floor:
        raise UserError(f"target {cycles} cycles per frame is below what {desc.name} can do "
                        f"fully unrolled: {floor} cycles per frame (one input pixel per clock)")
    # The pacer's size hardly depends on the interval (its log): priced at the target while
    # choosing, at the plan's own interval once it is known.
    fixed = shared_costs(desc, family, clock_mhz, ii=cycles)
    budget = cycles
    for _ in range(4):   # tighten if the chain model finds the layers' rates interfere
        options = []
        for layer, shape in zip(desc.layers, desc.layer_inputs()):
            if not isinstance(layer, Conv):
                options.append(None)
                continue
            pixels = layer.out_shape[0] * layer.out_shape[1]
            options.append(layer_options(layer, max(1, budget // pixels), family, memory,
                                         stages, fold, shape, clock_mhz))
        chosen = select(options, sum(fixed.values(), Cost()), family, dev, objective)
        steps = {layer.name: o.flow for layer, o in zip(desc.layers, chosen) if o}
        pipes = {layer.name: (o.pipe.stages, o.pipe.argmax, o.pipe.front)
                 for layer, o in zip(desc.layers, chosen) if o}
        flow = analyse(desc, steps, stages, pipes=pipes)
        if flow.ii <= cycles:
            break
        budget = int(budget * cycles / flow.ii) - 1
    depths = {name: b + 1 if b >= 2 else 0 for name, b in flow.backlog.items()}
    fifos = {name: d for name, d in depths.items() if d}
    if fifos:   # the FIFOs' own cycles, in the interval and latency the plan states
        flow = analyse(desc, steps, stages, pipes=pipes, fifos=fifos)
    layers = []
    for layer, opt, shape in zip(desc.layers, chosen, desc.layer_inputs()):
        depth = depths.get(layer.name, 0)
        fifo = fifo_cost(shape[2], depth, family)
        if opt is None:
            layers.append(LayerPlan(layer.name, "pool", "fixed", fifo_depth=depth,
                                    **(fixed[layer.name] + fifo).rounded(),
                                    skid=pool_skid(layer_window(layer, shape), shape[2],
                                                   family, clock_mhz)))
        else:
            pixels = layer.out_shape[0] * layer.out_shape[1]
            layers.append(LayerPlan(layer.name, "conv", opt.engine, opt.pe, opt.simd,
                                    opt.steps, opt.memory, opt.steps * pixels, depth,
                                    **(opt.cost + fifo).rounded(), stages=opt.pipe.stages,
                                    argmax_stages=opt.pipe.argmax, front=opt.pipe.front,
                                    skid=opt.pipe.skid))
    # the encoder gets a skid register where any layer has one (hw.folded.planned)
    fixed["encoder"] = input_cost(desc, family, flow.ii, any(lp.skid for lp in layers))
    # Totals as `bnngen estimate` makes them: the sum of the rounded rows.
    rows = [fixed["encoder"].rounded()] + [
        {k: getattr(lp, k) for k in ("lut", "ff", "bram", "lutram")} for lp in layers]
    total = {k: sum(r[k] for r in rows) for k in ("lut", "ff", "bram", "lutram")}
    return Plan(model=desc.name, target_cycles=cycles, family=family, layers=tuple(layers),
                ii=flow.ii, latency=flow.latency, total=total,
                device=dev.name if dev else None,
                budget={"lut": dev.lut, "bram": dev.bram} if dev else None,
                clock_mhz=clock_mhz, stages=stages,
                fixed={k: v.rounded() for k, v in fixed.items()}, model_hash=content_hash(desc),
                slowest_path=_slowest_path(desc, chosen, family, clock_mhz))


def _slowest_path(desc: Description, chosen: list, family: str,
                  clock_mhz: float | None) -> dict | None:
    """The timing model's slowest path of the plan at its clock (its engines' and its
    window generators'): layer, path, its delay and whether it fits the usable part of the
    period."""
    if clock_mhz is None:
        return None
    worst = None
    for layer, opt, shape in zip(desc.layers, chosen, desc.layer_inputs()):
        paths = []
        if opt is None:       # a pool: its window generator feeds the OR stage
            skid = pool_skid(layer_window(layer, shape), shape[2], family, clock_mhz)
            paths = window_paths(layer_window(layer, shape), shape[2], 0 if skid else 2, skid)
        else:
            dense = is_dense(layer, shape)
            readers = column_readers(layer, opt.pe, opt.simd, dense) \
                if opt.engine == "folded" else 1
            paths = engine_paths_of(layer, opt.engine, opt.simd, opt.memory, dense,
                                    family, opt.pe, opt.steps, readers)(opt.pipe)
            if not (dense and opt.engine == "folded"):   # a streamed dense layer has none
                paths += window_paths(layer_window(layer, shape), shape[2],
                                      0 if opt.pipe.skid else 3,
                                      opt.pipe.skid and opt.engine == "folded")
        ns, path = slowest(paths, family)
        if worst is None or ns > worst["ns"]:
            worst = {"layer": layer.name, "path": path.what, "ns": round(ns, 2)}
    if worst is None:
        return None
    budget = USABLE * 1000.0 / clock_mhz
    return {**worst, "budget_ns": round(budget, 2), "meets": worst["ns"] <= budget}
