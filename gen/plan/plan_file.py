"""A folding plan: what `bnngen plan` writes and `bnngen build --plan` reads, its per-layer
entries, the checks of a plan file against its model, and its table."""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass, field

from models.description import Description, content_hash
from models.errors import UserError, printable
from hw.dense.schedule import dense_pixel_steps, is_dense
from hw.folded.lanes import FRONTS
from hw.folded.planned import LayerChoice

from gen.common.resources import FPGA_FAMILIES as FAMILIES
from gen.plan.cost import LUTS_PER_LUTRAM


PLAN_FORMAT = "bnngen-plan"


PLAN_VERSION = 1


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
    front: int = 0            # folded: registers in front of the popcounts (hw.folded.lanes.FRONTS)
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
    # gen.estimate.timing_model's verdict at clock_mhz (see gen.plan.search.plan_network)
    slowest_path: dict | None = None

    @property
    def lut_equivalent(self) -> int:
        """LUTs with those the LUT-RAMs occupy: what the device's LUT budget pays."""
        return self.total["lut"] + LUTS_PER_LUTRAM * self.total.get("lutram", 0)

    @property
    def fits(self) -> bool:
        return self.within(1.0)

    def within(self, fraction: float) -> bool:
        """Whether the LUTs and BRAMs take at most `fraction` of the device's (no device:
        True)."""
        return self.budget is None or (self.lut_equivalent <= fraction * self.budget["lut"]
                                       and self.total["bram"] <= fraction * self.budget["bram"])

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
    """The plan's folded layers as gen.estimate.flow_model.analyse takes them: cycles per window,
    or a streamed dense layer's cycles per pixel."""
    out = {}
    for lp, layer, shape in zip(plan.layers, desc.layers, desc.layer_inputs()):
        if lp.kind != "conv" or lp.engine != "folded":
            continue
        out[lp.name] = (dense_pixel_steps(layer, lp.pe, lp.simd) if is_dense(layer, shape)
                        else lp.steps)
    return out


def plan_estimate(desc: Description, plan: Plan, families: list[str]) -> dict:
    """A planned build estimated per family, in gen.estimate.estimator.estimate's shape: every layer
    as the plan builds it (gen.estimate.layer_blocks.layer_blocks), from the fitted block costs."""
    from gen.estimate.estimator import estimate

    check_plan(plan, desc)
    result = estimate(desc, families, plan.stages, choices=plan.choices(), ii=plan.ii)
    result["design"] = f"{desc.name} as planned"
    return result


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
