"""The model description: the one contract between training, golden model and hardware.

Types are frozen dataclasses holding NumPy arrays; `load`/`loads` parse and validate a
JSON file, `save`/`dumps` write it deterministically. The meaning of every field, and
every bound the validator enforces, is in docs/model-format.md.

Weights of a convolution are stored as an array of shape (O, kh, kw, C_in/groups): the
receptive field in the same HWC order as the feature maps. In the file each output
channel is one hex string: the kh*kw*(C_in/g) bits in that order, packed LSB-first into
bytes (bit n is bit n%8 of byte n//8), unused high bits of the last byte zero.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import tempfile
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

import numpy as np

from .errors import UserError, printable

FORMAT_VERSION = 1


class DescriptionError(UserError):
    """A description is malformed. `str()` is one line naming file, layer and field."""

    def __init__(self, message: str, *, layer: str | None = None, field: str | None = None,
                 source: str | None = None):
        self.message, self.layer, self.field, self.source = message, layer, field, source
        super().__init__(str(self))

    def with_source(self, source: str) -> DescriptionError:
        return DescriptionError(self.message, layer=self.layer, field=self.field, source=source)

    def __str__(self) -> str:
        where = [w for w in (self.source, self.layer and f"layer {self.layer}",
                             self.field and f"field '{self.field}'") if w]
        # User-supplied names may hold control characters: keep the message on one line.
        return printable(": ".join(where + [self.message]))


@dataclass(frozen=True)
class Limits:
    """Bounds beyond which a description is rejected as absurd (configurable)."""

    max_side: int = 4096            # H or W of any map
    max_channels: int = 65536       # C of any map
    max_kernel: int = 1024          # kh or kw
    max_thresholds: int = 1024      # T per input channel
    max_layers: int = 256
    max_weight_bits: int = 1 << 27  # all convolution weights together (128 Mbit)


# ---------------------------------------------------------------------------- types

@dataclass(frozen=True, eq=False)
class InputSpec:
    height: int
    width: int
    channels: int
    bits: int

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.height, self.width, self.channels)


@dataclass(frozen=True, eq=False)
class Thermometer:
    """Bit c*T+t = (x_c >= thresholds[c][t]); one row shared by all channels if shape (1, T)."""

    thresholds: np.ndarray  # (C or 1, T) int64, strictly increasing rows
    learned: bool = False

    @property
    def planes(self) -> int:
        return int(self.thresholds.shape[1])

    def channel_thresholds(self, channels: int) -> np.ndarray:
        """(C, T) thresholds, expanding a shared row."""
        return np.broadcast_to(self.thresholds, (channels, self.planes))


@dataclass(frozen=True, eq=False)
class Bitplanes:
    """Bit c*B+k = bit k of x_c: the natural binary code of the ADC."""


Encoder = Union[Thermometer, Bitplanes]


@dataclass(frozen=True, eq=False)
class Activation:
    """out_o = s_o >= thresholds[o] (flip 0) or s_o <= thresholds[o] (flip 1)."""

    thresholds: np.ndarray  # (O,) int64
    flip: np.ndarray        # (O,) uint8 in {0, 1}


@dataclass(frozen=True, eq=False)
class Scores:
    """score_o = scale[o] * s_o + offset[o]; the prediction is the argmax, lowest index on ties."""

    scale: np.ndarray   # (O,) int64, >= 1
    offset: np.ndarray  # (O,) int64


@dataclass(frozen=True, eq=False)
class Conv:
    """Binary (grouped) convolution; a dense layer is one whose kernel covers the map."""

    name: str
    out_channels: int
    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    pad_bit: int
    groups: int
    domain: str                     # "bipolar" or "sparse"
    weights: np.ndarray             # (O, kh, kw, C_in/g) uint8 bits
    mask: np.ndarray | None = None  # bipolar only; same shape, 1 = kept
    q: int = 1                      # sparse only: s = q*P_and + p*P_all
    p: int = 0
    activation: Activation | None = None
    scores: Scores | None = None
    out_shape: tuple[int, int, int] = (0, 0, 0)

    kind = "conv"

    @property
    def in_channels_per_group(self) -> int:
        return int(self.weights.shape[3])

    @property
    def out_channels_per_group(self) -> int:
        return self.out_channels // self.groups

    @property
    def kept(self) -> np.ndarray:
        """(O, kh, kw, Cg) 1 where a weight contributes (mask, or all ones)."""
        return self.mask if self.mask is not None else np.ones_like(self.weights)


@dataclass(frozen=True, eq=False)
class MaxPool:
    """Binary max-pool: OR over each window, no padding."""

    name: str
    kernel: tuple[int, int]
    stride: tuple[int, int]
    out_shape: tuple[int, int, int] = (0, 0, 0)

    kind = "maxpool"


Layer = Union[Conv, MaxPool]


@dataclass(frozen=True, eq=False)
class Description:
    name: str
    input: InputSpec
    encoder: Encoder
    layers: tuple[Layer, ...]
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def encoded_shape(self) -> tuple[int, int, int]:
        return encoded_shape(self.input, self.encoder)

    def layer_inputs(self) -> list[tuple[int, int, int]]:
        """The input shape of every layer."""
        shapes = [self.encoded_shape]
        for layer in self.layers[:-1]:
            shapes.append(layer.out_shape)
        return shapes

    @property
    def num_classes(self) -> int:
        return self.layers[-1].out_channels

    def weight_bits(self) -> tuple[int, int]:
        """(kept, total) weight bits over all convolutions."""
        kept = total = 0
        for layer in self.layers:
            if isinstance(layer, Conv):
                total += layer.weights.size
                kept += int(layer.kept.sum())
        return kept, total


# ---------------------------------------------------------------------------- shapes

def encoded_shape(inp: InputSpec, encoder: Encoder) -> tuple[int, int, int]:
    planes = encoder.planes if isinstance(encoder, Thermometer) else inp.bits
    return (inp.height, inp.width, inp.channels * planes)


def conv_out_hw(h: int, w: int, kernel, stride, padding) -> tuple[int, int]:
    return ((h + 2 * padding[0] - kernel[0]) // stride[0] + 1,
            (w + 2 * padding[1] - kernel[1]) // stride[1] + 1)


# ---------------------------------------------------------------------------- bit packing

def pack_bits(bits: np.ndarray) -> str:
    """A flat 0/1 array as a hex string, LSB-first within each byte."""
    return np.packbits(np.asarray(bits, dtype=np.uint8).ravel(), bitorder="little").tobytes().hex()


def unpack_bits(text: str, count: int) -> np.ndarray:
    """Inverse of `pack_bits`; raises ValueError on a wrong length or stray bits."""
    nbytes = (count + 7) // 8
    if len(text) != 2 * nbytes:
        raise ValueError(f"expected {2 * nbytes} hex digits for {count} bits, got {len(text)}")
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raise ValueError("not a hex string") from None
    bits = np.unpackbits(np.frombuffer(raw, dtype=np.uint8), bitorder="little")
    if bits[count:].any():
        raise ValueError("bits set beyond the last weight")
    return bits[:count].copy()


# ---------------------------------------------------------------------------- parsing

_TOP_FIELDS = {"format_version", "name", "input", "encoder", "layers", "metadata"}
_INPUT_FIELDS = {"height", "width", "channels", "bits"}
_ENC_FIELDS = {"thermometer": {"kind", "thresholds", "learned"}, "bitplanes": {"kind"}}
_CONV_FIELDS = {"kind", "name", "out_channels", "kernel", "stride", "padding", "pad_bit",
                "groups", "domain", "weights", "mask", "q", "p", "activation", "scores",
                "output_shape"}
_CONV_REQUIRED = {"kind", "name", "out_channels", "kernel", "stride", "padding", "pad_bit",
                  "groups", "domain", "weights", "output_shape"}
_POOL_FIELDS = {"kind", "name", "kernel", "stride", "output_shape"}


# Layer names become Verilog instance and module names: plain identifiers, no keywords.
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
VERILOG_KEYWORDS = frozenset("""
always and assign automatic begin buf bufif0 bufif1 case casex casez cell cmos config deassign
default defparam design disable edge else end endcase endconfig endfunction endgenerate
endmodule endprimitive endspecify endtable endtask event for force forever fork function
generate genvar highz0 highz1 if ifnone incdir include initial inout input instance integer
join large liblist library localparam macromodule medium module nand negedge nmos nor
noshowcancelled not notif0 notif1 or output parameter pmos posedge primitive pull0 pull1
pulldown pullup pulsestyle_onevent pulsestyle_ondetect rcmos real realtime reg release repeat
rnmos rpmos rtran rtranif0 rtranif1 scalared showcancelled signed small specify specparam
strong0 strong1 supply0 supply1 table task time tran tranif0 tranif1 tri tri0 tri1 triand
trior trireg unsigned use uwire vectored wait wand weak0 weak1 while wire wor xnor xor
logic bit byte int shortint longint struct union enum typedef interface class package
""".split())
# Any integer in a description: far beyond every bound, and it fits int64.
MAX_INT = 1 << 62


class _Ctx:
    """Where we are while parsing: builds errors naming layer and field."""

    def __init__(self, layer: str | None = None):
        self.layer = layer

    def error(self, fld: str | None, message: str) -> DescriptionError:
        return DescriptionError(message, layer=self.layer, field=fld)

    def obj(self, value: Any, fld: str | None, allowed: set[str], required: set[str]) -> dict:
        if not isinstance(value, dict):
            raise self.error(fld, f"expected an object, got {_typename(value)}")
        unknown = sorted(set(value) - allowed)
        if unknown:
            raise self.error(unknown[0], "unknown field")
        missing = sorted(required - set(value))
        if missing:
            raise self.error(missing[0], "missing field")
        return value

    def int(self, value: Any, fld: str, lo: int = -MAX_INT, hi: int = MAX_INT) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(fld, f"expected an integer, got {_typename(value)}")
        if value < lo:
            raise self.error(fld, f"{_short(value)} is below the minimum {lo}")
        if value > hi:
            raise self.error(fld, f"{_short(value)} is above the maximum {hi}")
        return value

    def str(self, value: Any, fld: str) -> str:
        if not isinstance(value, str):
            raise self.error(fld, f"expected a string, got {_typename(value)}")
        return value

    def bool(self, value: Any, fld: str) -> bool:
        if not isinstance(value, bool):
            raise self.error(fld, f"expected true or false, got {_typename(value)}")
        return value

    def list(self, value: Any, fld: str, length: int | None = None) -> list:
        if not isinstance(value, list):
            raise self.error(fld, f"expected a list, got {_typename(value)}")
        if length is not None and len(value) != length:
            raise self.error(fld, f"expected {length} entries, got {len(value)}")
        return value

    def ints(self, value: Any, fld: str, length: int | None = None, lo: int = -MAX_INT,
             hi: int = MAX_INT) -> np.ndarray:
        items = self.list(value, fld, length)
        return np.array([self.int(v, fld, lo, hi) for v in items], dtype=np.int64)

    def pair(self, value: Any, fld: str, lo: int, hi: int) -> tuple[int, int]:
        a, b = self.ints(value, fld, 2, lo, hi)
        return (int(a), int(b))


def _short(value: int) -> str:
    """An integer for a message: huge ones by their size (str() of 5000 digits fails)."""
    if abs(value) < 10 ** 30:
        return str(value)
    return f"{'-' if value < 0 else ''}an integer of about 2^{abs(value).bit_length() - 1}"


def _typename(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
            int: "an integer", float: "a number", type(None): "null"}.get(type(value),
                                                                          type(value).__name__)


def loads(text: str | bytes, limits: Limits = Limits()) -> Description:
    """Parse and validate a description from JSON text."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise DescriptionError("not UTF-8 text") from None
    if not text.strip():
        raise DescriptionError("empty file")
    try:
        doc = json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as e:
        raise DescriptionError(f"not valid JSON ({e.msg} at line {e.lineno} column {e.colno})"
                               ) from None
    except RecursionError:
        raise DescriptionError("not valid JSON (nested too deeply)") from None
    except ValueError as e:  # e.g. an integer of more than 4300 digits
        raise DescriptionError(f"not a description ({str(e).split(';')[0]})") from None
    return from_dict(doc, limits)


def _no_constant(name: str):
    raise ValueError(f"{name} is not a number JSON allows")


def load(path: str | os.PathLike, limits: Limits = Limits()) -> Description:
    """Read, parse and validate a description file; errors name the file."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise DescriptionError(f"cannot read ({e.strerror})", source=str(path)) from None
    try:
        return loads(data, limits)
    except DescriptionError as e:
        raise e.with_source(str(path)) from None


def from_dict(doc: Any, limits: Limits = Limits()) -> Description:
    top = _Ctx()
    if not isinstance(doc, dict):
        raise top.error(None, f"expected a JSON object at the top, got {_typename(doc)}")
    if "format_version" not in doc:
        raise top.error("format_version", "missing field")
    version = top.int(doc["format_version"], "format_version", 1)
    if version > FORMAT_VERSION:
        raise top.error("format_version", f"version {version} is newer than this bnngen "
                        f"understands ({FORMAT_VERSION}); upgrade bnngen")
    top.obj(doc, None, _TOP_FIELDS, _TOP_FIELDS - {"metadata"})
    name = top.str(doc["name"], "name")
    if not name.isprintable() or len(name) > 256:
        raise top.error("name", "the model name must be at most 256 printable characters "
                        "(no control characters)")
    metadata = doc.get("metadata", {})
    if not isinstance(metadata, dict):
        raise top.error("metadata", f"expected an object, got {_typename(metadata)}")

    ic = _Ctx("input")
    raw = ic.obj(doc["input"], "input", _INPUT_FIELDS, _INPUT_FIELDS)
    inp = InputSpec(height=ic.int(raw["height"], "height", 1, limits.max_side),
                    width=ic.int(raw["width"], "width", 1, limits.max_side),
                    channels=ic.int(raw["channels"], "channels", 1, limits.max_channels),
                    bits=ic.int(raw["bits"], "bits", 1, 16))

    encoder = _parse_encoder(doc["encoder"], inp, limits)
    shape = encoded_shape(inp, encoder)
    if shape[2] > limits.max_channels:
        raise DescriptionError(f"{shape[2]} encoded channels exceed the limit "
                               f"{limits.max_channels}", layer="encoder")

    raw_layers = top.list(doc["layers"], "layers")
    if not raw_layers:
        raise top.error("layers", "a network needs at least one layer (the scores layer)")
    if len(raw_layers) > limits.max_layers:
        raise top.error("layers", f"{len(raw_layers)} layers exceed the limit {limits.max_layers}")
    layers: list[Layer] = []
    names: set[str] = set()
    weight_bits = 0
    for index, raw_layer in enumerate(raw_layers):
        label = f"#{index}"
        if isinstance(raw_layer, dict) and isinstance(raw_layer.get("name"), str):
            label = f"#{index} {raw_layer['name'][:64]!r}"
        ctx = _Ctx(label)
        if not isinstance(raw_layer, dict):
            raise ctx.error(None, f"expected an object, got {_typename(raw_layer)}")
        kind = raw_layer.get("kind")
        if kind == "conv":
            layer = _parse_conv(raw_layer, shape, ctx, limits, weight_bits)
            weight_bits += layer.weights.size
        elif kind == "maxpool":
            layer = _parse_pool(raw_layer, shape, ctx, limits)
        elif kind is None:
            raise ctx.error("kind", "missing field")
        else:
            raise ctx.error("kind", f"unknown layer kind {kind!r} (expected 'conv' or 'maxpool')")
        if layer.name in names:
            raise ctx.error("name", f"duplicate layer name {layer.name!r}")
        names.add(layer.name)
        is_last = index == len(raw_layers) - 1
        if isinstance(layer, Conv) and layer.scores is not None and not is_last:
            raise ctx.error("scores", "only the last layer may produce scores")
        if is_last and not (isinstance(layer, Conv) and layer.scores is not None):
            raise ctx.error("scores", "the last layer must be a conv producing scores")
        if is_last and layer.out_shape[:2] != (1, 1):
            raise ctx.error("output_shape", f"the scores layer must output 1x1, got "
                            f"{layer.out_shape[0]}x{layer.out_shape[1]}")
        layers.append(layer)
        shape = layer.out_shape
    return Description(name=name, input=inp, encoder=encoder, layers=tuple(layers),
                       metadata=metadata)


def _parse_encoder(raw: Any, inp: InputSpec, limits: Limits) -> Encoder:
    ctx = _Ctx("encoder")
    if not isinstance(raw, dict):
        raise ctx.error(None, f"expected an object, got {_typename(raw)}")
    kind = raw.get("kind")
    if not isinstance(kind, str) or kind not in _ENC_FIELDS:
        raise ctx.error("kind", "missing field" if kind is None else
                        f"unknown encoder {kind!r} (expected 'thermometer' or 'bitplanes')")
    ctx.obj(raw, None, _ENC_FIELDS[kind], _ENC_FIELDS[kind] - {"learned"})
    if kind == "bitplanes":
        return Bitplanes()
    rows = ctx.list(raw["thresholds"], "thresholds")
    if len(rows) not in (1, inp.channels):
        raise ctx.error("thresholds",
                        f"expected 1 (shared) or {inp.channels} rows, got {len(rows)}")
    top = (1 << inp.bits) - 1
    parsed = []
    for c, row in enumerate(rows):
        values = ctx.ints(row, "thresholds", None, 1, top)
        if len(values) == 0 or len(values) > limits.max_thresholds:
            raise ctx.error("thresholds", f"row {c} has {len(values)} thresholds "
                            f"(expected 1..{limits.max_thresholds})")
        if parsed and len(values) != len(parsed[0]):
            raise ctx.error("thresholds", f"row {c} has {len(values)} thresholds, row 0 has "
                            f"{len(parsed[0])}")
        if np.any(np.diff(values) <= 0):
            raise ctx.error("thresholds", f"row {c} is not strictly increasing")
        parsed.append(values)
    learned = ctx.bool(raw.get("learned", False), "learned")
    return Thermometer(thresholds=np.array(parsed, dtype=np.int64), learned=learned)


def _parse_shape(ctx: _Ctx, raw: Any, expected: tuple[int, int, int]) -> tuple[int, int, int]:
    got = tuple(int(v) for v in ctx.ints(raw, "output_shape", 3))
    if got != expected:
        raise ctx.error("output_shape", f"is {list(got)} but the layer computes {list(expected)} "
                        "from its input")
    return got


def _layer_name(ctx: _Ctx, raw: dict) -> str:
    name = ctx.str(raw["name"], "name")
    if not IDENTIFIER.fullmatch(name) or name in VERILOG_KEYWORDS:
        raise ctx.error("name", "a layer name must be a Verilog identifier: a letter or _, "
                        "then letters, digits or _, at most 64 characters, not a keyword")
    return name


def _parse_conv(raw: dict, shape, ctx: _Ctx, limits: Limits, weight_bits: int = 0) -> Conv:
    ctx.obj(raw, None, _CONV_FIELDS, _CONV_REQUIRED)
    name = _layer_name(ctx, raw)
    h, w, c_in = shape
    out_channels = ctx.int(raw["out_channels"], "out_channels", 1, limits.max_channels)
    kernel = ctx.pair(raw["kernel"], "kernel", 1, limits.max_kernel)
    stride = ctx.pair(raw["stride"], "stride", 1, limits.max_kernel)
    padding = ctx.pair(raw["padding"], "padding", 0, limits.max_kernel)
    pad_bit = ctx.int(raw["pad_bit"], "pad_bit", 0, 1)
    groups = ctx.int(raw["groups"], "groups", 1, limits.max_channels)
    if c_in % groups:
        raise ctx.error("groups", f"{groups} does not divide the {c_in} input channels")
    if out_channels % groups:
        raise ctx.error("groups", f"{groups} does not divide the {out_channels} output channels")
    if kernel[0] > h + 2 * padding[0] or kernel[1] > w + 2 * padding[1]:
        raise ctx.error("kernel", f"{kernel[0]}x{kernel[1]} is larger than the padded input "
                        f"{h + 2 * padding[0]}x{w + 2 * padding[1]}")
    if padding[0] >= kernel[0] or padding[1] >= kernel[1]:
        raise ctx.error("padding", "padding must be smaller than the kernel")
    domain = ctx.str(raw["domain"], "domain")
    if domain not in ("bipolar", "sparse"):
        raise ctx.error("domain", f"unknown domain {domain!r} (expected 'bipolar' or 'sparse')")
    cg = c_in // groups
    wshape = (out_channels, kernel[0], kernel[1], cg)
    total = weight_bits + math.prod(wshape)
    if total > limits.max_weight_bits:   # before any array is allocated
        raise ctx.error("weights", f"{total} weight bits in total exceed the limit "
                        f"{limits.max_weight_bits}")
    weights = _parse_bit_rows(ctx, raw["weights"], "weights", wshape)
    mask = None
    if raw.get("mask") is not None:
        if domain != "bipolar":
            raise ctx.error("mask", "a mask is only allowed in the bipolar domain")
        mask = _parse_bit_rows(ctx, raw["mask"], "mask", wshape)
    q, p = 1, 0
    if domain == "sparse":
        if "q" not in raw or "p" not in raw:
            raise ctx.error("q" if "q" not in raw else "p", "missing field (sparse domain)")
        q = ctx.int(raw["q"], "q", 1, 1 << 20)
        p = ctx.int(raw["p"], "p", -(1 << 20), 1 << 20)
    else:
        for fld in ("q", "p"):
            if fld in raw:
                raise ctx.error(fld, "only allowed in the sparse domain")
    activation = scores = None
    if ("activation" in raw) == ("scores" in raw):
        raise ctx.error("activation", "exactly one of 'activation' and 'scores' is required")
    if "activation" in raw:
        a = ctx.obj(raw["activation"], "activation", {"thresholds", "flip"}, {"thresholds", "flip"})
        activation = Activation(
            thresholds=ctx.ints(a["thresholds"], "activation.thresholds", out_channels,
                                -(1 << 40), 1 << 40),
            flip=ctx.ints(a["flip"], "activation.flip", out_channels, 0, 1).astype(np.uint8))
    else:
        s = ctx.obj(raw["scores"], "scores", {"scale", "offset"}, {"scale", "offset"})
        scores = Scores(scale=ctx.ints(s["scale"], "scores.scale", out_channels, 1, 1 << 20),
                        offset=ctx.ints(s["offset"], "scores.offset", out_channels,
                                        -(1 << 40), 1 << 40))
    ho, wo = conv_out_hw(h, w, kernel, stride, padding)
    if max(ho, wo) > limits.max_side:
        raise ctx.error("padding", f"the output map {ho}x{wo} exceeds the limit "
                        f"{limits.max_side} per side")
    out_shape = _parse_shape(ctx, raw["output_shape"], (ho, wo, out_channels))
    return Conv(name=name, out_channels=out_channels, kernel=kernel, stride=stride,
                padding=padding, pad_bit=pad_bit, groups=groups, domain=domain, weights=weights,
                mask=mask, q=q, p=p, activation=activation, scores=scores, out_shape=out_shape)


def _parse_bit_rows(ctx: _Ctx, raw: Any, fld: str, shape: tuple[int, ...]) -> np.ndarray:
    rows = ctx.list(raw, fld, shape[0])
    count = math.prod(shape[1:])
    out = np.empty((shape[0], count), dtype=np.uint8)
    for o, row in enumerate(rows):
        text = ctx.str(row, fld)
        try:
            out[o] = unpack_bits(text, count)
        except ValueError as e:
            raise ctx.error(fld, f"output channel {o}: {e}") from None
    return out.reshape(shape)


def _parse_pool(raw: dict, shape, ctx: _Ctx, limits: Limits) -> MaxPool:
    ctx.obj(raw, None, _POOL_FIELDS, _POOL_FIELDS)
    name = _layer_name(ctx, raw)
    kernel = ctx.pair(raw["kernel"], "kernel", 1, limits.max_kernel)
    stride = ctx.pair(raw["stride"], "stride", 1, limits.max_kernel)
    h, w, c = shape
    if kernel[0] > h or kernel[1] > w:
        raise ctx.error("kernel", f"{kernel[0]}x{kernel[1]} is larger than the input {h}x{w}")
    ho, wo = conv_out_hw(h, w, kernel, stride, (0, 0))
    out_shape = _parse_shape(ctx, raw["output_shape"], (ho, wo, c))
    return MaxPool(name=name, kernel=kernel, stride=stride, out_shape=out_shape)


# ---------------------------------------------------------------------------- writing

def to_dict(desc: Description) -> dict:
    enc: dict[str, Any]
    if isinstance(desc.encoder, Thermometer):
        enc = {"kind": "thermometer", "thresholds": desc.encoder.thresholds.tolist(),
               "learned": bool(desc.encoder.learned)}
    else:
        enc = {"kind": "bitplanes"}
    layers = []
    for layer in desc.layers:
        if isinstance(layer, MaxPool):
            layers.append({"kind": "maxpool", "name": layer.name, "kernel": list(layer.kernel),
                           "stride": list(layer.stride), "output_shape": list(layer.out_shape)})
            continue
        d: dict[str, Any] = {
            "kind": "conv", "name": layer.name, "out_channels": layer.out_channels,
            "kernel": list(layer.kernel), "stride": list(layer.stride),
            "padding": list(layer.padding), "pad_bit": layer.pad_bit, "groups": layer.groups,
            "domain": layer.domain}
        if layer.domain == "sparse":
            d["q"], d["p"] = int(layer.q), int(layer.p)
        if layer.activation is not None:
            d["activation"] = {"thresholds": layer.activation.thresholds.tolist(),
                               "flip": layer.activation.flip.astype(int).tolist()}
        else:
            d["scores"] = {"scale": layer.scores.scale.tolist(),
                           "offset": layer.scores.offset.tolist()}
        d["output_shape"] = list(layer.out_shape)
        d["weights"] = [pack_bits(row) for row in layer.weights]
        if layer.mask is not None:
            d["mask"] = [pack_bits(row) for row in layer.mask]
        layers.append(d)
    return {"format_version": FORMAT_VERSION, "name": desc.name,
            "input": {"height": desc.input.height, "width": desc.input.width,
                      "channels": desc.input.channels, "bits": desc.input.bits},
            "encoder": enc, "layers": layers, "metadata": desc.metadata}


_HASHES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def content_hash(desc: Description) -> str:
    """SHA-256 of what the description means (everything but `name` and `metadata`): a plan
    records it to recognise the model it was made for."""
    if desc not in _HASHES:
        d = to_dict(desc)
        del d["name"], d["metadata"]
        _HASHES[desc] = hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()
    return _HASHES[desc]


def dumps(desc: Description) -> str:
    """Deterministic JSON: two-space indent, short lists on one line, one weight row a line."""
    return _format(to_dict(desc), 0) + "\n"


def _format(value: Any, depth: int) -> str:
    pad, inner = "  " * depth, "  " * (depth + 1)
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = [f"{inner}{json.dumps(str(k))}: {_format(v, depth + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(value, list):
        if all(not isinstance(v, (dict, list, str)) for v in value):
            return "[" + ", ".join(json.dumps(v) for v in value) + "]"
        if all(isinstance(v, list) and all(not isinstance(x, (dict, list)) for x in v)
               for v in value) and sum(len(v) for v in value) <= 64:
            return "[" + ", ".join(_format(v, depth + 1) for v in value) + "]"
        return "[\n" + ",\n".join(inner + _format(v, depth + 1) for v in value) + "\n" + pad + "]"
    return json.dumps(value, sort_keys=True)


def save(desc: Description, path: str | os.PathLike) -> None:
    """Write atomically: a temporary file in the same folder, then rename."""
    path = Path(path)
    text = dumps(desc)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a model file is for sharing
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
