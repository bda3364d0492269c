"""A fully-binary CNN built from a small architecture spec, and its export to a description.

Spec (a dict, from a config file):
    {"input": {"height": 28, "width": 28, "channels": 1, "bits": 8},
     "encoder": {"kind": "glt" | "uniform" | "bitplanes", "planes": 8, "shared": true},
     "layers": [{"conv": 64, "kernel": 3, "padding": 1, "groups": 1, "domain": "bipolar",
                 "pad_bit": 0}, {"pool": 2}, ...],
     "classes": 10, "score_resolution": 16, "qmax": 64}
The scores layer (a dense binary layer over the last map) is appended automatically.

In training mode the network computes real pre-activations through straight-through
estimators; in eval mode it computes the integers of its own exported description
(`IntegerNet`), so torch eval and the golden model can agree bit for bit.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from models import description as fmt
from models.description import conv_out_hw

from .encoders import Bitplanes, Thermometer, make_encoder
from .intnet import IntegerNet
from .layers import BinaryConv


class BNN(nn.Module):
    def __init__(self, spec: dict):
        super().__init__()
        self.spec = spec
        inp = spec.get("input", {"height": 28, "width": 28, "channels": 1, "bits": 8})
        self.inp = fmt.InputSpec(inp["height"], inp["width"], inp["channels"], inp["bits"])
        enc = spec.get("encoder", {"kind": "glt", "planes": 8})
        self.encoder = make_encoder(enc["kind"], enc.get("planes", 8), self.inp.bits,
                                    self.inp.channels, enc.get("shared", True))
        h, w, c = self.inp.height, self.inp.width, self.encoder.out_channels
        self.layers = nn.ModuleList()
        self.shapes = []  # output shape (H, W, C) of every layer
        for ls in spec["layers"]:
            if "pool" in ls:
                k = ls["pool"]
                self.layers.append(nn.MaxPool2d(k, ls.get("stride", k)))
                h, w = conv_out_hw(h, w, (k, k), (ls.get("stride", k),) * 2, (0, 0))
            else:
                k, pad, s = ls.get("kernel", 3), ls.get("padding", 1), ls.get("stride", 1)
                self.layers.append(BinaryConv(
                    c, ls["conv"], k, s, pad, ls.get("pad_bit", 0), ls.get("groups", 1),
                    ls.get("domain", "bipolar"), qmax=spec.get("qmax", 64)))
                h, w = conv_out_hw(h, w, (k, k), (s, s), (pad, pad))
                c = ls["conv"]
            self.shapes.append((h, w, c))
        self.head = BinaryConv(c, spec.get("classes", 10), (h, w), 1, 0, 0, 1, scores=True,
                               score_resolution=spec.get("score_resolution", 16))
        self.shapes.append((1, 1, spec.get("classes", 10)))
        self._int: IntegerNet | None = None
        self.float_eval = False  # eval through the real-valued path (folding/rounding studies)

    def convs(self) -> list[BinaryConv]:
        return [m for m in self.layers if isinstance(m, BinaryConv)] + [self.head]

    def train(self, mode: bool = True):
        super().train(mode)
        # Not a submodule: the integer net is derived state, kept out of state_dict.
        object.__setattr__(self, "_int", None if mode else IntegerNet(self.to_description()))
        return self

    def load_state(self, state: dict, partial: bool = False) -> list[str]:
        """load_state_dict, ignoring derived integer-net entries of older checkpoints.

        With `partial` (a warm start from another architecture), a module whose tensors are
        missing or differ in shape keeps its fresh initialization (returned, sorted);
        checkpoint tensors this model has no place for are ignored."""
        state = {k: v for k, v in state.items() if not k.startswith("_int.")}
        if not partial:
            self.load_state_dict(state)
            return []
        own = self.state_dict()

        def module(key: str) -> str:
            return key.rsplit(".", 1)[0]

        fresh = {module(k) for k, v in own.items()
                 if k not in state or state[k].shape != v.shape}
        self.load_state_dict({k: v for k, v in state.items() if module(k) not in fresh},
                             strict=False)
        return sorted(fresh)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (N, C, H, W) float samples in [0, 2^B - 1]. Returns logits (training) or
        integer scores as float (eval)."""
        if not self.training and not self.float_eval:
            if self._int is None:
                object.__setattr__(self, "_int", IntegerNet(self.to_description()))
            return self._int(x.permute(0, 2, 3, 1)).scores.float()
        a = self.encoder(x)
        for layer in self.layers:
            a = layer(a)
        return self.head(a)

    def clip_(self) -> None:
        for conv in self.convs():
            conv.clip_()

    def to_description(self, name: str = "bnn", metadata: dict | None = None
                       ) -> fmt.Description:
        if isinstance(self.encoder, Bitplanes):
            encoder = fmt.Bitplanes()
        else:
            assert isinstance(self.encoder, Thermometer)
            encoder = fmt.Thermometer(self.encoder.thresholds(), learned=self.encoder.learned)
        layers = []
        modules = list(self.layers) + [self.head]
        for i, (mod, shape) in enumerate(zip(modules, self.shapes)):
            if isinstance(mod, nn.MaxPool2d):
                k, s = mod.kernel_size, mod.stride
                layers.append(fmt.MaxPool(f"pool{i}", (k, k), (s, s), shape))
                continue
            f = mod.fold()
            last = mod is self.head
            layers.append(fmt.Conv(
                name="dense" if last else f"conv{i}", out_channels=mod.out_channels,
                kernel=mod.kernel, stride=mod.stride, padding=mod.padding,
                pad_bit=mod.pad_bit, groups=mod.groups, domain=mod.domain, weights=f.weights,
                mask=f.mask, q=f.q, p=f.p,
                activation=None if last else fmt.Activation(f.thresholds, f.flip),
                scores=fmt.Scores(f.scale, f.offset) if last else None, out_shape=shape))
        desc = fmt.Description(name=name, input=self.inp, encoder=encoder, layers=tuple(layers),
                               metadata=dict(metadata or {}))
        # Round trip through the validating parser: an export is always a valid file.
        return fmt.loads(fmt.dumps(desc))


def weight_mbit(desc: fmt.Description) -> tuple[float, float]:
    """(kept, total) weight Mbit of a description (1 Mbit = 10^6 bits)."""
    kept, total = desc.weight_bits()
    return kept / 1e6, total / 1e6


def to_input(images: np.ndarray) -> torch.Tensor:
    """(N, H, W, C) uint8 -> (N, C, H, W) float samples."""
    return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float()


def logits_float(model: BNN, x: torch.Tensor) -> torch.Tensor:
    """The real-valued eval path (batch-norm running stats, real SBNN domain)."""
    was = model.float_eval
    model.float_eval = True
    try:
        return model(x)
    finally:
        model.float_eval = was



