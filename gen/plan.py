"""The planner: per layer the cheapest folding that meets a throughput target.

Given a target in cycles per frame (or frames per second at a clock) and optionally a
device, every convolution layer gets the engine with the least estimated cost (gen/
plan_cost.py: the estimator's blocks and coefficients, so a plan's numbers are `bnngen
estimate --plan`'s) whose cycles per frame, steps x output pixels, stay within the target:
unrolled (one window per clock), or folded on `pe` lanes of `simd` bits with its weights in
BRAM or LUT-RAM (a dense layer folded is the streaming engine of hw/dense.py, which needs no
window of the map: its cycles per frame are the sum of its cycles per pixel). Layers do
not compete for cycles (the network's interval is the slowest layer's), so the choice is
per layer; on a device the plan keeps the larger of its LUT and BRAM utilizations least
checked on the total. Then the chain's timing model (gen/flow_model.py) predicts the
initiation interval and latency and sizes the FIFO in front of every layer.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass, field
from functools import cache

from hw.dense import dense_pixel_steps, is_dense
from hw.engine import result_layout
from hw.folded import FRONTS, threshold_width
from hw.folded_layer import LayerChoice
from hw.folded_schedule import assign_lanes, live_chunks
from models.description import Conv, Description, content_hash
from models.errors import UserError, printable

from .flow_model import analyse
from .timing_model import (USABLE, Pipelining, candidates, engine_paths, layer_window, meets,
                           pool_skid, slowest, unrolled_paths, window_paths)
from .plan_cost import (LOGIC_ROM_MAX_BITS, LUTS_PER_LUTRAM, Cost, blocks_cost,
                        check_family, deep_rom_bits, fifo_cost, option_blocks, shared_costs)
from .resources import FPGA_FAMILIES as FAMILIES

PLAN_FORMAT = "bnngen-plan"
PLAN_VERSION = 1
STYLES = ("auto", "block", "distributed")
MAX_CYCLES = 1 << 62  # targets above this are all alike (and fit int64)
SIMD_TRIES = 4       # feasible simd widths costed per pe


@dataclass(frozen=True)
class Device:
    """A part's budget: LUTs (LUT4s; Xilinx LUT6s), flip-flops, block RAMs in the units the
    reports count (iCE40 SB_RAM40_4K, ECP5 DP16KD, Gowin BSRAM, Xilinx RAMB18: a RAMB36 is
    two); for place and route (gen/fmax.py), nextpnr's arguments and the package's pins."""

    name: str
    family: str
    lut: int
    bram: int
    ff: int = 0
    pnr: tuple[str, ...] = ()     # nextpnr's device/package arguments (gen/fmax.py)
    pins: tuple[str, ...] = ()    # Gowin: package pins free for I/O (nextpnr needs each placed)
    io: int = 0                   # user I/O pins of the package


# GW1NR-LV9QN88P (Tang Nano 9K): the package's I/O pins without a configuration function
# (JTAG, MODE, SSPI/MSPI), from Apycula 0.32's GW1N-9C pinout; the first, 52 (GCLKT_3), is
# a global clock input (the board's 27 MHz oscillator).
GW1NR9_QN88P_PINS = tuple(str(p) for p in (
    52, 10, 35, 36, 51, 3, 11, 13, 14, 15, 16, 17, 18, 19, 20, 25, 26, 27, 28, 29, 30, 31, 32,
    33, 34, 37, 38, 39, 40, 41, 42, 47, 48, 49, 50, 68, 69, 70, 71, 72, 73, 74, 75, 76, 77, 79,
    80, 81, 82, 83, 84, 85, 86))

DEVICES = {d.name: d for d in (
    Device("ice40-up5k", "ice40", 5280, 30, 5280, ("--up5k", "--package", "sg48"), io=39),
    Device("ice40-hx8k", "ice40", 7680, 32, 7680, ("--hx8k", "--package", "ct256"), io=206),
    Device("ecp5-25f", "ecp5", 24288, 56, 24288, ("--25k", "--package", "CABGA256"), io=197),
    Device("ecp5-85f", "ecp5", 83640, 208, 83640, ("--85k", "--package", "CABGA381"), io=205),
    Device("gowin-gw1nr9", "gowin", 8640, 26, 6480,
           ("--device", "GW1NR-LV9QN88PC6/I5", "--vopt", "family=GW1N-9C"),
           GW1NR9_QN88P_PINS, len(GW1NR9_QN88P_PINS)),
    # Zynq-7000: Pynq-Z1/Z2 (xc7z020, 140 RAMB36) and ZC706 (xc7z045, 545 RAMB36)
    Device("xc7z020", "xilinx", 53200, 280, 106400),
    Device("xc7z045", "xilinx", 218600, 1090, 437200),
)}
ALIASES = {"up5k": "ice40-up5k", "hx8k": "ice40-hx8k", "25f": "ecp5-25f", "85f": "ecp5-85f",
           "lfe5u-25f": "ecp5-25f", "lfe5u-85f": "ecp5-85f", "ice40up5k": "ice40-up5k",
           "ice40hx8k": "ice40-hx8k", "ecp5-85": "ecp5-85f", "ecp5-25": "ecp5-25f",
           "z7020": "xc7z020", "z7045": "xc7z045", "pynq-z1": "xc7z020", "pynq-z2": "xc7z020",
           "zc706": "xc7z045",
           "gw1nr9": "gowin-gw1nr9", "gw1nr-9": "gowin-gw1nr9", "tangnano9k": "gowin-gw1nr9"}
# Without a device, a BRAM weighs as many LUTs as on a mid-size part of the family.
BRAM_WEIGHT = {"ice40": 240.0, "ecp5": 400.0, "gowin": 300.0, "xilinx": 300.0}


def find_device(name: str) -> Device:
    key = name.strip().lower()
    key = ALIASES.get(key, key)
    if key not in DEVICES:
        raise UserError(f"unknown device {name!r}: choose from {', '.join(DEVICES)}")
    return DEVICES[key]


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


@dataclass(frozen=True)
class LayerPlan:
    name: str
    kind: str                 # conv | pool
    engine: str               # unrolled | folded | fixed (pools)
    pe: int = 0
    simd: int = 0
    steps: int = 1            # cycles per output pixel of the engine (a dense layer: per frame)
    memory: str = ""          # block | distributed (folded only)
    cycles: int = 0           # engine cycles per frame
    fifo_depth: int = 0
    lut: int = 0
    ff: int = 0
    bram: int = 0
    lutram: int = 0
    stages: int = 1           # register stages in each popcount tree
    argmax_stages: int = 0    # register stages in a scores layer's argmax
    front: int = 0            # folded: registers in front of the popcounts (hw.folded.FRONTS)
    skid: bool = False        # folded or pool: a skid register at the output (hw.pipeline)

    def choice(self) -> LayerChoice:
        return LayerChoice(engine="folded" if self.engine == "folded" else "unrolled",
                           pe=max(1, self.pe), simd=max(1, self.simd),
                           memory=self.memory or "auto", fifo_depth=self.fifo_depth,
                           stages=self.stages, argmax_stages=self.argmax_stages,
                           front=self.front, skid=self.skid)


@dataclass(frozen=True)
class Plan:
    model: str
    target_cycles: int
    family: str
    layers: tuple[LayerPlan, ...]
    ii: int
    latency: int
    total: dict
    device: str | None = None
    budget: dict | None = None
    clock_mhz: float | None = None
    stages: int = 1
    fixed: dict = field(default_factory=dict)   # encoder and pools: what every plan pays
    model_hash: str | None = None   # models.description.content_hash of the model planned
    slowest_path: dict | None = None  # gen.timing_model's verdict at clock_mhz (see plan_network)

    @property
    def lut_equivalent(self) -> int:
        """LUTs with those the LUT-RAMs occupy: what the device's LUT budget pays."""
        return self.total["lut"] + LUTS_PER_LUTRAM * self.total.get("lutram", 0)

    @property
    def fits(self) -> bool:
        return self.budget is None or (self.lut_equivalent <= self.budget["lut"]
                                       and self.total["bram"] <= self.budget["bram"])

    @property
    def fps(self) -> float | None:
        return None if self.clock_mhz is None else self.clock_mhz * 1e6 / self.ii

    def choices(self) -> dict[str, LayerChoice]:
        return {lp.name: lp.choice() for lp in self.layers}

    def to_dict(self) -> dict:
        d = asdict(self)
        d["layers"] = [asdict(lp) for lp in self.layers]
        d["fits"] = self.fits
        d["fps"] = self.fps
        return {"format": PLAN_FORMAT, "version": PLAN_VERSION, **d}


class _PlanFields:
    """Type checks for a plan file's fields; errors name file, layer and field."""

    def __init__(self, source: str, layer: str | None = None):
        self.source, self.layer = source, layer

    def error(self, fld: str, message: str) -> UserError:
        where = [self.source] + ([f"layer {self.layer}"] if self.layer else [])
        return UserError(printable(": ".join(where + [f"field '{fld}'", message])))

    def int(self, d: dict, fld: str, lo: int = 0, hi: int = 1 << 62, default=None):
        if fld not in d:
            if default is not None:
                return default
            raise self.error(fld, "missing field")
        v = d[fld]
        if isinstance(v, bool) or not isinstance(v, int):
            raise self.error(fld, f"expected an integer, got {_kind(v)}")
        if not lo <= v <= hi:
            shown = v if abs(v) < 10 ** 30 else f"an integer of {v.bit_length()} bits"
            raise self.error(fld, f"{shown} is outside {lo}..{hi}")
        return v

    def bool(self, d: dict, fld: str, default: bool) -> bool:
        v = d.get(fld, default)
        if not isinstance(v, bool):
            raise self.error(fld, f"expected true or false, got {_kind(v)}")
        return v

    def choice(self, d: dict, fld: str, options, default=None):
        v = d.get(fld, default)
        if v not in options or (v is not None and not isinstance(v, str)):
            raise self.error(fld, f"expected one of {', '.join(map(repr, options))}, got "
                             f"{printable(repr(v))[:40]}")
        return v

    def str(self, d: dict, fld: str) -> str:
        v = d.get(fld)
        if not isinstance(v, str):
            raise self.error(fld, "missing field" if fld not in d else
                             f"expected a string, got {_kind(v)}")
        return v

    def counts(self, d: dict, fld: str, optional: bool = False) -> dict | None:
        """An object of resource counts (lut, ff, bram, lutram): finite, non-negative
        numbers."""
        v = d.get(fld)
        if v is None and optional:
            return None
        if not isinstance(v, dict):
            raise self.error(fld, f"expected an object, got {_kind(v)}")
        for key, n in v.items():
            if isinstance(n, bool) or not isinstance(n, int | float) or not math.isfinite(n) \
                    or not 0 <= n <= MAX_COUNT:
                raise self.error(f"{fld}.{key}", f"expected a number in 0..{MAX_COUNT}, got "
                                 f"{_kind(n) if not isinstance(n, float) else n}")
        return v


def _kind(v) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
            int: "an integer", float: "a number", type(None): "null"}.get(type(v), "a value")


ENGINES = {"conv": ("unrolled", "folded"), "pool": ("fixed",)}
MAX_FIFO = 1 << 20       # FIFO entries in front of a layer
MAX_STAGES = 64
MAX_PE = 1 << 16         # the most output channels a layer has
MAX_SIMD = 1 << 27       # the most weight bits a description has
MAX_COUNT = 1 << 50      # cycles, steps and resource counts


def plan_from_dict(data: dict, source: str = "plan") -> Plan:
    if not isinstance(data, dict) or data.get("format") != PLAN_FORMAT:
        raise UserError(f"{source}: not a bnngen plan (no \"format\": \"{PLAN_FORMAT}\")")
    top = _PlanFields(source)
    version = top.int(data, "version", 1, 1 << 62)
    if version > PLAN_VERSION:
        raise UserError(f"{source}: plan version {version} is newer than "
                        f"this bnngen ({PLAN_VERSION})")
    raw_layers = data.get("layers")
    if not isinstance(raw_layers, list):
        raise top.error("layers", f"expected a list, got {_kind(raw_layers)}")
    stages = top.int(data, "stages", 0, MAX_STAGES, default=1)
    layers = []
    for i, raw in enumerate(raw_layers):
        if not isinstance(raw, dict):
            raise _PlanFields(source, f"#{i}").error("layers", f"expected an object, got "
                                                     f"{_kind(raw)}")
        name = _PlanFields(source, f"#{i}").str(raw, "name")
        f = _PlanFields(source, f"#{i} '{name}'")
        unknown = sorted(set(raw) - set(LayerPlan.__dataclass_fields__))
        if unknown:
            raise f.error(unknown[0], "unknown field")
        kind = f.choice(raw, "kind", tuple(ENGINES))
        engine = f.choice(raw, "engine", ENGINES[kind])
        folded = engine == "folded"
        layers.append(LayerPlan(
            name=name, kind=kind, engine=engine,
            pe=f.int(raw, "pe", 1 if folded else 0, MAX_PE,
                     default=0 if not folded else None),
            simd=f.int(raw, "simd", 1 if folded else 0, MAX_SIMD,
                       default=0 if not folded else None),
            steps=f.int(raw, "steps", 1, MAX_COUNT, default=1),
            memory=f.choice(raw, "memory", ("block", "distributed") if folded else
                            ("", "block", "distributed"), default="" if not folded else None),
            cycles=f.int(raw, "cycles", 0, MAX_COUNT, default=0),
            fifo_depth=f.int(raw, "fifo_depth", 0, MAX_FIFO, default=0),
            lut=f.int(raw, "lut", 0, MAX_COUNT, default=0),
            ff=f.int(raw, "ff", 0, MAX_COUNT, default=0),
            bram=f.int(raw, "bram", 0, MAX_COUNT, default=0),
            lutram=f.int(raw, "lutram", 0, MAX_COUNT, default=0),
            stages=f.int(raw, "stages", 0, MAX_STAGES, default=stages),
            argmax_stages=f.int(raw, "argmax_stages", 0, MAX_STAGES, default=0),
            front=f.int(raw, "front", 0, max(FRONTS) if folded else 0, default=0),
            skid=f.bool(raw, "skid", default=False)))
        if layers[-1].skid and engine == "unrolled":
            raise f.error("skid", "an unrolled engine has no skid register")
    clock = data.get("clock_mhz")
    if clock is not None and (isinstance(clock, bool) or not isinstance(clock, int | float)
                              or not math.isfinite(clock) or clock <= 0):
        raise top.error("clock_mhz", f"expected a positive number or null, got {_kind(clock)}"
                        if not isinstance(clock, int | float) else
                        f"expected a positive number or null, got {clock}")
    model_hash = data.get("model_hash")
    if model_hash is not None and not (isinstance(model_hash, str)
                                       and re.fullmatch(r"[0-9a-f]{64}", model_hash)):
        raise top.error("model_hash", "expected 64 lowercase hex digits")
    device = data.get("device")
    if device is not None and not isinstance(device, str):
        raise top.error("device", f"expected a string or null, got {_kind(device)}")
    slow = data.get("slowest_path")
    if slow is not None and not (
            isinstance(slow, dict) and isinstance(slow.get("meets"), bool)
            and all(isinstance(slow.get(k), int | float) and not isinstance(slow.get(k), bool)
                    and math.isfinite(slow[k]) and slow[k] >= 0 for k in ("ns", "budget_ns"))):
        raise top.error("slowest_path", "expected null or an object with ns, budget_ns, meets")
    fixed = data.get("fixed", {})
    if not isinstance(fixed, dict):
        raise top.error("fixed", f"expected an object, got {_kind(fixed)}")
    for key in fixed:
        top.counts({f"fixed.{key}": fixed[key]}, f"fixed.{key}")
    return Plan(model=top.str(data, "model"),
                target_cycles=top.int(data, "target_cycles", 1),
                family=top.choice(data, "family", FAMILIES),
                layers=tuple(layers), ii=top.int(data, "ii", 1),
                latency=top.int(data, "latency"), total=top.counts(data, "total"),
                device=device, budget=top.counts(data, "budget", optional=True),
                clock_mhz=clock, stages=stages,
                fixed=fixed, model_hash=model_hash, slowest_path=slow)


def load_plan(path) -> Plan:
    try:
        with open(path, "rb") as f:
            data = json.loads(f.read().decode("utf-8"), parse_constant=_no_constant)
    except OSError as e:
        raise UserError(f"{printable(str(path))}: cannot read the plan ({e.strerror})") \
            from None
    except (ValueError, RecursionError) as e:
        msg = e.msg if isinstance(e, json.JSONDecodeError) else "not UTF-8 text" \
            if isinstance(e, UnicodeDecodeError) else str(e) or "nested too deeply"
        raise UserError(f"{printable(str(path))}: not a JSON plan ({msg})") from None
    return plan_from_dict(data, printable(str(path)))


def _no_constant(name: str):
    raise ValueError(f"{name} is not a number JSON allows")


def load_checked_plan(path, desc: Description) -> Plan:
    """load_plan + check_plan, errors naming the plan file."""
    plan = load_plan(path)
    try:
        check_plan(plan, desc)
    except UserError as e:
        raise UserError(f"{printable(str(path))}: {e}") from None
    return plan


def check_plan(plan: Plan, desc: Description) -> None:
    """The plan must be for this model (its content hash, or its layers in plans without
    one), with legal foldings."""
    names = [layer.name for layer in desc.layers]
    if [lp.name for lp in plan.layers] != names:
        raise UserError(f"the plan is for layers {[lp.name for lp in plan.layers]}, the model "
                        f"has {names}")
    if plan.model_hash is not None and plan.model_hash != content_hash(desc):
        raise UserError(f"the plan was made for another model ({printable(plan.model)!r}, "
                        f"content hash {plan.model_hash[:12]}…) than {printable(desc.name)!r} "
                        f"({content_hash(desc)[:12]}…); plan this model again with bnngen plan")
    for lp, layer, shape in zip(plan.layers, desc.layers, desc.layer_inputs()):
        if lp.engine == "folded":
            # a streamed dense layer reads one pixel's group bits at most per lane and cycle
            fan = layer.in_channels_per_group if is_dense(layer, shape) \
                else int(layer.weights[0].size)
            if not (1 <= lp.pe <= layer.out_channels and 1 <= lp.simd <= fan):
                raise UserError(f"plan layer {lp.name}: pe {lp.pe} / simd {lp.simd} out of "
                                f"range (1..{layer.out_channels} / 1..{fan})")


def flow_steps(desc: Description, plan: Plan) -> dict:
    """The plan's folded layers as gen.flow_model.analyse takes them: cycles per window,
    or a streamed dense layer's cycles per pixel."""
    out = {}
    for lp, layer, shape in zip(plan.layers, desc.layers, desc.layer_inputs()):
        if lp.kind != "conv" or lp.engine != "folded":
            continue
        out[lp.name] = (dense_pixel_steps(layer, lp.pe, lp.simd) if is_dense(layer, shape)
                        else lp.steps)
    return out


def plan_estimate(desc: Description, plan: Plan, families: list[str]) -> dict:
    """A planned build estimated per family, in gen.estimate.estimate's shape: every layer
    as the plan builds it (gen.estimate_blocks.layer_blocks), from the fitted block costs."""
    from .estimate import estimate

    check_plan(plan, desc)
    result = estimate(desc, families, plan.stages, choices=plan.choices())
    result["design"] = f"{desc.name} as planned"
    return result


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


class StepTable:
    """fold_steps for every (pe, simd) of a layer, sharing the chunk analysis per simd; for a
    streamed dense layer its cycles per frame (`flow`: per pixel)."""

    def __init__(self, conv: Conv, dense: bool = False):
        self.conv, self.dense = conv, dense

    @cache  # noqa: B019 - one table per planning run
    def counts(self, simd: int) -> tuple[int, ...]:
        return tuple(len(c) for c in live_chunks(self.conv, simd))

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
    flow: int | tuple[int, ...] = 1     # what gen.flow_model.analyse takes for it
    pipe: Pipelining = Pipelining()


def engine_paths_of(conv: Conv, engine: str, simd: int, style: str, dense: bool,
                    family: str, pe: int = 1, steps: int = 0):
    """Pipelining -> the register-to-register paths of one engine option
    (gen.timing_model); `pe` and `steps` size a weight ROM in LUTs."""
    sparse = conv.domain == "sparse"
    classes = conv.out_channels if conv.scores is not None else 0
    if engine == "unrolled":
        return lambda pipe: unrolled_paths(int(conv.weights[0].size), sparse, classes, pipe,
                                           family)
    per_group = conv.in_channels_per_group if dense else int(conv.weights[0].size)
    chunks = conv.groups * -(-per_group // simd) + 1
    input_bits = per_group * conv.groups
    output_bits = result_layout(conv).size if classes else conv.out_channels
    rom_words = steps if style == "distributed" else 0
    thresholds = (0, 0) if classes else (-(-conv.out_channels // pe), threshold_width(conv) + 1)
    return lambda pipe: engine_paths(simd, chunks, style == "block", sparse, classes,
                                     input_bits, pipe, family, output_bits, rom_words,
                                     pe * (simd + 2), thresholds)


def pipelined(conv: Conv, engine: str, pe: int, simd: int, style: str, family: str,
              in_shape, dense: bool, stages: int,
              clock_mhz: float | None, steps: int = 0) -> tuple[Pipelining, list, bool]:
    """The cheapest pipelining of one engine option that meets the clock (None: `stages`
    popcount stages, nothing else), the option's blocks built so, and whether it meets the
    clock (no clock: True)."""
    paths_of = engine_paths_of(conv, engine, simd, style, dense, family, pe, steps)
    best = None
    for pipe in candidates(paths_of, family, clock_mhz, stages, engine == "folded",
                           conv.scores is not None):
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
    ROM_WORDS_PER_LUT (gen.estimate_blocks) only up to LOGIC_ROM_MAX_BITS unless `memory`
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
                                             in_shape, dense, stages, clock_mhz, steps)
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


def select(options: list[list[Option] | None], fixed: Cost, family: str,
           device: Device | None) -> list[Option | None]:
    """Per layer the option to build. Without a device: the cheapest by `weigh`. On a
    device: the choice whose larger utilization (of LUTs, LUT-RAM included, and of BRAMs,
    with what every plan pays) is least, so that neither runs out first; found by pricing
    BRAMs against LUTs at a range of rates, each layer taking its cheapest option at that
    rate (ties: the smaller sum of both utilizations)."""
    def pick(price: float) -> list[Option | None]:
        return [None if opts is None else
                min(opts, key=lambda o: (weigh(o.cost, family, device, price), -o.steps))
                for opts in options]

    if device is None:
        return pick(1.0)
    best, best_key = None, None
    for price in BRAM_PRICES:
        chosen = pick(price)
        total = sum((o.cost for o in chosen if o), fixed)
        use = (total.lut_equivalent / device.lut, total.bram / device.bram)
        key = (max(use), sum(use))
        if best_key is None or key < best_key:
            best, best_key = chosen, key
    return best


def plan_network(desc: Description, cycles: int, *, family: str | None = None,
                 device: str | None = None, memory: str = "auto", stages: int = 1,
                 clock_mhz: float | None = None, fold: bool = False) -> Plan:
    """The cheapest plan whose predicted initiation interval is at most `cycles` (`fold`:
    every convolution folded, even where unrolled would be cheaper)."""
    dev = find_device(device) if device else None
    family = check_family(dev.family if dev else (family or "ecp5"))
    if memory not in STYLES:
        raise UserError(f"unknown memory style {memory!r}: choose from {', '.join(STYLES)}")
    floor = analyse(desc, {}, stages).ii
    if cycles < floor:
        raise UserError(f"target {cycles} cycles per frame is below what {desc.name} can do "
                        f"fully unrolled: {floor} cycles per frame (one input pixel per clock)")
    fixed = shared_costs(desc, family, clock_mhz)
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
        chosen = select(options, sum(fixed.values(), Cost()), family, dev)
        steps = {layer.name: o.flow for layer, o in zip(desc.layers, chosen) if o}
        pipes = {layer.name: (o.pipe.stages, o.pipe.argmax, o.pipe.front)
                 for layer, o in zip(desc.layers, chosen) if o}
        flow = analyse(desc, steps, stages, pipes=pipes)
        if flow.ii <= cycles:
            break
        budget = int(budget * cycles / flow.ii) - 1
    layers = []
    for layer, opt, shape in zip(desc.layers, chosen, desc.layer_inputs()):
        depth = flow.backlog.get(layer.name, 0)
        depth = depth + 1 if depth >= 2 else 0
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
            paths = window_paths(layer_window(layer, shape), shape[2], 0 if skid else 2)
        else:
            dense = is_dense(layer, shape)
            paths = engine_paths_of(layer, opt.engine, opt.simd, opt.memory, dense,
                                    family, opt.pe, opt.steps)(opt.pipe)
            if not (dense and opt.engine == "folded"):   # a streamed dense layer has none
                paths += window_paths(layer_window(layer, shape), shape[2],
                                      0 if opt.pipe.skid else 3)
        ns, path = slowest(paths, family)
        if worst is None or ns > worst["ns"]:
            worst = {"layer": layer.name, "path": path.what, "ns": round(ns, 2)}
    if worst is None:
        return None
    budget = USABLE * 1000.0 / clock_mhz
    return {**worst, "budget_ns": round(budget, 2), "meets": worst["ns"] <= budget}


def plan_table(plan: Plan) -> str:
    """The plan as a Markdown table plus a summary line."""
    rows = ["| layer | engine | PE | SIMD | cycles/px | cycles/frame | memory | FIFO | LUT | "
            "FF | BRAM | LUT-RAM |", "|---|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|"]
    for lp in plan.layers:
        fold = lp.engine == "folded"
        rows.append(f"| {lp.name} | {lp.engine} | {lp.pe if fold else ''} | "
                    f"{lp.simd if fold else ''} | {lp.steps if lp.kind == 'conv' else ''} | "
                    f"{lp.cycles if lp.kind == 'conv' else ''} | {lp.memory} | "
                    f"{lp.fifo_depth} | {lp.lut} | {lp.ff} | {lp.bram} | {lp.lutram} |")
    t = plan.total
    rows.append(f"| **total** (encoder incl.) | | | | | | | | {t['lut']} | {t['ff']} | "
                f"{t['bram']} | {t.get('lutram', 0)} |")
    summary = (f"target {plan.target_cycles} cycles/frame; predicted II {plan.ii} cycles/frame, "
               f"latency {plan.latency} cycles")
    if plan.clock_mhz:
        summary += f"; {plan.fps:.1f} frames/s at {plan.clock_mhz:g} MHz"
    sp = plan.slowest_path
    if sp:
        summary += (f"; timing model: slowest path {sp['layer']} {sp['path']} {sp['ns']:g} ns "
                    f"of {sp['budget_ns']:g} ({'meets' if sp['meets'] else 'DOES NOT MEET'} "
                    f"{plan.clock_mhz:g} MHz)")
    if plan.budget:
        summary += (f"; {plan.device}: {plan.lut_equivalent}/{plan.budget['lut']} LUT "
                    f"(LUT-RAM included), "
                    f"{t['bram']}/{plan.budget['bram']} BRAM "
                    f"({'fits' if plan.fits else 'DOES NOT FIT'})")
    return "\n".join(rows) + "\n\n" + summary + "\n"
