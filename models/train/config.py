"""Training configurations: JSON files (models/train/configs/) merged over defaults.

Unknown keys are errors (a typo must not silently train the wrong experiment). Paths in a
config are relative to the repository root (the working directory of `bnngen train`).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from models.errors import UserError

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
            raise UserError(f"config: unknown key '{where}{key}'")
        if isinstance(base[key], dict) and key not in ("input", "encoder"):
            if not isinstance(value, dict):
                raise UserError(f"config: '{where}{key}' must be an object")
            out[key] = _merge(base[key], value, f"{where}{key}.")
        elif isinstance(base[key], dict):
            out[key] = {**base[key], **value}
        else:
            out[key] = value
    return out


def load_config(path: str | Path, overrides: dict | None = None) -> dict:
    path = Path(path)
    try:
        raw = json.loads(path.read_text())
    except OSError as e:
        raise UserError(f"{path}: cannot read ({e.strerror})") from None
    except json.JSONDecodeError as e:
        raise UserError(f"{path}: not valid JSON ({e.msg} at line {e.lineno})") from None
    if not isinstance(raw, dict):
        raise UserError(f"{path}: expected a JSON object")
    raw.pop("comment", None)
    cfg = make_config(raw)
    if overrides:
        cfg = _merge(cfg, overrides, "")
    return cfg


def make_config(raw: dict) -> dict:
    cfg = _merge(DEFAULTS, raw, "")
    if not cfg["model"]["layers"]:
        raise UserError("config: model.layers is empty")
    if cfg["out"] is None:
        cfg["out"] = f"runs/{cfg['name']}"
    return cfg
