"""Training configurations: JSON files (models/train/configs/) merged over defaults.

Unknown keys are errors (a typo must not silently train the wrong experiment). Paths in a
config are relative to the repository root (the working directory of `bnngen train`).
"""

from __future__ import annotations

import copy
import json
import math
import re
from pathlib import Path
from typing import Any

from models.errors import UserError, printable

DEFAULTS: dict[str, Any] = {
    "name": "bnn",
    "dataset": "fashion-mnist",
    "seed": 0,
    "out": None,                 # default runs/<name>
    "zoo": None,                 # also write the description here (e.g. models/zoo/x.json)
    "init": None,                # start from this checkpoint's model weights
    "model": {
        "input": {"height": 28, "width": 28, "channels": 1, "bits": 8},
        "encoder": {"kind": "glt", "planes": 8, "shared": True},
        "layers": [],
        "classes": 10,
        "score_resolution": 16,
        "qmax": 64,
    },
    "train": {
        "epochs": 10, "batch": 128, "lr": 0.002, "encoder_lr": 0.02, "subset": None,
        "test_subset": None, "augment": True, "flip": True, "threads": 2,
        "eval_each_epoch": True, "eval_every": 1,   # test accuracy every N epochs
    },
    "distill": {"enabled": False, "temperature": 4.0, "alpha": 0.7, "teacher_epochs": 3,
                "teacher_width": 32, "teacher_checkpoint": None},
    "prune": {"sparsity": 0.0, "block_channels": 1, "skip_first": True, "start_epoch": 0,
              "end_epoch": 1, "every": 50},
    "sparse": {"ec": 0.05, "lambda": 0.0},
    "check": {"golden_images": None, "map_images": 256},
}


def _merge(base: dict, over: dict, where: str) -> dict:
    out = copy.deepcopy(base)
    for key, value in over.items():
        if key not in base:
            raise UserError(f"config: unknown key '{where}{printable(str(key))}'")
        if isinstance(base[key], dict) and key not in ("input", "encoder"):
            if not isinstance(value, dict):
                raise UserError(f"config: '{where}{key}' must be an object")
            out[key] = _merge(base[key], value, f"{where}{key}.")
        elif isinstance(base[key], dict):
            if not isinstance(value, dict):
                raise UserError(f"config: '{where}{key}' must be an object")
            out[key] = {**base[key], **value}
        else:
            out[key] = value
    return out


def _no_constant(name: str):
    raise ValueError(f"{name} is not a number JSON allows")


def load_config(path: str | Path, overrides: dict | None = None) -> dict:
    path = Path(path)
    where = printable(str(path))
    try:
        raw = json.loads(path.read_bytes().decode("utf-8"), parse_constant=_no_constant)
    except OSError as e:
        raise UserError(f"{where}: cannot read ({e.strerror})") from None
    except json.JSONDecodeError as e:
        raise UserError(f"{where}: not valid JSON ({e.msg} at line {e.lineno})") from None
    except UnicodeDecodeError:
        raise UserError(f"{where}: not UTF-8 text") from None
    except (ValueError, RecursionError) as e:
        raise UserError(f"{where}: not valid JSON ({str(e).split(';')[0] or 'too deep'})") \
            from None
    if not isinstance(raw, dict):
        raise UserError(f"{where}: expected a JSON object")
    raw.pop("comment", None)
    try:
        cfg = _merge(DEFAULTS, raw, "")
        if overrides:
            cfg = _merge(cfg, overrides, "")
        return finish_config(cfg)
    except UserError as e:
        raise UserError(f"{where}: {e}") from None


def make_config(raw: dict) -> dict:
    return finish_config(_merge(DEFAULTS, raw, ""))


def finish_config(cfg: dict) -> dict:
    """Check every value of a merged config (one line naming the key) and fill defaults."""
    check_config(cfg)
    if cfg["out"] is None:
        cfg["out"] = f"runs/{cfg['name']}"
    return cfg


# ------------------------------------------------------------------------ value checks

def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _int(lo: int, hi: int = 1 << 31, none: bool = False):
    def check(v):
        if v is None and none:
            return None
        if not _is_int(v):
            return "expected an integer" + (" or null" if none else "")
        if not lo <= v <= hi:
            return f"{v} is outside {lo}..{hi}"
        return None
    return check


def _num(lo: float, hi: float = math.inf, lo_open: bool = False, hi_open: bool = False):
    def check(v):
        if not _is_num(v):
            return "expected a finite number"
        if v < lo or v > hi or (lo_open and v == lo) or (hi_open and v == hi):
            return (f"{v} is outside {'(' if lo_open else '['}{lo:g}, {hi:g}"
                    f"{')' if hi_open else ']'}")
        return None
    return check


def _bool(v):
    return None if isinstance(v, bool) else "expected true or false"


def _path(none: bool = True):
    def check(v):
        if v is None and none:
            return None
        if not isinstance(v, str) or not v or "\0" in v:
            return "expected a path (a non-empty string)" + (" or null" if none else "")
        return None
    return check


def _name(v):
    if not isinstance(v, str) or not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}", v):
        return "expected a name of letters, digits, '_', '-' or '.' (at most 100)"
    return None


def _choice(*options):
    def check(v):
        return None if v in options and isinstance(v, str) else \
            f"expected one of {', '.join(options)}"
    return check


CHECKS = {
    "name": _name, "dataset": lambda v: None if isinstance(v, str) else "expected a string",
    "seed": _int(0, (1 << 32) - 1), "out": _path(), "zoo": _path(), "init": _path(),
    "model.input.height": _int(1, 4096), "model.input.width": _int(1, 4096),
    "model.input.channels": _int(1, 4096), "model.input.bits": _int(1, 16),
    "model.encoder.kind": _choice("glt", "uniform", "bitplanes"),
    "model.encoder.planes": _int(1, 1024), "model.encoder.shared": _bool,
    "model.classes": _int(2, 65536), "model.score_resolution": _int(1, 1 << 20),
    "model.qmax": _int(1, 1 << 20),
    "train.epochs": _int(1, 100000), "train.batch": _int(1, 1 << 20),
    "train.lr": _num(0, 10, lo_open=True), "train.encoder_lr": _num(0, 10, lo_open=True),
    "train.subset": _int(1, 1 << 31, none=True), "train.test_subset": _int(1, 1 << 31, none=True),
    "train.augment": _bool, "train.flip": _bool, "train.threads": _int(1, 1024),
    "train.eval_each_epoch": _bool, "train.eval_every": _int(1, 100000),
    "distill.enabled": _bool, "distill.temperature": _num(0, 1000, lo_open=True),
    "distill.alpha": _num(0, 1), "distill.teacher_epochs": _int(1, 100000),
    "distill.teacher_width": _int(1, 65536), "distill.teacher_checkpoint": _path(),
    "prune.sparsity": _num(0, 1, hi_open=True), "prune.block_channels": _int(1, 65536),
    "prune.skip_first": _bool, "prune.start_epoch": _int(0, 100000),
    "prune.end_epoch": _int(0, 100000), "prune.every": _int(1, 1 << 31),
    "sparse.ec": _num(0, 1), "sparse.lambda": _num(0, 1e6),
    "check.golden_images": _int(1, 1 << 31, none=True), "check.map_images": _int(0, 1 << 31),
}
_ENCODER_KEYS = {"kind", "planes", "shared"}
_INPUT_KEYS = {"height", "width", "channels", "bits"}
_CONV_KEYS = {"conv": _int(1, 65536), "kernel": _int(1, 1024), "padding": _int(0, 1023),
              "stride": _int(1, 1024), "pad_bit": _int(0, 1), "groups": _int(1, 65536),
              "domain": _choice("bipolar", "sparse")}
_POOL_KEYS = {"pool": _int(1, 1024), "stride": _int(1, 1024)}


def _get(cfg: dict, key: str):
    node = cfg
    for part in key.split("."):
        node = node[part]
    return node


def check_config(cfg: dict) -> None:
    """Every key's type and range, the layer specs, and the shapes they make."""
    model = cfg["model"]
    for fld, keys in (("model.input", _INPUT_KEYS), ("model.encoder", _ENCODER_KEYS)):
        value = _get(cfg, fld)
        if not isinstance(value, dict):
            raise UserError(f"config: '{fld}' must be an object")
        unknown = sorted(set(value) - keys)
        if unknown:
            raise UserError(f"config: unknown key '{fld}.{printable(unknown[0])}'")
    model["encoder"] = {"planes": 8, "shared": True, **model["encoder"]}
    for key, check in CHECKS.items():
        try:
            value = _get(cfg, key)
        except KeyError:
            raise UserError(f"config: '{key}' is missing") from None
        problem = check(value)
        if problem:
            raise UserError(f"config: '{key}': {problem}")
    if cfg["prune"]["end_epoch"] < cfg["prune"]["start_epoch"]:
        raise UserError("config: 'prune.end_epoch' is before 'prune.start_epoch'")
    if cfg["init"] is not None and not Path(cfg["init"]).is_file():
        raise UserError(f"config: 'init': no such checkpoint {printable(cfg['init'])}")
    layers = model["layers"]
    if not isinstance(layers, list) or not layers:
        raise UserError("config: 'model.layers' must be a non-empty list")
    inp, enc = model["input"], model["encoder"]
    h, w = inp["height"], inp["width"]
    c = inp["channels"] * (inp["bits"] if enc["kind"] == "bitplanes" else enc["planes"])
    for i, spec in enumerate(layers):
        where = f"model.layers[{i}]"
        if not isinstance(spec, dict) or ("conv" in spec) == ("pool" in spec):
            raise UserError(f"config: '{where}': expected an object with 'conv' or 'pool'")
        keys = _CONV_KEYS if "conv" in spec else _POOL_KEYS
        for key, value in spec.items():
            if key not in keys:
                raise UserError(f"config: unknown key '{where}.{printable(str(key))}'")
            problem = keys[key](value)
            if problem:
                raise UserError(f"config: '{where}.{key}': {problem}")
        if "pool" in spec:
            k = spec["pool"]
            s = spec.get("stride", k)
            pad = 0
        else:
            k, pad, s = spec.get("kernel", 3), spec.get("padding", 1), spec.get("stride", 1)
            g = spec.get("groups", 1)
            if c % g or spec["conv"] % g:
                raise UserError(f"config: '{where}.groups': {g} does not divide the {c} input "
                                f"and {spec['conv']} output channels")
            if pad >= k:
                raise UserError(f"config: '{where}.padding': must be smaller than the kernel")
        if k > min(h, w) + 2 * pad:
            raise UserError(f"config: '{where}': kernel {k} is larger than the {h}x{w} map")
        h, w = (h + 2 * pad - k) // s + 1, (w + 2 * pad - k) // s + 1
        c = spec.get("conv", c)
